using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Microsoft.Data.Sqlite;

namespace Campaigns.Storage.Sqlite;

/// <summary>A batch of contact writes on one connection and one open transaction at a time. Not thread-safe.</summary>
internal sealed class SqliteContactWriteBatch(SqliteDatabase database) : IContactWriteBatch, IBulkContactLookup
{
    private SqliteConnection? _connection;
    private SqliteSession? _session;
    private SqliteTransaction? _transaction;

    public int PendingWrites { get; private set; }

    public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) =>
        RunAsync(s => ContactRows.Get(s, database.Protector, id), write: false, cancellationToken);

    public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return RunAsync(s => ContactRows.Find(s, database.Protector, kind, value), write: false, cancellationToken);
    }

    public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
    {
        ContactStoreLookupExtensions.CheckIdentities(identities);
        return RunAsync<IReadOnlyDictionary<ContactIdentityKey, Contact>>(s => ContactRows.FindMany(s, database.Protector, identities), write: false, cancellationToken);
    }

    public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ContactRows.CheckNew(contact);
        return RunAsync(s => ContactRows.Add(s, database.Protector, contact), write: true, cancellationToken, savepoint: false);
    }

    public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return RunAsync(s => ContactRows.Update(s, database.Protector, contact), write: true, cancellationToken);
    }

    public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long after = 0;
        while (true)
        {
            var page = await RunAsync(s => ContactRows.Page(s, database.Protector, after, 500), write: false, cancellationToken).ConfigureAwait(false);
            foreach (var (seq, contact) in page)
            {
                after = seq;
                yield return contact;
            }

            if (page.Count < 500)
            {
                break;
            }
        }
    }

    public Task<long> CountAsync(CancellationToken cancellationToken = default) =>
        RunAsync(static s => (long)s.Scalar("SELECT COUNT(*) FROM contacts;")!, write: false, cancellationToken);

    public ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_transaction is not null)
        {
            _transaction.Commit();
            EndTransaction();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            _transaction.Rollback();
            EndTransaction();
        }

        if (_session is not null)
        {
            _session.Execute("PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000;");
            _session.Dispose();
        }

        _connection?.Dispose();
        _session = null;
        _connection = null;
        return ValueTask.CompletedTask;
    }

    private async Task<T> RunAsync<T>(Func<SqliteSession, T> work, bool write, CancellationToken cancellationToken, bool savepoint = true)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(database is null, this);
        if (_connection is null)
        {
            _connection = database.Open();
            _session = new SqliteSession(_connection, null, cacheCommands: true);

            // A bigger page cache for the inserts into the id and identity indexes, and fewer (fsyncing) checkpoints
            // of the write-ahead log: every 64 MB instead of 4 MB. Both reset when the batch ends.
            _session.Execute("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;");
        }

        if (_transaction is null)
        {
            await database.AcquireWriteTurnAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                _transaction = _connection.BeginTransaction(deferred: false);
            }
            catch
            {
                database.ReleaseWriteTurn();
                throw;
            }

            _session!.Transaction = _transaction;
        }

        if (!write)
        {
            return work(_session!);
        }

        if (!savepoint)
        {
            // The work undoes itself when it fails (an add).
            var done = work(_session!);
            PendingWrites++;
            return done;
        }

        // Each write is atomic on its own: a failure rolls back to the savepoint, earlier writes of the batch stay.
        _session!.Execute("SAVEPOINT batch_write;");
        try
        {
            var result = work(_session);
            _session.Execute("RELEASE batch_write;");
            PendingWrites++;
            return result;
        }
        catch
        {
            _session.Execute("ROLLBACK TO batch_write;");
            _session.Execute("RELEASE batch_write;");
            throw;
        }
    }

    private void EndTransaction()
    {
        _transaction!.Dispose();
        _transaction = null;
        _session!.Transaction = null;
        PendingWrites = 0;
        database.ReleaseWriteTurn();
    }
}
