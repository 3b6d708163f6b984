using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>The coalescer itself, with fake round trips: when calls merge, and what happens on failure and cancellation.</summary>
public sealed class CoalescerTests
{
    private sealed class Fake
    {
        public readonly List<IReadOnlyList<int>> Batches = [];
        public readonly List<int> Singles = [];
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool FailMany { get; set; }

        public async Task<int> OneAsync(int x, CancellationToken ct)
        {
            lock (Singles)
            {
                Singles.Add(x);
            }

            await Gate.Task;
            return x == 13 ? throw new InvalidOperationException("13 is bad") : x * 10;
        }

        public Task<IReadOnlyList<int>> ManyAsync(IReadOnlyList<int> xs)
        {
            lock (Batches)
            {
                Batches.Add(xs);
            }

            return FailMany ? throw new TimeoutException("deadlock") : Task.FromResult<IReadOnlyList<int>>([.. xs.Select(x => x * 10)]);
        }
    }

    [Fact]
    public async Task A_lone_call_goes_alone_and_calls_arriving_meanwhile_go_out_together()
    {
        var fake = new Fake();
        var coalescer = new PostgreSqlCoalescer<int, int>(fake.OneAsync, fake.ManyAsync);
        var first = coalescer.RunAsync(1, default);
        while (fake.Singles.Count == 0)
        {
            await Task.Yield();
        }

        var rest = new[] { coalescer.RunAsync(2, default), coalescer.RunAsync(3, default), coalescer.RunAsync(4, default) };
        fake.Gate.SetResult();
        Assert.Equal(10, await first);
        var results = await Task.WhenAll(rest);
        Assert.Equal(new[] { 20, 30, 40 }, results);
        Assert.Equal([1], fake.Singles);
        Assert.Equal([2, 3, 4], Assert.Single(fake.Batches));
        Assert.Equal((2L, 4L), coalescer.Stats);
    }

    [Fact]
    public async Task A_lone_call_starts_its_round_trip_on_the_callers_own_thread()
    {
        var caller = Environment.CurrentManagedThreadId;
        var ranOn = -1;
        var coalescer = new PostgreSqlCoalescer<int, int>(
            (x, ct) =>
            {
                ranOn = Environment.CurrentManagedThreadId;
                return Task.FromResult(x * 10);
            },
            xs => Task.FromResult<IReadOnlyList<int>>([.. xs]));

        var result = coalescer.RunAsync(7, default);

        // Started before RunAsync returned, on this thread: no hand-off to a pump thread for a call that goes alone.
        Assert.Equal(caller, ranOn);
        Assert.Equal(70, await result);
        Assert.Equal((1L, 1L), coalescer.Stats);
    }

