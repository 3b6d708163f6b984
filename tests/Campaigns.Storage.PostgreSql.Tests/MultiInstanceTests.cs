using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// Several host instances on one PostgreSQL. The test runs 10,000 due steps to keep CI short; the benchmark
/// (<c>journey-steps</c> mode of Campaigns.Benchmarks) runs the full 100,000 with the same fleet.
/// </summary>
public sealed class MultiInstanceTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)] // Npgsql multiplexing: the configuration the throughput benchmark recommends (docs/storage-postgresql.md)
    public async Task Four_instances_share_10000_due_steps_with_no_duplicate_and_none_lost(bool multiplexing)
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var connection = multiplexing ? schema.ConnectionString + ";Multiplexing=true" : schema.ConnectionString;
        await using var fleet = await JourneyFleet.StartAsync(connection, schema.Schema, instances: 4, journeys: multiplexing ? o => o.MaxParallelism = 32 : null);
        const int Steps = 10_000;
        await fleet.SeedDueStepsAsync(Steps);
        fleet.Clock.Advance(Duration.FromSeconds(1));

        var claimed = await fleet.DrainAsync(4, batchSize: 100);

        var calls = fleet.CallsByRecipient();
        Assert.Equal(Steps, calls.Count);                  // none lost
        Assert.All(calls.Values, n => Assert.Equal(1, n));  // no duplicate
        Assert.Equal(Steps, claimed.Sum());
        Assert.All(claimed, n => Assert.True(n > 0, "every instance took a share of the work"));
        Assert.Equal((long)Steps, await schema.ScalarAsync("SELECT count(*) FROM journey_runs WHERE status = 2"));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));
        Assert.Equal((long)Steps, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));
    }

    [SkippableFact]
    public async Task A_crashed_instances_claims_are_taken_over_after_the_lease()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 2, journeys: o => o.Lease = TimeSpan.FromSeconds(30));
        await fleet.SeedDueStepsAsync(50);
        var now = fleet.Clock.GetCurrentInstant();

        // Instance 0 claims 20 timers and "dies": it never runs their steps.
        var crashed = fleet.Providers[0].GetRequiredService<IJourneyRunStore>();
        var orphans = await crashed.ClaimDueAsync(now, 20, Duration.FromSeconds(30), new HashSet<string>());
        Assert.Equal(20, orphans.Count);

        // Instance 1 does the rest at once, but not the orphans while their lease holds.
        Assert.Equal(30, (await fleet.DrainAsync(instances: 2)).Sum() - 0);
        fleet.Clock.Advance(Duration.FromSeconds(29));
        Assert.Equal(0, await fleet.Runners[1].RunDueAsync(fleet.Clock.GetCurrentInstant(), 100));
        Assert.Equal(30, fleet.Channel.Sends.Count);

        // After the lease, instance 1 takes them over: every contact got exactly one message.
        fleet.Clock.Advance(Duration.FromSeconds(1));
        Assert.Equal(20, await fleet.Runners[1].RunDueAsync(fleet.Clock.GetCurrentInstant(), 100));
        var calls = fleet.CallsByRecipient();
        Assert.Equal(50, calls.Count);
        Assert.All(calls.Values, n => Assert.Equal(1, n));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));
    }

    [SkippableFact]
    public async Task A_step_replayed_after_a_crash_between_send_and_commit_sends_once()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 2, journeys: o => o.Lease = TimeSpan.FromSeconds(30));
        var contacts = await fleet.SeedDueStepsAsync(5);
        var now = fleet.Clock.GetCurrentInstant();

        // Instance 0 claims, sends through the pipeline, and dies before committing the run's step.
        var store0 = fleet.Providers[0].GetRequiredService<IJourneyRunStore>();
        var claimed = await store0.ClaimDueAsync(now, 5, Duration.FromSeconds(30), new HashSet<string>());
        var pipeline0 = fleet.Providers[0].GetRequiredService<Delivery.IDeliveryPipeline>();
        var contactStore = fleet.Providers[0].GetRequiredService<Contacts.IContactStore>();
        foreach (var timer in claimed)
        {
            var contact = (await contactStore.GetAsync(timer.ContactId))!;
            var outcome = await pipeline0.DeliverAsync(new Delivery.DeliveryRequest
            {
                IdempotencyKey = $"journey/{timer.JourneyId}/{timer.ContactId}/1/hello/0",
                Contact = contact,
                Channel = "email",
                Template = new Delivery.MessageTemplate("{name}, hello", subject: "Hello"),
                Variables = new Dictionary<string, string> { ["name"] = contact.Name! },
                TaskId = $"journey/{timer.JourneyId}/hello",
            }, default);
            Assert.True(outcome.Status == Delivery.DeliveryStatus.Sent, outcome.ToString());
        }

        Assert.Equal(5, fleet.Channel.Sends.Count);

        // After the lease instance 1 replays the steps: the idempotency store answers "already sent", no new call.
        fleet.Clock.Advance(Duration.FromSeconds(30));
        Assert.Equal(5, await fleet.Runners[1].RunDueAsync(fleet.Clock.GetCurrentInstant(), 100));
        Assert.Equal(5, fleet.Channel.Sends.Count);
        Assert.Equal(5L, await schema.ScalarAsync("SELECT count(*) FROM journey_runs WHERE status = 2"));
        Assert.Equal(contacts.Count, fleet.CallsByRecipient().Count);
    }
}

public sealed class InFlightTakeoverTests
{
    [SkippableFact]
    public async Task A_step_whose_key_another_host_still_holds_is_retried_after_a_sixth_of_the_lease()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 2, journeys: o => o.Lease = TimeSpan.FromSeconds(30));
        var contact = Assert.Single(await fleet.SeedDueStepsAsync(1));
        var now = fleet.Clock.GetCurrentInstant();

        // Instance 0 "died" holding the step's idempotency key (claimed a few seconds after its timer, lease 30 s).
        var keys = fleet.Providers[0].GetRequiredService<Delivery.IIdempotencyStore>();
        Assert.Equal(Delivery.IdempotencyClaimStatus.Claimed, (await keys.TryClaimAsync($"journey/fleet/{contact}/1/hello/0", now + Duration.FromSeconds(3), Duration.FromSeconds(30), default)).Status);

        // Instance 1 runs the step when its timer comes due: the key is still held, so it looks again 5 s later, not 30 s.
        Assert.Equal(1, await fleet.Runners[1].RunDueAsync(now, 10));
        Assert.Empty(fleet.Channel.Sends);
        Assert.Equal(Pg.Ticks(now + Duration.FromSeconds(5)), await schema.ScalarAsync("SELECT due_at FROM journey_timers"));

        // Once the key's lease has expired the step is taken over (in doubt: at most once, recorded as unknown) and the run moves on.
        fleet.Clock.Advance(Duration.FromSeconds(33));
        Assert.Equal(1, await fleet.Runners[1].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM journey_timers"));
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM journey_runs WHERE status = 2"));
    }
}
