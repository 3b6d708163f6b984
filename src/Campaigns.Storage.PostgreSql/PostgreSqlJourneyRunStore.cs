using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IJourneyRunStore"/> on PostgreSQL. A run and its timer are written by one statement (data-modifying
/// CTEs) guarded by the run's version, so of two hosts racing on a run exactly one advances it. Due timers are claimed
/// in one round trip per batch with <c>FOR UPDATE SKIP LOCKED</c>: concurrent claimers never wait on each other's rows
/// and never get the same row. A claim leases the row (<c>claimed_by</c>, <c>lease_until</c>) and moves its
/// <c>available_at</c> to the lease expiry, so a crashed host's timers are claimed again after the lease by any host,
/// with no rescuer process. A due step's run and contact are read in one statement
/// (<see cref="IContactReadingJourneyRunStore"/>), the contact decoded by the contact store's
/// <see cref="ContactProtection"/>; the update that ends a run's turn can carry the next run's read
/// (<see cref="IReadAheadJourneyRunStore"/>: one batch, the update committed at an error barrier before the read), and
/// a step's send bookkeeping can go before it in the same batch (<see cref="IBookkeepingJourneyRunStore"/>).
/// Thread-safe.
/// </summary>
internal sealed class PostgreSqlJourneyRunStore : IBookkeepingJourneyRunStore
{
    private readonly PostgreSqlDatabase db;
    private readonly string _s;
    private readonly ContactProtection _protection;

    // The per-step statements, built once, with positional parameters: Npgsql sends them as they are (no per-call
    // interpolation of the schema, no rewriting of named parameters).
    private readonly string _readWithContactSql;
    private readonly string _updateOneSql;
    private readonly string _updateAfterBookkeepingSql;
    private volatile PostgreSqlIdempotencyStore? _bookkeeping; // the idempotency store whose send bookkeeping goes before the update (see WritesBookkeepingOf)
    private readonly PostgreSqlCoalescer<(string Journey, ContactId Contact), JourneyRun?> _reads;
    private readonly PostgreSqlCoalescer<(string Journey, ContactId Contact), JourneyRunWithContact> _readsWithContacts;
    private readonly PostgreSqlCoalescer<(JourneyRun Stored, long Expected), bool> _updates;

    public PostgreSqlJourneyRunStore(PostgreSqlDatabase db)
    {
        this.db = db;
        _s = db.Schema;
        _protection = new ContactProtection(db.Protector);
        _readWithContactSql =
            $"SELECT r.doc::text, r.version, c.doc::text, c.version FROM {_s}.journey_runs r LEFT JOIN {_s}.contacts c ON c.id = r.contact_id " +
            "WHERE r.journey_id = $1 AND r.contact_id = $2";

        // $1 journey, $2 contact, $3 run number, $4 status, $5 new version, $6 has a timer, $7 due, $8 doc, $9 expected version.
        _updateOneSql =
            $"""
            WITH r AS (
                UPDATE {_s}.journey_runs SET status = $4, version = $5, doc = $8
                WHERE journey_id = $1 AND contact_id = $2 AND version = $9 AND run_number = $3
                RETURNING journey_id, contact_id),
            d AS (
                DELETE FROM {_s}.journey_timers t USING r
                WHERE NOT $6 AND t.journey_id = r.journey_id AND t.contact_id = r.contact_id),
            i AS (
                INSERT INTO {_s}.journey_timers (journey_id, contact_id, run_number, run_version, due_at, available_at)
                SELECT journey_id, contact_id, $3, $5, $7, $7 FROM r WHERE $6
                ON CONFLICT (journey_id, contact_id) DO UPDATE
                    SET run_number = EXCLUDED.run_number, run_version = EXCLUDED.run_version, due_at = EXCLUDED.due_at,
                        available_at = EXCLUDED.available_at, claimed_by = NULL, lease_until = NULL)
            SELECT count(*) FROM r
            """;
        // The same update, only if the step's idempotency key ($10) is completed: after the send's bookkeeping committed.
        _updateAfterBookkeepingSql = _updateOneSql
            .Replace("AND run_number = $3", $"AND run_number = $3 AND EXISTS (SELECT 1 FROM {_s}.idempotency_keys k WHERE k.key = $10 AND k.outcome IS NOT NULL)", StringComparison.Ordinal)
            .Replace("SELECT count(*) FROM r", "SELECT count(*) AS run_updated FROM r", StringComparison.Ordinal);
        _reads = new((a, ct) => GetLatestOneAsync(a.Journey, a.Contact, ct).AsTask(), GetLatestManyAsync);
        _readsWithContacts = new((a, ct) => GetLatestWithContactOneAsync(a.Journey, a.Contact, ct).AsTask(), GetLatestWithContactManyAsync);
        _updates = new(
            async (a, ct) => await TryUpdateOneAsync(a.Stored, a.Expected, ct).ConfigureAwait(false) is not null,
            TryUpdateManyAsync,
            static a => a.Stored.JourneyId + "\n" + a.Stored.ContactId.Value.ToString("N"));
    }