    [Fact]
    public async Task Calls_with_the_same_conflict_key_never_share_a_round_trip()
    {
        var fake = new Fake();
        var coalescer = new PostgreSqlCoalescer<int, int>(fake.OneAsync, fake.ManyAsync, x => (x % 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var first = coalescer.RunAsync(100, default);
        while (fake.Singles.Count == 0)
        {
            await Task.Yield();
        }

        var rest = new[] { coalescer.RunAsync(1, default), coalescer.RunAsync(2, default), coalescer.RunAsync(3, default), coalescer.RunAsync(4, default) };
        fake.Gate.SetResult();
        await first;
        var results = await Task.WhenAll(rest);
        Assert.Equal(new[] { 10, 20, 30, 40 }, results);
        Assert.Equal(2, fake.Batches.Count);
        Assert.All(fake.Batches, b => Assert.Equal(b.Count, b.Select(x => x % 2).Distinct().Count()));
    }

    [Fact]
    public async Task A_failed_merged_round_trip_is_retried_one_by_one_and_a_bad_item_fails_alone()
    {
        var fake = new Fake { FailMany = true };
        var coalescer = new PostgreSqlCoalescer<int, int>(fake.OneAsync, fake.ManyAsync);
        var first = coalescer.RunAsync(1, default);
        while (fake.Singles.Count == 0)
        {
            await Task.Yield();
        }

        var good = coalescer.RunAsync(2, default);
        var bad = coalescer.RunAsync(13, default);
        fake.Gate.SetResult();
        await first;
        Assert.Equal(20, await good);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Equal("13 is bad", ex.Message);
        Assert.Equal([1, 2, 13], fake.Singles);
    }

    [Fact]
    public async Task A_call_cancelled_while_queued_is_never_sent()
    {
        var fake = new Fake();
        var coalescer = new PostgreSqlCoalescer<int, int>(fake.OneAsync, fake.ManyAsync);
        var first = coalescer.RunAsync(1, default);
        while (fake.Singles.Count == 0)
        {
            await Task.Yield();
        }

        using var cts = new CancellationTokenSource();
        var cancelled = coalescer.RunAsync(2, cts.Token);
        var kept = coalescer.RunAsync(3, default);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        fake.Gate.SetResult();
        await first;
        Assert.Equal(30, await kept);
        Assert.DoesNotContain(fake.Batches.SelectMany(b => b), x => x == 2);
        Assert.DoesNotContain(2, fake.Singles);
    }
}

/// <summary>The set-based statements behind the coalescers, called directly, against the one-at-a-time statements.</summary>
public sealed class MergedStatementTests
{
    private static DeliveryOutcome Outcome(string key, DeliveryStatus status, Instant at) => new() { IdempotencyKey = key, Status = status, Channel = "email", At = at };

    [SkippableFact]
    public async Task Merged_idempotency_claims_answer_each_key_as_the_single_claim_does()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var mine = (PostgreSqlIdempotencyStore)schema.Idempotency();
        var other = schema.Idempotency(schema.NewDatabase());
        var lease = Duration.FromSeconds(30);
        var done = Outcome("done", DeliveryStatus.Sent, Make.T0);
        await other.TryClaimAsync("done", Make.T0, lease, default);
        await other.CompleteAsync("done", done, default);
        await other.TryClaimAsync("held", Make.T0, lease, default);
        await other.TryClaimAsync("expired", Make.T0 - lease, lease, default);

        var claims = await mine.ClaimManyAsync([("new", Make.T0, lease), ("done", Make.T0, lease), ("held", Make.T0, lease), ("expired", Make.T0, lease)]);

        Assert.Equal([IdempotencyClaimStatus.Claimed, IdempotencyClaimStatus.Completed, IdempotencyClaimStatus.InProgress, IdempotencyClaimStatus.TakenOver], claims.Select(c => c.Status));
        Assert.Equal(done, claims[1].Outcome! with { Decisions = done.Decisions });
        Assert.Equal("test-1", await schema.ScalarAsync("SELECT claimed_by FROM idempotency_keys WHERE key = 'expired'"));
        Assert.Equal("test-2", await schema.ScalarAsync("SELECT claimed_by FROM idempotency_keys WHERE key = 'held'"));
        Assert.Equal(Pg.Ticks(Make.T0 + lease), await schema.ScalarAsync("SELECT lease_until FROM idempotency_keys WHERE key = 'new'"));

        await mine.CompleteManyAsync([("new", Outcome("new", DeliveryStatus.Sent, Make.T0)), ("expired", Outcome("expired", DeliveryStatus.Suppressed, Make.T0))]);
        var again = await mine.ClaimManyAsync([("new", Make.T0, lease), ("expired", Make.T0, lease)]);
        Assert.Equal([DeliveryStatus.Sent, DeliveryStatus.Suppressed], again.Select(c => c.Outcome!.Status));
        Assert.All(again, c => Assert.Equal(IdempotencyClaimStatus.Completed, c.Status));
    }

    [SkippableFact]
    public async Task Concurrent_claims_of_one_key_from_many_callers_grant_it_once()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var a = schema.Idempotency();
        var b = schema.Idempotency(schema.NewDatabase());
        var keys = Enumerable.Range(0, 50).Select(i => "k" + i).ToList();
        var claims = await Task.WhenAll(keys.SelectMany(k => new[] { a, b, a, b }.Select(s => s.TryClaimAsync(k, Make.T0, Duration.FromMinutes(1), default).AsTask())));
        var byKey = keys.Select((k, i) => claims.Skip(i * 4).Take(4).ToList()).ToList();
        Assert.All(byKey, c => Assert.Single(c, x => x.Status == IdempotencyClaimStatus.Claimed));
        Assert.All(byKey, c => Assert.Equal(3, c.Count(x => x.Status == IdempotencyClaimStatus.InProgress)));
    }

