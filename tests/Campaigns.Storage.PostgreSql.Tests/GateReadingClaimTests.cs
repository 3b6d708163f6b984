using System.Collections.Concurrent;
using System.Diagnostics;
using Campaigns.Channels;
using Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The idempotency claim that also reads the first gates (<see cref="IGateReadingIdempotencyStore"/>): the task's pause
/// flag and the do-not-contact listing come back with the claim, in one statement, and the pipeline uses them instead of
/// asking the records and the list separately.
/// </summary>
public sealed class GateReadingClaimTests
{
    private static readonly Duration Lease = Duration.FromSeconds(30);

    [SkippableFact]
    public async Task The_claim_reads_the_pause_flag_and_the_listing_as_the_separate_stores_would()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        var records = schema.ExecutionRecords();
        var list = schema.DoNotContact(new FakeClock(Make.T0));
        await records.StartAsync("paused-task", 0, Make.T0, default);
        await records.SetPausedAsync("paused-task", true, default);
        await records.StartAsync("running-task", 0, Make.T0, default);
        await list.AddAsync("on-email", "email");
        await list.AddAsync("everywhere");
        await list.AddAsync("on-sms", "sms");

        async Task<GatedIdempotencyClaim> Claim(string key, string? task, string contact) =>
            await store.TryClaimWithGatesAsync(key, Make.T0, Lease, new GateReads(task, contact, "email"), default);

        var plain = await Claim("k1", "running-task", "free");
        Assert.Equal(new GatedIdempotencyClaim(new IdempotencyClaim(IdempotencyClaimStatus.Claimed, null), false, false), plain);
        Assert.True((await Claim("k2", "paused-task", "free")).TaskPaused);
        Assert.False((await Claim("k3", null, "free")).TaskPaused);
        Assert.False((await Claim("k4", "no-record-yet", "free")).TaskPaused);
        Assert.True((await Claim("k5", null, "on-email")).DoNotContact);
        Assert.True((await Claim("k6", null, "everywhere")).DoNotContact);
        Assert.False((await Claim("k7", null, "on-sms")).DoNotContact);

