using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// A send's bookkeeping and its run's update in one round trip (<see cref="IBookkeepingJourneyRunStore"/>): the
/// bookkeeping commits on its own first (a lost version race or a failed update cannot undo it), the update only
/// applies when the bookkeeping committed, and the journey runner uses it at MaxParallelism 1.
/// </summary>
public sealed class BookkeepingWithUpdateTests
{
    private static DeliveryOutcome Sent(string key, string providerId) => new()
    {
        IdempotencyKey = key,
        Status = DeliveryStatus.Sent,
        Channel = "email",
        At = Make.T0,
        Result = DeliveryResult.Accepted(providerId),
    };

    private static JourneyRun Run(ContactId contact) => new()
    {
        JourneyId = "j",
        ContactId = contact,
        RunNumber = 1,
        NodeId = "send",
        EnteredAt = Make.T0,
        NodeEnteredAt = Make.T0,
        DueAt = Make.T0,
    };

    private static SendBookkeeping Bookkeeping(string key, string providerId) =>
        new(key, Sent(key, providerId), "task", new ProviderMessageEntry(providerId, new ProviderMessage("c", "email", key, Make.T0)));

    private static async Task<(PostgreSqlJourneyRunStore Runs, PostgreSqlIdempotencyStore Keys)> StoresAsync(PostgreSqlTestSchema schema)
    {
        var keys = (PostgreSqlIdempotencyStore)schema.Idempotency();
        Assert.True(keys.WritesBookkeepingOf(schema.ExecutionRecords(), new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30))));
        var runs = schema.JourneyRuns();
        Assert.True(runs.WritesBookkeepingOf(keys));
        await keys.TryClaimAsync("k1", Make.T0, Duration.FromMinutes(5), default);
        return (runs, keys);
    }

    [SkippableFact]
    public async Task The_bookkeeping_the_update_and_the_read_land_as_the_separate_calls_would()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var (runs, keys) = await StoresAsync(schema);
        var ann = await schema.Contacts().AddAsync(Make.Contact(phone: "+8613800044001", email: "ann@example.com"));
        var bea = await schema.Contacts().AddAsync(Make.Contact(phone: "+8613800044002", email: "bea@example.com"));
        var run = (await runs.TryCreateAsync(Run(ann.Id)))!;
        await runs.TryCreateAsync(Run(bea.Id));

        var answer = await runs.TryUpdateWithBookkeepingAsync(Bookkeeping("k1", "p-1"), run with { NodeId = "after", DueAt = null, Status = JourneyRunStatus.Completed }, run.Version, "j", bea.Id);

        Assert.Null(answer.UpdateError);
        Assert.Equal((1L, "task"), (answer.Record!.Sent, answer.Record.TaskId));
        Assert.Equal(2, answer.Stored!.Version);
        Assert.Equal(bea.Id, answer.Next!.Value.Contact!.Id);
        Assert.Equal(IdempotencyClaimStatus.Completed, (await schema.Idempotency(schema.NewDatabase()).TryClaimAsync("k1", Make.T0, Duration.FromMinutes(5), default)).Status);
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages WHERE provider_message_id = 'p-1'"));
        Assert.Equal((JourneyRunStatus.Completed, "after"), ((await runs.GetLatestAsync("j", ann.Id))!.Status, (await runs.GetLatestAsync("j", ann.Id))!.NodeId));
        Assert.Equal(0L, await schema.ScalarAsync($"SELECT count(*) FROM journey_timers WHERE contact_id = '{ann.Id.Value}'"));
        Assert.Equal((0L, 0L), keys.SendStats);

        // Without a next run to read: nothing read, the rest the same.
        await keys.TryClaimAsync("k2", Make.T0, Duration.FromMinutes(5), default);
        var second = (await runs.GetLatestAsync("j", bea.Id))!;
        var alone = await runs.TryUpdateWithBookkeepingAsync(new SendBookkeeping("k2", Sent("k2", "p-2"), null, null), second with { NodeId = "after" }, second.Version, null, default);
        Assert.Equal((2L, (JourneyRunWithContact?)null, (ExecutionRecord?)null), (alone.Stored!.Version, alone.Next, alone.Record));
    }

    [SkippableFact]
    public async Task A_lost_version_race_leaves_the_bookkeeping_committed()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var (runs, _) = await StoresAsync(schema);
        var run = (await runs.TryCreateAsync(Run(ContactId.New())))!;
        await runs.TryUpdateAsync(run with { NodeId = "other-host" }, run.Version);

        var answer = await runs.TryUpdateWithBookkeepingAsync(Bookkeeping("k1", "p-1"), run with { NodeId = "mine" }, run.Version, null, default);

        Assert.Null(answer.Stored);
        Assert.Equal(1L, answer.Record!.Sent);
        Assert.Equal("other-host", (await runs.GetLatestAsync("j", run.ContactId))!.NodeId);
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE key = 'k1' AND outcome IS NOT NULL"));
    }

    [SkippableFact]
    public async Task A_failed_bookkeeping_throws_and_the_run_is_not_updated_though_the_server_runs_the_update()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var (runs, _) = await StoresAsync(schema);
        var run = (await runs.TryCreateAsync(Run(ContactId.New())))!;
        await schema.ScalarAsync("ALTER TABLE provider_messages RENAME TO provider_messages_gone");

        await Assert.ThrowsAsync<Npgsql.PostgresException>(async () => await runs.TryUpdateWithBookkeepingAsync(Bookkeeping("k1", "p-1"), run with { NodeId = "mine" }, run.Version, "j", run.ContactId));

        // The bookkeeping rolled back, so the guarded update (run after the barrier) changed nothing: the step stays to be retried.
        Assert.Equal(("send", 1L), ((await runs.GetLatestAsync("j", run.ContactId))!.NodeId, (await runs.GetLatestAsync("j", run.ContactId))!.Version));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE key = 'k1' AND outcome IS NOT NULL"));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM execution_records WHERE sent > 0"));
    }

    [SkippableFact]
    public async Task A_failed_update_is_handed_back_with_the_committed_bookkeeping()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var (runs, _) = await StoresAsync(schema);
        var run = (await runs.TryCreateAsync(Run(ContactId.New())))!;
        await schema.ScalarAsync("ALTER TABLE journey_timers RENAME TO journey_timers_gone");

        var answer = await runs.TryUpdateWithBookkeepingAsync(Bookkeeping("k1", "p-1"), run with { NodeId = "mine" }, run.Version, "j", run.ContactId);

        Assert.IsType<Npgsql.PostgresException>(answer.UpdateError);
        Assert.Null(answer.Stored);
        Assert.Equal(1L, answer.Record!.Sent);
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE key = 'k1' AND outcome IS NOT NULL"));
        Assert.Equal("send", (await runs.GetLatestAsync("j", run.ContactId))!.NodeId);
    }

    [SkippableFact]
    public async Task Only_the_idempotency_store_of_the_same_database_with_its_bookkeeping_is_covered()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var runs = schema.JourneyRuns();
        var keys = (PostgreSqlIdempotencyStore)schema.Idempotency();
        Assert.False(runs.WritesBookkeepingOf(keys)); // no records and index accepted yet
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await runs.TryUpdateWithBookkeepingAsync(Bookkeeping("k", "p"), Run(ContactId.New()), 1, null, default));
        Assert.True(keys.WritesBookkeepingOf(schema.ExecutionRecords(), new PostgreSqlProviderMessageIndex(schema.Database, Duration.FromDays(30))));
        var other = (PostgreSqlIdempotencyStore)schema.Idempotency(schema.NewDatabase());
        Assert.True(other.WritesBookkeepingOf(schema.ExecutionRecords(other.Database), new PostgreSqlProviderMessageIndex(other.Database, Duration.FromDays(30))));
        Assert.False(runs.WritesBookkeepingOf(other));
        Assert.True(runs.WritesBookkeepingOf(keys));
    }

    [SkippableFact]
    public async Task A_host_cancelled_after_the_provider_accepted_still_records_the_send_with_the_update()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        using var shutdown = new CancellationTokenSource();
        var provider = new CancelAfterAccepting(shutdown);
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 1, channel: provider);
        var ids = await fleet.SeedDueStepsAsync(1);

        // The host's token is cancelled the moment the provider accepts: the step is sent, so it is recorded anyway.
        Assert.Equal(1, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10, shutdown.Token));

        Assert.True(shutdown.IsCancellationRequested);
        Assert.Single(provider.Inner.Sends);
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));
        var runs = fleet.Providers[0].GetRequiredService<IJourneyRunStore>();
        Assert.Equal(JourneyRunStatus.Completed, (await runs.GetLatestAsync("fleet", ids[0]))!.Status);
    }

    /// <summary>A provider that accepts the message and then cancels the host's token (a shutdown arriving just after the send).</summary>
    private sealed class CancelAfterAccepting(CancellationTokenSource shutdown) : IChannel
    {
        public Testing.RecordingChannel Inner { get; } = new("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email });

        public string Name => Inner.Name;

        public ChannelCapabilities Capabilities => Inner.Capabilities;

        public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
        {
            var result = await Inner.SendAsync(message, cancellationToken);
            await shutdown.CancelAsync();
            return result;
        }
    }

    [SkippableFact]
    public async Task The_runner_raises_the_delivery_alert_from_the_record_counted_with_the_update()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var channel = new Testing.RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email }).FailNext(100, DeliveryFailureReason.InvalidAddress, retryable: false);
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 1, channel: channel, delivery: o => o.Alert = new DeliveryAlertOptions { MinimumSamples = 4, FailureRateThreshold = 0.5, PauseTask = true });
        await fleet.SeedDueStepsAsync(6);
        var provider = fleet.Providers[0];

        Assert.Equal(6, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));

        // Every failure was counted with its run's update; the fourth raised the alert and paused the task.
        var runs = (PostgreSqlJourneyRunStore)provider.GetRequiredService<IJourneyRunStore>();
        Assert.True(runs.BookkeepingRoundTrips >= 4);
        var record = (await provider.GetRequiredService<IExecutionRecords>().GetAsync("journey/fleet/hello", default))!;
        Assert.NotNull(record.AlertRaisedAt);
        Assert.True(record.IsPaused);
        Assert.Equal(4, record.Failed);
    }
}
