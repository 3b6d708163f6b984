using Campaigns.Delivery;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IIdempotencyStore"/> on PostgreSQL. A claim is one statement: insert the key leased to this instance,
/// or take it over when it is neither completed nor leased (its holder crashed and the lease expired:
/// <see cref="IdempotencyClaimStatus.TakenOver"/>, in doubt). The same statement reads, for the delivery pipeline, the
/// task's pause flag and the contact's do-not-contact listing (<see cref="IGateReadingIdempotencyStore"/>), so the
/// first gates cost no round trip of their own. Completing records the outcome for good; for the pipeline it also writes
/// the provider message's index entry and the task's count in the same batch and transaction
/// (<see cref="IBookkeepingIdempotencyStore"/>). Releasing deletes an uncompleted key. Thread-safe; atomic per key across
/// hosts.
/// </summary>
internal sealed class PostgreSqlIdempotencyStore : IGateReadingIdempotencyStore, IBookkeepingIdempotencyStore
{
    private readonly PostgreSqlDatabase db;
    private readonly string _claimOneSql;
    private readonly string _claimManySql;
    private readonly string _completeManySql;
    private readonly PostgreSqlCoalescer<(string Key, Instant Now, Duration Lease, GateReads? Gates), GatedIdempotencyClaim> _claims;
    private readonly PostgreSqlCoalescer<(string Key, DeliveryOutcome Outcome), bool> _completions;
    private readonly PostgreSqlCoalescer<(string Key, DeliveryOutcome Outcome, string? TaskId, ProviderMessageEntry? Index), ExecutionRecord?> _sends;
    private volatile Bookkeeping? _bookkeeping; // the records and index of this database the pipeline uses (see WritesBookkeepingOf)

    private sealed record Bookkeeping(PostgreSqlExecutionRecords Records, PostgreSqlProviderMessageIndex Index);

    public PostgreSqlIdempotencyStore(PostgreSqlDatabase db)
    {
        this.db = db;
        _claimOneSql = ClaimOneSql();
        _claimManySql = ClaimManySql();
        _completeManySql =
            $"INSERT INTO {db.Schema}.idempotency_keys AS k (key, claimed_by, lease_until, completed_at, outcome) " +
            "SELECT key, $1, $2, at, outcome FROM unnest($3::text[], $4::bigint[], $5::jsonb[]) AS u(key, at, outcome) ORDER BY key " +
            "ON CONFLICT (key) DO UPDATE SET outcome = EXCLUDED.outcome, completed_at = EXCLUDED.completed_at, lease_until = EXCLUDED.lease_until, claimed_by = EXCLUDED.claimed_by";
        _claims = new((a, ct) => ClaimOneAsync(a.Key, a.Now, a.Lease, a.Gates, ct).AsTask(), ClaimManyGatedAsync, static a => a.Key);
        _completions = new(async (a, ct) => { await CompleteOneAsync(a.Key, a.Outcome, ct).ConfigureAwait(false); return true; }, CompleteManyAsync, static a => a.Key);
        _sends = new(async (a, ct) => (await CompleteSendManyAsync([a]).ConfigureAwait(false))[0], CompleteSendManyAsync, static a => a.Key);
    }

    /// <summary>Round trips and completed sends of the combined bookkeeping write so far (tests).</summary>
    internal (long RoundTrips, long Items) SendStats => _sends.Stats;