    [SkippableFact]
    public async Task Merged_do_not_contact_look_ups_answer_each_contact()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var list = schema.DoNotContact(new FakeClock(Make.T0));
        await list.AddAsync("c1", "sms");
        await list.AddAsync("c2");
        Assert.Equal([true, false, true, false], await list.IsListedManyAsync([("c1", "sms"), ("c1", "email"), ("c2", "email"), ("c3", "sms")]));
    }

    [SkippableFact]
    public async Task Merged_run_updates_guard_each_row_by_its_version_and_write_or_remove_its_timer()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.JourneyRuns();
        JourneyRun Run(string node) => new() { JourneyId = "j", ContactId = ContactId.New(), RunNumber = 1, NodeId = node, EnteredAt = Make.T0, NodeEnteredAt = Make.T0, DueAt = Make.T0 };
        var waits = (await store.TryCreateAsync(Run("a")))!;
        var ends = (await store.TryCreateAsync(Run("b")))!;
        var stale = (await store.TryCreateAsync(Run("c")))!;
        await store.TryUpdateAsync(stale with { NodeId = "c2" }, 1);

        var later = Make.T0 + Duration.FromDays(1);
        var updated = await store.TryUpdateManyAsync([
            (waits with { NodeId = "wait", DueAt = later, Version = 2 }, 1),
            (ends with { Status = JourneyRunStatus.Completed, DueAt = null, Version = 2 }, 1),
            (stale with { NodeId = "lost", Version = 2 }, 1)]);

        Assert.Equal([true, true, false], updated);
        var back = await store.GetLatestManyAsync([("j", waits.ContactId), ("j", ends.ContactId), ("j", stale.ContactId), ("j", ContactId.New())]);
        Assert.Equal(("wait", 2L), (back[0]!.NodeId, back[0]!.Version));
        Assert.Equal(JourneyRunStatus.Completed, back[1]!.Status);
        Assert.Equal(("c2", 2L), (back[2]!.NodeId, back[2]!.Version));
        Assert.Null(back[3]);
        Assert.Equal(Pg.Ticks(later), await schema.ScalarAsync($"SELECT due_at FROM journey_timers WHERE contact_id = '{waits.ContactId.Value}'"));
        Assert.Equal(2L, await schema.ScalarAsync($"SELECT run_version FROM journey_timers WHERE contact_id = '{waits.ContactId.Value}'"));
        Assert.Equal(0L, await schema.ScalarAsync($"SELECT count(*) FROM journey_timers WHERE contact_id = '{ends.ContactId.Value}'"));
        Assert.Equal(1L, await schema.ScalarAsync($"SELECT count(*) FROM journey_timers WHERE contact_id = '{stale.ContactId.Value}'"));
    }

    [SkippableFact]
    public async Task Merged_execution_counts_equal_the_one_by_one_counts()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var records = (PostgreSqlExecutionRecords)schema.ExecutionRecords();
        var t = Make.T0;
        DeliveryOutcome[][] rounds =
        [
            [
                Outcome("s1", DeliveryStatus.Sent, t), Outcome("s2", DeliveryStatus.Sent, t + Duration.FromSeconds(1)),
                Outcome("d1", DeliveryStatus.Deferred, t), Outcome("d2", DeliveryStatus.Deferred, t),
                Outcome("x1", DeliveryStatus.Suppressed, t) with { SuppressedBy = GateCheck.DoNotContact },
                Outcome("x2", DeliveryStatus.Suppressed, t) with { SuppressedBy = GateCheck.DoNotContact },
                Outcome("f1", DeliveryStatus.Failed, t) with { Result = DeliveryResult.Failed(DeliveryFailureReason.InvalidAddress, false, "no") },
                Outcome("p1", DeliveryStatus.Paused, t + Duration.FromHours(1)),
                Outcome("s1", DeliveryStatus.Sent, t + Duration.FromHours(1)) with { IsReplay = true },
            ],
            [
                Outcome("d1", DeliveryStatus.Sent, t + Duration.FromMinutes(5)), Outcome("d2", DeliveryStatus.Deferred, t + Duration.FromMinutes(5)),
                Outcome("x3", DeliveryStatus.Suppressed, t) with { SuppressedBy = GateCheck.Consent },
                Outcome("f2", DeliveryStatus.Failed, t + Duration.FromMinutes(4)) with { Result = DeliveryResult.Failed(DeliveryFailureReason.InvalidAddress, false, "no") },
            ],
        ];

        ExecutionRecord? merged = null;
        foreach (var round in rounds)
        {
            foreach (var outcome in round)
            {
                await records.RecordAsync("one", outcome, default);
            }

            var results = await records.RecordManyAsync([.. round.Select(o => ("many", o))]);
            Assert.All(results, r => Assert.Same(results[0], r));
            merged = results[0];
        }

        var one = (await records.GetAsync("one", default))!;
        Assert.Equal(one with { TaskId = "many", SuppressedBy = merged!.SuppressedBy, FailedBy = merged.FailedBy }, merged);
        Assert.Equal(one.SuppressedBy, merged.SuppressedBy);
        Assert.Equal(one.FailedBy, merged.FailedBy);
        Assert.Equal((3L, 1L, 3L, 2L), (merged.Sent, merged.Deferred, merged.Suppressed, merged.Failed));
        var read = await records.GetManyAsync(["many", "nope", "one"]);
        Assert.Equal(merged.Sent, read[0]!.Sent);
        Assert.Null(read[1]);
        Assert.Equal("one", read[2]!.TaskId);
    }

    [SkippableFact]
    public async Task One_outcome_at_a_time_through_the_merged_statements_counts_as_recording_one_by_one()
    {
        // A lone step's send goes through RecordManyCommands with one item: a sent, unknown, paused or replayed outcome
        // takes the short statement, a deferred, suppressed or failed one the full one; both must count alike.
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var records = (PostgreSqlExecutionRecords)schema.ExecutionRecords();
        var t = Make.T0;
        DeliveryOutcome[] outcomes =
        [
            Outcome("p0", DeliveryStatus.Paused, t),
            Outcome("d1", DeliveryStatus.Deferred, t + Duration.FromMinutes(1)),
            Outcome("s1", DeliveryStatus.Sent, t + Duration.FromMinutes(2)),
            Outcome("d1", DeliveryStatus.Sent, t + Duration.FromMinutes(3)),
            Outcome("u1", DeliveryStatus.Unknown, t + Duration.FromMinutes(4)),
            Outcome("s1", DeliveryStatus.Sent, t + Duration.FromMinutes(5)) with { IsReplay = true },
            Outcome("x1", DeliveryStatus.Suppressed, t + Duration.FromMinutes(6)) with { SuppressedBy = GateCheck.DoNotContact },
            Outcome("p1", DeliveryStatus.InProgress, t + Duration.FromMinutes(7)),
        ];

        foreach (var outcome in outcomes)
        {
            var one = await records.RecordAsync("one", outcome, default);
            var merged = (await records.RecordManyAsync([("many", outcome)]))[0];
            Assert.Equal(one with { TaskId = "many", SuppressedBy = merged.SuppressedBy, FailedBy = merged.FailedBy }, merged);
            Assert.Equal(one.SuppressedBy, merged.SuppressedBy);
            Assert.Equal(one.FailedBy, merged.FailedBy);
        }

        var final = (await records.GetAsync("many", default))!;
        Assert.Equal((2L, 0L, 1L, 1L), (final.Sent, final.Deferred, final.Unknown, final.Suppressed)); // the replay is not counted
        Assert.Equal(t + Duration.FromMinutes(6), final.UpdatedAt);
    }
}

