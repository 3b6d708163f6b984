using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IDefinitionStore"/> on PostgreSQL: one row per (kind, id) in <c>definitions</c>, the change stamp in
/// <c>definition_stamp</c> (migration 3). A write locks the stamp row first (definition writes are rare: serializing
/// them across every instance costs nothing and gives one order of changes), then checks the version, writes and bumps
/// the stamp in the same transaction. Thread-safe.
/// </summary>
internal sealed class PostgreSqlDefinitionStore(PostgreSqlDatabase db) : IDefinitionStore
{
    public async ValueTask<StoredDefinition?> GetAsync(string kind, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(id);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(connection, null, kind, id, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<StoredDefinition>> ListAsync(string kind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT id, doc, version, updated_at FROM {db.Schema}.definitions WHERE kind = @kind ORDER BY id");
        command.Parameters.AddWithValue("kind", kind);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredDefinition>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new StoredDefinition(kind, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), Pg.Instant(reader.GetInt64(3))));
        }

        list.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }

    public async ValueTask<StoredDefinition> PutAsync(string kind, string id, string document, long? expectedVersion, Instant at, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, document, expectedVersion);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockStampAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        var current = await ReadAsync(connection, tx, kind, id, cancellationToken).ConfigureAwait(false);
        DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current?.Version);
        if (current is not null && string.Equals(current.Document, document, StringComparison.Ordinal))
        {
            return current;
        }

        var stored = new StoredDefinition(kind, id, document, (current?.Version ?? 0) + 1, at);
        using (var write = Pg.Command(
            connection,
            $"INSERT INTO {db.Schema}.definitions (kind, id, doc, version, updated_at) VALUES (@kind, @id, @doc, @version, @at) " +
            "ON CONFLICT (kind, id) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at; " +
            $"UPDATE {db.Schema}.definition_stamp SET value = value + 1 WHERE id = 1",
            tx))
        {
            write.Parameters.AddWithValue("kind", kind);
            write.Parameters.AddWithValue("id", id);
            write.Parameters.AddWithValue("doc", document);
            write.Parameters.AddWithValue("version", stored.Version);
            write.Parameters.AddWithValue("at", Pg.Ticks(at));
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored;
    }

    public async ValueTask<bool> DeleteAsync(string kind, string id, long? expectedVersion, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, null, expectedVersion);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockStampAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        var current = await ReadAsync(connection, tx, kind, id, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return false;
        }

        DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current.Version);
        using (var delete = Pg.Command(
            connection,
            $"DELETE FROM {db.Schema}.definitions WHERE kind = @kind AND id = @id; UPDATE {db.Schema}.definition_stamp SET value = value + 1 WHERE id = 1",
            tx))
        {
            delete.Parameters.AddWithValue("kind", kind);
            delete.Parameters.AddWithValue("id", id);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<long> GetStampAsync(CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT value FROM {db.Schema}.definition_stamp WHERE id = 1");
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long stamp ? stamp : 0;
    }

    private async Task LockStampAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        using var command = Pg.Command(connection, $"SELECT value FROM {db.Schema}.definition_stamp WHERE id = 1 FOR UPDATE", tx);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<StoredDefinition?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string kind, string id, CancellationToken cancellationToken)
    {
        using var command = Pg.Command(connection, $"SELECT doc, version, updated_at FROM {db.Schema}.definitions WHERE kind = @kind AND id = @id", tx);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("id", id);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new StoredDefinition(kind, id, reader.GetString(0), reader.GetInt64(1), Pg.Instant(reader.GetInt64(2)))
            : null;
    }
}