    /// <inheritdoc />
    /// <remarks>
    /// True for the execution records and provider message index of this store's database and schema; the store then
    /// writes those (the pipeline asks once, when it is built).
    /// </remarks>
    public bool WritesBookkeepingOf(IExecutionRecords records, IProviderMessageIndex messageIndex)
    {
        if (records is PostgreSqlExecutionRecords r && ReferenceEquals(r.Database, db)
            && messageIndex is PostgreSqlProviderMessageIndex i && ReferenceEquals(i.Database, db))
        {
            _bookkeeping = new Bookkeeping(r, i);
            return true;
        }

        return false;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One batch in one implicit transaction on the post-send pool (see
    /// <see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/>); concurrent calls of this instance go out together.
    /// </remarks>
    /// <exception cref="InvalidOperationException"><see cref="WritesBookkeepingOf"/> has not accepted a records store and an index.</exception>
    public async ValueTask<ExecutionRecord?> CompleteSendAsync(string key, DeliveryOutcome outcome, string? taskId, ProviderMessageEntry? index, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        _ = _bookkeeping ?? throw new InvalidOperationException("CompleteSendAsync needs the execution records and provider message index of this database: call WritesBookkeepingOf first.");
        return await _sends.RunAsync((key, outcome, taskId, index), cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<ExecutionRecord?>> CompleteSendManyAsync(IReadOnlyList<(string Key, DeliveryOutcome Outcome, string? TaskId, ProviderMessageEntry? Index)> items)
    {
        bool prune;
        var byTask = new Dictionary<string, ExecutionRecord>(StringComparer.Ordinal);
        using (var connection = await db.OpenDeferredAsync(CancellationToken.None).ConfigureAwait(false))
        using (var batch = new NpgsqlBatch(connection))
        {
            prune = AddSendCommands(batch, items);

            // One implicit transaction for the whole batch: all of it commits, or none of it.
            using var reader = await batch.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await PostgreSqlExecutionRecords.ReadRecordsAsync(reader, byTask).ConfigureAwait(false);
        }

        if (prune)
        {
            await PruneAfterSendsAsync().ConfigureAwait(false);
        }

        return [.. items.Select(i => i.TaskId is { } task ? byTask[task] : null)];
    }

    /// <summary>The database of this store.</summary>
    internal PostgreSqlDatabase Database => db;

    /// <summary>Whether <see cref="WritesBookkeepingOf"/> has accepted a records store and an index of this database.</summary>
    internal bool HasBookkeeping => _bookkeeping is not null;

    /// <summary>
    /// Adds to <paramref name="batch"/> the statements of <see cref="CompleteSendAsync"/> for <paramref name="items"/>, in the
    /// order of the separate writes: index entries, the completions, the tasks' counts (each count returns its task's
    /// record, read with <see cref="PostgreSqlExecutionRecords.ReadRecordsAsync"/>).
    /// </summary>
    /// <returns>True when the index should be pruned after the batch (<see cref="PruneAfterSendsAsync"/>).</returns>
    internal bool AddSendCommands(NpgsqlBatch batch, IReadOnlyList<(string Key, DeliveryOutcome Outcome, string? TaskId, ProviderMessageEntry? Index)> items)
    {
        var bookkeeping = _bookkeeping ?? throw new InvalidOperationException("The send's bookkeeping needs the execution records and provider message index of this database: call WritesBookkeepingOf first.");
        var prune = false;
        foreach (var item in items)
        {
            if (item.Index is { } entry)
            {
                batch.BatchCommands.Add(bookkeeping.Index.RecordCommand(entry.ProviderMessageId, entry.Message));
                prune |= bookkeeping.Index.CountRecord();
            }
        }

        batch.BatchCommands.Add(CompleteManyCommand([.. items.Select(static i => (i.Key, i.Outcome))]));
        foreach (var command in bookkeeping.Records.RecordManyCommands([.. items.Where(static i => i.TaskId is not null).Select(static i => (i.TaskId!, i.Outcome))]))
        {
            batch.BatchCommands.Add(command);
        }

        return prune;
    }

    /// <summary>Whether <paramref name="key"/> is completed (after a combined write's error, to tell whether its bookkeeping committed).</summary>
    internal async Task<bool> IsCompletedAsync(string key)
    {
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT count(*) FROM {db.Schema}.idempotency_keys WHERE key = $1 AND outcome IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        return (long)(await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false))! > 0;
    }

    /// <summary>A task's execution record as the bookkeeping left it (after a combined write's error).</summary>
    internal async Task<ExecutionRecord?> RecordOfAsync(string taskId) => await _bookkeeping!.Records.GetAsync(taskId, CancellationToken.None).ConfigureAwait(false);

    /// <summary>Prunes the provider message index when <see cref="AddSendCommands"/> asked for it.</summary>
    internal Task PruneAfterSendsAsync() => _bookkeeping!.Index.PruneAsync(CancellationToken.None).AsTask();

    /// <summary>Round trips and claims so far (tests).</summary>
    internal (long RoundTrips, long Items) ClaimStats => _claims.Stats;

    /// <summary>
    /// Claims a key. Concurrent claims of this instance go out together as one statement (see
    /// <see cref="PostgreSqlCoalescer{TIn, TOut}"/>); each is committed before its caller gets the answer.
    /// </summary>
    public async ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await _claims.RunAsync((key, now, lease, null), cancellationToken).ConfigureAwait(false)).Claim;
    }

    /// <inheritdoc />
    /// <remarks>True for the execution records and do-not-contact list of this store's database and schema.</remarks>
    public bool ReadsGatesOf(IExecutionRecords records, IDoNotContactList doNotContact) =>
        records is PostgreSqlExecutionRecords r && ReferenceEquals(r.Database, db)
        && doNotContact is PostgreSqlDoNotContactList d && ReferenceEquals(d.Database, db);

    /// <inheritdoc />
    /// <remarks>One statement (coalesced with this instance's concurrent claims); the reads see the statement's snapshot.</remarks>
    public async ValueTask<GatedIdempotencyClaim> TryClaimWithGatesAsync(string key, Instant now, Duration lease, GateReads gates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(gates.ContactId, nameof(gates));
        ArgumentNullException.ThrowIfNull(gates.ConsentKey, nameof(gates));
        return await _claims.RunAsync((key, now, lease, gates), cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<IdempotencyClaim>> ClaimManyAsync(IReadOnlyList<(string Key, Instant Now, Duration Lease)> items) =>
        [.. (await ClaimManyGatedAsync([.. items.Select(static i => (i.Key, i.Now, i.Lease, (GateReads?)null))]).ConfigureAwait(false)).Select(static c => c.Claim)];

    internal async Task<IReadOnlyList<GatedIdempotencyClaim>> ClaimManyGatedAsync(IReadOnlyList<(string Key, Instant Now, Duration Lease, GateReads? Gates)> items)
    {
        var keys = new string[items.Count];
        var nows = new long[items.Count];
        var untils = new long[items.Count];
        var tasks = new string?[items.Count];
        var contacts = new string?[items.Count];
        var channels = new string?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            keys[i] = items[i].Key;
            nows[i] = Pg.Ticks(items[i].Now);
            untils[i] = Pg.Ticks(items[i].Now + items[i].Lease);
            tasks[i] = items[i].Gates?.TaskId;
            contacts[i] = items[i].Gates?.ContactId;
            channels[i] = items[i].Gates?.ConsentKey;
        }

        var results = new GatedIdempotencyClaim?[items.Count];
        using (var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // Rows are inserted in key order so two hosts claiming overlapping keys lock them in the same order. The
            // outer join reads the statement's snapshot: each row as it was before this claim, as the one-key path does.
            using var command = Pg.Command(connection, _claimManySql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = keys });
            command.Parameters.Add(new NpgsqlParameter<long[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint, TypedValue = nows });
            command.Parameters.Add(new NpgsqlParameter<long[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint, TypedValue = untils });
            command.Parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = tasks });
            command.Parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = contacts });
            command.Parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = channels });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = db.InstanceName });
            using var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                var index = (int)reader.GetInt64(0) - 1;
                var claim = reader.GetBoolean(1)
                    ? new IdempotencyClaim(reader.GetBoolean(3) ? IdempotencyClaimStatus.TakenOver : IdempotencyClaimStatus.Claimed, null)
                    : !reader.IsDBNull(2)
                        ? new IdempotencyClaim(IdempotencyClaimStatus.Completed, Pg.FromJson<DeliveryOutcome>(reader.GetString(2)))
                        : reader.GetBoolean(3) ? new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null) : (IdempotencyClaim?)null;
                results[index] = claim is { } found ? new GatedIdempotencyClaim(found, reader.GetBoolean(4), reader.GetBoolean(5)) : null;
            }
        }

        for (var i = 0; i < results.Length; i++)
        {
            // The holder released or completed the key between the insert attempt and the snapshot: ask again alone.
            results[i] ??= await ClaimOneAsync(items[i].Key, items[i].Now, items[i].Lease, items[i].Gates, CancellationToken.None).ConfigureAwait(false);
        }

        return [.. results.Select(static r => r!.Value)];
    }

    /// <summary>
    /// The merged claim with its gates ($1 keys, $2 nows, $3 lease untils, $4 tasks, $5 contacts, $6 consent keys, $7 owner).
    /// Rows are inserted in key order so two hosts claiming overlapping keys lock them in the same order. The outer join
    /// reads the statement's snapshot: each row as it was before this claim, as the one-key path does.
    /// </summary>
    private string ClaimManySql() =>
        $"""
        WITH i AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
            WITH ORDINALITY AS i(key, now, until, task, contact, channel, idx)),
        c AS (
            INSERT INTO {db.Schema}.idempotency_keys AS k (key, claimed_by, lease_until)
            SELECT key, $7, until FROM i ORDER BY key
            ON CONFLICT (key) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
                WHERE k.outcome IS NULL AND k.lease_until <= (SELECT i.now FROM i WHERE i.key = k.key)
            RETURNING k.key)
        SELECT i.idx, EXISTS (SELECT 1 FROM c WHERE c.key = i.key), k.outcome::text, k.key IS NOT NULL,
            {GateColumns("i.task", "i.contact", "i.channel")}
        FROM i LEFT JOIN {db.Schema}.idempotency_keys k ON k.key = i.key
        """;

    /// <summary>The two gate columns of a claim: the task's pause flag and the contact's listing (false for null arguments).</summary>
    private string GateColumns(string task, string contact, string channel) =>
        $"coalesce((SELECT e.is_paused FROM {db.Schema}.execution_records e WHERE e.task_id = {task}), false), " +
        $"EXISTS (SELECT 1 FROM {db.Schema}.do_not_contact d WHERE d.contact_id = {contact} AND d.channel IN ('', {channel}))";

    /// <summary>The one-key claim with its gates ($1 key, $2 owner, $3 lease until, $4 now, $5 task, $6 contact, $7 consent key).</summary>
    private string ClaimOneSql() =>
        $"""
        WITH c AS (
            INSERT INTO {db.Schema}.idempotency_keys AS k (key, claimed_by, lease_until) VALUES ($1, $2, $3)
            ON CONFLICT (key) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
                WHERE k.outcome IS NULL AND k.lease_until <= $4
            RETURNING 1)
        SELECT (SELECT count(*) FROM c), k.outcome::text, k.key IS NOT NULL,
            {GateColumns("$5", "$6", "$7")}
        FROM (SELECT 1) one LEFT JOIN {db.Schema}.idempotency_keys k ON k.key = $1
        """;

    private async ValueTask<GatedIdempotencyClaim> ClaimOneAsync(string key, Instant now, Duration lease, GateReads? gates, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            // The sub-select reads the statement's snapshot: the row as it was before this claim, if any.
            // Positional parameters, the text built once (_claimOneSql): Npgsql sends it as is, with no per-call rewriting.
            using var command = Pg.Command(connection, _claimOneSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = db.InstanceName });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Pg.Ticks(now + lease) });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Pg.Ticks(now) });
            command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, TypedValue = gates?.TaskId });
            command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, TypedValue = gates?.ContactId });
            command.Parameters.Add(new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, TypedValue = gates?.ConsentKey });
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var paused = reader.GetBoolean(3);
            var listed = reader.GetBoolean(4);
            if (reader.GetInt64(0) == 1)
            {
                // The row existed before this statement (uncompleted, lease expired): the earlier attempt is in doubt.
                return new(new IdempotencyClaim(reader.GetBoolean(2) ? IdempotencyClaimStatus.TakenOver : IdempotencyClaimStatus.Claimed, null), paused, listed);
            }

            if (!reader.IsDBNull(1))
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Completed, Pg.FromJson<DeliveryOutcome>(reader.GetString(1))), paused, listed);
            }

            if (reader.GetBoolean(2) || attempt >= 10)
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null), paused, listed);
            }

            // The holder released or completed the key between our insert attempt and our snapshot: ask again.
        }
    }

    /// <summary>Records an outcome for good; concurrent completions of this instance go out as one statement.</summary>
    public async ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        await _completions.RunAsync((key, outcome), cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<bool>> CompleteManyAsync(IReadOnlyList<(string Key, DeliveryOutcome Outcome)> items)
    {
        using var connection = await db.OpenDeferredAsync(CancellationToken.None).ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(CompleteManyCommand(items));
        await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        return new bool[items.Count];
    }

    /// <summary>The completion of many keys in one statement (in key order, so two hosts lock overlapping keys alike).</summary>
    private NpgsqlBatchCommand CompleteManyCommand(IReadOnlyList<(string Key, DeliveryOutcome Outcome)> items)
    {
        var keys = new string[items.Count];
        var ats = new long[items.Count];
        var outcomes = new string[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            keys[i] = items[i].Key;
            ats[i] = Pg.Ticks(items[i].Outcome.At);
            outcomes[i] = Pg.ToJson(items[i].Outcome);
        }

        // Built once with positional parameters (_completeManySql): $1 owner, $2 lease until (never), $3 keys, $4 times, $5 outcomes.
        var command = new NpgsqlBatchCommand(_completeManySql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = db.InstanceName });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = long.MaxValue });
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, TypedValue = keys });
        command.Parameters.Add(new NpgsqlParameter<long[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint, TypedValue = ats });
        command.Parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Jsonb, TypedValue = outcomes });
        return command;
    }

    private async ValueTask CompleteOneAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenDeferredAsync(cancellationToken).ConfigureAwait(false);
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
/// The do-not-contact list (<see cref="IDoNotContactList"/>) on PostgreSQL, shared by every host. Concurrent look-ups
/// of one instance are answered by one statement. Thread-safe.
/// </summary>
public sealed class PostgreSqlDoNotContactList : IDoNotContactList
{
    private readonly PostgreSqlDatabase _db;
    private readonly IClock _clock;

