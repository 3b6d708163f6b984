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
internal sealed class PostgreSqlExecutionRecords : IExecutionRecords
{
    private const string Columns = "task_id, started_at, updated_at, target_count, sent, deferred, suppressed_by::text, failed_by::text, is_paused, alert_raised_at, unknown";
    private readonly PostgreSqlDatabase db;
    private readonly string _s;
    private readonly string _recordTaskSql; // built once, positional parameters (see RecordTaskSql)
    private readonly string _recordPlainSql; // the same without deferred keys, suppressions or failures (RecordPlainSql)
    private readonly PostgreSqlCoalescer<string, ExecutionRecord?> _reads;
    private readonly PostgreSqlCoalescer<(string TaskId, DeliveryOutcome Outcome), ExecutionRecord> _records;

    public PostgreSqlExecutionRecords(PostgreSqlDatabase db)
    {
        this.db = db;
        _s = db.Schema;
        _recordTaskSql = RecordTaskSql(db.Schema);
        _recordPlainSql = RecordPlainSql(db.Schema);
        _reads = new((task, ct) => GetOneAsync(task, ct).AsTask(), GetManyAsync);
        _records = new((a, ct) => RecordOneAsync(a.TaskId, a.Outcome, ct).AsTask(), RecordManyAsync, static a => a.TaskId + "\n" + a.Outcome.IdempotencyKey);
    }

    /// <summary>The database these records live in (the idempotency store reads the pause flag with its claims).</summary>
    internal PostgreSqlDatabase Database => db;

    /// <summary>Round trips and recorded outcomes so far (tests).</summary>
    internal (long RoundTrips, long Items) RecordStats => _records.Stats;

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
            "ON CONFLICT (task_id) DO UPDATE SET started_at = @at, updated_at = @at, target_count = @target, sent = 0, deferred = 0, unknown = 0, " +
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

    /// <summary>Reads a task's record; concurrent reads of this instance (the pipeline's pause check of every send) share one statement.</summary>
    public async ValueTask<ExecutionRecord?> GetAsync(string taskId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        return await _reads.RunAsync(taskId, cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<ExecutionRecord?>> GetManyAsync(IReadOnlyList<string> tasks)
    {
        var found = new Dictionary<string, ExecutionRecord>(StringComparer.Ordinal);
        using (var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false))
        using (var command = Pg.Command(connection, $"SELECT {Columns} FROM {_s}.execution_records WHERE task_id = ANY(@tasks)"))
        {
            command.Parameters.AddWithValue("tasks", tasks.Distinct(StringComparer.Ordinal).ToArray());
            using var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                var record = Read(reader);
                found[record.TaskId] = record;
            }
        }

        return [.. tasks.Select(t => found.GetValueOrDefault(t))];
    }

    private async ValueTask<ExecutionRecord?> GetOneAsync(string taskId, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT {Columns} FROM {_s}.execution_records WHERE task_id = @task");
        command.Parameters.AddWithValue("task", taskId);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>
    /// Counts an outcome. Concurrent outcomes of this instance are counted by one round trip (one statement per task,
    /// adding the sums), each caller getting the record as it stands after that commit.
    /// </summary>
    public async ValueTask<ExecutionRecord> RecordAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        ArgumentNullException.ThrowIfNull(outcome);
        return await _records.RunAsync((taskId, outcome), cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<ExecutionRecord>> RecordManyAsync(IReadOnlyList<(string TaskId, DeliveryOutcome Outcome)> items)
    {
        var byTask = new Dictionary<string, ExecutionRecord>(StringComparer.Ordinal);
        using (var connection = await db.OpenDeferredAsync(CancellationToken.None).ConfigureAwait(false))
        using (var batch = new NpgsqlBatch(connection))
        {
            foreach (var command in RecordManyCommands(items))
            {
                batch.BatchCommands.Add(command);
            }

            // One implicit transaction for the whole batch: every task's counts commit together, or none do.
            using var reader = await batch.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await ReadRecordsAsync(reader, byTask).ConfigureAwait(false);
        }

        return [.. items.Select(i => byTask[i.TaskId])];
    }

    /// <summary>Reads every execution record row of a batch's results (other statements' results are skipped) into <paramref name="byTask"/>.</summary>
    internal static async Task ReadRecordsAsync(NpgsqlDataReader reader, Dictionary<string, ExecutionRecord> byTask)
    {
        do
        {
            while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (reader.FieldCount == 11 && reader.GetName(0) == "task_id")
                {
                    var record = Read(reader);
                    byTask[record.TaskId] = record;
                }
            }
        }
        while (await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false));
    }