        // The claim itself answers as the plain claim does: held now, so in progress for another caller.
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await Claim("k1", "running-task", "free")).Claim.Status);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await schema.Idempotency(schema.NewDatabase()).TryClaimAsync("k2", Make.T0, Lease, default)).Status);
    }

    [SkippableFact]
    public async Task Merged_claims_read_each_items_gates()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        var records = schema.ExecutionRecords();
        await records.StartAsync("paused-task", 0, Make.T0, default);
        await records.SetPausedAsync("paused-task", true, default);
        await schema.DoNotContact(new FakeClock(Make.T0)).AddAsync("listed", "email");

        var claims = await store.ClaimManyGatedAsync(
        [
            ("a", Make.T0, Lease, new GateReads("paused-task", "free", "email")),
            ("b", Make.T0, Lease, new GateReads(null, "listed", "email")),
            ("c", Make.T0, Lease, null),
            ("d", Make.T0, Lease, new GateReads("other-task", "listed", "sms")),
        ]);

        Assert.All(claims, c => Assert.Equal(IdempotencyClaimStatus.Claimed, c.Claim.Status));
        Assert.Equal([true, false, false, false], claims.Select(c => c.TaskPaused));
        Assert.Equal([false, true, false, false], claims.Select(c => c.DoNotContact));
    }

    [SkippableFact]
    public async Task The_store_reads_the_gates_only_of_its_own_database()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        var clock = new FakeClock(Make.T0);
        Assert.True(store.ReadsGatesOf(schema.ExecutionRecords(), schema.DoNotContact(clock)));
        var other = schema.NewDatabase();
        Assert.False(store.ReadsGatesOf(schema.ExecutionRecords(other), schema.DoNotContact(clock)));
        Assert.False(store.ReadsGatesOf(schema.ExecutionRecords(), schema.DoNotContact(clock, other)));
        Assert.False(store.ReadsGatesOf(new InMemoryExecutionRecords(), schema.DoNotContact(clock)));
        Assert.False(store.ReadsGatesOf(schema.ExecutionRecords(), new InMemoryDoNotContactList()));
    }

    [SkippableFact]
    public async Task Journey_steps_are_gated_by_the_listing_and_the_pause_read_with_the_claim_and_ask_no_separate_query()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 1);
        var contacts = await fleet.SeedDueStepsAsync(5);
        var provider = fleet.Providers[0];
        var records = provider.GetRequiredService<IExecutionRecords>();
        var list = provider.GetRequiredService<PostgreSqlDoNotContactList>();
        await list.AddAsync(contacts[1].ToString(), "email");
        await list.AddAsync(contacts[2].ToString());

        // A paused task: the claim sees it, every step is deferred, nothing is sent and every key is given back.
        await records.StartAsync("journey/fleet/hello", 0, fleet.Clock.GetCurrentInstant(), default);
        await records.SetPausedAsync("journey/fleet/hello", true, default);
        Assert.Equal(5, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));
        Assert.Empty(fleet.Channel.Sends);
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys"));
        Assert.Equal(5L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));

        // Resumed: three sent, two suppressed by the list (a channel listing and an every-channel listing).
        await records.SetPausedAsync("journey/fleet/hello", false, default);
        fleet.Clock.Advance(Duration.FromTimeSpan(provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Journeys.JourneyOptions>>().Value.PausedRetryInterval));
        var statements = new ConcurrentQueue<string>();
        using (NpgsqlStatements.Listen(schema.Schema, statements))
        {
            Assert.Equal(5, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));
        }

        Assert.Equal(3, fleet.Channel.Sends.Count);
        var record = await records.GetAsync("journey/fleet/hello", default);
        Assert.Equal(3, record!.Sent);
        Assert.Equal(2, record.SuppressedBy[GateCheck.DoNotContact]);
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));

        // The index entries, completions and counts were written together: one combined write per finished step (at
        // MaxParallelism 1 with no observer, in the run update's round trip; see BookkeepingWithUpdateTests).
        var keys = (PostgreSqlIdempotencyStore)provider.GetRequiredService<IIdempotencyStore>();
        var runs = (PostgreSqlJourneyRunStore)provider.GetRequiredService<Journeys.IJourneyRunStore>();
        Assert.Equal((0L, 5L), (keys.SendStats.Items, runs.BookkeepingRoundTrips));
        Assert.Equal(0L, ((PostgreSqlExecutionRecords)records).RecordStats.Items);
        Assert.Equal(3L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));
        Assert.Equal(5L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));

        // The list and the pause flag were read only inside the claim statements.
        Assert.Equal(5, statements.Count(s => s.Contains("idempotency_keys", StringComparison.Ordinal) && s.Contains("do_not_contact", StringComparison.Ordinal)));
        Assert.DoesNotContain(statements, s => s.Contains("do_not_contact", StringComparison.Ordinal) && !s.Contains("idempotency_keys", StringComparison.Ordinal));
        Assert.DoesNotContain(statements, s => s.StartsWith("SELECT task_id,", StringComparison.Ordinal));
    }
}

/// <summary>
/// The combined post-send write (<see cref="IBookkeepingIdempotencyStore"/>): the provider message's index entry, the
/// key's completion and the task's count in one batch and one transaction.
/// </summary>
public sealed class BookkeepingWriteTests
{
    private static DeliveryOutcome Sent(string key, string providerId) => new()
    {
        IdempotencyKey = key,
        Status = DeliveryStatus.Sent,
        Channel = "email",
        At = Make.T0,
        Result = DeliveryResult.Accepted(providerId),
    };