    /// <summary>The database this list lives in (the idempotency store reads it with its claims).</summary>
    internal PostgreSqlDatabase Database => _db;

    /// <summary>Creates the list (usually resolved from DI).</summary>
    /// <param name="db">The database.</param>
    /// <param name="clock">The clock that stamps listings.</param>
    public PostgreSqlDoNotContactList(PostgreSqlDatabase db, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(clock);
        _db = db;
        _clock = clock;
        _lookups = new((a, ct) => IsListedOneAsync(a.Contact, a.Channel, ct), IsListedManyAsync);
    }

    private readonly PostgreSqlCoalescer<(string Contact, string Channel), bool> _lookups;

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
    /// <remarks>Concurrent look-ups of this instance go out together as one statement.</remarks>
    public async ValueTask<bool> IsListedAsync(string contactId, string channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        return await _lookups.RunAsync((contactId, channel), cancellationToken).ConfigureAwait(false);
    }

    internal async Task<IReadOnlyList<bool>> IsListedManyAsync(IReadOnlyList<(string Contact, string Channel)> items)
    {
        var contacts = new string[items.Count];
        var channels = new string[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            (contacts[i], channels[i]) = items[i];
        }

        var listed = new bool[items.Count];
        using var connection = await _db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"SELECT i.idx FROM unnest(@contacts::text[], @channels::text[]) WITH ORDINALITY AS i(contact, channel, idx) " +
            $"WHERE EXISTS (SELECT 1 FROM {_db.Schema}.do_not_contact d WHERE d.contact_id = i.contact AND d.channel IN ('', i.channel))");
        command.Parameters.AddWithValue("contacts", contacts);
        command.Parameters.AddWithValue("channels", channels);
        using var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            listed[(int)reader.GetInt64(0) - 1] = true;
        }

        return listed;
    }

    private async Task<bool> IsListedOneAsync(string contactId, string channel, CancellationToken cancellationToken)
    {
        using var connection = await _db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT EXISTS (SELECT 1 FROM {_db.Schema}.do_not_contact WHERE contact_id = @contact AND channel IN ('', @channel))");
        command.Parameters.AddWithValue("contact", contactId);
        command.Parameters.AddWithValue("channel", channel);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
