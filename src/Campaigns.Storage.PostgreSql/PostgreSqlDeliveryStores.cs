using Campaigns.Delivery;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IIdempotencyStore"/> on PostgreSQL. A claim is one statement: insert the key leased to this instance,
/// or take it over when it is neither completed nor leased (its holder crashed and the lease expired:
/// <see cref="IdempotencyClaimStatus.TakenOver"/>, in doubt). Completing
/// records the outcome for good; releasing deletes an uncompleted key. Thread-safe; atomic per key across hosts.
/// </summary>
internal sealed class PostgreSqlIdempotencyStore(PostgreSqlDatabase db) : IIdempotencyStore
{
    public async ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            // The sub-select reads the statement's snapshot: the row as it was before this claim, if any.
            using var command = Pg.Command(
                connection,
                $"""
                WITH c AS (
                    INSERT INTO {db.Schema}.idempotency_keys AS k (key, claimed_by, lease_until) VALUES (@key, @owner, @until)
                    ON CONFLICT (key) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
                        WHERE k.outcome IS NULL AND k.lease_until <= @now
                    RETURNING 1)
                SELECT (SELECT count(*) FROM c), k.outcome::text, k.key IS NOT NULL
                FROM (SELECT 1) one LEFT JOIN {db.Schema}.idempotency_keys k ON k.key = @key
                """);
            command.Parameters.AddWithValue("key", key);
            command.Parameters.AddWithValue("owner", db.InstanceName);
            command.Parameters.AddWithValue("until", Pg.Ticks(now + lease));
            command.Parameters.AddWithValue("now", Pg.Ticks(now));
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (reader.GetInt64(0) == 1)
            {
                // The row existed before this statement (uncompleted, lease expired): the earlier attempt is in doubt.
                return new IdempotencyClaim(reader.GetBoolean(2) ? IdempotencyClaimStatus.TakenOver : IdempotencyClaimStatus.Claimed, null);
            }

            if (!reader.IsDBNull(1))
            {
                return new IdempotencyClaim(IdempotencyClaimStatus.Completed, Pg.FromJson<DeliveryOutcome>(reader.GetString(1)));
            }

            if (reader.GetBoolean(2) || attempt >= 10)
            {
                return new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null);
            }

            // The holder released or completed the key between our insert attempt and our snapshot: ask again.
        }
    }

    public async ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"INSERT INTO {db.Schema}.idempotency_keys AS k (key, claimed_by, lease_until, completed_at, outcome) VALUES (@key, @owner, @max, @at, @outcome) " +
            "ON CONFLICT (key) DO UPDATE SET outcome = EXCLUDED.outcome, completed_at = EXCLUDED.completed_at, lease_until = EXCLUDED.lease_until, claimed_by = EXCLUDED.claimed_by");
        command.Parameters.AddWithValue("key", key);
        command.Parameters.AddWithValue("owner", db.InstanceName);
        command.Parameters.AddWithValue("max", long.MaxValue);
        command.Parameters.AddWithValue("at", Pg.Ticks(outcome.At));
        command.Parameters.Add(Pg.Jsonb("outcome", Pg.ToJson(outcome)));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"DELETE FROM {db.Schema}.idempotency_keys WHERE key = @key AND outcome IS NULL");
        command.Parameters.AddWithValue("key", key);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// An <see cref="IFrequencyCapStore"/> on PostgreSQL: one row per recorded send. An acquisition takes a
/// transaction-scoped advisory lock on the contact, counts every window and records the send only when all have room,
/// so concurrent senders on any number of hosts never exceed a cap. Sends older than 32 days are pruned as the
/// contact is touched. Thread-safe.
/// </summary>
internal sealed class PostgreSqlFrequencyCapStore(PostgreSqlDatabase db) : IFrequencyCapStore
{
    private static readonly Duration Retention = Duration.FromDays(32);