    /// <summary>Round trips and updates so far (tests).</summary>
    internal (long RoundTrips, long Items) UpdateStats => _updates.Stats;

    public async ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        return await _reads.RunAsync((journeyId, contactId), cancellationToken).ConfigureAwait(false);
    }

    internal Task<IReadOnlyList<JourneyRun?>> GetLatestManyAsync(IReadOnlyList<(string Journey, ContactId Contact)> items) =>
        ReadManyAsync<JourneyRun?>(items, "r.doc::text, r.version", string.Empty, Read);

    /// <summary>
    /// Reads the latest run of each (journey, contact) in one statement (<c>unnest … WITH ORDINALITY</c> joined to the runs,
    /// plus <paramref name="moreJoins"/>); the answer is in the order of <paramref name="items"/>, default where no run.
    /// </summary>
    /// <param name="items">The keys.</param>
    /// <param name="columns">The selected columns; the ordinal follows them.</param>
    /// <param name="moreJoins">Joins after the runs' (alias <c>r</c>), or empty.</param>
    /// <param name="read">Reads one row's <paramref name="columns"/>.</param>
    private async Task<IReadOnlyList<T>> ReadManyAsync<T>(IReadOnlyList<(string Journey, ContactId Contact)> items, string columns, string moreJoins, Func<NpgsqlDataReader, T> read)
    {
        var journeys = new string[items.Count];
        var contacts = new Guid[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            journeys[i] = items[i].Journey;
            contacts[i] = items[i].Contact.Value;
        }

        var found = new T[items.Count];
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"SELECT {columns}, i.idx FROM unnest(@journeys::text[], @contacts::uuid[]) WITH ORDINALITY AS i(journey, contact, idx) " +
            $"JOIN {_s}.journey_runs r ON r.journey_id = i.journey AND r.contact_id = i.contact{moreJoins}");
        command.Parameters.AddWithValue("journeys", journeys);
        command.Parameters.AddWithValue("contacts", contacts);
        using var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
        var ordinal = reader.FieldCount - 1;
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            found[(int)reader.GetInt64(ordinal) - 1] = read(reader);
        }

        return found;
    }

    private async ValueTask<JourneyRun?> GetLatestOneAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text, version FROM {_s}.journey_runs WHERE journey_id = @journey AND contact_id = @contact");
        command.Parameters.AddWithValue("journey", journeyId);
        command.Parameters.AddWithValue("contact", contactId.Value);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>Round trips and reads so far of the run-and-contact read (tests).</summary>
    internal (long RoundTrips, long Items) ReadWithContactStats => _readsWithContacts.Stats;

    /// <summary>True for the contact store of this database: both decode the contacts table with the same protector.</summary>
    public bool ReadsContactsOf(IContactStore contacts) => contacts is PostgreSqlContactStore c && ReferenceEquals(c.Database, db);

    /// <summary>
    /// The run and its contact in one statement (<c>LEFT JOIN contacts</c>: a deleted contact comes back null). Concurrent
    /// reads of this instance go out together as one statement, as <see cref="GetLatestAsync"/>'s do.
    /// </summary>
    public async ValueTask<JourneyRunWithContact> GetLatestWithContactAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        return await _readsWithContacts.RunAsync((journeyId, contactId), cancellationToken).ConfigureAwait(false);
    }

    internal Task<IReadOnlyList<JourneyRunWithContact>> GetLatestWithContactManyAsync(IReadOnlyList<(string Journey, ContactId Contact)> items) =>
        ReadManyAsync(items, "r.doc::text, r.version, c.doc::text, c.version", $" LEFT JOIN {_s}.contacts c ON c.id = r.contact_id", ReadWithContact);

    private async ValueTask<JourneyRunWithContact> GetLatestWithContactOneAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, _readWithContactSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = journeyId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = contactId.Value });
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadWithContact(reader) : default;
    }

    /// <summary>A row of run (columns 0–1) and contact (columns 2–3, null when the contact is gone); the contact decoded as the contact store decodes it.</summary>
    private JourneyRunWithContact ReadWithContact(NpgsqlDataReader reader) =>
        new(Read(reader), reader.IsDBNull(2) ? null : _protection.FromDocument(reader.GetString(2), reader.GetInt64(3)));

    public async ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var stored = run with { Version = 1 };
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"""
            WITH r AS (
                INSERT INTO {_s}.journey_runs AS x (journey_id, contact_id, run_number, status, version, doc)
                VALUES (@journey, @contact, @run, @status, 1, @doc)
                ON CONFLICT (journey_id, contact_id) DO UPDATE
                    SET run_number = EXCLUDED.run_number, status = EXCLUDED.status, version = 1, doc = EXCLUDED.doc
                    WHERE x.status >= 2 AND x.run_number < EXCLUDED.run_number
                RETURNING x.journey_id, x.contact_id),
            t AS (
                INSERT INTO {_s}.journey_timers (journey_id, contact_id, run_number, run_version, due_at, available_at)
                SELECT journey_id, contact_id, @run, 1, @due, @due FROM r WHERE @timer
                ON CONFLICT (journey_id, contact_id) DO UPDATE
                    SET run_number = EXCLUDED.run_number, run_version = 1, due_at = EXCLUDED.due_at, available_at = EXCLUDED.available_at,
                        claimed_by = NULL, lease_until = NULL)
            SELECT count(*) FROM r
            """);
        Fill(command, stored);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 1 ? stored : null;
    }

    /// <summary>
    /// The version-guarded write of a run and its timer. Concurrent updates of this instance go out together as one
    /// statement (each row still guarded by its own expected version); each caller gets its answer after the commit.
    /// </summary>
    public async ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var stored = run with { Version = expectedVersion + 1 };
        return await _updates.RunAsync((stored, expectedVersion), cancellationToken).ConfigureAwait(false) ? stored : null;
    }

    internal async Task<IReadOnlyList<bool>> TryUpdateManyAsync(IReadOnlyList<(JourneyRun Stored, long Expected)> items)
    {
        var n = items.Count;
        var journeys = new string[n];
        var contacts = new Guid[n];
        var runNumbers = new int[n];
        var statuses = new short[n];
        var versions = new long[n];
        var expected = new long[n];
        var timers = new bool[n];
        var dues = new long[n];
        var docs = new string[n];
        for (var i = 0; i < n; i++)
        {
            var stored = items[i].Stored;
            journeys[i] = stored.JourneyId;
            contacts[i] = stored.ContactId.Value;
            runNumbers[i] = stored.RunNumber;
            statuses[i] = (short)stored.Status;
            versions[i] = stored.Version;
            expected[i] = items[i].Expected;
            timers[i] = stored.Status == JourneyRunStatus.Active && stored.DueAt is not null;
            dues[i] = stored.DueAt is { } due ? Pg.Ticks(due) : 0L;
            docs[i] = Pg.ToJson(stored);
        }

        var updated = new bool[n];
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"""
            WITH i AS (
                SELECT * FROM unnest(@journeys::text[], @contacts::uuid[], @runs::integer[], @statuses::smallint[], @versions::bigint[],
                                     @expected::bigint[], @timers::boolean[], @dues::bigint[], @docs::jsonb[])
                    WITH ORDINALITY AS i(journey, contact, run, status, version, expected, timer, due, doc, idx)
                ORDER BY journey, contact),
            r AS (
                UPDATE {_s}.journey_runs x SET status = i.status, version = i.version, doc = i.doc
                FROM i
                WHERE x.journey_id = i.journey AND x.contact_id = i.contact AND x.version = i.expected AND x.run_number = i.run
                RETURNING i.*),
            d AS (
                DELETE FROM {_s}.journey_timers t USING r
                WHERE NOT r.timer AND t.journey_id = r.journey AND t.contact_id = r.contact),
            u AS (
                INSERT INTO {_s}.journey_timers (journey_id, contact_id, run_number, run_version, due_at, available_at)
                SELECT journey, contact, run, version, due, due FROM r WHERE timer
                ON CONFLICT (journey_id, contact_id) DO UPDATE
                    SET run_number = EXCLUDED.run_number, run_version = EXCLUDED.run_version, due_at = EXCLUDED.due_at,
                        available_at = EXCLUDED.available_at, claimed_by = NULL, lease_until = NULL)
            SELECT idx FROM r
            """);
        command.Parameters.AddWithValue("journeys", journeys);
        command.Parameters.AddWithValue("contacts", contacts);
        command.Parameters.AddWithValue("runs", runNumbers);
        command.Parameters.AddWithValue("statuses", statuses);
        command.Parameters.AddWithValue("versions", versions);
        command.Parameters.AddWithValue("expected", expected);
        command.Parameters.AddWithValue("timers", timers);
        command.Parameters.AddWithValue("dues", dues);
        command.Parameters.Add(new NpgsqlParameter("docs", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Jsonb) { Value = docs });
        using var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            updated[(int)reader.GetInt64(0) - 1] = true;
        }

        return updated;
    }

    private async ValueTask<JourneyRun?> TryUpdateOneAsync(JourneyRun stored, long expectedVersion, CancellationToken cancellationToken)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, _updateOneSql);
        FillUpdate(command.Parameters, stored, expectedVersion);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 1 ? stored : null;
    }

    /// <summary>Round trips of the update with the next run's read (tests).</summary>
    internal long ReadAheadRoundTrips => Interlocked.Read(ref _readAheadRoundTrips);

    private long _readAheadRoundTrips;

    /// <summary>
    /// The one-row update (<see cref="TryUpdateAsync"/>'s statement) and the run-and-contact read
    /// (<see cref="GetLatestWithContactAsync"/>'s) in one <see cref="NpgsqlBatch"/>. The update carries an error barrier
    /// (a protocol <c>Sync</c>): its implicit transaction commits there, before the read runs, so the read's failure cannot
    /// roll it back, and the read sees the update. Not coalesced: it is used by a runner advancing runs one at a time.
    /// </summary>
    public async ValueTask<JourneyRunUpdateAndRead> TryUpdateAndReadNextAsync(JourneyRun run, long expectedVersion, string nextJourneyId, ContactId nextContactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(nextJourneyId);
        var stored = run with { Version = expectedVersion + 1 };
        Interlocked.Increment(ref _readAheadRoundTrips);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection);
        var update = new NpgsqlBatchCommand(_updateOneSql) { AppendErrorBarrier = true };
        FillUpdate(update.Parameters, stored, expectedVersion);
        var read = new NpgsqlBatchCommand(_readWithContactSql);
        read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nextJourneyId });
        read.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = nextContactId.Value });
        batch.BatchCommands.Add(update);
        batch.BatchCommands.Add(read);

        // An error of the update (or a cancellation before its answer) propagates as TryUpdateAsync's would.
        using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var updated = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && reader.GetInt64(0) == 1;
        JourneyRunWithContact? next;
        try
        {
            next = await reader.NextResultAsync(cancellationToken).ConfigureAwait(false)
                ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadWithContact(reader) : default
                : null;
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException)
        {
            // The update has committed (its barrier came first); the caller reads the next run itself and meets the
            // error (or the cancellation) there, on that run's own account.
            next = null;
        }

        return new JourneyRunUpdateAndRead(updated ? stored : null, next);
    }

    /// <summary>Round trips of the send bookkeeping with the update (tests).</summary>
    internal long BookkeepingRoundTrips => Interlocked.Read(ref _bookkeepingRoundTrips);

    private long _bookkeepingRoundTrips;

    /// <summary>True for the idempotency store of this database once it writes its bookkeeping (records and index of this database).</summary>
    public bool WritesBookkeepingOf(IBookkeepingIdempotencyStore idempotency)
    {
        if (idempotency is PostgreSqlIdempotencyStore store && ReferenceEquals(store.Database, db) && store.HasBookkeeping)
        {
            _bookkeeping = store;
            return true;
        }

        return false;
    }

    /// <summary>
    /// One <see cref="NpgsqlBatch"/> on the main pool: the send's bookkeeping statements (exactly those of
    /// <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/>, in one implicit transaction that, with
    /// <see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/>, commits without waiting for its flush:
    /// <c>set_config('synchronous_commit', 'off', true)</c> first) and an error barrier; the run update, guarded on the
    /// key's completion, so it changes nothing if the bookkeeping did not commit (the server runs it after the barrier
    /// either way), synchronous (its flush makes the bookkeeping durable too); then, after another barrier, the read.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="WritesBookkeepingOf"/> has not accepted an idempotency store.</exception>
    public async ValueTask<JourneyRunUpdateWithBookkeeping> TryUpdateWithBookkeepingAsync(SendBookkeeping bookkeeping, JourneyRun run, long expectedVersion, string? nextJourneyId, ContactId nextContactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bookkeeping);
        ArgumentNullException.ThrowIfNull(run);
        var store = _bookkeeping ?? throw new InvalidOperationException("TryUpdateWithBookkeepingAsync needs the idempotency store of this database: call WritesBookkeepingOf first.");
        cancellationToken.ThrowIfCancellationRequested();
        var stored = run with { Version = expectedVersion + 1 };
        Interlocked.Increment(ref _bookkeepingRoundTrips);

        // Once sent, the call completes (as the bookkeeping's own call does): no token below.
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var batch = new NpgsqlBatch(connection);
        if (db.DefersPostSendFlush)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('synchronous_commit', 'off', true)"));
        }

        var prune = store.AddSendCommands(batch, [(bookkeeping.Key, bookkeeping.Outcome, bookkeeping.TaskId, bookkeeping.Index)]);
        batch.BatchCommands[^1].AppendErrorBarrier = true;
        var update = new NpgsqlBatchCommand(_updateAfterBookkeepingSql) { AppendErrorBarrier = nextJourneyId is not null };
        FillUpdate(update.Parameters, stored, expectedVersion);
        update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = bookkeeping.Key });
        batch.BatchCommands.Add(update);
        NpgsqlBatchCommand? read = null;
        if (nextJourneyId is not null)
        {
            read = new NpgsqlBatchCommand(_readWithContactSql);
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nextJourneyId });
            read.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = nextContactId.Value });
            batch.BatchCommands.Add(read);
        }

        var byTask = new Dictionary<string, ExecutionRecord>(1, StringComparer.Ordinal);
        bool? updated = null;
        JourneyRunWithContact? next = null;
        Exception? updateError = null;
        try
        {
            using var reader = await batch.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            do
            {
                if (updated is null && reader.FieldCount == 1 && reader.GetName(0) == "run_updated")
                {
                    updated = await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false) && reader.GetInt64(0) == 1;
                }
                else if (updated is not null && read is not null)
                {
                    next = await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false) ? ReadWithContact(reader) : default;
                }
                else
                {
                    // The bookkeeping's results (the tasks' records; the other statements return none).
                    while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        if (reader.FieldCount == 11 && reader.GetName(0) == "task_id")
                        {
                            var record = PostgreSqlExecutionRecords.Read(reader);
                            byTask[record.TaskId] = record;
                        }
                    }
                }
            }
            while (await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception e) when (updated is not null && e is NpgsqlException or System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException)
        {
            // The update has answered, so the bookkeeping before it committed: only the read failed (or its contact did not
            // decode), and the caller reads the next run itself, meeting the error on that run's account.
            next = null;
        }
        catch (NpgsqlException e)
        {
            // Before the update answered. Which statement failed is told by the database: a completed key means the
            // bookkeeping committed (its barrier came first) and the update failed or did not answer — the caller's to
            // rethrow once it has used the record; otherwise the bookkeeping failed, the guarded update changed nothing,
            // and this throws as the bookkeeping's own call would.
            bool committed;
            try
            {
                committed = await store.IsCompletedAsync(bookkeeping.Key).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                committed = false; // the database cannot be asked either: the step is retried after its lease, in doubt if need be
            }

            if (!committed)
            {
                throw;
            }

            updateError = e;
            if (bookkeeping.TaskId is { } failedTask && !byTask.ContainsKey(failedTask) && await store.RecordOfAsync(failedTask).ConfigureAwait(false) is { } record)
            {
                byTask[failedTask] = record;
            }
        }

        if (prune)
        {
            await store.PruneAfterSendsAsync().ConfigureAwait(false);
        }

        var counted = bookkeeping.TaskId is { } task && byTask.TryGetValue(task, out var counts) ? counts : null;
        return new JourneyRunUpdateWithBookkeeping(counted, updated == true ? stored : null, read is null ? null : next, updateError);
    }

    private static void FillUpdate(NpgsqlParameterCollection p, JourneyRun stored, long expectedVersion)
    {
        p.Add(new NpgsqlParameter<string> { TypedValue = stored.JourneyId });
        p.Add(new NpgsqlParameter<Guid> { TypedValue = stored.ContactId.Value });
        p.Add(new NpgsqlParameter<int> { TypedValue = stored.RunNumber });
        p.Add(new NpgsqlParameter<short> { TypedValue = (short)stored.Status });
        p.Add(new NpgsqlParameter<long> { TypedValue = stored.Version });
        p.Add(new NpgsqlParameter<bool> { TypedValue = stored.Status == JourneyRunStatus.Active && stored.DueAt is not null });
        p.Add(new NpgsqlParameter<long> { TypedValue = stored.DueAt is { } due ? Pg.Ticks(due) : 0L });
        p.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb, TypedValue = Pg.ToJson(stored) });
        p.Add(new NpgsqlParameter<long> { TypedValue = expectedVersion });
    }

    public async ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(excludedJourneys);
        var until = Pg.Ticks(now + lease);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"""
            WITH c AS (
                SELECT journey_id, contact_id FROM {_s}.journey_timers
                WHERE available_at <= @now AND NOT (journey_id = ANY(@excluded))
                ORDER BY available_at
                LIMIT @limit
                FOR UPDATE SKIP LOCKED)
            UPDATE {_s}.journey_timers t SET claimed_by = @owner, lease_until = @until, available_at = @until
            FROM c WHERE t.journey_id = c.journey_id AND t.contact_id = c.contact_id
            RETURNING t.journey_id, t.contact_id, t.run_number, t.due_at, t.run_version
            """);
        command.Parameters.AddWithValue("now", Pg.Ticks(now));
        command.Parameters.AddWithValue("excluded", excludedJourneys.Count == 0 ? [] : excludedJourneys.ToArray());
        command.Parameters.AddWithValue("limit", batchSize);
        command.Parameters.AddWithValue("owner", db.InstanceName);
        command.Parameters.AddWithValue("until", until);
        var claimed = new List<JourneyTimer>(Math.Min(batchSize, 1024));
        using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claimed.Add(new JourneyTimer(reader.GetString(0), new ContactId(reader.GetGuid(1)), reader.GetInt32(2), Pg.Instant(reader.GetInt64(3)), reader.GetInt64(4)));
            }
        }

        // RETURNING has no order; hand the batch out earliest first, as the in-memory store does.
        claimed.Sort(static (a, b) => a.DueAt.CompareTo(b.DueAt));
        return claimed;
    }

    public async ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT available_at FROM {_s}.journey_timers ORDER BY available_at LIMIT 1");
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ticks ? Pg.Instant(ticks) : null;
    }

    public async IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Keyset pages by contact: short statements, no snapshot held across the enumeration.
        const int Page = 1000;
        var after = Guid.Empty;
        var first = true;
        while (true)
        {
            var page = new List<JourneyRun>(Page);
            using (var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false))
            using (var command = Pg.Command(connection, $"SELECT doc::text, version, contact_id FROM {_s}.journey_runs WHERE journey_id = @journey AND (@first OR contact_id > @after) ORDER BY contact_id LIMIT {Page}"))
            {
                command.Parameters.AddWithValue("journey", journeyId);
                command.Parameters.AddWithValue("first", first);
                command.Parameters.AddWithValue("after", after);
                using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    page.Add(Read(reader));
                    after = reader.GetGuid(2);
                }
            }

            first = false;
            foreach (var run in page)
            {
                yield return run;
            }

            if (page.Count < Page)
            {
                yield break;
            }
        }
    }

    /// <summary>How many timers are pending (tests and diagnostics).</summary>
    internal async Task<long> CountTimersAsync(CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT count(*) FROM {_s}.journey_timers");
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static void Fill(NpgsqlCommand command, JourneyRun stored)
    {
        var timer = stored.Status == JourneyRunStatus.Active && stored.DueAt is not null;
        command.Parameters.AddWithValue("journey", stored.JourneyId);
        command.Parameters.AddWithValue("contact", stored.ContactId.Value);
        command.Parameters.AddWithValue("run", stored.RunNumber);
        command.Parameters.AddWithValue("status", (short)stored.Status);
        command.Parameters.AddWithValue("version", stored.Version);
        command.Parameters.AddWithValue("timer", timer);
        command.Parameters.AddWithValue("due", stored.DueAt is { } due ? Pg.Ticks(due) : 0L);
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(stored)));
    }

    private static JourneyRun Read(NpgsqlDataReader reader) => Pg.FromJson<JourneyRun>(reader.GetString(0)) with { Version = reader.GetInt64(1) };
}
