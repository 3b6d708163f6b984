using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

public sealed class JourneyDryRunTests
{
    private static readonly Instant T0 = JourneyHarness.T0;
    private static readonly Duration Day = Duration.FromDays(1);

    private static Contact TestContact(string name, int n, bool smsConsent = true)
    {
        var consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0 - Day) };
        if (smsConsent)
        {
            consents["sms"] = new(true, "form", T0 - Day);
        }

        return new Contact
        {
            Id = ContactId.New(),
            Name = name,
            CreatedAt = T0 - Duration.FromDays(10),
            TimeZoneId = "Asia/Shanghai",
            Identities = new ContactIdentities { Email = $"{name.ToLowerInvariant()}@example.com", Phone = $"+86139{n:D8}" },
            Consents = consents,
        };
    }

    private static BehaviourEvent Event(Contact c, string kind, Instant at) =>
        new() { EventId = Guid.NewGuid().ToString(), ContactId = c.Id, Kind = kind, OccurredAt = at };

    [Fact]
    public async Task Dry_run_of_seed004_returns_the_exact_timeline_and_sends_nothing()
    {
        using var h = new JourneyHarness();
        var ann = TestContact("Ann", 1);
        var bob = TestContact("Bob", 2);
        var cai = TestContact("Cai", 3);
        var names = new Dictionary<ContactId, string> { [ann.Id] = "Ann", [bob.Id] = "Bob", [cai.Id] = "Cai" };

        var result = await h.Get<JourneySimulator>().SimulateAsync(JourneyHarness.Seed004(), new JourneySimulationRequest
        {
            Contacts = [ann, bob, cai],
            Events = [Event(ann, EventKinds.EmailOpen, T0 + Day), Event(cai, EventKinds.Purchase, T0 + Day)],
            Start = T0,
            End = T0 + Duration.FromDays(30),
        });

        Assert.Equal(
            new List<(string, string, string, string, Instant)>
            {
                ("Ann", "welcome", "welcome", "email", T0), ("Bob", "welcome", "welcome", "email", T0), ("Cai", "welcome", "welcome", "email", T0),
                ("Ann", "coupon", "coupon", "sms", T0 + 2 * Day), ("Bob", "reminder", "reminder", "email", T0 + 2 * Day),
                ("Ann", "final", "final", "email", T0 + 3 * Day),
                ("Bob", "reminder", "reminder", "email", T0 + 4 * Day),
            },
            [.. result.Messages.Select(m => (names[m.ContactId], m.NodeId, m.TemplateId, m.Channel, m.At)).OrderBy(m => m.At).ThenBy(m => m.Item1, StringComparer.Ordinal)]);

        // Rendered content and addresses as the channel would get them.
        var coupon = Assert.Single(result.Messages, m => m.NodeId == "coupon");
        Assert.Equal(("+8613900000001", "Ann: coupon 50 off"), (coupon.Message.Recipient, coupon.Message.TextBody));
        Assert.Equal("Welcome", result.Messages.First(m => m.ContactId == bob.Id).Message.Subject);

        // Branch decisions, waits and exits, per contact.
        Assert.Equal(
            [JourneyStepKind.Entered, JourneyStepKind.Sent, JourneyStepKind.Waiting, JourneyStepKind.Branched, JourneyStepKind.Sent, JourneyStepKind.Waiting, JourneyStepKind.Sent, JourneyStepKind.Completed],
            result.StepsOf(ann.Id).Select(s => s.Kind));
        Assert.Contains(result.StepsOf(ann.Id), s => s is { Kind: JourneyStepKind.Branched, Detail: "condition true → coupon" } && s.At == T0 + 2 * Day);
        Assert.Contains(result.StepsOf(bob.Id), s => s is { Kind: JourneyStepKind.Branched, Detail: "condition false → reminder" });
        Assert.Equal((JourneyStepKind.Exited, "max touches (3)", T0 + 4 * Day), result.StepsOf(bob.Id).Select(s => (s.Kind, s.Detail, s.At)).Last());
        Assert.Equal((JourneyStepKind.Exited, "goal:purchase", T0 + Day), result.StepsOf(cai.Id).Select(s => (s.Kind, s.Detail, s.At)).Last());
        Assert.All(result.Runs, r => Assert.True(r.IsEnded));
        Assert.Empty(result.Held);

        // Nothing went through the host's channels and its stores are untouched.
        Assert.Empty(h.State.Email.Sends);
        Assert.Empty(h.State.Sms.Sends);
        Assert.Equal(0, await h.State.Contacts.CountAsync());
        Assert.Null(await h.Store.GetLatestAsync("welcome-flow", ann.Id));
        Assert.Equal(0, h.State.Runs.PendingTimers);
        Assert.Empty(h.Log.Steps);
        await foreach (var _ in h.State.Events.ListAsync(ann.Id, null, null))
        {
            Assert.Fail("an event reached the host's store");
        }

        Assert.Null(h.Runner.Catalog.Find("welcome-flow"));
    }

    [Fact]
    public async Task Dry_run_explains_deferrals_and_suppressions()
    {
        using var h = new JourneyHarness(delivery: d =>
        {
            d.Channels["email"].Window = new SendWindowOptions { QuietFrom = "22:00", QuietUntil = "08:00" };
            d.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, PerCalendarDay = true });
        });
        var start = Instant.FromUtc(2026, 6, 17, 15, 0); // 23:00 in Shanghai: quiet hours
        var dan = TestContact("Dan", 4, smsConsent: false);
        var eve = TestContact("Eve", 5);
        h.Publish(JourneyHarness.Seed004());

        var result = await h.Get<JourneySimulator>().SimulatePublishedAsync("welcome-flow", new JourneySimulationRequest
        {
            Contacts = [dan, eve],
            Events = [Event(dan, EventKinds.EmailOpen, start + Day), Event(eve, EventKinds.EmailOpen, start + Day)],
            Start = start,
            End = start + Duration.FromDays(10),
        });

        // The welcome waits for 08:00 local (00:00 UTC), then the flow runs from there.
        var morning = Instant.FromUtc(2026, 6, 18, 0, 0);
        var deferred = result.Held.Where(s => s.Kind == JourneyStepKind.Deferred).ToList();
        Assert.Equal(2, deferred.Count);
        Assert.All(deferred, s => Assert.Equal((start, morning, "welcome"), (s.At, s.DueAt!.Value, s.NodeId!)));
        Assert.All(deferred, s => Assert.Contains("outside the send window in Asia/Shanghai; next allowed 2026-06-18 08:00 local", s.Detail, StringComparison.Ordinal));

        // Dan has no SMS consent: the coupon is suppressed and the journey goes on; the daily cap holds nothing (one message a day).
        var suppressed = Assert.Single(result.Held, s => s.Kind == JourneyStepKind.Suppressed);
        Assert.Equal((dan.Id, "coupon", morning + 2 * Day), (suppressed.ContactId, suppressed.NodeId!, suppressed.At));
        Assert.Equal("suppressed by Consent: no consent for 'sms' on record", suppressed.Detail);
        Assert.Equal(
            [("welcome", morning), ("final", morning + 3 * Day)],
            result.Messages.Where(m => m.ContactId == dan.Id).Select(m => (m.NodeId, m.At)));
        Assert.Equal(
            [("welcome", morning), ("coupon", morning + 2 * Day), ("final", morning + 3 * Day)],
            result.Messages.Where(m => m.ContactId == eve.Id).Select(m => (m.NodeId, m.At)));
        Assert.Empty(h.State.Email.Sends);
    }

    [Fact]
    public async Task Dry_run_shows_frequency_cap_suppressions()
    {
        using var h = new JourneyHarness(delivery: d => d.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, PerCalendarDay = true }));
        var fay = TestContact("Fay", 6);
        var journey = new JourneyDefinition
        {
            Id = "double",
            Trigger = new ApiTrigger(),
            StartNodeId = "a",
            Nodes =
            [
                new SendMessageNode { Id = "a", Channel = "email", TemplateId = "welcome", Next = "b" },
                new SendMessageNode { Id = "b", Channel = "sms", TemplateId = "coupon" },
            ],
        };

        var result = await h.Get<JourneySimulator>().SimulateAsync(journey, new JourneySimulationRequest { Contacts = [fay], Start = T0, End = T0 + Day });

        Assert.Equal(["a"], result.Messages.Select(m => m.NodeId));
        var capped = Assert.Single(result.Held);
        Assert.Equal((JourneyStepKind.Suppressed, "b"), (capped.Kind, capped.NodeId!));
        Assert.StartsWith("suppressed by FrequencyCap: at most 1 message(s) on all channels", capped.Detail, StringComparison.Ordinal);
        Assert.Empty(h.State.Email.Sends);
        Assert.Empty(h.State.Sms.Sends);
    }

    [Fact]
    public async Task Test_mode_passes_at_98_percent_fails_below_and_gates_launch()
    {
        using var h = new JourneyHarness();
        var testMode = h.Get<JourneyTestMode>();
        var journey = JourneyHarness.Seed004();
        var users = Enumerable.Range(0, 100).Select(i => TestContact($"T{i}", 100 + i)).ToList();

        Assert.Equal("The journey 'welcome-flow' may not launch: it has no test run (run test mode first).",
            Assert.Throws<JourneyLaunchRefusedException>(() => testMode.Launch(journey, h.Context)).Message);

        // 1 of 100 test users fails (invalid address): 99 % ≥ 98 %.
        h.State.Email.FailAlwaysFor("t7@example.com", DeliveryFailureReason.InvalidAddress);
        var pass = await testMode.RunAsync(journey, new JourneyTestRequest { Contacts = users });
        Assert.True(pass.Passed, pass.ToString());
        Assert.Equal((100, 99, 0.99), (pass.Contacts, pass.SucceededContacts, pass.SuccessRate));
        Assert.Equal((397, 3), (pass.Sent, pass.Failed));
        Assert.Equal(new Dictionary<string, int> { ["failed:InvalidAddress"] = 3 }, pass.FailedByReason);
        Assert.Equal(300, h.State.Email.Sends.Count);
        Assert.Equal(100, h.State.Sms.Sends.Count);

        testMode.Launch(journey, h.Context);
        Assert.NotNull(h.Runner.Catalog.Find("welcome-flow"));

        // 3 of 100 fail: 97 % < 98 %; the next launch is refused, naming the rate and the threshold.
        h.State.Email.FailAlwaysFor("t8@example.com", DeliveryFailureReason.InvalidAddress);
        h.State.Sms.FailAlwaysFor("+8613900000109", DeliveryFailureReason.ProviderError, retryable: false);
        var fail = await testMode.RunAsync(journey, new JourneyTestRequest { Contacts = users });
        Assert.False(fail.Passed);
        Assert.Equal(0.97, fail.SuccessRate, 6);
        Assert.Equal(new Dictionary<string, int> { ["failed:InvalidAddress"] = 6, ["failed:ProviderError"] = 1 }, fail.FailedByReason);
        Assert.Same(fail, testMode.LastReport("welcome-flow"));

        var refused = Assert.Throws<JourneyLaunchRefusedException>(() => testMode.Launch(journey, h.Context));
        Assert.Equal(("welcome-flow", 0.97, 0.98), (refused.JourneyId, refused.SuccessRate!.Value, refused.Threshold!.Value));
        Assert.Contains("reached 97.0 % of 100 test contacts, below the threshold of 98.0 %", refused.Message, StringComparison.Ordinal);

        // A custom threshold; and a definition changed after its test needs another test.
        var lenient = await testMode.RunAsync(journey, new JourneyTestRequest { Contacts = users, MinimumSuccessRate = 0.95 });
        Assert.True(lenient.Passed);
        testMode.EnsureCanLaunch(journey);
        Assert.Contains("changed since its last test run", Assert.Throws<JourneyLaunchRefusedException>(() => testMode.EnsureCanLaunch(journey with { Name = "v2" })).Message, StringComparison.Ordinal);

        // Test sends wrote nothing to the host's journey runs.
        Assert.Equal(0, h.State.Runs.PendingTimers);
    }

    [Fact]
    public async Task Test_mode_sends_through_given_channels_and_counts_suppressions()
    {
        using var h = new JourneyHarness();
        var email = new Campaigns.Testing.RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });
        var sms = new Campaigns.Testing.RecordingChannel("sms", new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone });
        var users = new[] { TestContact("Gus", 201), TestContact("Hal", 202, smsConsent: false) };

        var report = await h.Get<JourneyTestMode>().RunAsync(JourneyHarness.Seed004(), new JourneyTestRequest { Contacts = users, Channels = [email, sms] });

        Assert.Equal((0.5, 7, 1), (report.SuccessRate, report.Sent, report.Failed));
        Assert.Equal(new Dictionary<string, int> { ["suppressed:Consent"] = 1 }, report.FailedByReason);
        Assert.Equal(6, email.Sends.Count);
        Assert.Single(sms.Sends);
        Assert.Empty(h.State.Email.Sends);
    }
}
