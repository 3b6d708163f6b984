using System.Globalization;
using Campaigns.Channels;
using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IIdempotencyStore"/>: one row per key with its lease or its recorded outcome; a claim is
/// one <c>BEGIN IMMEDIATE</c> transaction, so of concurrent claimers (threads or processes) exactly one gets the key.
/// A key whose lease expired without an outcome is taken over (<see cref="IdempotencyClaimStatus.TakenOver"/>: in doubt).
/// Completed keys are kept (no expiry). Thread-safe.
/// </summary>
public sealed class SqliteIdempotencyStore : IIdempotencyStore
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteIdempotencyStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var nowTicks = SqliteDatabase.Ticks(now);
        var until = SqliteDatabase.Ticks(now + lease);
        return _database.WriteSessionAsync(
            s =>
            {
                var takenOver = false;
                using (var reader = s.Command("SELECT outcome, lease_until FROM idempotency_keys WHERE key = $k;", ("$k", key)).ExecuteReader())
                {
                    if (reader.Read())
                    {
                        takenOver = true; // uncompleted and expired, unless one of the returns below applies
                        if (!reader.IsDBNull(0))
                        {
                            return new IdempotencyClaim(IdempotencyClaimStatus.Completed, StorageJson.Deserialize<DeliveryOutcome>(reader.GetString(0)));
                        }

                        if (reader.GetInt64(1) > nowTicks)
                        {
                            return new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null);
                        }
                    }
                }

                s.Execute("INSERT OR REPLACE INTO idempotency_keys (key, outcome, lease_until) VALUES ($k, NULL, $until);", ("$k", key), ("$until", until));
                return new IdempotencyClaim(takenOver ? IdempotencyClaimStatus.TakenOver : IdempotencyClaimStatus.Claimed, null);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        var doc = StorageJson.Serialize(outcome);
        await _database.WriteSessionAsync(
            s => s.Execute("INSERT OR REPLACE INTO idempotency_keys (key, outcome, lease_until) VALUES ($k, $o, $max);", ("$k", key), ("$o", doc), ("$max", long.MaxValue)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _database.WriteSessionAsync(
            s => s.Execute("DELETE FROM idempotency_keys WHERE key = $k AND outcome IS NULL;", ("$k", key)),
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The SQLite <see cref="IFrequencyCapStore"/>: one row per counted send; each acquisition checks every window and
/// records the send in one transaction, so concurrent senders never exceed a cap. Keeps each contact's sends of the
/// last 32 days. Thread-safe.
/// </summary>
public sealed class SqliteFrequencyCapStore : IFrequencyCapStore
{
    private static readonly Duration Retention = Duration.FromDays(32);
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteFrequencyCapStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<CapWindow?> TryAcquireAsync(string contactId, string channel, Instant at, IReadOnlyList<CapWindow> windows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(windows);
        return _database.WriteSessionAsync(
            s =>
            {
                s.Execute("DELETE FROM cap_sends WHERE contact_id = $c AND at < $cutoff;", ("$c", contactId), ("$cutoff", SqliteDatabase.Ticks(at - Retention)));
                foreach (var window in windows)
                {
                    var count = (long)s.Scalar(
                        "SELECT COUNT(*) FROM cap_sends WHERE contact_id = $c AND at >= $from AND ($ch IS NULL OR channel = $ch);",
                        ("$c", contactId),
                        ("$from", SqliteDatabase.Ticks(window.From)),
                        ("$ch", window.Channel))!;
                    if (count + 1 > window.Limit)
                    {
                        return window;
                    }
                }

                s.Execute("INSERT INTO cap_sends (contact_id, channel, at) VALUES ($c, $ch, $at);", ("$c", contactId), ("$ch", channel), ("$at", SqliteDatabase.Ticks(at)));
                return (CapWindow?)null;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string contactId, string channel, Instant at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        await _database.WriteSessionAsync(
            s => s.Execute(
                "DELETE FROM cap_sends WHERE id = (SELECT MAX(id) FROM cap_sends WHERE contact_id = $c AND channel = $ch AND at = $at);",
                ("$c", contactId),
                ("$ch", channel),
                ("$at", SqliteDatabase.Ticks(at))),
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The SQLite <see cref="IDoNotContactList"/>, with <see cref="AddAsync"/> and <see cref="RemoveAsync"/> to maintain it. Thread-safe.</summary>
public sealed class SqliteDoNotContactList : IDoNotContactList
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates the list.</summary>
    /// <param name="database">The database.</param>
    public SqliteDoNotContactList(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <summary>Lists a contact.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for every channel.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    public async ValueTask AddAsync(string contactId, string? channel = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(contactId);
        await _database.WriteSessionAsync(
            s => s.Execute("INSERT OR IGNORE INTO do_not_contact (contact_id, channel) VALUES ($c, $ch);", ("$c", contactId), ("$ch", channel ?? string.Empty)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a listing.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for the every-channel listing.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when removed.</returns>
    public async ValueTask RemoveAsync(string contactId, string? channel = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        await _database.WriteSessionAsync(
            s => s.Execute("DELETE FROM do_not_contact WHERE contact_id = $c AND channel = $ch;", ("$c", contactId), ("$ch", channel ?? string.Empty)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<bool> IsListedAsync(string contactId, string channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        return ValueTask.FromResult(_database.ReadSession(
            s => s.Scalar("SELECT 1 FROM do_not_contact WHERE contact_id = $c AND channel IN ('', $ch) LIMIT 1;", ("$c", contactId), ("$ch", channel)) is not null,
            cancellationToken));
    }
}

/// <summary>The SQLite <see cref="IExecutionRecords"/>: one row per task plus its deferred keys; every change is one transaction. Thread-safe.</summary>
public sealed class SqliteExecutionRecords : IExecutionRecords
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteExecutionRecords(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<ExecutionRecord> StartAsync(string taskId, int targetCount, Instant at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        ArgumentOutOfRangeException.ThrowIfNegative(targetCount);
        return _database.WriteSessionAsync(
            s =>
            {
                s.Execute("DELETE FROM execution_deferred WHERE task_id = $t;", ("$t", taskId));
                s.Execute(
                    "INSERT OR REPLACE INTO execution_records (task_id, started_at, updated_at, target_count, sent, suppressed, failed, is_paused, alert_raised_at, unknown) " +
                    "VALUES ($t, $at, $at, $n, 0, '{}', '{}', 0, NULL, 0);",
                    ("$t", taskId),
                    ("$at", SqliteDatabase.Ticks(at)),
                    ("$n", targetCount));
                return Snapshot(s, taskId)!;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<ExecutionRecord?> GetAsync(string taskId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        return ValueTask.FromResult(_database.ReadSession(s => Snapshot(s, taskId), cancellationToken));
    }

    /// <inheritdoc />
    public ValueTask<ExecutionRecord> RecordAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        ArgumentNullException.ThrowIfNull(outcome);
        return _database.WriteSessionAsync(
            s =>
            {
                Ensure(s, taskId, outcome.At);
                if (!outcome.IsReplay && outcome.Status is not (DeliveryStatus.Paused or DeliveryStatus.InProgress))
                {
                    s.Execute("UPDATE execution_records SET updated_at = $at WHERE task_id = $t;", ("$at", SqliteDatabase.Ticks(outcome.At)), ("$t", taskId));
                    if (outcome.Status == DeliveryStatus.Deferred)
                    {
                        s.Execute("INSERT OR IGNORE INTO execution_deferred (task_id, idempotency_key) VALUES ($t, $k);", ("$t", taskId), ("$k", outcome.IdempotencyKey));
                    }
                    else
                    {
                        s.Execute("DELETE FROM execution_deferred WHERE task_id = $t AND idempotency_key = $k;", ("$t", taskId), ("$k", outcome.IdempotencyKey));
                        switch (outcome.Status)
                        {
                            case DeliveryStatus.Sent:
                                s.Execute("UPDATE execution_records SET sent = sent + 1 WHERE task_id = $t;", ("$t", taskId));
                                break;
                            case DeliveryStatus.Unknown:
                                s.Execute("UPDATE execution_records SET unknown = unknown + 1 WHERE task_id = $t;", ("$t", taskId));
                                break;
                            case DeliveryStatus.Suppressed:
                                Increment(s, taskId, "suppressed", (int)(outcome.SuppressedBy ?? GateCheck.Consent));
                                break;
                            case DeliveryStatus.Failed:
                                Increment(s, taskId, "failed", (int)(outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown));
                                break;
                        }
                    }
                }

                return Snapshot(s, taskId)!;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> TryRaiseAlertAsync(string taskId, Instant at, bool pause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        return _database.WriteSessionAsync(
            s =>
            {
                Ensure(s, taskId, at);
                return s.Execute(
                    "UPDATE execution_records SET alert_raised_at = $at, is_paused = is_paused OR $pause WHERE task_id = $t AND alert_raised_at IS NULL;",
                    ("$at", SqliteDatabase.Ticks(at)),
                    ("$pause", pause),
                    ("$t", taskId)) == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask SetPausedAsync(string taskId, bool paused, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        await _database.WriteSessionAsync(
            s => s.Execute(
                "UPDATE execution_records SET is_paused = $p, alert_raised_at = CASE WHEN $p THEN alert_raised_at ELSE NULL END WHERE task_id = $t;",
                ("$p", paused),
                ("$t", taskId)),
            cancellationToken).ConfigureAwait(false);
    }

    private static void Ensure(SqliteSession s, string taskId, Instant at) =>
        s.Execute(
            "INSERT OR IGNORE INTO execution_records (task_id, started_at, updated_at, target_count, sent, suppressed, failed, is_paused, alert_raised_at) " +
            "VALUES ($t, $at, $at, 0, 0, '{}', '{}', 0, NULL);",
            ("$t", taskId),
            ("$at", SqliteDatabase.Ticks(at)));

    private static void Increment(SqliteSession s, string taskId, string column, int key)
    {
        var path = "$.\"" + key.ToString(CultureInfo.InvariantCulture) + "\"";
        s.Execute(
            $"UPDATE execution_records SET {column} = json_set({column}, $path, COALESCE(json_extract({column}, $path), 0) + 1) WHERE task_id = $t;",
            ("$path", path),
            ("$t", taskId));
    }

    private static ExecutionRecord? Snapshot(SqliteSession s, string taskId)
    {
        using var reader = s.Command(
            "SELECT started_at, updated_at, target_count, sent, suppressed, failed, is_paused, alert_raised_at, " +
            "(SELECT COUNT(*) FROM execution_deferred d WHERE d.task_id = r.task_id), unknown FROM execution_records r WHERE task_id = $t;",
            ("$t", taskId)).ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new ExecutionRecord
        {
            TaskId = taskId,
            StartedAt = SqliteDatabase.Instant(reader.GetInt64(0)),
            UpdatedAt = SqliteDatabase.Instant(reader.GetInt64(1)),
            TargetCount = reader.GetInt32(2),
            Sent = reader.GetInt64(3),
            SuppressedBy = Counts<GateCheck>(reader.GetString(4)),
            FailedBy = Counts<DeliveryFailureReason>(reader.GetString(5)),
            IsPaused = reader.GetBoolean(6),
            AlertRaisedAt = reader.IsDBNull(7) ? null : SqliteDatabase.Instant(reader.GetInt64(7)),
            Deferred = reader.GetInt64(8),
            Unknown = reader.GetInt64(9),
        };
    }

    private static Dictionary<TKey, long> Counts<TKey>(string json)
        where TKey : struct, Enum
    {
        var raw = StorageJson.Deserialize<Dictionary<string, long>>(json);
        var counts = new Dictionary<TKey, long>(raw.Count);
        foreach (var (key, count) in raw)
        {
            counts[(TKey)Enum.ToObject(typeof(TKey), int.Parse(key, CultureInfo.InvariantCulture))] = count;
        }

        return counts;
    }
}
