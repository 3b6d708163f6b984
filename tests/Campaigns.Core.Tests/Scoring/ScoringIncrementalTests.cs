using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Scoring;

/// <summary>Issue 4: the running per-contact scoring state, calendar-period caps, the bulk rescore and fit rules reading tags.</summary>
public sealed class ScoringIncrementalTests
{
    private static readonly BehaviourRule MonthlyView = SeedModels.ProductView with
    {
        Id = "monthly-view",
        Cap = new ScoreCap { MaxPoints = 12, Calendar = CalendarPeriod.Month },
    };

    [Property(MaxTest = 60)]
    public async Task The_score_stored_after_each_event_equals_a_from_scratch_computation(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed.WithHalfLife(random.Next(1, 10)) with
        {
            BehaviourRules =
            [
                MonthlyView,
                SeedModels.FormSubmit with { Cap = new ScoreCap { MaxPoints = 25, Period = Duration.FromHours(20) } },
                new BehaviourRule { Id = "bounce", EventKind = EventKinds.EmailOpen, Points = -4, Cap = new ScoreCap { MaxPoints = 8, Calendar = CalendarPeriod.Week } },
                new BehaviourRule { Id = "download", EventKind = EventKinds.Download, Points = 3 },
            ],
        });
        var contact = await host.CreateAsync();
        if (random.Next(2) == 0)
        {
            contact = await host.Contacts.SetTimeZoneAsync(contact.Id, random.Next(2) == 0 ? "America/New_York" : "Etc/UTC");
        }

        var sent = new List<BehaviourEvent>();
        var kinds = new[] { EventKinds.PageView, EventKinds.FormSubmit, EventKinds.EmailOpen, EventKinds.Download, ScoreAdjustment.EventKind };
        for (var i = 0; i < random.Next(1, 40); i++)
        {
            var kind = kinds[random.Next(kinds.Length)];
            var at = host.Clock.GetCurrentInstant() - Duration.FromMinutes(random.Next(0, 60 * 24 * 70));
            var id = "r" + random.Next(0, 50).ToString(CultureInfo.InvariantCulture);
            var e = kind == ScoreAdjustment.EventKind
                ? ScoreAdjustment.Create(id, contact.Id, random.Next(-5, 6) + 0.5m, at)
                : new BehaviourEvent
                {
                    EventId = id,
                    ContactId = contact.Id,
                    Kind = kind,
                    OccurredAt = at,
                    Properties = new Dictionary<string, string> { ["page_kind"] = "product" },
                };
            if ((await host.Events.IngestAsync(e)).IsAccepted)
            {
                sent.Add(e);
                var stored = await host.GetAsync(contact.Id);
                var now = host.Clock.GetCurrentInstant();
                var reference = ScoreCalculator.Score(host.Models.Current, stored, sent, now, defaultZone: DateTimeZoneProviders.Tzdb["Asia/Shanghai"]);
                if (stored.Scores is { } scores && scores.AsOf == now)
                {
                    Assert.Equal(reference, scores);
                }
                else
                {
                    // Every event kind of the stream matches a rule, so the engine scored it; it writes only when a value changed.
                    Assert.Equal((reference.Behaviour, reference.Fit, reference.Grade), (stored.Scores!.Behaviour, stored.Scores.Fit, stored.Scores.Grade));
                }
            }

            // Often the clock does not move (several events in one tick), so both the same-instant and new-instant paths run.
            if (random.Next(3) > 0)
            {
                host.Clock.Advance(Duration.FromMinutes(random.Next(1, 3000)));
            }
        }

