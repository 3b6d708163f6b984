using System.Globalization;
using System.Text.RegularExpressions;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Scheduling;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>
/// FsCheck properties at the journey level: the real <see cref="JourneyRunner"/>, the real delivery pipeline and recording
/// channels on a fake clock, over random zones (DST zones included), start instants around 2026's transitions, windows,
/// caps and split weights. Each property runs a few dozen small cases (CI budget).
/// </summary>
public sealed partial class JourneyPropertyTests
{
    private static readonly string[] Zones = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Shanghai"];

    /// <summary>Instants near 2026's DST transitions in those zones (New York, Europe, Lord Howe, Chatham), so gaps and overlaps are hit often.</summary>
    private static readonly Instant[] Transitions =
    [
        Instant.FromUtc(2026, 3, 8, 7, 0), Instant.FromUtc(2026, 3, 29, 1, 0), Instant.FromUtc(2026, 4, 4, 15, 0), Instant.FromUtc(2026, 4, 4, 14, 0),
        Instant.FromUtc(2026, 9, 26, 14, 0), Instant.FromUtc(2026, 10, 3, 15, 30), Instant.FromUtc(2026, 10, 25, 1, 0), Instant.FromUtc(2026, 11, 1, 6, 0),
    ];

    private static string Hm(int minuteOfDay) => LocalTime.Midnight.PlusMinutes(minuteOfDay).ToString("HH:mm", CultureInfo.InvariantCulture);

    private static Gen<Instant> Starts() =>
        from basis in Gen.Elements(Transitions)
        from offsetMinutes in Gen.Choose(-2 * 24 * 60, 2 * 24 * 60)
        select basis + Duration.FromMinutes(offsetMinutes);

    /// <summary>Runs an async case off the test's synchronization context (FsCheck properties are synchronous).</summary>
    private static bool Run(Func<Task> body)
    {
        Task.Run(body).GetAwaiter().GetResult();
        return true;
    }

    private static async Task<List<Contact>> AddContactsAsync(JourneyHarness h, IReadOnlyList<string> zones)
    {
        var contacts = new List<Contact>();
        for (var i = 0; i < zones.Count; i++)
        {
            contacts.Add(await h.AddContactAsync($"P{i}", zones[i]));
        }

        return contacts;
    }

    private sealed record QuietCase(SendWindowOptions Options, SendWindow Window, IReadOnlyList<string> Zones, Instant Start, int Wait1Minutes, int WaitUntilMinute, int Wait2Minutes)
    {
        public override string ToString() =>
            $"window {Options.Opens ?? "-"}–{Options.Closes ?? "-"} quiet {Options.QuietFrom ?? "-"}–{Options.QuietUntil ?? "-"} days [{string.Join(',', Options.Days)}], zones [{string.Join(", ", Zones)}], start {Start}, waits {Wait1Minutes} min / until {Hm(WaitUntilMinute)} / {Wait2Minutes} min";
    }

    private static Gen<QuietCase> QuietCases() =>
        from hasWindow in Gen.Elements(true, false)
        from opens in Gen.Choose(0, 20 * 60)
        from length in Gen.Choose(3 * 60, 10 * 60)
        from quietFrom in Gen.Choose(0, 24 * 60 - 1)
        from quietLength in Gen.Choose(30, 10 * 60)
        from days in Gen.SubListOf(Enum.GetValues<IsoDayOfWeek>().Where(d => d != IsoDayOfWeek.None).ToArray())
        from zones in Gen.ArrayOf(Gen.Elements(Zones), 3)
        from start in Starts()
        from wait1 in Gen.Choose(1, 2 * 24 * 60)
        from waitUntil in Gen.Choose(0, 24 * 60 - 1)
        from wait2 in Gen.Choose(1, 36 * 60)
        let options = Options(hasWindow ? Hm(opens) : null, hasWindow ? Hm(Math.Min(opens + length, 24 * 60 - 1)) : null, Hm(quietFrom), Hm((quietFrom + quietLength) % (24 * 60)), days)
        select new QuietCase(options, options.ToSendWindow(), zones, start, wait1, waitUntil, wait2);

    private static SendWindowOptions Options(string? opens, string? closes, string quietFrom, string quietUntil, IEnumerable<IsoDayOfWeek> days)
    {
        var options = new SendWindowOptions { Opens = opens, Closes = closes, QuietFrom = quietFrom, QuietUntil = quietUntil };
        foreach (var day in days)
        {
            options.Days.Add(day);
        }

        return options;
    }

