using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// A batch of contact writes on PostgreSQL (<see cref="IContactWriteBatch"/>): one connection and one open transaction
/// at a time. New contacts are kept in memory until <see cref="FlushAsync"/> or <see cref="CommitAsync"/>, which write
/// them with binary COPY (the commit then commits); stored contacts found by <see cref="FindManyAsync"/> are locked (<c>FOR UPDATE</c>) until the commit, and
/// their updates wait to be written together in one statement before the next read of the database or the commit;
/// updates of other stored contacts run at once inside the transaction (each under a savepoint, so a failed write
/// undoes only itself). Reads see the batch's own writes. Not thread-safe: one caller at a time.
/// </summary>
/// <remarks>
/// <para>Every write is checked when it is made, as in the store: a stale version throws
/// <see cref="ConcurrencyException"/>, an id or identity taken by a contact of the batch or by a stored one throws
/// <see cref="DuplicateEntityException"/>, and nothing of that write is kept. An identity that <see cref="FindAsync"/>
/// found free in this transaction is not looked up again (the importer looks up every identity before it adds a contact,
/// so an import costs no extra round trip per contact).</para>
/// <para>Another host may take an id or identity between that check and the commit. Then the COPY fails, the batch
/// writes its new contacts one at a time instead, commits every one that is still free, and
/// <see cref="CommitAsync"/> throws <see cref="DuplicateEntityException"/> naming those that were not written.</para>
/// </remarks>
internal sealed class PostgreSqlContactWriteBatch(PostgreSqlContactStore store) : IContactWriteBatch, IBulkContactLookup
{
    private readonly PostgreSqlDatabase _db = store.Database;
    private readonly ContactProtection _protection = store.Protection;

    // New contacts of the open transaction, not yet copied: insertion order, by id, and identity index.
    private readonly List<Contact> _added = [];
    private readonly List<List<(IdentityKind Kind, string Value, string Key)>> _addedIdentityKeys = [];
    private readonly Dictionary<ContactId, int> _addedAt = [];
    private readonly Dictionary<(IdentityKind Kind, string Key), ContactId> _addedKeys = [];

    // Identity lookup keys found free in the database in this transaction (and not taken by its updates since).
    private readonly HashSet<(IdentityKind Kind, string Key)> _free = [];

    // FindManyAsync's identities to ask the database for, reused from call to call: a chunk's thousands of entries would
    // otherwise be a new large-object-heap array per chunk (each such allocation brings a gen2 collection nearer).
    private readonly Dictionary<(IdentityKind Kind, string Key), ContactIdentityKey> _unknown = [];

    // Stored contacts that FindManyAsync read and locked (FOR UPDATE) in this transaction, as the batch sees them now;
    // their updates wait in _updates (the version they had in the database, the contact as written, its identity keys,
    // and its identity keys as in the database, whose rows it gave up are deleted by primary key) and go to the database in one statement before the next read of the database or at the commit.
    private readonly Dictionary<ContactId, Contact> _locked = [];
    private readonly Dictionary<ContactId, (long Expected, Contact Stored, List<(IdentityKind Kind, string Value, string Key)> Keys, List<(IdentityKind Kind, string Value, string Key)> Previous)> _updates = [];
    private readonly List<Exception> _refusedUpdates = [];

    // New contacts that a flush could not write (another writer took an identity first), reported by the commit.
    private List<DuplicateEntityException>? _refusedAdds;

    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private bool _disposed;

    public int PendingWrites { get; private set; }

    /// <summary>The batch's connection  while a transaction is open.</summary>
    internal NpgsqlConnection? Connection => _connection;

