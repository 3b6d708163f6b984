using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="IProviderMessageIndex"/>: one row per (channel, provider message id) in
/// <c>provider_messages</c>, so receipts for sends made before a restart (or by another host) still find their contact.
/// Recording is one upsert statement (the same channel and id again replaces the row). Retention matches
/// <see cref="InMemoryProviderMessageIndex"/>: a send is found while it is no older than <see cref="Retention"/>
/// measured from the newest send in the table (recorded by any host), not from the clock. Rows past the retention are
/// deleted by <c>sent_at</c> (indexed) after the first record of this instance and then every <see cref="PruneEvery"/>
/// records, or by <see cref="PruneAsync"/>. Thread-safe.
/// </summary>
public sealed class PostgreSqlProviderMessageIndex : IProviderMessageIndex
{
    /// <summary>How many records of one instance go between two prunes (the first record prunes too).</summary>
    public const int PruneEvery = 1024;

    private readonly PostgreSqlDatabase _db;
    private readonly long _retentionTicks;
    private long _records = -1;

    // The upsert of one send, built once with positional parameters ($1 channel, $2 provider message id, $3 contact,
    // $4 idempotency key, $5 sent at): Npgsql sends it as it is, with no per-call interpolation or parameter rewriting.
    private readonly string _recordSql;

    /// <summary>Creates the index (usually resolved from DI).</summary>
    /// <param name="db">The database.</param>
    /// <param name="retention">How long a send is kept (<c>Campaigns:Delivery:ProviderMessageRetention</c>); positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retention"/> is not positive.</exception>
    public PostgreSqlProviderMessageIndex(PostgreSqlDatabase db, Duration retention)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (retention <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), retention, "The retention of the provider message index must be positive.");
        }

        _db = db;
        Retention = retention;
        _retentionTicks = retention.BclCompatibleTicks;
        _recordSql =
            $"""
            INSERT INTO {db.Schema}.provider_messages (channel, provider_message_id, contact_id, idempotency_key, sent_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (channel, provider_message_id) DO UPDATE
            SET contact_id = EXCLUDED.contact_id, idempotency_key = EXCLUDED.idempotency_key, sent_at = EXCLUDED.sent_at
            """;
    }

    /// <summary>Gets how long a send is kept.</summary>
    public Duration Retention { get; }

    /// <inheritdoc />
    public async ValueTask RecordAsync(string providerMessageId, ProviderMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(providerMessageId);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(message.ContactId, "message.ContactId");
        ArgumentNullException.ThrowIfNull(message.Channel, "message.Channel");
        ArgumentNullException.ThrowIfNull(message.IdempotencyKey, "message.IdempotencyKey");
        cancellationToken.ThrowIfCancellationRequested();
        var prune = CountRecord();
        using (var connection = await _db.OpenDeferredAsync(cancellationToken).ConfigureAwait(false))
        using (var batch = new Npgsql.NpgsqlBatch(connection))
        {
            batch.BatchCommands.Add(RecordCommand(providerMessageId, message));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (prune)
        {
            await PruneAsync(CancellationToken.None).ConfigureAwait(false); // the send is stored: a late cancel does not fail it
        }
    }

    /// <summary>Counts one record; true when this one should prune (the first, then every <see cref="PruneEvery"/>).</summary>
    internal bool CountRecord() => Interlocked.Increment(ref _records) % PruneEvery == 0;

    /// <summary>The upsert of one send (the same channel and id again replaces the row).</summary>
    internal Npgsql.NpgsqlBatchCommand RecordCommand(string providerMessageId, ProviderMessage message)
    {
        var command = new Npgsql.NpgsqlBatchCommand(_recordSql);
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = message.Channel });
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = providerMessageId });
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = message.ContactId });
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = message.IdempotencyKey });
        command.Parameters.Add(new Npgsql.NpgsqlParameter<long> { TypedValue = Pg.Ticks(message.SentAt) });
        return command;
    }

    /// <summary>The database this index lives in (the idempotency store writes entries with its completions).</summary>
    internal PostgreSqlDatabase Database => _db;

    /// <inheritdoc />
    public async ValueTask<ProviderMessage?> FindAsync(string channel, string providerMessageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(providerMessageId);
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"""
            SELECT contact_id, idempotency_key, sent_at FROM {_db.Schema}.provider_messages
            WHERE channel = @channel AND provider_message_id = @id
              AND sent_at >= (SELECT max(sent_at) FROM {_db.Schema}.provider_messages) - @retention
            """);
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("id", providerMessageId);
        command.Parameters.AddWithValue("retention", _retentionTicks);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new ProviderMessage(reader.GetString(0), channel, reader.GetString(1), Pg.Instant(reader.GetInt64(2)))
            : null;
    }

    /// <summary>Deletes the sends past the retention now (recording does it every <see cref="PruneEvery"/> records).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many sends were deleted.</returns>
    public async ValueTask<int> PruneAsync(CancellationToken cancellationToken = default)
    {
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"DELETE FROM {_db.Schema}.provider_messages WHERE sent_at < (SELECT max(sent_at) FROM {_db.Schema}.provider_messages) - @retention");
        command.Parameters.AddWithValue("retention", _retentionTicks);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