    private static JourneyDefinition FourSms(string id, QuietCase c) => new()
    {
        Id = id,
        Name = "Four SMS",
        Trigger = new ApiTrigger(),
        StartNodeId = "s1",
        Nodes =
        [
            new SendMessageNode { Id = "s1", Channel = "sms", TemplateId = "coupon", Next = "w1" },
            new WaitNode { Id = "w1", Duration = Duration.FromMinutes(c.Wait1Minutes), Next = "s2" },
            new SendMessageNode { Id = "s2", Channel = "sms", TemplateId = "coupon", Next = "u1" },
            new WaitUntilNode { Id = "u1", At = LocalTime.Midnight.PlusMinutes(c.WaitUntilMinute), Next = "s3" },
            new SendMessageNode { Id = "s3", Channel = "sms", TemplateId = "coupon", Next = "w2" },
            new WaitNode { Id = "w2", Duration = Duration.FromMinutes(c.Wait2Minutes), Next = "s4" },
            new SendMessageNode { Id = "s4", Channel = "sms", TemplateId = "coupon" },
        ],
    };

    [Fact]
    public void Property_no_journey_send_happens_inside_quiet_hours_or_outside_the_window_in_the_contacts_zone_and_none_is_dropped()
    {
        Prop.ForAll(QuietCases().ToArbitrary(), c => c.Window.Validate().Count > 0 || Run(async () =>
        {
            using var h = new JourneyHarness(delivery: d => d.Channels["sms"].Window = c.Options);
            h.Clock.Reset(c.Start);
            h.Publish(FourSms("quiet", c));
            var contacts = await AddContactsAsync(h, c.Zones);
            foreach (var contact in contacts)
            {
                Assert.NotNull(await h.Runner.EnterAsync("quiet", contact.Id));
            }

            await h.DriveAsync(c.Start + Duration.FromDays(45));

            var zoneOf = contacts.ToDictionary(x => x.Id, x => DateTimeZoneProviders.Tzdb[x.TimeZoneId!]);
            var sent = h.Log.Steps.Where(s => s.Kind == JourneyStepKind.Sent).ToList();
            foreach (var s in sent)
            {
                var zone = zoneOf[s.ContactId];
                Assert.True(c.Window.IsOpen(s.At, zone), $"{s.NodeId} sent at {s.At} = {s.At.InZone(zone).LocalDateTime:uuuu-MM-dd HH:mm} local in {zone.Id}, inside quiet hours or outside the window");
            }

            // Deferred, never dropped: every contact gets its four messages, in order, and each deferral names its reason.
            foreach (var contact in contacts)
            {
                Assert.Equal(["s1", "s2", "s3", "s4"], sent.Where(s => s.ContactId == contact.Id).Select(s => s.NodeId));
            }

            Assert.Equal(4 * contacts.Count, h.State.Sms.Accepted.Count);
            Assert.All(h.Log.Steps.Where(s => s.Kind == JourneyStepKind.Deferred), d => Assert.StartsWith("outside the send window in ", d.Detail, StringComparison.Ordinal));
        })).Check(Config.QuickThrowOnFailure.WithMaxTest(30));
    }

    private sealed record CapCase(IReadOnlyList<FrequencyCapOptions> Caps, IReadOnlyList<string> Zones, Instant Start, IReadOnlyList<int> WaitMinutes)
    {
        public override string ToString() =>
            $"caps [{string.Join("; ", Caps.Select(k => $"{k.Limit} on {k.Channel ?? "all"} per {(k.PerCalendarDay ? "calendar day" : k.Window.ToString())}"))}], zones [{string.Join(", ", Zones)}], start {Start}, waits [{string.Join(", ", WaitMinutes)}] min";
    }

    private static Gen<FrequencyCapOptions> Caps() =>
        from channel in Gen.Elements<string?>(null, "sms", "email")
        from limit in Gen.Choose(1, 3)
        from perDay in Gen.Elements(true, false)
        from hours in Gen.Choose(1, 48)
        select new FrequencyCapOptions { Channel = channel, Limit = limit, PerCalendarDay = perDay, Window = perDay ? null : TimeSpan.FromHours(hours) };

    private static Gen<CapCase> CapCases() =>
        from caps in Gen.Choose(1, 2).SelectMany(n => Gen.ArrayOf(Caps(), n))
        from zones in Gen.ArrayOf(Gen.Elements(Zones), 3)
        from start in Starts()
        from waits in Gen.ArrayOf(Gen.OneOf(Gen.Constant(0), Gen.Choose(1, 90), Gen.Choose(60, 16 * 60)), 5)
        select new CapCase(caps, zones, start, waits);

