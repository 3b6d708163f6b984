using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Npgsql;
using NpgsqlTypes;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IContactStore"/> on PostgreSQL. Contacts are json documents whose sensitive fields (phones, e-mails,
/// WeChat/WeCom ids, the name) pass through <see cref="IPersonalDataProtector.Protect"/>; identities are indexed in
/// <c>contact_identities</c> by <see cref="IPersonalDataProtector.ComputeLookupKey"/> under a unique key, so an
/// identity taken by another contact fails the write with <see cref="DuplicateEntityException"/>. Updates compare the
/// version in the same statement (<see cref="ConcurrencyException"/> when stale). Thread-safe.
/// </summary>
internal sealed class PostgreSqlContactStore : IContactStore, IBulkContactStore, IBulkContactLookup
{
    internal const string EntityKind = "contact";
    private readonly PostgreSqlDatabase _db;
    private readonly ContactProtection _protection;

    public PostgreSqlContactStore(PostgreSqlDatabase db)
    {
        _db = db;
        _protection = new ContactProtection(db.Protector);
    }

    internal PostgreSqlDatabase Database => _db;

    internal ContactProtection Protection => _protection;

    /// <inheritdoc />
    public ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IContactWriteBatch>(new PostgreSqlContactWriteBatch(this));
    }

    /// <summary>Each batch has its own connection and transaction; rows and index entries of different contacts do not block each other.</summary>
    public bool AllowsConcurrentBatches => true;

    public async Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default)
    {
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text, version FROM {_db.Schema}.contacts WHERE id = @id");
        command.Parameters.AddWithValue("id", id.Value);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"SELECT c.doc::text, c.version FROM {_db.Schema}.contact_identities i JOIN {_db.Schema}.contacts c ON c.id = i.contact_id WHERE i.kind = @kind AND i.lookup_key = @key");
        command.Parameters.AddWithValue("kind", (short)kind);
        command.Parameters.AddWithValue("key", _protection.LookupKey(kind, value));
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
    {
        ContactStoreLookupExtensions.CheckIdentities(identities);
        var found = new Dictionary<ContactIdentityKey, Contact>();
        if (identities.Count == 0)
        {
            return found;
        }

        var keys = new Dictionary<(IdentityKind Kind, string Key), ContactIdentityKey>();
        foreach (var identity in identities)
        {
            keys.TryAdd((identity.Kind, _protection.LookupKey(identity.Kind, identity.Value)), identity);
        }

        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        await FindManyCoreAsync(connection, null, keys, found, cancellationToken).ConfigureAwait(false);
        return found;
    }

    /// <summary>
    /// One query for many identities (by lookup key): each one found is added to <paramref name="found"/> with its
    /// contact (a contact's document is read once however many of its identities were asked for).
    /// </summary>
    internal async Task FindManyCoreAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction? tx,
        Dictionary<(IdentityKind Kind, string Key), ContactIdentityKey> keys,
        Dictionary<ContactIdentityKey, Contact> found,
        CancellationToken cancellationToken,
        Dictionary<ContactId, Contact>? lockInto = null)
    {
        // The probes in the primary key's order (OrderForIndex: sorted unless each kind's are in order already, as in a
        // file sorted by phone with plain keys): with random lookup keys (AES-GCM's HMACs) consecutive descents then
        // share their upper pages (s47, AES-GCM import: −16 to −22 % of the lookup's server CPU).
        var kinds = new short[keys.Count];
        var values = new string[keys.Count];
        var probes = System.Buffers.ArrayPool<IdentityRow>.Shared.Rent(keys.Count);
        try
        {
            var n = 0;
            foreach (var (kind, key) in keys.Keys)
            {
                probes[n++] = new IdentityRow((short)kind, key, default);
            }

            OrderForIndex(probes.AsSpan(0, n));
            for (var i = 0; i < n; i++)
            {
                kinds[i] = probes[i].Kind;
                values[i] = probes[i].Key;
            }
        }
        finally
        {
            Array.Clear(probes, 0, keys.Count);
            System.Buffers.ArrayPool<IdentityRow>.Shared.Return(probes);
        }

        using var command = Pg.Command(
            connection,
            $"""
            SELECT i.kind, i.lookup_key, c.id, c.doc::text, c.version
            FROM unnest(@kinds::smallint[], @keys::text[]) AS t(k, v)
            JOIN {_db.Schema}.contact_identities i ON i.kind = t.k AND i.lookup_key = t.v
            JOIN {_db.Schema}.contacts c ON c.id = i.contact_id
            {(lockInto is null ? string.Empty : "FOR UPDATE OF c")}
            """,
            tx);
        command.Parameters.AddWithValue("kinds", kinds);
        command.Parameters.AddWithValue("keys", values);
        var contacts = new Dictionary<Guid, Contact>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetGuid(2);
            if (!contacts.TryGetValue(id, out var contact))
            {
                contacts[id] = contact = _protection.FromDocument(reader.GetString(3), reader.GetInt64(4));
                lockInto?.TryAdd(contact.Id, contact);
            }

            found[keys[((IdentityKind)reader.GetInt16(0), reader.GetString(1))]] = contact;
        }
    }

    public async Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        if (contact.Version != 0)
        {
            throw new ArgumentException($"A new contact must have version 0, not {contact.Version}.", nameof(contact));
        }

        var stored = contact with { Version = 1 };
        var keys = _protection.KeysOf(contact.Identities);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await InsertCoreAsync(connection, tx, stored, keys, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw await DuplicateAsync(ex, contact, keys, null, cancellationToken).ConfigureAwait(false);
        }

        return stored;
    }

    public async Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var keys = _protection.KeysOf(contact.Identities);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        Contact stored;
        try
        {
            stored = await UpdateCoreAsync(connection, tx, contact, keys, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw await DuplicateAsync(ex, contact, keys, null, cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>
    /// The version-guarded update of a contact and its identity rows inside <paramref name="tx"/>: the <c>UPDATE</c>
    /// compares the version and, only when it matched, inserts the identity rows the contact did not have yet (those it
    /// keeps are left alone), all in one statement that also returns the previous document. The identities the contact
    /// gave up are then deleted by their primary key, computed from that document, in a second round trip (only when
    /// there are any: usually none). Throws <see cref="ConcurrencyException"/> (nothing written, the transaction still
    /// usable) or a unique-violation <see cref="PostgresException"/> (the transaction aborted); the caller rolls back
    /// either way. With <paramref name="savepoint"/>, the savepoint is set and released in the same round trip as the
    /// update; on failure the caller rolls back to it.
    /// </summary>
    internal async Task<Contact> UpdateCoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Contact contact, List<(IdentityKind Kind, string Value, string Key)> keys, CancellationToken cancellationToken, string? savepoint = null)
    {
        var stored = contact with { Version = contact.Version + 1 };
        var kinds = new short[keys.Count];
        var values = new string[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            kinds[i] = (short)keys[i].Kind;
            values[i] = keys[i].Key;
        }

        // The version check comes first (the identity rows change only when it matched), so a stale write reports
        // ConcurrencyException even when its identities clash. o is the document at the expected version: versions only
        // grow, so when u updated the row, o read the very document u replaced (all parts share one snapshot).
        var update = new NpgsqlBatchCommand(
            $"""
            WITH o AS (SELECT doc FROM {_db.Schema}.contacts WHERE id = @id AND version = @version),
            u AS (
              UPDATE {_db.Schema}.contacts SET version = version + 1, doc = @doc WHERE id = @id AND version = @version AND EXISTS (SELECT FROM o) RETURNING id),
            t AS (SELECT k, v FROM unnest(@kinds::smallint[], @keys::text[]) AS t(k, v)),
            n AS (
              INSERT INTO {_db.Schema}.contact_identities (kind, lookup_key, contact_id)
              SELECT t.k, t.v, @id FROM t
              WHERE EXISTS (SELECT FROM u)
                AND NOT EXISTS (SELECT FROM {_db.Schema}.contact_identities i WHERE i.kind = t.k AND i.lookup_key = t.v AND i.contact_id = @id))
            SELECT (SELECT count(*) FROM u), (SELECT doc::text FROM o WHERE EXISTS (SELECT FROM u))
            """);
        update.Parameters.AddWithValue("id", contact.Id.Value);
        update.Parameters.AddWithValue("version", contact.Version);
        update.Parameters.Add(Pg.JsonText("doc", _protection.ToDocument(stored)));
        update.Parameters.AddWithValue("kinds", kinds);
        update.Parameters.AddWithValue("keys", values);
        long updated;
        string? previous;
        using (var batch = new NpgsqlBatch(connection, tx))
        {
            if (savepoint is not null)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand($"SAVEPOINT {savepoint}"));
            }

            batch.BatchCommands.Add(update);
            if (savepoint is not null)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand($"RELEASE SAVEPOINT {savepoint}"));
            }

            // Statements without rows (the savepoint's) have no result set: the reader starts at the SELECT's.
            using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            updated = reader.GetInt64(0);
            previous = reader.IsDBNull(1) ? null : reader.GetString(1);
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
            {
            }
        }

        if (updated != 1)
        {
            using var current = Pg.Command(connection, $"SELECT version FROM {_db.Schema}.contacts WHERE id = @id", tx);
            current.Parameters.AddWithValue("id", contact.Id.Value);
            var actual = (long?)await current.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            throw new ConcurrencyException(EntityKind, contact.Id.ToString(), contact.Version, actual);
        }

        var given = GivenUp(KeysOf(previous!), keys);
        if (given.Count > 0)
        {
            using var delete = Pg.Command(
                connection,
                $"""
                DELETE FROM {_db.Schema}.contact_identities i USING unnest(@kinds::smallint[], @keys::text[]) AS g(k, v)
                WHERE i.kind = g.k AND i.lookup_key = g.v AND i.contact_id = @id
                """,
                tx);
            delete.Parameters.AddWithValue("id", contact.Id.Value);
            delete.Parameters.AddWithValue("kinds", given.Select(k => (short)k.Kind).ToArray());
            delete.Parameters.AddWithValue("keys", given.Select(k => k.Key).ToArray());
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return stored;
    }

    /// <summary>The identity lookup keys of a stored contact document (protected as stored).</summary>
    private List<(IdentityKind Kind, string Value, string Key)> KeysOf(string document) => _protection.KeysOf(_protection.FromDocument(document, 0).Identities);

    /// <summary>
    /// The identities in <paramref name="before"/> (a contact's rows in the database) that <paramref name="after"/> (what it
    /// is written with) no longer has: their rows are deleted by primary key.
    /// </summary>
    internal static List<(IdentityKind Kind, string Key)> GivenUp(List<(IdentityKind Kind, string Value, string Key)> before, List<(IdentityKind Kind, string Value, string Key)> after)
    {
        var given = new List<(IdentityKind Kind, string Key)>();
        foreach (var (kind, _, key) in before)
        {
            var kept = false;
            foreach (var k in after)
            {
                if (k.Kind == kind && string.Equals(k.Key, key, StringComparison.Ordinal))
                {
                    kept = true;
                    break;
                }
            }

            if (!kept)
            {
                given.Add((kind, key));
            }
        }

        return given;
    }

    /// <summary>Whether <paramref name="ex"/> is <see cref="UpdateManyCoreAsync"/> refusing a contact not at its expected version.</summary>
    /// <param name="ex">The exception.</param>
    /// <returns>True for a stale version.</returns>
    internal static bool IsStaleInUpdateMany(PostgresException ex) => ex.SqlState == PostgresErrorCodes.DivisionByZero;

    /// <summary>
    /// Writes many updates of stored contacts inside <paramref name="tx"/> in one statement (one round trip): each row of
    /// <paramref name="updates"/> replaces the document of a contact at <c>Expected</c> version with <c>Stored</c> (whose
    /// version may be several steps ahead when the contact was updated more than once), and its identity rows become
    /// <c>Keys</c>: rows it keeps are left alone, those of <c>Previous</c> (its identities as in the database, which the
    /// batch read) that it gave up are deleted by primary key, and the new ones inserted. All or nothing: a contact not at its expected version fails the
    /// statement with <c>division_by_zero</c> (see <see cref="IsStaleInUpdateMany"/>), a taken identity with a unique
    /// violation; either way nothing of it is written, the transaction is aborted and the caller rolls back to
    /// <paramref name="savepoint"/> (set and released in the same round trip as the statement).
    /// </summary>
    internal async Task UpdateManyCoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyCollection<(long Expected, Contact Stored, List<(IdentityKind Kind, string Value, string Key)> Keys, List<(IdentityKind Kind, string Value, string Key)> Previous)> updates, string savepoint, CancellationToken cancellationToken)
    {
        var ids = new Guid[updates.Count];
        var expected = new long[updates.Count];
        var versions = new long[updates.Count];
        var docs = new string[updates.Count];
        var keyIds = new List<Guid>();
        var kinds = new List<short>();
        var values = new List<string>();
        var givenIds = new List<Guid>();
        var givenKinds = new List<short>();
        var givenKeys = new List<string>();
        var i = 0;
        foreach (var (was, stored, keys, previous) in updates)
        {
            foreach (var (kind, key) in GivenUp(previous, keys))
            {
                givenIds.Add(stored.Id.Value);
                givenKinds.Add((short)kind);
                givenKeys.Add(key);
            }

            ids[i] = stored.Id.Value;
            expected[i] = was;
            versions[i] = stored.Version;
            docs[i++] = _protection.ToDocument(stored);
            foreach (var (kind, _, key) in keys)
            {
                keyIds.Add(stored.Id.Value);
                kinds.Add((short)kind);
                values.Add(key);
            }
        }

        var command = new NpgsqlBatchCommand(
            $"""
            WITH p AS (SELECT * FROM unnest(@ids::uuid[], @expected::bigint[], @versions::bigint[], @docs::json[]) AS p(id, expected, version, doc)),
            u AS (
              UPDATE {_db.Schema}.contacts c SET version = p.version, doc = p.doc FROM p WHERE c.id = p.id AND c.version = p.expected RETURNING c.id),
            t AS (SELECT * FROM unnest(@key_ids::uuid[], @kinds::smallint[], @keys::text[]) AS t(id, k, v) WHERE t.id IN (SELECT id FROM u)),
            d AS (
              DELETE FROM {_db.Schema}.contact_identities i USING unnest(@given_ids::uuid[], @given_kinds::smallint[], @given_keys::text[]) AS g(id, k, v)
              WHERE i.kind = g.k AND i.lookup_key = g.v AND i.contact_id = g.id AND g.id IN (SELECT id FROM u)),
            n AS (
              INSERT INTO {_db.Schema}.contact_identities (kind, lookup_key, contact_id)
              SELECT t.k, t.v, t.id FROM t
              WHERE NOT EXISTS (SELECT FROM {_db.Schema}.contact_identities i WHERE i.kind = t.k AND i.lookup_key = t.v AND i.contact_id = t.id))
            SELECT CASE WHEN count(*) = @n THEN count(*) ELSE 1 / (count(*) - count(*)) END FROM u
            """);
        command.Parameters.AddWithValue("n", (long)updates.Count);
        command.Parameters.AddWithValue("ids", ids);
        command.Parameters.AddWithValue("expected", expected);
        command.Parameters.AddWithValue("versions", versions);
        command.Parameters.Add(new NpgsqlParameter("docs", NpgsqlDbType.Array | NpgsqlDbType.Json) { Value = docs });
        command.Parameters.AddWithValue("key_ids", keyIds.ToArray());
        command.Parameters.AddWithValue("kinds", kinds.ToArray());
        command.Parameters.AddWithValue("keys", values.ToArray());
        command.Parameters.AddWithValue("given_ids", givenIds.ToArray());
        command.Parameters.AddWithValue("given_kinds", givenKinds.ToArray());
        command.Parameters.AddWithValue("given_keys", givenKeys.ToArray());
        using var batch = new NpgsqlBatch(connection, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SAVEPOINT {savepoint}"));
        batch.BatchCommands.Add(command);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"RELEASE SAVEPOINT {savepoint}"));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Inserts one new contact (already at its stored version) and its identity rows inside <paramref name="tx"/>.</summary>
    internal async Task InsertCoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Contact stored, List<(IdentityKind Kind, string Value, string Key)> keys, CancellationToken cancellationToken)
    {
        using var batch = new NpgsqlBatch(connection, tx);
        var insert = new NpgsqlBatchCommand($"INSERT INTO {_db.Schema}.contacts (id, version, doc) VALUES (@id, @version, @doc)");
        insert.Parameters.AddWithValue("id", stored.Id.Value);
        insert.Parameters.AddWithValue("version", stored.Version);
        insert.Parameters.Add(Pg.JsonText("doc", _protection.ToDocument(stored)));
        batch.BatchCommands.Add(insert);
        AddIdentityInsert(batch, stored.Id, keys);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Keyset pages by insertion sequence: each page is a short statement, so a long enumeration holds no snapshot.
        const int Page = 1000;
        var after = long.MinValue;
        while (true)
        {
            var page = new List<(long Seq, Contact Contact)>(Page);
            using (var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false))
            using (var command = Pg.Command(connection, $"SELECT seq, doc::text, version FROM {_db.Schema}.contacts WHERE seq > @after ORDER BY seq LIMIT {Page}"))
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
                yield break;
            }
        }
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT count(*) FROM {_db.Schema}.contacts");
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Writes new contacts (each with version 0; stored as version 1) and their identity rows with binary COPY in one
    /// transaction, all or nothing (a taken id or identity: <see cref="DuplicateEntityException"/>, nothing written).
    /// Listeners are not told. For seeding benchmarks and tests; hosts import through <see cref="IBulkContactStore"/>.
    /// </summary>
    internal async Task<long> WriteNewAsync(IAsyncEnumerable<Contact> contacts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contacts);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long count = 0;
        try
        {
            count = await CopyCoreAsync(connection, Checked(contacts, cancellationToken), cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw new DuplicateEntityException(EntityKind, $"bulk write: {ex.Detail ?? ex.MessageText} (nothing was written)");
        }

        return count;

        static async IAsyncEnumerable<Contact> Checked(IAsyncEnumerable<Contact> contacts, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            long item = 0;
            await foreach (var contact in contacts.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (contact.Version != 0)
                {
                    throw new ArgumentException($"Contact {contact.Id} (item {item}): a new contact must have version 0, not {contact.Version}.", nameof(contacts));
                }

                item++;
                yield return contact with { Version = 1 };
            }
        }
    }

    /// <summary>
    /// Copies new contacts (at their stored versions) and then their identity rows into the tables with binary COPY, on a
    /// connection with an open transaction. A taken id or identity fails the COPY (unique violation, transaction aborted).
    /// </summary>
    internal async Task<long> CopyCoreAsync(NpgsqlConnection connection, IAsyncEnumerable<Contact> stored, CancellationToken cancellationToken)
    {
        long count = 0;
        var identities = new List<IdentityRow>();
        var document = new ContactProtection.DocumentBuffer();
        using (var writer = await connection.BeginBinaryImportAsync($"COPY {_db.Schema}.contacts (id, version, doc) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            await foreach (var contact in stored.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await WriteContactRowAsync(writer, contact, document, cancellationToken).ConfigureAwait(false);
                foreach (var (kind, _, key) in _protection.KeysOf(contact.Identities))
                {
                    identities.Add(new IdentityRow((short)kind, key, contact.Id.Value));
                }

                count++;
            }

            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await CopyIdentitiesAsync(connection, identities.ToArray(), cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>
    /// As <see cref="CopyCoreAsync(NpgsqlConnection, IAsyncEnumerable{Contact}, CancellationToken)"/>, for contacts whose
    /// identity lookup keys the caller computed already (<paramref name="keys"/>[i] are those of <paramref name="stored"/>[i]):
    /// a batch checks them when the contact is added and does not compute them (an HMAC each with AES-GCM) again.
    /// </summary>
    internal async Task<long> CopyCoreAsync(NpgsqlConnection connection, List<Contact> stored, List<List<(IdentityKind Kind, string Value, string Key)>> keys, CancellationToken cancellationToken)
    {
        var document = new ContactProtection.DocumentBuffer();
        using (var writer = await connection.BeginBinaryImportAsync($"COPY {_db.Schema}.contacts (id, version, doc) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < stored.Count; i++)
            {
                await WriteContactRowAsync(writer, stored[i], document, cancellationToken).ConfigureAwait(false);
            }

            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        // The identity rows in the primary key's order (see CopyIdentitiesAsync), in a pooled array: for a commit group a new one
        // would be a large-object-heap array per commit.
        var total = 0;
        foreach (var k in keys)
        {
            total += k.Count;
        }

        var rows = System.Buffers.ArrayPool<IdentityRow>.Shared.Rent(total);
        try
        {
            var n = 0;
            for (var i = 0; i < stored.Count; i++)
            {
                var id = stored[i].Id.Value;
                foreach (var (kind, _, key) in keys[i])
                {
                    rows[n++] = new IdentityRow((short)kind, key, id);
                }
            }

            await CopyIdentitiesAsync(connection, rows.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Array.Clear(rows, 0, total);
            System.Buffers.ArrayPool<IdentityRow>.Shared.Return(rows);
        }

        return stored.Count;
    }

    /// <summary>One row of the contacts COPY; the document goes as UTF-8 straight from the serializer (no string).</summary>
    private async Task WriteContactRowAsync(NpgsqlBinaryImporter writer, Contact contact, ContactProtection.DocumentBuffer document, CancellationToken cancellationToken)
    {
        await writer.StartRowAsync(cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(contact.Id.Value, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(contact.Version, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(_protection.WriteDocument(contact, document), NpgsqlDbType.Json, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Copies identity rows in the primary key's order (<see cref="OrderForIndex"/>, in place): the B-tree inserts of a
    /// group then go through the index in order, so consecutive ones land on the same or a neighbouring leaf page
    /// instead of each on a random one (s47, AES-GCM import: −27 to −38 % of the COPY's server CPU).
    /// </summary>
    private async Task CopyIdentitiesAsync(NpgsqlConnection connection, Memory<IdentityRow> rows, CancellationToken cancellationToken)
    {
        OrderForIndex(rows.Span);
        using var writer = await BeginIdentityCopyAsync(connection, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows.Span[i];
            await WriteIdentityRowAsync(writer, row.Kind, row.Key, row.Contact, cancellationToken).ConfigureAwait(false);
        }

        await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts identity rows in the order of the primary key (kind, lookup key) unless each kind's rows are in that order
    /// already (then the inserts of every kind move through its part of the index in order anyway, and checking costs
    /// one comparison per row where sorting costs a dozen: e.g. a file sorted by phone number with plain lookup keys).
    /// Rows almost in order (a few out of place: a chunk of such a file with some rows repeating earlier ones) are put in
    /// order by sorting only those few (<see cref="SortNearlyOrdered"/>).
    /// </summary>
    internal static void OrderForIndex(Span<IdentityRow> rows)
    {
        Span<int> counts = stackalloc int[KindsOrdered];
        var last = new string?[KindsOrdered];
        var ordered = true;
        foreach (var row in rows)
        {
            if ((uint)row.Kind >= KindsOrdered)
            {
                rows.Sort(IdentityRow.Compare);
                return;
            }

            if (last[row.Kind] is { } previous && string.CompareOrdinal(previous, row.Key) > 0)
            {
                ordered = false;
            }

            last[row.Kind] = row.Key;
            counts[row.Kind]++;
        }

        if (!ordered)
        {
            SortNearlyOrdered(rows, counts);
        }
    }

    /// <summary>The kinds <see cref="OrderForIndex"/> groups by counting (identity kinds are a handful); any other kind is sorted.</summary>
    private const int KindsOrdered = 8;

    /// <summary>
    /// Sorts <paramref name="rows"/> (each kind below <see cref="KindsOrdered"/>, <paramref name="counts"/> rows of each) by
    /// (kind, key), as <see cref="IdentityRow.Compare"/> does, in O(n + m log m) comparisons when m rows are out of place:
    /// the rows are grouped by kind (keeping their order), every row that breaks the ascending order (below the last row
    /// kept, or above both rows after it) is taken out, the rows taken out are sorted, and the two ordered runs are merged.
    /// More than an eighth of the rows out of place (random keys, e.g. HMACs): a plain sort.
    /// </summary>
    private static void SortNearlyOrdered(Span<IdentityRow> rows, ReadOnlySpan<int> counts)
    {
        var n = rows.Length;
        var limit = n / 8;
        if (limit < 8)
        {
            rows.Sort(IdentityRow.Compare);
            return;
        }

        var grouped = System.Buffers.ArrayPool<IdentityRow>.Shared.Rent(n);
        var outOfPlace = System.Buffers.ArrayPool<IdentityRow>.Shared.Rent(limit);
        try
        {
            // Grouped by kind, each kind's rows in their order.
            Span<int> next = stackalloc int[KindsOrdered];
            for (int kind = 0, at = 0; kind < KindsOrdered; kind++)
            {
                next[kind] = at;
                at += counts[kind];
            }

            foreach (var row in rows)
            {
                grouped[next[row.Kind]++] = row;
            }

            // The ascending run kept in place (compacted to the front of grouped), the rest taken out.
            int kept = 0, taken = 0;
            for (var i = 0; i < n; i++)
            {
                var row = grouped[i];
                var fits = (kept == 0 || IdentityRow.Compare(grouped[kept - 1], row) <= 0)
                    && (i + 1 == n || IdentityRow.Compare(row, grouped[i + 1]) <= 0 || (i + 2 < n && IdentityRow.Compare(row, grouped[i + 2]) <= 0));
                if (fits)
                {
                    grouped[kept++] = row;
                }
                else if (taken == limit)
                {
                    // Too many out of place: rows is untouched so far.
                    rows.Sort(IdentityRow.Compare);
                    return;
                }
                else
                {
                    outOfPlace[taken++] = row;
                }
            }

            var misfits = outOfPlace.AsSpan(0, taken);
            misfits.Sort(IdentityRow.Compare);
            int a = 0, b = 0, o = 0;
            while (a < kept && b < taken)
            {
                rows[o++] = IdentityRow.Compare(misfits[b], grouped[a]) < 0 ? misfits[b++] : grouped[a++];
            }

            while (a < kept)
            {
                rows[o++] = grouped[a++];
            }

            while (b < taken)
            {
                rows[o++] = misfits[b++];
            }
        }
        finally
        {
            Array.Clear(grouped, 0, n);
            Array.Clear(outOfPlace, 0, limit);
            System.Buffers.ArrayPool<IdentityRow>.Shared.Return(grouped);
            System.Buffers.ArrayPool<IdentityRow>.Shared.Return(outOfPlace);
        }
    }

    /// <summary>One row of <c>contact_identities</c>, ordered as its primary key: kind, then the lookup key's UTF-8 bytes (<c>COLLATE "C"</c>; ordinal order is the same for keys without surrogate pairs, and only the locality depends on it).</summary>
    internal readonly record struct IdentityRow(short Kind, string Key, Guid Contact)
    {
        public static int Compare(IdentityRow x, IdentityRow y)
        {
            var byKind = x.Kind.CompareTo(y.Kind);
            return byKind != 0 ? byKind : string.CompareOrdinal(x.Key, y.Key);
        }
    }

    private Task<NpgsqlBinaryImporter> BeginIdentityCopyAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        connection.BeginBinaryImportAsync($"COPY {_db.Schema}.contact_identities (kind, lookup_key, contact_id) FROM STDIN (FORMAT BINARY)", cancellationToken);

    private static async Task WriteIdentityRowAsync(NpgsqlBinaryImporter writer, short kind, string key, Guid contact, CancellationToken cancellationToken)
    {
        await writer.StartRowAsync(cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(kind, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(key, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(contact, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
    }

    private void AddIdentityInsert(NpgsqlBatch batch, ContactId id, List<(IdentityKind Kind, string Value, string Key)> keys)
    {
        if (keys.Count == 0)
        {
            return;
        }

        var kinds = new short[keys.Count];
        var values = new string[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            kinds[i] = (short)keys[i].Kind;
            values[i] = keys[i].Key;
        }

        var command = new NpgsqlBatchCommand($"INSERT INTO {_db.Schema}.contact_identities (kind, lookup_key, contact_id) SELECT k, v, @id FROM unnest(@kinds, @keys) AS t(k, v)");
        command.Parameters.AddWithValue("id", id.Value);
        command.Parameters.AddWithValue("kinds", kinds);
        command.Parameters.AddWithValue("keys", values);
        batch.BatchCommands.Add(command);
    }

    private async Task<Contact?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? _protection.FromDocument(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>
    /// The exception for a unique violation of <paramref name="contact"/>'s write, naming the id or the identity (by its
    /// value, as the in-memory store does — never the lookup key). Reads on <paramref name="connection"/> (in its
    /// transaction, which must be usable again) or, when null, on a fresh connection.
    /// </summary>
    internal async Task<DuplicateEntityException> DuplicateAsync(PostgresException ex, Contact contact, List<(IdentityKind Kind, string Value, string Key)> keys, NpgsqlConnection? connection, CancellationToken cancellationToken)
    {
        if (string.Equals(ex.ConstraintName, "contacts_pkey", StringComparison.Ordinal))
        {
            return new DuplicateEntityException(EntityKind, contact.Id.ToString());
        }

        // Name the identity as the in-memory store does (kind:value), never the lookup key.
        using var owned = connection is null ? await _db.OpenAsync(cancellationToken).ConfigureAwait(false) : null;
        connection ??= owned!;
        foreach (var (kind, value, key) in keys)
        {
            using var command = Pg.Command(connection, $"SELECT 1 FROM {_db.Schema}.contact_identities WHERE kind = @kind AND lookup_key = @key AND contact_id <> @id");
            command.Parameters.AddWithValue("kind", (short)kind);
            command.Parameters.AddWithValue("key", key);
            command.Parameters.AddWithValue("id", contact.Id.Value);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
            {
                return new DuplicateEntityException(EntityKind, PersonalDataFields.DuplicateKey(kind, value));
            }
        }

        return new DuplicateEntityException(EntityKind, $"an identity of contact {contact.Id}");
    }
}
