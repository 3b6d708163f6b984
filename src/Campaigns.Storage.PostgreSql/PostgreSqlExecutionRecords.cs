using System.Text.Json;
using Campaigns.Channels;
using Campaigns.Delivery;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// <see cref="IExecutionRecords"/> on PostgreSQL: one row per task with counters updated in place by single upsert
/// statements (so concurrent hosts add up correctly), and the keys of deferred messages in
/// <c>execution_deferred</c> so a deferred message later sent moves from deferred to sent exactly once. Thread-safe.
/// </summary>
internal sealed class PostgreSqlExecutionRecords(PostgreSqlDatabase db) : IExecutionRecords
{
    private const string Columns = "task_id, started_at, updated_at, target_count, sent, deferred, suppressed_by::text, failed_by::text, is_paused, alert_raised_at";
    private readonly string _s = db.Schema;

    public async ValueTask<ExecutionRecord> StartAsync(string taskId, int targetCount, Instant at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        ArgumentOutOfRangeException.ThrowIfNegative(targetCount);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection, tx);
        var clear = new NpgsqlBatchCommand($"DELETE FROM {_s}.execution_deferred WHERE task_id = @task");
        clear.Parameters.AddWithValue("task", taskId);
        batch.BatchCommands.Add(clear);
        var upsert = new NpgsqlBatchCommand(
            $"INSERT INTO {_s}.execution_records AS r (task_id, started_at, updated_at, target_count) VALUES (@task, @at, @at, @target) " +
            "ON CONFLICT (task_id) DO UPDATE SET started_at = @at, updated_at = @at, target_count = @target, sent = 0, deferred = 0, " +
            $"suppressed_by = '{{}}', failed_by = '{{}}', is_paused = false, alert_raised_at = NULL RETURNING {Columns}");
        upsert.Parameters.AddWithValue("task", taskId);
        upsert.Parameters.AddWithValue("at", Pg.Ticks(at));
        upsert.Parameters.AddWithValue("target", targetCount);
        batch.BatchCommands.Add(upsert);
        ExecutionRecord record;
        using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            record = Read(reader);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return record;
    }

    public async ValueTask<ExecutionRecord?> GetAsync(string taskId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT {Columns} FROM {_s}.execution_records WHERE task_id = @task");
        command.Parameters.AddWithValue("task", taskId);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async ValueTask<ExecutionRecord> RecordAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        ArgumentNullException.ThrowIfNull(outcome);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.Parameters.AddWithValue("task", taskId);
        command.Parameters.AddWithValue("at", Pg.Ticks(outcome.At));
        if (outcome.IsReplay || outcome.Status is DeliveryStatus.Paused or DeliveryStatus.InProgress)
        {
            // Not counted: make sure the record exists (as the in-memory store does) and return it.
            command.CommandText =
                $"INSERT INTO {_s}.execution_records AS r (task_id, started_at, updated_at) VALUES (@task, @at, @at) " +
                $"ON CONFLICT (task_id) DO UPDATE SET task_id = r.task_id RETURNING {Columns}";
        }
        else
        {
            // One statement: the deferred-key change and the counters, so hosts recording at once never lose a count.
            var deferred = outcome.Status == DeliveryStatus.Deferred;
            var (suppressedKey, failedKey) = outcome.Status switch
            {
                DeliveryStatus.Suppressed => (Name(outcome.SuppressedBy ?? GateCheck.Consent), null),
                DeliveryStatus.Failed => ((string?)null, Name(outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown)),
                _ => (null, null),
            };
            command.CommandText =
                $"""
                WITH d AS (
                    {(deferred
                        ? $"INSERT INTO {_s}.execution_deferred (task_id, key) VALUES (@task, @key) ON CONFLICT DO NOTHING RETURNING 1"
                        : $"DELETE FROM {_s}.execution_deferred WHERE task_id = @task AND key = @key RETURNING -1")})
                INSERT INTO {_s}.execution_records AS r (task_id, started_at, updated_at, sent, deferred, suppressed_by, failed_by)
                VALUES (@task, @at, @at, @sent, GREATEST((SELECT coalesce(sum(1), 0) FROM d WHERE {(deferred ? "true" : "false")}), 0),
                        CASE WHEN @suppressed::text IS NULL THEN jsonb_build_object() ELSE jsonb_build_object(@suppressed::text, 1) END,
                        CASE WHEN @failed::text IS NULL THEN jsonb_build_object() ELSE jsonb_build_object(@failed::text, 1) END)
                ON CONFLICT (task_id) DO UPDATE SET
                    updated_at = @at,
                    sent = r.sent + @sent,
                    deferred = r.deferred + (SELECT coalesce(sum(1), 0) FROM d) * {(deferred ? "1" : "-1")},
                    suppressed_by = CASE WHEN @suppressed::text IS NULL THEN r.suppressed_by
                        ELSE jsonb_set(r.suppressed_by, ARRAY[@suppressed::text], to_jsonb(coalesce((r.suppressed_by ->> @suppressed::text)::bigint, 0) + 1)) END,
                    failed_by = CASE WHEN @failed::text IS NULL THEN r.failed_by
                        ELSE jsonb_set(r.failed_by, ARRAY[@failed::text], to_jsonb(coalesce((r.failed_by ->> @failed::text)::bigint, 0) + 1)) END
                RETURNING {Columns}
                """;
            command.Parameters.AddWithValue("key", outcome.IdempotencyKey);
            command.Parameters.AddWithValue("sent", outcome.Status == DeliveryStatus.Sent ? 1L : 0L);
            command.Parameters.AddWithValue("suppressed", (object?)suppressedKey ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
            command.Parameters.AddWithValue("failed", (object?)failedKey ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        }

        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return Read(reader);
    }

    public async ValueTask<bool> TryRaiseAlertAsync(string taskId, Instant at, bool pause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"INSERT INTO {_s}.execution_records AS r (task_id, started_at, updated_at, is_paused, alert_raised_at) VALUES (@task, @at, @at, @pause, @at) " +
            "ON CONFLICT (task_id) DO UPDATE SET alert_raised_at = @at, is_paused = r.is_paused OR @pause WHERE r.alert_raised_at IS NULL");
        command.Parameters.AddWithValue("task", taskId);
        command.Parameters.AddWithValue("at", Pg.Ticks(at));
        command.Parameters.AddWithValue("pause", pause);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async ValueTask SetPausedAsync(string taskId, bool paused, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"UPDATE {_s}.execution_records SET is_paused = @paused, alert_raised_at = CASE WHEN @paused THEN alert_raised_at ELSE NULL END WHERE task_id = @task");
        command.Parameters.AddWithValue("task", taskId);
        command.Parameters.AddWithValue("paused", paused);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Name<T>(T value)
        where T : struct, Enum => value.ToString();

    private static ExecutionRecord Read(NpgsqlDataReader reader) => new()
    {
        TaskId = reader.GetString(0),
        StartedAt = Pg.Instant(reader.GetInt64(1)),
        UpdatedAt = Pg.Instant(reader.GetInt64(2)),
        TargetCount = reader.GetInt32(3),
        Sent = reader.GetInt64(4),
        Deferred = reader.GetInt64(5),
        SuppressedBy = Counts<GateCheck>(reader.GetString(6)),
        FailedBy = Counts<DeliveryFailureReason>(reader.GetString(7)),
        IsPaused = reader.GetBoolean(8),
        AlertRaisedAt = reader.IsDBNull(9) ? null : Pg.Instant(reader.GetInt64(9)),
    };

    private static Dictionary<T, long> Counts<T>(string json)
        where T : struct, Enum
    {
        var counts = new Dictionary<T, long>();
        foreach (var (name, count) in JsonSerializer.Deserialize<Dictionary<string, long>>(json) ?? [])
        {
            if (Enum.TryParse<T>(name, out var key))
            {
                counts[key] = count;
            }
        }

        return counts;
    }
}