    /// <summary>Six sends alternating sms and email; a wait of 0 minutes chains two sends directly.</summary>
    private static JourneyDefinition SixSends(CapCase c)
    {
        var nodes = new List<JourneyNode>();
        for (var i = 1; i <= 6; i++)
        {
            var next = i == 6 ? null : c.WaitMinutes[i - 1] == 0 ? $"s{i + 1}" : $"w{i}";
            nodes.Add(new SendMessageNode { Id = $"s{i}", Channel = i % 2 == 1 ? "sms" : "email", TemplateId = i % 2 == 1 ? "coupon" : "welcome", Next = next });
            if (next == $"w{i}")
            {
                nodes.Add(new WaitNode { Id = $"w{i}", Duration = Duration.FromMinutes(c.WaitMinutes[i - 1]), Next = $"s{i + 1}" });
            }
        }

        return new JourneyDefinition { Id = "capped", Name = "Six sends", Trigger = new ApiTrigger(), StartNodeId = "s1", Nodes = nodes };
    }

    [Fact]
    public void Property_frequency_caps_are_never_exceeded_by_a_journey()
    {
        Prop.ForAll(CapCases().ToArbitrary(), c => Run(async () =>
        {
            using var h = new JourneyHarness(delivery: d =>
            {
                foreach (var cap in c.Caps)
                {
                    d.FrequencyCaps.Add(cap);
                }
            });
            h.Clock.Reset(c.Start);
            h.Publish(SixSends(c));
            var contacts = await AddContactsAsync(h, c.Zones);
            foreach (var contact in contacts)
            {
                await h.Runner.EnterAsync("capped", contact.Id);
            }

            await h.DriveAsync(c.Start + Duration.FromDays(10));

            foreach (var contact in contacts)
            {
                var zone = DateTimeZoneProviders.Tzdb[contact.TimeZoneId!];
                var sent = h.Log.Steps.Where(s => s.Kind == JourneyStepKind.Sent && s.ContactId == contact.Id).ToList();
                Assert.Equal("s1", sent[0].NodeId); // the first message always has room
                foreach (var cap in c.Caps)
                {
                    var counted = sent.Where(s => cap.Channel is null || s.Channel == cap.Channel).Select(s => s.At).ToList();
                    if (cap.PerCalendarDay)
                    {
                        foreach (var day in counted.GroupBy(at => at.InZone(zone).Date))
                        {
                            Assert.True(day.Count() <= cap.Limit, $"{day.Count()} sends on {day.Key} in {zone.Id} over the cap of {cap.Limit} ({cap.Channel ?? "all"})");
                        }
                    }
                    else
                    {
                        var window = Duration.FromTimeSpan(cap.Window!.Value);
                        foreach (var at in counted)
                        {
                            var inWindow = counted.Count(x => x > at - window && x <= at);
                            Assert.True(inWindow <= cap.Limit, $"{inWindow} sends in the {cap.Window} before {at}, over the cap of {cap.Limit} ({cap.Channel ?? "all"})");
                        }
                    }
                }

                // What was not sent was suppressed by a cap, not lost: six message steps per contact in all.
                var held = h.Log.Steps.Count(s => s.ContactId == contact.Id && s.Kind == JourneyStepKind.Suppressed && s.Detail.StartsWith("suppressed by FrequencyCap", StringComparison.Ordinal));
                Assert.Equal(6, sent.Count + held);
            }
        })).Check(Config.QuickThrowOnFailure.WithMaxTest(30));
    }

    private sealed record SplitCase(IReadOnlyList<int> Weights, int HoldoutWeight, int Contacts)
    {
        public override string ToString() => $"weights [{string.Join(", ", Weights)}] holdout {HoldoutWeight}, {Contacts} contacts";
    }

    private static JourneyDefinition Split(SplitCase c)
    {
        var arms = c.Weights.Select((w, i) => new SplitArm($"arm{i}", w, $"arm{i}-1")).ToList();
        if (c.HoldoutWeight > 0)
        {
            arms.Add(new SplitArm("holdout", c.HoldoutWeight, Holdout: true));
        }

        var nodes = new List<JourneyNode> { new SplitNode { Id = "ab", Arms = arms } };
        for (var i = 0; i < c.Weights.Count; i++)
        {
            nodes.Add(new SendMessageNode { Id = $"arm{i}-1", Channel = "email", TemplateId = "welcome", Next = $"arm{i}-wait" });
            nodes.Add(new WaitNode { Id = $"arm{i}-wait", Duration = Duration.FromDays(1), Next = $"arm{i}-2" });
            nodes.Add(new SendMessageNode { Id = $"arm{i}-2", Channel = "email", TemplateId = "reminder" });
        }

        return new JourneyDefinition { Id = "ab-test", Name = "A/B", Trigger = new ApiTrigger(), StartNodeId = "ab", Nodes = nodes, ReEntry = new ReEntryPolicy { Allowed = true } };
    }

