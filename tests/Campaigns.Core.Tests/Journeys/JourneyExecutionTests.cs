using Campaigns.Contacts;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NodaTime;

namespace Campaigns.Tests.Journeys;

public sealed class JourneyExecutionTests
{
    private static readonly Instant T0 = JourneyHarness.T0;

    private static List<(string Name, string Node, Instant At)> Sends(JourneyHarness h, Dictionary<ContactId, string> names) =>
        [.. h.Log.Steps.Where(s => s.Kind == JourneyStepKind.Sent).Select(s => (names[s.ContactId], s.NodeId!, s.At))];

    [Fact]
    public async Task Seed004_flow_sends_every_message_at_its_instant_and_exits()
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004());
        var opener = await h.AddContactAsync("Ann");
        var silent = await h.AddContactAsync("Bob");
        var buyer = await h.AddContactAsync("Cai");
        var names = new Dictionary<ContactId, string> { [opener.Id] = "Ann", [silent.Id] = "Bob", [buyer.Id] = "Cai" };
        foreach (var c in new[] { opener, silent, buyer })
        {
            Assert.NotNull(await h.Runner.EnterAsync("welcome-flow", c.Id));
        }

        await h.DriveAsync(T0 + Duration.FromDays(1));
        await h.EventAsync(opener, EventKinds.EmailOpen);
        await h.EventAsync(buyer, EventKinds.Purchase);
        await h.DriveAsync(T0 + Duration.FromDays(30));

        var day = Duration.FromDays(1);
        Assert.Equal(
            new List<(string, string, Instant)>
            {
                ("Ann", "welcome", T0), ("Bob", "welcome", T0), ("Cai", "welcome", T0),
                ("Ann", "coupon", T0 + 2 * day), ("Bob", "reminder", T0 + 2 * day),
                ("Ann", "final", T0 + 3 * day),
                ("Bob", "reminder", T0 + 4 * day),
            },
            [.. Sends(h, names).OrderBy(s => s.At).ThenBy(s => s.Name, StringComparer.Ordinal)]);

        Assert.Equal(["ann@example.com", "bob@example.com", "cai@example.com", "bob@example.com", "ann@example.com", "bob@example.com"], h.State.Email.Messages.Select(m => m.Recipient));
        Assert.Equal("Ann: coupon 50 off", Assert.Single(h.State.Sms.Messages).TextBody);

        var runs = new Dictionary<string, JourneyRun>();
        foreach (var (id, name) in names)
        {
            runs[name] = (await h.Store.GetLatestAsync("welcome-flow", id))!;
        }

        Assert.Equal((JourneyRunStatus.Completed, "completed", 3), (runs["Ann"].Status, runs["Ann"].EndReason, runs["Ann"].Touches));
        Assert.Equal(T0 + 3 * day, runs["Ann"].EndedAt);
        Assert.Equal((JourneyRunStatus.Exited, "max touches (3)", 3), (runs["Bob"].Status, runs["Bob"].EndReason, runs["Bob"].Touches));
        Assert.Equal((JourneyRunStatus.Exited, "goal:purchase", 1), (runs["Cai"].Status, runs["Cai"].EndReason, runs["Cai"].Touches));
        Assert.Equal(T0 + day, runs["Cai"].EndedAt);
        Assert.Equal(0, h.State.Runs.PendingTimers);
    }

    [Theory]
    [InlineData("welcome", 0, null)] // a send: due at once
    [InlineData("wait-2d", 2 * 24 * 60, null)] // a wait: its timer
    [InlineData("evt", 24 * 60, "email_open")] // a wait for an event: its timeout, and the kind it waits for
    public async Task Entering_stores_the_run_at_its_start_node_as_step_0_at_version_1(string start, int dueMinutes, string? waitingFor)
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004() with
        {
            StartNodeId = start,
            Nodes =
            [
                new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait-2d" },
                new WaitNode { Id = "wait-2d", Duration = Duration.FromDays(2), Next = "evt" },
                new WaitForEventNode { Id = "evt", EventKind = "email_open", Timeout = Duration.FromHours(24), OnEvent = "welcome", OnTimeout = "welcome" },
            ],
        });
        var ann = await h.AddContactAsync("Ann");
        var entered = await h.Runner.EnterAsync("welcome-flow", ann.Id);
        var expected = new JourneyRun
        {
            JourneyId = "welcome-flow",
            ContactId = ann.Id,
            RunNumber = 1,
            NodeId = start,
            Step = 0,
            EnteredAt = T0,
            NodeEnteredAt = T0,
            DueAt = T0 + Duration.FromMinutes(dueMinutes),
            WaitingForEvent = waitingFor,
            Version = 1,
        };
        Assert.Equal(expected, entered);
        Assert.Equal(expected, await h.Store.GetLatestAsync("welcome-flow", ann.Id));
        Assert.Null(await h.Runner.EnterAsync("welcome-flow", ann.Id)); // an active run: no second entry
    }

    [Fact]
    public async Task Runs_of_a_batch_advanced_in_parallel_send_the_same_messages_at_the_same_instants_once()
    {
        async Task<List<(string Name, string Node, Instant At)>> RunAsync(int parallelism)
        {
            using var h = new JourneyHarness(journeys: o => o.MaxParallelism = parallelism);
            h.Publish(JourneyHarness.Seed004());
            var names = new Dictionary<ContactId, string>();
            for (var i = 0; i < 120; i++)
            {
                var c = await h.AddContactAsync($"C{i}");
                names[c.Id] = c.Name!;
                await h.Runner.EnterAsync("welcome-flow", c.Id);
                if (i % 3 == 0)
                {
                    await h.State.Events.AppendAsync(new BehaviourEvent { EventId = $"open-{i}", ContactId = c.Id, Kind = EventKinds.EmailOpen, OccurredAt = T0 });
                }
            }

            await h.DriveAsync(T0 + Duration.FromDays(30), batchSize: 50);
            Assert.Equal(h.State.Email.Accepted.Count, h.State.Email.Accepted.Select(m => m.IdempotencyKey).Distinct().Count());
            Assert.Equal(0, h.State.Runs.PendingTimers);
            return [.. Sends(h, names).OrderBy(s => s.At).ThenBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => s.Node, StringComparer.Ordinal)];
        }

        var sequential = await RunAsync(1);
        Assert.Equal(120 * 3, sequential.Count);
        Assert.Equal(sequential, await RunAsync(4));
    }

    [Fact]
    public void A_parallelism_below_one_is_refused_naming_the_setting()
    {
        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => new JourneyHarness(journeys: o => o.MaxParallelism = 0));
        Assert.Contains("Campaigns:Journeys:MaxParallelism", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_journey_options_fail_the_start_naming_every_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().AddJourneyWorker(o =>
        {
            o.BatchSize = 0;
            o.Lease = TimeSpan.Zero;
            o.PollInterval = TimeSpan.FromSeconds(-1);
            o.SkipIfOlderThan = TimeSpan.Zero;
            o.RetryDelay = TimeSpan.FromMinutes(-5);
            o.MaxSendAttempts = 0;
            o.PausedRetryInterval = TimeSpan.Zero;
            o.MaxStepsPerClaim = 0;
        });
        using var host = builder.Build();
        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => host.Start());
        foreach (var key in new[] { "BatchSize", "Lease", "PollInterval", "SkipIfOlderThan", "RetryDelay", "MaxSendAttempts", "PausedRetryInterval", "MaxStepsPerClaim" })
        {
            Assert.Contains($"Campaigns:Journeys:{key}:", ex.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("MaxParallelism", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_journey_options_are_valid()
    {
        var result = new JourneyOptionsValidator().Validate(null, new JourneyOptions());
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public async Task Restart_mid_journey_finishes_every_contact_with_each_message_sent_exactly_once()
    {
        var shared = new SharedState();
        var crash = false;
        var contacts = new List<Contact>();
        using (var first = new JourneyHarness(shared, wrapStore: s => new CrashingStore(s, () => crash)))
        {
            first.Publish(JourneyHarness.Seed004());
            for (var i = 0; i < 40; i++)
            {
                var c = await first.AddContactAsync($"C{i}");
                contacts.Add(c);
                await first.Runner.EnterAsync("welcome-flow", c.Id);
                if (i % 2 == 0)
                {
                    await shared.Events.AppendAsync(new BehaviourEvent { EventId = $"open-{i}", ContactId = c.Id, Kind = EventKinds.EmailOpen, OccurredAt = T0 });
                }
            }

            // Welcome goes out; at day 2 the host dies after the provider accepted but before the step committed.
            await first.DriveAsync(T0 + Duration.FromDays(1));
            shared.Clock.Reset(T0 + Duration.FromDays(2));
            crash = true;
            await first.Runner.RunDueAsync(shared.Clock.GetCurrentInstant(), 15);
        }

        Assert.True(shared.Sms.Messages.Count + shared.Email.Messages.Count > 40, "some day-2 messages went out before the crash");

        // A new host on the same stores: leased timers come back after the lease; replays send nothing.
        crash = false;
        using var second = new JourneyHarness(shared);
        second.Publish(JourneyHarness.Seed004());
        await second.DriveAsync(T0 + Duration.FromDays(30));

        var all = shared.Email.Messages.Concat(shared.Sms.Messages).ToList();
        Assert.Equal(all.Count, all.Select(m => m.IdempotencyKey).Distinct(StringComparer.Ordinal).Count());
        foreach (var (c, i) in contacts.Select((c, i) => (c, i)))
        {
            var run = await second.Store.GetLatestAsync("welcome-flow", c.Id);
            Assert.True(run!.IsEnded);
            Assert.Equal(3, run.Touches);
            var bodies = all.Where(m => m.ContactId == c.Id.ToString()).Select(m => m.TextBody.Split(' ')[^1]).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(i % 2 == 0 ? ["chance", "off", "welcome!"] : ["look", "look", "welcome!"], bodies);
        }
    }

    [Fact]
    public async Task Overdue_timers_fire_once_after_downtime_and_respect_the_send_window()
    {
        using var h = new JourneyHarness(delivery: d => d.Channels["email"].Window = new Campaigns.Delivery.SendWindowOptions { QuietFrom = "22:00", QuietUntil = "08:00" });
        h.Publish(JourneyHarness.Seed004());
        var c = await h.AddContactAsync("Dee");
        await h.Runner.EnterAsync("welcome-flow", c.Id);
        await h.DriveAsync(T0);

        // Down for a week; back at 23:00 Shanghai: the reminder (due at day 2) fires once, deferred to 08:00.
        var back = Instant.FromUtc(2026, 6, 24, 15, 0);
        h.Clock.Reset(back);
        Assert.Equal(1, await h.Runner.RunDueAsync(back, 100));
        Assert.Equal(0, await h.Runner.RunDueAsync(back, 100));
        var deferred = Assert.Single(h.Log.Steps, s => s.Kind == JourneyStepKind.Deferred);
        Assert.Equal(Instant.FromUtc(2026, 6, 25, 0, 0), deferred.DueAt);
        Assert.Contains("send window", deferred.Detail, StringComparison.Ordinal);

        await h.DriveAsync(Instant.FromUtc(2026, 6, 25, 0, 0));
        Assert.Equal(2, h.State.Email.Messages.Count);
        Assert.Single(h.Log.Steps, s => s is { Kind: JourneyStepKind.Sent, NodeId: "reminder" });
    }

    [Fact]
    public async Task Overdue_messages_older_than_the_policy_are_skipped()
    {
        using var h = new JourneyHarness(journeys: o => o.SkipIfOlderThan = TimeSpan.FromHours(6));
        h.Publish(JourneyHarness.Seed004());
        var c = await h.AddContactAsync("Eve");
        await h.Runner.EnterAsync("welcome-flow", c.Id);
        await h.DriveAsync(T0);
        h.Clock.Reset(T0 + Duration.FromDays(5));
        await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 10);
        Assert.Single(h.State.Email.Messages);
        Assert.Contains(h.Log.Steps, s => s is { Kind: JourneyStepKind.Skipped, NodeId: "reminder" });
    }

    [Fact]
    public async Task Pause_resume_and_cancel_of_a_journey_and_of_one_run()
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004());
        var a = await h.AddContactAsync("Fay");
        var b = await h.AddContactAsync("Gus");
        await h.Runner.EnterAsync("welcome-flow", a.Id);
        await h.Runner.EnterAsync("welcome-flow", b.Id);
        await h.DriveAsync(T0);

        h.Runner.PauseJourney("welcome-flow");
        h.Clock.Reset(T0 + Duration.FromDays(3));
        Assert.Equal(0, await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 10));
        Assert.Null(await h.Runner.EnterAsync("welcome-flow", (await h.AddContactAsync("Hal")).Id));
        h.Runner.ResumeJourney("welcome-flow");

        Assert.True(await h.Runner.PauseRunAsync("welcome-flow", a.Id));
        Assert.Equal(1, await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 10));
        Assert.Equal(3, h.State.Email.Messages.Count);
        Assert.True(await h.Runner.ResumeRunAsync("welcome-flow", a.Id));
        Assert.Equal(1, await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 10));
        Assert.Equal(4, h.State.Email.Messages.Count);

        Assert.True(await h.Runner.CancelRunAsync("welcome-flow", a.Id));
        Assert.Equal(JourneyRunStatus.Cancelled, (await h.Store.GetLatestAsync("welcome-flow", a.Id))!.Status);
        Assert.Equal(1, await h.Runner.CancelJourneyAsync("welcome-flow"));
        Assert.Equal(0, h.State.Runs.PendingTimers);
    }

    [Fact]
    public async Task Reentry_policy_and_single_active_run()
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004() with { ReEntry = new ReEntryPolicy { Allowed = true, Cooldown = Duration.FromDays(7) } });
        var c = await h.AddContactAsync("Ivy");
        Assert.NotNull(await h.Runner.EnterAsync("welcome-flow", c.Id));
        Assert.Null(await h.Runner.EnterAsync("welcome-flow", c.Id));
        await h.EventAsync(c, EventKinds.Purchase);
        await h.DriveAsync(T0 + Duration.FromDays(1));
        Assert.Null(await h.Runner.EnterAsync("welcome-flow", c.Id));
        h.Clock.Reset(T0 + Duration.FromDays(8));
        var again = await h.Runner.EnterAsync("welcome-flow", c.Id);
        Assert.Equal(2, again!.RunNumber);
    }

    [Fact]
    public async Task Wait_for_event_takes_the_event_branch_or_the_timeout_branch_and_wait_until_local_time()
    {
        using var h = new JourneyHarness();
        h.Publish(new JourneyDefinition
        {
            Id = "event-wait",
            Trigger = new EventTrigger(EventKinds.Registration),
            StartNodeId = "until-8",
            Nodes =
            [
                new WaitUntilNode { Id = "until-8", At = new LocalTime(8, 0), Next = "wait-open" },
                new WaitForEventNode { Id = "wait-open", EventKind = EventKinds.EmailOpen, Timeout = Duration.FromHours(24), OnEvent = "thanks", OnTimeout = "nudge" },
                new AddTagNode { Id = "thanks", Tag = "engaged", Next = "coupon" },
                new SendMessageNode { Id = "coupon", Channel = "sms", TemplateId = "coupon" },
                new SendMessageNode { Id = "nudge", Channel = "email", TemplateId = "reminder" },
            ],
        });
        var london = await h.AddContactAsync("Jo", "Europe/London");
        var shanghai = await h.AddContactAsync("Ke");
        await h.EventAsync(london, EventKinds.Registration);
        await h.EventAsync(shanghai, EventKinds.Registration);
        await h.DriveAsync(Instant.FromUtc(2026, 6, 18, 0, 0));   // 08:00 Shanghai next day
        Assert.Contains(h.Log.Steps, s => s.ContactId == shanghai.Id && s is { Kind: JourneyStepKind.Waiting, NodeId: "wait-open" } && s.At == Instant.FromUtc(2026, 6, 18, 0, 0));
        await h.EventAsync(shanghai, EventKinds.EmailOpen);
        await h.DriveAsync(Instant.FromUtc(2026, 6, 20, 0, 0));

        var sms = Assert.Single(h.State.Sms.Sends);
        Assert.Equal(shanghai.Id.ToString(), sms.Message.ContactId);
        Assert.Contains("engaged", (await h.State.Contacts.GetAsync(shanghai.Id))!.Tags.Select(t => t.Tag));
        var nudge = Assert.Single(h.Log.Steps, s => s is { Kind: JourneyStepKind.Sent, NodeId: "nudge" });
        Assert.Equal(london.Id, nudge.ContactId);
        Assert.Equal(Instant.FromUtc(2026, 6, 17, 7, 0) + Duration.FromHours(24), nudge.At); // registered 03:00 BST → 08:00 BST + 24 h
    }

    private sealed class CrashingStore(IJourneyRunStore inner, Func<bool> crash) : IJourneyRunStore
    {
        public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) => inner.GetLatestAsync(journeyId, contactId, cancellationToken);

        public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default) => inner.TryCreateAsync(run, cancellationToken);

        public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default) =>
            crash() && run.Touches > 1 ? throw new InvalidOperationException("host killed after the send") : inner.TryUpdateAsync(run, expectedVersion, cancellationToken);

        public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default) => inner.ClaimDueAsync(now, batchSize, lease, excludedJourneys, cancellationToken);

        public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default) => inner.GetNextDueAsync(cancellationToken);

        public IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, CancellationToken cancellationToken = default) => inner.ListAsync(journeyId, cancellationToken);
    }
}