    public async Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_addedAt.TryGetValue(id, out var at))
        {
            return _added[at];
        }

        if (_locked.TryGetValue(id, out var locked))
        {
            return locked;
        }

        var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(_connection!, $"SELECT doc::text, version FROM {_db.Schema}.contacts WHERE id = @id", tx);
        command.Parameters.AddWithValue("id", id.Value);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        var key = _protection.LookupKey(kind, value);
        if (_addedKeys.TryGetValue((kind, key), out var id))
        {
            return _added[_addedAt[id]];
        }

        if (_free.Contains((kind, key)))
        {
            return null;
        }

        var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            _connection!,
            $"SELECT c.doc::text, c.version FROM {_db.Schema}.contact_identities i JOIN {_db.Schema}.contacts c ON c.id = i.contact_id WHERE i.kind = @kind AND i.lookup_key = @key",
            tx);
        command.Parameters.AddWithValue("kind", (short)kind);
        command.Parameters.AddWithValue("key", key);
        var found = await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
        if (found is null)
        {
            _free.Add((kind, key));
        }

        return found;
    }

    /// <summary>
    /// The batch's own new contacts answer first, identities known free in this transaction stay free, the rest is one
    /// query; identities it does not find are remembered as free, so adding contacts with them costs no further round trip.
    /// The stored contacts found are locked (<c>FOR UPDATE</c>) until the commit: their updates in this batch wait and
    /// are written together, in one statement, before the next read of the database.
    /// </summary>
    public async Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
    {
        ContactStoreLookupExtensions.CheckIdentities(identities);
        cancellationToken.ThrowIfCancellationRequested();
        var found = new Dictionary<ContactIdentityKey, Contact>();
        var unknown = _unknown;
        unknown.Clear();
        foreach (var identity in identities)
        {
            var key = (identity.Kind, _protection.LookupKey(identity.Kind, identity.Value));
            if (_addedKeys.TryGetValue(key, out var id))
            {
                found[identity] = _added[_addedAt[id]];
            }
            else if (!_free.Contains(key))
            {
                unknown.TryAdd(key, identity);
            }
        }

        if (unknown.Count > 0)
        {
            // The contacts found are locked until the commit, so their updates can wait for one statement (their versions
            // cannot change meanwhile).
            var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
            await store.FindManyCoreAsync(_connection!, tx, unknown, found, cancellationToken, lockInto: _locked).ConfigureAwait(false);
            foreach (var (key, identity) in unknown)
            {
                if (!found.ContainsKey(identity))
                {
                    _free.Add(key);
                }
            }

            unknown.Clear();
        }

        return found;
    }

    public async Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        if (contact.Version != 0)
        {
            throw new ArgumentException($"A new contact must have version 0, not {contact.Version}.", nameof(contact));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var keys = _protection.KeysOf(contact.Identities);
        if (_addedAt.ContainsKey(contact.Id))
        {
            throw new DuplicateEntityException(PostgreSqlContactStore.EntityKind, contact.Id.ToString());
        }

        ThrowIfTakenInBatch(contact.Id, keys);
        await ThrowIfTakenInDatabaseAsync(contact, keys, checkId: true, cancellationToken).ConfigureAwait(false);

        var stored = contact with { Version = 1 };
        _addedAt.Add(stored.Id, _added.Count);
        _added.Add(stored);
        _addedIdentityKeys.Add(keys);
        foreach (var (kind, _, key) in keys)
        {
            _addedKeys[(kind, key)] = stored.Id;
        }

        PendingWrites++;
        return stored;
    }

    public async Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        cancellationToken.ThrowIfCancellationRequested();
        var keys = _protection.KeysOf(contact.Identities);
        if (_addedAt.TryGetValue(contact.Id, out var at))
        {
            // A contact added in this batch and not yet copied: the update replaces it in memory.
            var current = _added[at];
            if (current.Version != contact.Version)
            {
                throw new ConcurrencyException(PostgreSqlContactStore.EntityKind, contact.Id.ToString(), contact.Version, current.Version);
            }

            ThrowIfTakenInBatch(contact.Id, keys);
            await ThrowIfTakenInDatabaseAsync(contact, keys, checkId: false, cancellationToken).ConfigureAwait(false);
            foreach (var (kind, _, key) in _protection.KeysOf(current.Identities))
            {
                _addedKeys.Remove((kind, key));
            }

            var replaced = contact with { Version = contact.Version + 1 };
            _added[at] = replaced;
            _addedIdentityKeys[at] = keys;
            foreach (var (kind, _, key) in keys)
            {
                _addedKeys[(kind, key)] = replaced.Id;
            }

            PendingWrites++;
            return replaced;
        }

        if (_locked.TryGetValue(contact.Id, out var held))
        {
            // A stored contact this batch read and locked: its version is known and cannot change, so the write is
            // checked here and waits for the next statement.
            if (held.Version != contact.Version)
            {
                throw new ConcurrencyException(PostgreSqlContactStore.EntityKind, contact.Id.ToString(), contact.Version, held.Version);
            }

            ThrowIfTakenInBatch(contact.Id, keys);
            var heldKeys = _protection.KeysOf(held.Identities);
            var own = heldKeys.Select(k => (k.Kind, k.Key)).ToHashSet();
            var others = keys.Where(k => !own.Contains((k.Kind, k.Key))).ToList();
            if (others.Count > 0)
            {
                await ThrowIfTakenInDatabaseAsync(contact, others, checkId: false, cancellationToken).ConfigureAwait(false);
            }

            // The identity rows in the database are those of the contact as it was read (not of a waiting update).
            var written = contact with { Version = contact.Version + 1 };
            var (expected, previous) = _updates.TryGetValue(contact.Id, out var waiting) ? (waiting.Expected, waiting.Previous) : (held.Version, heldKeys);
            _updates[contact.Id] = (expected, written, keys, previous);
            _locked[contact.Id] = written;
            foreach (var (kind, _, key) in keys)
            {
                _free.Remove((kind, key));
            }

            PendingWrites++;
            return written;
        }

        // A stored contact: the store's version-guarded update, inside the transaction, under a savepoint (set and
        // released in the update's own round trip).
        ThrowIfTakenInBatch(contact.Id, keys);
        var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
        Contact stored;
        try
        {
            stored = await store.UpdateCoreAsync(_connection!, tx, contact, keys, cancellationToken, savepoint: "batch_write").ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            await tx.RollbackAsync("batch_write", CancellationToken.None).ConfigureAwait(false);
            throw await store.DuplicateAsync(ex, contact, keys, _connection, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ConcurrencyException)
        {
            // The statement ran and changed nothing; its savepoint is released already.
            throw;
        }
        catch
        {
            await tx.RollbackAsync("batch_write", CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        foreach (var (kind, _, key) in keys)
        {
            _free.Remove((kind, key));
        }

        PendingWrites++;
        return stored;
    }

    public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The stored contacts as the transaction sees them (in insertion order), then the batch's new ones.
        const int Page = 1000;
        var after = long.MinValue;
        while (true)
        {
            var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
            var page = new List<(long Seq, Contact Contact)>(Page);
            using (var command = Pg.Command(_connection!, $"SELECT seq, doc::text, version FROM {_db.Schema}.contacts WHERE seq > @after ORDER BY seq LIMIT {Page}", tx))
            {
                command.Parameters.AddWithValue("after", after);
                using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    page.Add((reader.GetInt64(0), _protection.FromDocument(reader.GetString(1), reader.GetInt64(2))));
                }
            }

            foreach (var (seq, contact) in page)
            {
                after = seq;
                yield return contact;
            }

            if (page.Count < Page)
            {
                break;
            }
        }

        foreach (var contact in _added.ToList())
        {
            yield return contact;
        }
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(_connection!, $"SELECT count(*) FROM {_db.Schema}.contacts", tx);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! + _added.Count;
    }

    /// <summary>
    /// Writes the waiting updates and copies the new contacts into the open transaction (the commit's work, without the
    /// commit), so that <see cref="CommitAsync"/> only commits. Reads of the batch then find the copied contacts in the
    /// database. New contacts refused by the copy (another writer took an identity meanwhile) are written one at a time
    /// as at the commit, and <see cref="CommitAsync"/> reports those not written.
    /// </summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_added.Count == 0 && _updates.Count == 0)
        {
            return;
        }

        // Once started, the flush runs to the end, as the commit does.
        var tx = await WrittenTransactionAsync(CancellationToken.None).ConfigureAwait(false);
        await CopyAddedAsync(tx).ConfigureAwait(false);
    }

    public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_transaction is null && _added.Count == 0)
        {
            return;
        }

        // Once started, the commit runs to the end: a half-copied batch helps nobody.
        var tx = await WrittenTransactionAsync(CancellationToken.None).ConfigureAwait(false);
        await CopyAddedAsync(tx).ConfigureAwait(false);
        await tx.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        var refused = _refusedAdds;
        _refusedAdds = null;
        var refusedUpdates = _refusedUpdates.ToList();
        EndTransaction();
        if (refusedUpdates.FirstOrDefault(e => e is ConcurrencyException) is { } stale)
        {
            throw stale;
        }

        foreach (var e in refusedUpdates)
        {
            (refused ??= []).Add((DuplicateEntityException)e);
        }

        if (refused is { Count: > 0 })
        {
            var keys = string.Join(", ", refused.Take(10).Select(e => e.Key));
            throw new DuplicateEntityException(
                PostgreSqlContactStore.EntityKind,
                $"{keys}{(refused.Count > 10 ? $" and {refused.Count - 10} more" : string.Empty)} (taken by another writer before the commit: {refused.Count} new contact(s) of the batch were not written, the rest was committed)");
        }
    }

    /// <summary>
    /// Copies the new contacts into the transaction (binary COPY under a savepoint; should another writer have taken an id
    /// or identity since it was checked, one at a time instead, the refused ones kept for <see cref="CommitAsync"/> to
    /// report), then forgets them: the database answers for them from now on.
    /// </summary>
    private async Task CopyAddedAsync(NpgsqlTransaction tx)
    {
        if (_added.Count == 0)
        {
            return;
        }

        await tx.SaveAsync("batch_copy", CancellationToken.None).ConfigureAwait(false);
        try
        {
            await store.CopyCoreAsync(_connection!, _added, _addedIdentityKeys, CancellationToken.None).ConfigureAwait(false);
            await tx.ReleaseAsync("batch_copy", CancellationToken.None).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            // Another writer took an id or identity after it was checked: write the rest one at a time.
            await tx.RollbackAsync("batch_copy", CancellationToken.None).ConfigureAwait(false);
            var refused = await InsertOneByOneAsync(tx).ConfigureAwait(false);
            if (refused.Count > 0)
            {
                (_refusedAdds ??= []).AddRange(refused);
            }
        }

        // The copied contacts are rows of the transaction now; the identities known free are no longer all free.
        _added.Clear();
        _addedIdentityKeys.Clear();
        _addedAt.Clear();
        _addedKeys.Clear();
        _free.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_transaction is not null)
        {
            try
            {
                await _transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                EndTransaction();
            }
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }
    }

    private async Task<List<DuplicateEntityException>> InsertOneByOneAsync(NpgsqlTransaction tx)
    {
        var refused = new List<DuplicateEntityException>();
        for (var i = 0; i < _added.Count; i++)
        {
            var contact = _added[i];
            var keys = _addedIdentityKeys[i];
            await tx.SaveAsync("batch_one", CancellationToken.None).ConfigureAwait(false);
            try
            {
                await store.InsertCoreAsync(_connection!, tx, contact, keys, CancellationToken.None).ConfigureAwait(false);
                await tx.ReleaseAsync("batch_one", CancellationToken.None).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
            {
                await tx.RollbackAsync("batch_one", CancellationToken.None).ConfigureAwait(false);
                refused.Add(await store.DuplicateAsync(ex, contact, keys, _connection, CancellationToken.None).ConfigureAwait(false));
            }
        }

        return refused;
    }

    private void ThrowIfTakenInBatch(ContactId id, List<(IdentityKind Kind, string Value, string Key)> keys)
    {
        foreach (var (kind, value, key) in keys)
        {
            if (_addedKeys.TryGetValue((kind, key), out var owner) && owner != id)
            {
                throw new DuplicateEntityException(PostgreSqlContactStore.EntityKind, PersonalDataFields.DuplicateKey(kind, value));
            }
        }
    }

    /// <summary>One round trip for the id (of a new contact) and the identities not known to be free; none when all are known free.</summary>
    private Task ThrowIfTakenInDatabaseAsync(Contact contact, List<(IdentityKind Kind, string Value, string Key)> keys, bool checkId, CancellationToken cancellationToken)
    {
        // Usually every identity is known free (the importer looked them up): then no list is built at all.
        List<(IdentityKind Kind, string Value, string Key)>? unknown = null;
        foreach (var k in keys)
        {
            if (!_free.Contains((k.Kind, k.Key)) && !(_addedKeys.TryGetValue((k.Kind, k.Key), out var owner) && owner == contact.Id))
            {
                (unknown ??= []).Add(k);
            }
        }

        if (unknown is null && (keys.Count > 0 || !checkId))
        {
            // Ids are random: a new contact whose identities the caller just looked up is not checked for its id here
            // (a taken id still fails the commit's COPY, and the batch then reports it).
            return Task.CompletedTask;
        }

        return QueryTakenAsync(contact, unknown ?? [], checkId, cancellationToken);
    }

    /// <summary>The round trip of <see cref="ThrowIfTakenInDatabaseAsync"/>, apart: the usual case (no round trip) then allocates nothing for this one's state and lambdas.</summary>
    private async Task QueryTakenAsync(Contact contact, List<(IdentityKind Kind, string Value, string Key)> unknown, bool checkId, CancellationToken cancellationToken)
    {
        var tx = await WrittenTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            _connection!,
            $"""
            SELECT -1::smallint, ''::text FROM {_db.Schema}.contacts WHERE @check_id AND id = @id
            UNION ALL
            SELECT i.kind, i.lookup_key FROM {_db.Schema}.contact_identities i
              JOIN unnest(@kinds::smallint[], @keys::text[]) AS t(k, v) ON i.kind = t.k AND i.lookup_key = t.v
            WHERE i.contact_id <> @id
            LIMIT 1
            """,
            tx);
        command.Parameters.AddWithValue("check_id", checkId);
        command.Parameters.AddWithValue("id", contact.Id.Value);
        command.Parameters.AddWithValue("kinds", unknown.Select(k => (short)k.Kind).ToArray());
        command.Parameters.AddWithValue("keys", unknown.Select(k => k.Key).ToArray());
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var kind = reader.GetInt16(0);
        var lookupKey = reader.GetString(1);
        if (kind < 0)
        {
            throw new DuplicateEntityException(PostgreSqlContactStore.EntityKind, contact.Id.ToString());
        }

        var taken = unknown.First(k => (short)k.Kind == kind && string.Equals(k.Key, lookupKey, StringComparison.Ordinal));
        throw new DuplicateEntityException(PostgreSqlContactStore.EntityKind, PersonalDataFields.DuplicateKey(taken.Kind, taken.Value));
    }

    /// <summary>The transaction, with the waiting updates written first (so the database answers as the batch sees it).</summary>
    private async ValueTask<NpgsqlTransaction> WrittenTransactionAsync(CancellationToken cancellationToken)
    {
        var tx = await TransactionAsync(cancellationToken).ConfigureAwait(false);
        if (_updates.Count > 0)
        {
            await WriteUpdatesAsync(tx).ConfigureAwait(false);
        }

        return tx;
    }

    /// <summary>
    /// Writes the waiting updates of locked contacts in one statement (one round trip). Should another writer have taken
    /// one of their new identities since it was found free, they are written one at a time instead; those refused are
    /// left as they are in the database (and unlocked in the batch's view) and <see cref="CommitAsync"/> reports them.
    /// </summary>
    private async Task WriteUpdatesAsync(NpgsqlTransaction tx)
    {
        // Once started, the write runs to the end (the updates were accepted by UpdateAsync already).
        var updates = _updates.Values.ToList();
        _updates.Clear();
        try
        {
            await store.UpdateManyCoreAsync(_connection!, tx, updates, "batch_updates", CancellationToken.None).ConfigureAwait(false);
            return;
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex) || PostgreSqlContactStore.IsStaleInUpdateMany(ex))
        {
            await tx.RollbackAsync("batch_updates", CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var update in updates)
        {
            try
            {
                await store.UpdateManyCoreAsync(_connection!, tx, [update], "batch_updates", CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
            {
                await tx.RollbackAsync("batch_updates", CancellationToken.None).ConfigureAwait(false);
                _refusedUpdates.Add(await store.DuplicateAsync(ex, update.Stored, update.Keys, _connection, CancellationToken.None).ConfigureAwait(false));
            }
            catch (PostgresException ex) when (PostgreSqlContactStore.IsStaleInUpdateMany(ex))
            {
                await tx.RollbackAsync("batch_updates", CancellationToken.None).ConfigureAwait(false);
                _refusedUpdates.Add(new ConcurrencyException(PostgreSqlContactStore.EntityKind, update.Stored.Id.ToString(), update.Expected, null));
            }

            _locked.Remove(update.Stored.Id);
        }
    }

    private async ValueTask<NpgsqlTransaction> TransactionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _connection ??= await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        _transaction ??= await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        return _transaction;
    }

    private void EndTransaction()
    {
        _transaction?.Dispose();
        _transaction = null;
        _added.Clear();
        _addedIdentityKeys.Clear();
        _addedAt.Clear();
        _addedKeys.Clear();
        _free.Clear();
        _locked.Clear();
        _updates.Clear();
        _refusedUpdates.Clear();
        _refusedAdds = null;
        PendingWrites = 0;
    }

    private async Task<Contact?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? _protection.FromDocument(reader.GetString(0), reader.GetInt64(1)) : null;
    }
}
