using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IDefinitionStore"/>: one row per (kind, id) in <c>definitions</c> and the change stamp in
/// <c>definition_stamp</c> (migration 3). A write checks the version and bumps the stamp in the same
/// <c>BEGIN IMMEDIATE</c> transaction, so processes on one file see one order of changes. Thread-safe.
/// </summary>
public sealed class SqliteDefinitionStore : IDefinitionStore
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteDefinitionStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<StoredDefinition?> GetAsync(string kind, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(id);
        return ValueTask.FromResult(_database.ReadSession(s => Read(s, kind, id), cancellationToken));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<StoredDefinition>> ListAsync(string kind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return ValueTask.FromResult(_database.ReadSession<IReadOnlyList<StoredDefinition>>(
            s =>
            {
                var list = new List<StoredDefinition>();
                using var reader = s.Command("SELECT id, doc, version, updated_at FROM definitions WHERE kind = $k ORDER BY id;", ("$k", kind)).ExecuteReader();
                while (reader.Read())
                {
                    list.Add(new StoredDefinition(kind, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), SqliteDatabase.Instant(reader.GetInt64(3))));
                }

                // ORDER BY uses SQLite's BINARY collation: byte order of UTF-8, which is not always ordinal UTF-16 order.
                list.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
                return list;
            },
            cancellationToken));
    }

    /// <inheritdoc />
    public ValueTask<StoredDefinition> PutAsync(string kind, string id, string document, long? expectedVersion, Instant at, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, document, expectedVersion);
        return _database.WriteSessionAsync(
            s =>
            {
                var current = Read(s, kind, id);
                DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current?.Version);
                if (current is not null && string.Equals(current.Document, document, StringComparison.Ordinal))
                {
                    return current;
                }

                var stored = new StoredDefinition(kind, id, document, (current?.Version ?? 0) + 1, at);
                s.Execute(
                    "INSERT OR REPLACE INTO definitions (kind, id, doc, version, updated_at) VALUES ($k, $i, $d, $v, $at);",
                    ("$k", kind),
                    ("$i", id),
                    ("$d", document),
                    ("$v", stored.Version),
                    ("$at", SqliteDatabase.Ticks(at)));
                s.Execute("UPDATE definition_stamp SET value = value + 1 WHERE id = 1;");
                return stored;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string kind, string id, long? expectedVersion, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, null, expectedVersion);
        return _database.WriteSessionAsync(
            s =>
            {
                var current = Read(s, kind, id);
                if (current is null)
                {
                    return false;
                }

                DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current.Version);
                s.Execute("DELETE FROM definitions WHERE kind = $k AND id = $i;", ("$k", kind), ("$i", id));
                s.Execute("UPDATE definition_stamp SET value = value + 1 WHERE id = 1;");
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<long> GetStampAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_database.ReadSession(static s => (long)(s.Scalar("SELECT value FROM definition_stamp WHERE id = 1;") ?? 0L), cancellationToken));

    private static StoredDefinition? Read(SqliteSession s, string kind, string id)
    {
        using var reader = s.Command("SELECT doc, version, updated_at FROM definitions WHERE kind = $k AND id = $i;", ("$k", kind), ("$i", id)).ExecuteReader();
        return reader.Read()
            ? new StoredDefinition(kind, id, reader.GetString(0), reader.GetInt64(1), SqliteDatabase.Instant(reader.GetInt64(2)))
            : null;
    }
}