    public async ValueTask<CapWindow?> TryAcquireAsync(string contactId, string channel, Instant at, IReadOnlyList<CapWindow> windows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(windows);
        var channels = new string?[windows.Count];
        var froms = new long[windows.Count];
        var limits = new int[windows.Count];
        for (var i = 0; i < windows.Count; i++)
        {
            channels[i] = windows[i].Channel;
            froms[i] = Pg.Ticks(windows[i].From);
            limits[i] = windows[i].Limit;
        }

        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection, tx);
        var lockCommand = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtextextended('campaigns.cap.' || @contact, 0))");
        lockCommand.Parameters.AddWithValue("contact", contactId);
        batch.BatchCommands.Add(lockCommand);
        var prune = new NpgsqlBatchCommand($"DELETE FROM {db.Schema}.frequency_sends WHERE contact_id = @contact AND at < @oldest");
        prune.Parameters.AddWithValue("contact", contactId);
        prune.Parameters.AddWithValue("oldest", Pg.Ticks(at - Retention));
        batch.BatchCommands.Add(prune);
        var acquire = new NpgsqlBatchCommand(
            $"""
            WITH w AS (
                SELECT w.idx, w.lim,
                    (SELECT count(*) FROM {db.Schema}.frequency_sends s
                     WHERE s.contact_id = @contact AND s.at >= w.since AND (w.channel IS NULL OR s.channel = w.channel)) AS n
                FROM unnest(@channels::text[], @froms::bigint[], @limits::integer[]) WITH ORDINALITY AS w(channel, since, lim, idx)),
            full_window AS (SELECT min(idx) AS idx FROM w WHERE n + 1 > lim),
            ins AS (
                INSERT INTO {db.Schema}.frequency_sends (contact_id, channel, at)
                SELECT @contact, @channel, @at WHERE (SELECT idx FROM full_window) IS NULL)
            SELECT idx FROM full_window
            """);
        acquire.Parameters.AddWithValue("contact", contactId);
        acquire.Parameters.AddWithValue("channel", channel);
        acquire.Parameters.AddWithValue("at", Pg.Ticks(at));
        acquire.Parameters.AddWithValue("channels", channels);
        acquire.Parameters.AddWithValue("froms", froms);
        acquire.Parameters.AddWithValue("limits", limits);
        batch.BatchCommands.Add(acquire);
        long? full = null;
        using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            do
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (reader.FieldCount == 1 && reader.GetName(0) == "idx" && !reader.IsDBNull(0))
                    {
                        full = reader.GetInt64(0);
                    }
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return full is { } index ? windows[(int)index - 1] : null;
    }

    public async ValueTask ReleaseAsync(string contactId, string channel, Instant at, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"DELETE FROM {db.Schema}.frequency_sends WHERE ctid = (SELECT ctid FROM {db.Schema}.frequency_sends WHERE contact_id = @contact AND channel = @channel AND at = @at LIMIT 1)");
        command.Parameters.AddWithValue("contact", contactId);
        command.Parameters.AddWithValue("channel", channel);
        command.Parameters.AddWithValue("at", Pg.Ticks(at));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The do-not-contact list (<see cref="IDoNotContactList"/>) on PostgreSQL, shared by every host. Thread-safe.
/// </summary>
public sealed class PostgreSqlDoNotContactList : IDoNotContactList
{
    private readonly PostgreSqlDatabase _db;
    private readonly IClock _clock;

    /// <summary>Creates the list (usually resolved from DI).</summary>
    /// <param name="db">The database.</param>
    /// <param name="clock">The clock that stamps listings.</param>
    public PostgreSqlDoNotContactList(PostgreSqlDatabase db, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(clock);
        _db = db;
        _clock = clock;
    }

    /// <summary>Lists a contact (again listing it changes nothing).</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel (its consent key, e.g. <c>sms</c>), or null for every channel.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    /// <exception cref="ArgumentException">The contact id is blank, or the channel is empty.</exception>
    public async ValueTask AddAsync(string contactId, string? channel = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(contactId);
        if (channel is { Length: 0 })
        {
            throw new ArgumentException("The channel is empty; pass null to list the contact on every channel.", nameof(channel));
        }

        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"INSERT INTO {_db.Schema}.do_not_contact (contact_id, channel, listed_at) VALUES (@contact, @channel, @at) ON CONFLICT DO NOTHING");
        command.Parameters.AddWithValue("contact", contactId);
        command.Parameters.AddWithValue("channel", channel ?? string.Empty);
        command.Parameters.AddWithValue("at", Pg.Ticks(_clock.GetCurrentInstant()));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a listing.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for the every-channel listing.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether a listing was removed.</returns>
    public async ValueTask<bool> RemoveAsync(string contactId, string? channel = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"DELETE FROM {_db.Schema}.do_not_contact WHERE contact_id = @contact AND channel = @channel");
        command.Parameters.AddWithValue("contact", contactId);
        command.Parameters.AddWithValue("channel", channel ?? string.Empty);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<bool> IsListedAsync(string contactId, string channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT EXISTS (SELECT 1 FROM {_db.Schema}.do_not_contact WHERE contact_id = @contact AND channel IN ('', @channel))");
        command.Parameters.AddWithValue("contact", contactId);
        command.Parameters.AddWithValue("channel", channel);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