    /// <summary>
    /// The statements that count <paramref name="items"/>: one per task, in task order (so two hosts' batches lock the
    /// records in the same order), each returning the task's record.
    /// </summary>
    internal List<NpgsqlBatchCommand> RecordManyCommands(IReadOnlyList<(string TaskId, DeliveryOutcome Outcome)> items)
    {
        var commands = new List<NpgsqlBatchCommand>(1);
        if (items.Count == 1)
        {
            // One step's send (P = 1): no grouping, no sorting.
            commands.Add(RecordTaskCommand(items[0].TaskId, items));
            return commands;
        }

        foreach (var group in items.GroupBy(i => i.TaskId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            commands.Add(RecordTaskCommand(group.Key, [.. group]));
        }

        return commands;
    }

    /// <summary>The statement that counts one task's <paramref name="outcomes"/> (in order) and returns its record.</summary>
    private NpgsqlBatchCommand RecordTaskCommand(string taskId, IReadOnlyList<(string TaskId, DeliveryOutcome Outcome)> outcomes)
    {
        long sent = 0;
        long unknown = 0;
        var counted = false;
        // As if recorded one by one in order: a new record starts at the first outcome, and the last counted one stamps it.
        var startedAt = Pg.Ticks(outcomes[0].Outcome.At);
        var at = startedAt;
        List<string>? deferredKeys = null;
        List<string>? otherKeys = null;
        Dictionary<string, long>? suppressed = null;
        Dictionary<string, long>? failed = null;
        foreach (var (_, outcome) in outcomes)
        {
            if (outcome.IsReplay || outcome.Status is DeliveryStatus.Paused or DeliveryStatus.InProgress)
            {
                continue; // Not counted (as RecordOneAsync): the record is only made to exist.
            }

            counted = true;
            at = Pg.Ticks(outcome.At);
            if (outcome.Status == DeliveryStatus.Deferred)
            {
                (deferredKeys ??= []).Add(outcome.IdempotencyKey);
                continue;
            }

            (otherKeys ??= []).Add(outcome.IdempotencyKey);
            sent += outcome.Status == DeliveryStatus.Sent ? 1 : 0;
            unknown += outcome.Status == DeliveryStatus.Unknown ? 1 : 0;
            if (outcome.Status == DeliveryStatus.Suppressed)
            {
                var name = Name(outcome.SuppressedBy ?? GateCheck.Consent);
                suppressed ??= new(StringComparer.Ordinal);
                suppressed[name] = suppressed.GetValueOrDefault(name) + 1;
            }
            else if (outcome.Status == DeliveryStatus.Failed)
            {
                var name = Name(outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown);
                failed ??= new(StringComparer.Ordinal);
                failed[name] = failed.GetValueOrDefault(name) + 1;
            }
        }

        // $1–$6, the same in both statements: the task, the times, whether it is counted, and the sums.
        NpgsqlBatchCommand Sums(string sql)
        {
            var sums = new NpgsqlBatchCommand(sql);
            sums.Parameters.Add(new NpgsqlParameter<string> { TypedValue = taskId });
            sums.Parameters.Add(new NpgsqlParameter<long> { TypedValue = at });
            sums.Parameters.Add(new NpgsqlParameter<long> { TypedValue = startedAt });
            sums.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = counted });
            sums.Parameters.Add(new NpgsqlParameter<long> { TypedValue = sent });
            sums.Parameters.Add(new NpgsqlParameter<long> { TypedValue = unknown });
            return sums;
        }

