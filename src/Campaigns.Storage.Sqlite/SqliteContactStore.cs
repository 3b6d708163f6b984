using System.Runtime.CompilerServices;
using Campaigns.Contacts;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IContactStore"/>: one JSON document per contact (personal fields protected by the
/// database's <see cref="IPersonalDataProtector"/>) and a unique index of identity lookup keys, written in the same
/// transaction. Offers batched writes for imports (<see cref="IBulkContactStore"/>) and finds many identities in one
/// query (<see cref="IBulkContactLookup"/>). Thread-safe.
/// </summary>
public sealed class SqliteContactStore : IContactStore, IBulkContactStore, IBulkContactLookup
{
    private const int PageSize = 500;
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteContactStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) =>
        Task.FromResult(_database.ReadSession(s => ContactRows.Get(s, _database.Protector, id), cancellationToken));

    /// <inheritdoc />
    public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Task.FromResult(_database.ReadSession(s => ContactRows.Find(s, _database.Protector, kind, value), cancellationToken));
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
    {
        ContactStoreLookupExtensions.CheckIdentities(identities);
        return Task.FromResult<IReadOnlyDictionary<ContactIdentityKey, Contact>>(_database.ReadSession(s => ContactRows.FindMany(s, _database.Protector, identities), cancellationToken));
    }

    /// <inheritdoc />
    public async Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ContactRows.CheckNew(contact);
        return await _database.WriteSessionAsync(s => ContactRows.Add(s, _database.Protector, contact), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return await _database.WriteSessionAsync(s => ContactRows.Update(s, _database.Protector, contact), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Reads pages of 500 contacts in insertion order, each page in its own short read; contacts added meanwhile may appear.</remarks>
    public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long after = 0;
        while (true)
        {
            var page = _database.ReadSession(s => ContactRows.Page(s, _database.Protector, after, PageSize), cancellationToken);
            foreach (var (seq, contact) in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                after = seq;
                yield return contact;
            }

            if (page.Count < PageSize)
            {
                break;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<long> CountAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_database.ReadSession(static s => (long)s.Scalar("SELECT COUNT(*) FROM contacts;")!, cancellationToken));

    /// <inheritdoc />
    /// <remarks>
    /// The batch keeps one connection; its first use after a commit takes this process's write turn and begins a
    /// <c>BEGIN IMMEDIATE</c> transaction that <see cref="IContactWriteBatch.CommitAsync"/> commits (other writers of the
    /// process wait meanwhile). Each write is atomic on its own (a savepoint).
    /// </remarks>
    public ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _database.Initialize();
        return ValueTask.FromResult<IContactWriteBatch>(new SqliteContactWriteBatch(_database));
    }
}