        Assert.Equal(
            ScoreCalculator.Score(host.Models.Current, await host.GetAsync(contact.Id), sent, host.Clock.GetCurrentInstant(), defaultZone: DateTimeZoneProviders.Tzdb["Asia/Shanghai"]),
            await host.Scoring.GetScoresAsync(contact.Id));
    }

    [Fact]
    public async Task A_calendar_month_cap_counts_the_month_of_the_contacts_time_zone()
    {
        using var host = new ScoringTestHost();
        host.Clock.Reset(Instant.FromUtc(2026, 6, 10, 0, 0));
        host.Models.Replace(new ScoringModel
        {
            BehaviourRules = [SeedModels.FormSubmit with { Cap = new ScoreCap { MaxPoints = 20, Calendar = CalendarPeriod.Month } }],
        });
        var shanghai = await host.CreateAsync("13800138000"); // no zone: the default Campaigns:DefaultTimeZone, Asia/Shanghai
        var utc = await host.Contacts.SetTimeZoneAsync((await host.CreateAsync("13800138001")).Id, "Etc/UTC");
        foreach (var contact in new[] { shanghai.Id, utc.Id })
        {
            await host.IngestAsync(contact, EventKinds.FormSubmit, Instant.FromUtc(2026, 5, 31, 15, 0)); // 31 May 23:00 in Shanghai
            await host.IngestAsync(contact, EventKinds.FormSubmit, Instant.FromUtc(2026, 5, 31, 16, 30)); // 1 June 00:30 in Shanghai
            await host.IngestAsync(contact, EventKinds.FormSubmit, Instant.FromUtc(2026, 6, 1, 1, 0));
            await host.IngestAsync(contact, EventKinds.FormSubmit, Instant.FromUtc(2026, 6, 2, 1, 0));
        }

        // Shanghai: May 10, June 10 + 10 + 0 (capped at 20). UTC: May 10 + 10, June 10 + 10.
        Assert.Equal(30m, (await host.GetAsync(shanghai.Id)).Scores!.Behaviour);
        Assert.Equal(40m, (await host.GetAsync(utc.Id)).Scores!.Behaviour);
        var explanation = await host.Scoring.ExplainAsync(shanghai.Id);
        Assert.Equal([10m, 10m, 10m, 0m], explanation.Behaviour.Single().Events.Select(e => e.Awarded));

        // Moving the contact to another zone moves its periods: the next scoring sees the UTC months.
        await host.Contacts.SetTimeZoneAsync(shanghai.Id, "Etc/UTC");
        Assert.Equal(40m, (await host.Scoring.RescoreAsync(shanghai.Id)).Behaviour);
    }

    [Fact]
    public void A_cap_needs_exactly_one_of_a_fixed_and_a_calendar_period()
    {
        using var host = new ScoringTestHost();
        var both = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(new ScoringModel
        {
            BehaviourRules = [SeedModels.FormSubmit with { Cap = new ScoreCap { MaxPoints = 20, Period = Duration.FromDays(1), Calendar = CalendarPeriod.Month } }],
        }));
        Assert.Equal("behaviourRules[0].cap.period", both.Field);
        var neither = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(new ScoringModel
        {
            BehaviourRules = [SeedModels.FormSubmit with { Cap = new ScoreCap { MaxPoints = 20 } }],
        }));
        Assert.Equal("behaviourRules[0].cap.period", neither.Field);
        var unknown = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(new ScoringModel
        {
            BehaviourRules = [SeedModels.FormSubmit with { Cap = new ScoreCap { MaxPoints = 20, Calendar = (CalendarPeriod)9 } }],
        }));
        Assert.Equal(("behaviourRules[0].cap.calendar", "9"), (unknown.Field, unknown.Value));
    }

    [Fact]
    public void A_calendar_cap_round_trips_through_json()
    {
        var model = new ScoringModel { BehaviourRules = [MonthlyView] };
        var json = System.Text.Json.JsonSerializer.Serialize(model, Campaigns.Serialization.CampaignsJson.Options);
        var back = System.Text.Json.JsonSerializer.Deserialize<ScoringModel>(json, Campaigns.Serialization.CampaignsJson.Options)!;
        Assert.Equal(CalendarPeriod.Month, back.BehaviourRules[0].Cap!.Calendar);
        Assert.Equal(12m, back.BehaviourRules[0].Cap!.MaxPoints);
    }

    [Fact]
    public async Task Rescoring_all_contacts_streams_them_reports_progress_and_counts_the_changes()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(new ScoringModel { BehaviourRules = [SeedModels.FormSubmit] });
        var a = await host.CreateAsync("13800138000");
        var b = await host.CreateAsync("13800138001");
        var c = await host.CreateAsync("13800138002");
        await host.IngestAsync(a.Id, EventKinds.FormSubmit);
        await host.IngestAsync(b.Id, EventKinds.FormSubmit);
        await host.ProductViewAsync(b.Id);
        await host.ProductViewAsync(c.Id);

        // The new model doubles form submits and adds product views: a 10 → 20, b 10 → 25, c (never scored) → 5.
        host.Models.Replace(new ScoringModel { BehaviourRules = [SeedModels.FormSubmit with { Points = 20 }, SeedModels.ProductView] });
        var progress = new Recorder();
        var result = await host.Scoring.RescoreAllAsync(progress);

        Assert.Equal(new RescoreProgress(3, 3), result);
        Assert.Equal(result, progress.Reports[^1]);
        Assert.Equal(20m, (await host.GetAsync(a.Id)).Scores!.Behaviour);
        Assert.Equal(25m, (await host.GetAsync(b.Id)).Scores!.Behaviour);
        Assert.Equal(5m, (await host.GetAsync(c.Id)).Scores!.Behaviour);

        // Nothing changes the second time.
        Assert.Equal(new RescoreProgress(3, 0), await host.Scoring.RescoreAllAsync());
    }

    [Fact]
    public async Task Rescoring_all_contacts_is_cancellable()
    {
        using var host = new ScoringTestHost();
        await host.CreateAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await host.Scoring.RescoreAllAsync(null, cancelled.Token));
    }

    [Fact]
    public async Task A_fit_rule_reads_tags_and_follows_them_including_their_expiry()
    {
        using var host = new ScoringTestHost();
        var context = ((InMemoryScoringModelStore)host.Models).Context;
        host.Models.Replace(new ScoringModel
        {
            FitRules =
            [
                new FitRule { Id = "vip", Condition = FilterParser.Parse("has_tag(vip)", context), Points = 50 },
                new FitRule { Id = "crm", Condition = FilterParser.Parse("has_tag(\"意向产品: CRM\") and not has_tag(churned)", context), Points = 15 },
            ],
        });
        var contact = await host.CreateAsync();
        await host.Contacts.AddTagAsync(contact.Id, "意向产品: CRM", "sales-1");
        Assert.Equal((15m, "D"), Fit(await host.GetAsync(contact.Id)));

        var expiry = host.Clock.GetCurrentInstant() + Duration.FromHours(1);
        await host.Contacts.AddTagAsync(contact.Id, "vip", "sales-1", expiresAt: expiry);
        Assert.Equal((65m, "A"), Fit(await host.GetAsync(contact.Id)));
        Assert.Equal(expiry, host.Scoring.NextDue);

        // The tag lapses by itself: the engine had scheduled the instant, no contact change is needed.
        host.Clock.Reset(expiry);
        Assert.Equal(1, await host.Scoring.AdvanceAsync(expiry));
        Assert.Equal((15m, "D"), Fit(await host.GetAsync(contact.Id)));

        await host.Contacts.AddTagAsync(contact.Id, "churned", "sales-1");
        Assert.Equal((0m, "D"), Fit(await host.GetAsync(contact.Id)));

        static (decimal, string?) Fit(Contact c) => (c.Scores!.Fit, c.Scores.Grade);
    }

    private sealed class Recorder : IProgress<RescoreProgress>
    {
        public List<RescoreProgress> Reports { get; } = [];

        public void Report(RescoreProgress value) => Reports.Add(value);
    }
}