/// <summary>The fleet with steps run in parallel, so the coalescers merge: still no duplicate, none lost.</summary>
public sealed class ParallelFleetTests
{
    [SkippableFact]
    public async Task Four_instances_running_16_steps_at_once_each_send_every_step_once_with_merged_round_trips()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 4, journeys: o => o.MaxParallelism = 16);
        const int Steps = 10_000;
        await fleet.SeedDueStepsAsync(Steps);
        fleet.Clock.Advance(Duration.FromSeconds(1));

        var claimed = await fleet.DrainAsync(4, batchSize: 200);

        var calls = fleet.CallsByRecipient();
        Assert.Equal(Steps, calls.Count);
        Assert.All(calls.Values, n => Assert.Equal(1, n));
        Assert.Equal(Steps, claimed.Sum());
        Assert.Equal((long)Steps, await schema.ScalarAsync("SELECT count(*) FROM journey_runs WHERE status = 2"));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));
        Assert.Equal((long)Steps, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));
        Assert.Equal((long)Steps, await schema.ScalarAsync("SELECT sent FROM execution_records WHERE task_id = 'journey/fleet/hello'"));
        var updates = fleet.Providers.Select(p => ((PostgreSqlJourneyRunStore)p.GetRequiredService<IJourneyRunStore>()).UpdateStats).ToList();
        Assert.Equal(Steps, updates.Sum(u => u.Items));
        Assert.True(updates.Sum(u => u.RoundTrips) < Steps, "concurrent run updates shared round trips");
    }
}