        // The deferred keys added and removed, and the sums, in one statement (built once: _recordTaskSql). Without
        // deferred keys, suppressions or failures (a step's send) the shorter statement does the same with less work.
        if (deferredKeys is null && suppressed is null && failed is null)
        {
            var plain = Sums(_recordPlainSql);
            plain.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = otherKeys?.ToArray() ?? [] });
            return plain;
        }

        var command = Sums(_recordTaskSql);
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = deferredKeys?.ToArray() ?? [] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = otherKeys?.ToArray() ?? [] });
        command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb, TypedValue = suppressed is null ? "{}" : JsonSerializer.Serialize(suppressed) });
        command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb, TypedValue = failed is null ? "{}" : JsonSerializer.Serialize(failed) });
        return command;
    }

    /// <summary>
    /// The text of <see cref="RecordTaskCommand"/> when no key is deferred and nothing is suppressed or failed: $1 task,
    /// $2 updated at, $3 started at, $4 counted, $5 sent, $6 unknown, $7 the keys (removed from the deferred).
    /// </summary>
    private static string RecordPlainSql(string s) =>
        $"""
        WITH del AS (
            DELETE FROM {s}.execution_deferred WHERE task_id = $1 AND key = ANY($7::text[]) RETURNING 1)
        INSERT INTO {s}.execution_records AS r (task_id, started_at, updated_at, sent, deferred, suppressed_by, failed_by, unknown)
        VALUES ($1, $3, $2, $5, 0, jsonb_build_object(), jsonb_build_object(), $6)
        ON CONFLICT (task_id) DO UPDATE SET
            updated_at = CASE WHEN $4 THEN $2 ELSE r.updated_at END,
            sent = r.sent + $5,
            unknown = r.unknown + $6,
            deferred = r.deferred - (SELECT count(*) FROM del)
        RETURNING {Columns}
        """;

    /// <summary>
    /// The text of <see cref="RecordTaskCommand"/>: $1 task, $2 updated at, $3 started at, $4 counted, $5 sent, $6 unknown,
    /// $7 deferred keys added, $8 other keys (removed from the deferred), $9 suppressed counts, $10 failed counts (jsonb).
    /// </summary>
    private static string RecordTaskSql(string s) =>
        $"""
        WITH ins AS (
            INSERT INTO {s}.execution_deferred (task_id, key) SELECT $1, k FROM unnest($7::text[]) AS k ON CONFLICT DO NOTHING RETURNING 1),
        del AS (
            DELETE FROM {s}.execution_deferred WHERE task_id = $1 AND key = ANY($8::text[]) RETURNING 1)
        INSERT INTO {s}.execution_records AS r (task_id, started_at, updated_at, sent, deferred, suppressed_by, failed_by, unknown)
        VALUES ($1, $3, $2, $5, (SELECT count(*) FROM ins), $9::jsonb, $10::jsonb, $6)
        ON CONFLICT (task_id) DO UPDATE SET
            updated_at = CASE WHEN $4 THEN $2 ELSE r.updated_at END,
            sent = r.sent + $5,
            unknown = r.unknown + $6,
            deferred = r.deferred + (SELECT count(*) FROM ins) - (SELECT count(*) FROM del),
            suppressed_by = r.suppressed_by || coalesce((SELECT jsonb_object_agg(e.key, coalesce((r.suppressed_by ->> e.key)::bigint, 0) + e.value::bigint)
                FROM jsonb_each_text($9::jsonb) e), jsonb_build_object()),
            failed_by = r.failed_by || coalesce((SELECT jsonb_object_agg(e.key, coalesce((r.failed_by ->> e.key)::bigint, 0) + e.value::bigint)
                FROM jsonb_each_text($10::jsonb) e), jsonb_build_object())
        RETURNING {Columns}
        """;

    private async ValueTask<ExecutionRecord> RecordOneAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenDeferredAsync(cancellationToken).ConfigureAwait(false);
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
                INSERT INTO {_s}.execution_records AS r (task_id, started_at, updated_at, sent, unknown, deferred, suppressed_by, failed_by)
                VALUES (@task, @at, @at, @sent, @unknown, GREATEST((SELECT coalesce(sum(1), 0) FROM d WHERE {(deferred ? "true" : "false")}), 0),
                        CASE WHEN @suppressed::text IS NULL THEN jsonb_build_object() ELSE jsonb_build_object(@suppressed::text, 1) END,
                        CASE WHEN @failed::text IS NULL THEN jsonb_build_object() ELSE jsonb_build_object(@failed::text, 1) END)
                ON CONFLICT (task_id) DO UPDATE SET
                    updated_at = @at,
                    sent = r.sent + @sent,
                    unknown = r.unknown + @unknown,
                    deferred = r.deferred + (SELECT coalesce(sum(1), 0) FROM d) * {(deferred ? "1" : "-1")},
                    suppressed_by = CASE WHEN @suppressed::text IS NULL THEN r.suppressed_by
                        ELSE jsonb_set(r.suppressed_by, ARRAY[@suppressed::text], to_jsonb(coalesce((r.suppressed_by ->> @suppressed::text)::bigint, 0) + 1)) END,
                    failed_by = CASE WHEN @failed::text IS NULL THEN r.failed_by
                        ELSE jsonb_set(r.failed_by, ARRAY[@failed::text], to_jsonb(coalesce((r.failed_by ->> @failed::text)::bigint, 0) + 1)) END
                RETURNING {Columns}
                """;
            command.Parameters.AddWithValue("key", outcome.IdempotencyKey);
            command.Parameters.AddWithValue("sent", outcome.Status == DeliveryStatus.Sent ? 1L : 0L);
            command.Parameters.AddWithValue("unknown", outcome.Status == DeliveryStatus.Unknown ? 1L : 0L);
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

    internal static ExecutionRecord Read(NpgsqlDataReader reader) => new()
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
        Unknown = reader.GetInt64(10),
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
