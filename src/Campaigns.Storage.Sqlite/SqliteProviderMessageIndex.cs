using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IProviderMessageIndex"/>: one row per (channel, provider message id) in
/// <c>provider_messages</c>, so receipts for sends made before a restart still find their contact. Recording again
/// the same channel and id replaces the row. Retention matches <see cref="InMemoryProviderMessageIndex"/>: a send is
/// found while it is no older than <see cref="Retention"/> measured from the newest send in the table (recorded by any
/// process on the file), not from the clock. Rows past the retention are deleted by <c>sent_at</c> (indexed) in the
/// same transaction as the first record of this instance and then every <see cref="PruneEvery"/> records, or by
/// <see cref="PruneAsync"/>. Thread-safe.
/// </summary>
public sealed class SqliteProviderMessageIndex : IProviderMessageIndex
{
    /// <summary>How many records of one instance go between two prunes (the first record prunes too).</summary>
    public const int PruneEvery = 1024;

    private const string PruneSql =
        "DELETE FROM provider_messages WHERE sent_at < (SELECT MAX(sent_at) FROM provider_messages) - $retention;";

    private readonly SqliteDatabase _database;
    private readonly long _retentionTicks;
    private long _records = -1;

    /// <summary>Creates the index.</summary>
    /// <param name="database">The database.</param>
    /// <param name="retention">How long a send is kept (<c>Campaigns:Delivery:ProviderMessageRetention</c>); positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retention"/> is not positive.</exception>
    public SqliteProviderMessageIndex(SqliteDatabase database, Duration retention)
    {
        ArgumentNullException.ThrowIfNull(database);
        if (retention <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), retention, "The retention of the provider message index must be positive.");
        }

        _database = database;
        Retention = retention;
        _retentionTicks = retention.BclCompatibleTicks;
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
        var prune = Interlocked.Increment(ref _records) % PruneEvery == 0;
        await _database.WriteSessionAsync(
            s =>
            {
                s.Execute(
                    "INSERT OR REPLACE INTO provider_messages (channel, provider_message_id, contact_id, idempotency_key, sent_at) VALUES ($ch, $id, $c, $k, $at);",
                    ("$ch", message.Channel),
                    ("$id", providerMessageId),
                    ("$c", message.ContactId),
                    ("$k", message.IdempotencyKey),
                    ("$at", SqliteDatabase.Ticks(message.SentAt)));
                return prune ? s.Execute(PruneSql, ("$retention", _retentionTicks)) : 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<ProviderMessage?> FindAsync(string channel, string providerMessageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(providerMessageId);
        return ValueTask.FromResult(_database.ReadSession(
            s =>
            {
                using var reader = s.Command(
                    "SELECT contact_id, idempotency_key, sent_at FROM provider_messages " +
                    "WHERE channel = $ch AND provider_message_id = $id AND sent_at >= (SELECT MAX(sent_at) FROM provider_messages) - $retention;",
                    ("$ch", channel),
                    ("$id", providerMessageId),
                    ("$retention", _retentionTicks)).ExecuteReader();
                return reader.Read()
                    ? new ProviderMessage(reader.GetString(0), channel, reader.GetString(1), SqliteDatabase.Instant(reader.GetInt64(2)))
                    : null;
            },
            cancellationToken));
    }

    /// <summary>Deletes the sends past the retention now (recording does it every <see cref="PruneEvery"/> records).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many sends were deleted.</returns>
    public ValueTask<int> PruneAsync(CancellationToken cancellationToken = default) =>
        _database.WriteSessionAsync(s => s.Execute(PruneSql, ("$retention", _retentionTicks)), cancellationToken);
}