    [GeneratedRegex("^arm '([^']+)'")]
    private static partial Regex ArmDetail();

    private static Dictionary<ContactId, string> ArmsOf(IEnumerable<JourneyStep> steps, int run) =>
        steps.Where(s => s.Kind == JourneyStepKind.Branched && s.NodeId == "ab" && s.RunNumber == run).ToDictionary(s => s.ContactId, s => ArmDetail().Match(s.Detail).Groups[1].Value);

    [Fact]
    public void Property_split_proportions_stay_within_tolerance_and_an_arm_never_changes_across_restarts()
    {
        var gen =
            from arms in Gen.Choose(2, 3)
            from weights in Gen.ArrayOf(Gen.Choose(1, 10), arms)
            from holdout in Gen.OneOf(Gen.Constant(0), Gen.Choose(1, 5))
            from contacts in Gen.Choose(150, 250)
            select new SplitCase(weights, holdout, contacts);
        Prop.ForAll(gen.ToArbitrary(), c => Run(async () =>
        {
            var shared = new SharedState();
            var start = shared.Clock.GetCurrentInstant();
            var definition = Split(c);
            var contacts = new List<Contact>();
            Dictionary<ContactId, string> first;

            // Host 1: everyone enters and gets the arm's first message; the host stops before the second.
            using (var h1 = new JourneyHarness(shared))
            {
                h1.Publish(definition);
                for (var i = 0; i < c.Contacts; i++)
                {
                    var contact = await h1.AddContactAsync($"S{i}");
                    contacts.Add(contact);
                    await h1.Runner.EnterAsync("ab-test", contact.Id);
                }

                await h1.DriveAsync(start + Duration.FromHours(12));
                first = ArmsOf(h1.Log.Steps, 1);
                Assert.Equal(c.Contacts, first.Count);
                foreach (var s in h1.Log.Steps.Where(s => s.Kind == JourneyStepKind.Sent))
                {
                    Assert.Equal($"{first[s.ContactId]}-1", s.NodeId);
                }
            }

            // Proportions: each arm's share within 5σ of its weight's share.
            var total = c.Weights.Sum() + c.HoldoutWeight;
            var names = c.Weights.Select((w, i) => ($"arm{i}", w)).Append(("holdout", c.HoldoutWeight)).Where(a => a.Item2 > 0);
            foreach (var (name, weight) in names)
            {
                var p = (double)weight / total;
                var expected = p * c.Contacts;
                var sigma = Math.Sqrt(c.Contacts * p * (1 - p));
                var actual = first.Values.Count(a => a == name);
                Assert.True(Math.Abs(actual - expected) <= 5 * sigma + 1, $"{name}: {actual} of {c.Contacts}, expected {expected:F1} ± {5 * sigma:F1}");
            }

            // Host 2 (a restart on the same stores): the runs resume on their arm's second message.
            using (var h2 = new JourneyHarness(shared))
            {
                h2.Publish(definition);
                await h2.DriveAsync(start + Duration.FromDays(3));
                foreach (var s in h2.Log.Steps.Where(s => s.Kind == JourneyStepKind.Sent))
                {
                    Assert.Equal($"{first[s.ContactId]}-2", s.NodeId);
                }

                Assert.Equal(first.Count(a => a.Value != "holdout"), h2.Log.Steps.Count(s => s.Kind == JourneyStepKind.Sent));
            }

            // Host 3: every contact enters again (re-entry) and lands in the same arm.
            using var h3 = new JourneyHarness(shared);
            h3.Publish(definition);
            foreach (var contact in contacts)
            {
                Assert.NotNull(await h3.Runner.EnterAsync("ab-test", contact.Id));
            }

            await h3.DriveAsync(start + Duration.FromDays(3) + Duration.FromHours(1));
            Assert.Equal(first, ArmsOf(h3.Log.Steps, 2));
        })).Check(Config.QuickThrowOnFailure.WithMaxTest(12));
    }
}