    [SkippableFact]
    public async Task A_completed_send_is_indexed_completed_and_counted_and_read_back_by_another_host()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        var records = schema.ExecutionRecords();
        var index = new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30));
        Assert.True(store.WritesBookkeepingOf(records, index));
        await store.TryClaimAsync("k1", Make.T0, Duration.FromSeconds(30), default);

        var record = await store.CompleteSendAsync("k1", Sent("k1", "p-1"), "task", new ProviderMessageEntry("p-1", new ProviderMessage("c1", "email", "k1", Make.T0)), default);

        Assert.Equal(1, record!.Sent);
        Assert.Equal("task", record.TaskId);
        var other = schema.NewDatabase();
        var claim = await schema.Idempotency(other).TryClaimAsync("k1", Make.T0, Duration.FromSeconds(30), default);
        Assert.Equal(IdempotencyClaimStatus.Completed, claim.Status);
        Assert.Equal("p-1", claim.Outcome!.Result!.Value.ProviderMessageId);
        Assert.Equal(new ProviderMessage("c1", "email", "k1", Make.T0), await new PostgreSqlProviderMessageIndex(other, Duration.FromDays(30)).FindAsync("email", "p-1", default));
        Assert.Equal(1, (await schema.ExecutionRecords(other).GetAsync("task", default))!.Sent);

        // Without a task nothing is counted and nothing is returned; without an entry nothing is indexed.
        Assert.Null(await store.CompleteSendAsync("k2", Sent("k2", "p-2"), null, null, default));
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));
        Assert.Equal(1, (await records.GetAsync("task", default))!.Sent);
        Assert.Equal(IdempotencyClaimStatus.Completed, (await store.TryClaimAsync("k2", Make.T0, Duration.FromSeconds(30), default)).Status);
    }

    [SkippableFact]
    public async Task Merged_combined_writes_count_each_task_and_answer_each_caller()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        Assert.True(store.WritesBookkeepingOf(schema.ExecutionRecords(), new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30))));
        var suppressed = new DeliveryOutcome { IdempotencyKey = "c", Status = DeliveryStatus.Suppressed, SuppressedBy = GateCheck.DoNotContact, Channel = "email", At = Make.T0 };

        var answers = await store.CompleteSendManyAsync(
        [
            ("b", Sent("b", "p-b"), "task-2", new ProviderMessageEntry("p-b", new ProviderMessage("cb", "email", "b", Make.T0))),
            ("a", Sent("a", "p-a"), "task-1", new ProviderMessageEntry("p-a", new ProviderMessage("ca", "email", "a", Make.T0))),
            ("c", suppressed, "task-1", null),
            ("d", Sent("d", "p-d"), null, null),
        ]);

        Assert.Equal([1L, 1L, 1L], answers.Take(3).Select(r => r!.Sent));
        Assert.Equal(["task-2", "task-1", "task-1"], answers.Take(3).Select(r => r!.TaskId));
        Assert.Equal(1, answers[1]!.SuppressedBy[GateCheck.DoNotContact]);
        Assert.Null(answers[3]);
        Assert.Equal(4L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));
        Assert.Equal(2L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));
    }

    [SkippableFact]
    public async Task The_store_writes_the_bookkeeping_only_of_its_own_database_and_refuses_without_it()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = (PostgreSqlIdempotencyStore)schema.Idempotency();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.CompleteSendAsync("k", Sent("k", "p"), null, null, default));
        var other = schema.NewDatabase();
        Assert.False(store.WritesBookkeepingOf(schema.ExecutionRecords(other), new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30))));
        Assert.False(store.WritesBookkeepingOf(schema.ExecutionRecords(), new PostgreSqlProviderMessageIndex(other, Duration.FromDays(30))));
        Assert.False(store.WritesBookkeepingOf(new InMemoryExecutionRecords(), new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30))));
        Assert.False(store.WritesBookkeepingOf(schema.ExecutionRecords(), new InMemoryProviderMessageIndex(Duration.FromDays(30), 100)));
    }
}
