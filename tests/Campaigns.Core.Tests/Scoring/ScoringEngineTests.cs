using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Serialization;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Scoring;

public class ScoringEngineTests
{
    [Fact]
    public async Task Seed_example_two_product_views_and_a_form_reach_high_intent_move_to_mql_assign_and_notify()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed);
        var contact = await host.CreateAsync();

        await host.ProductViewAsync(contact.Id);
        await host.ProductViewAsync(contact.Id);
        Assert.Equal(10m, (await host.GetAsync(contact.Id)).Scores!.Behaviour);
        Assert.Empty(host.Sink.Events);

        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        var stored = await host.GetAsync(contact.Id);
        Assert.Equal(20m, stored.Scores!.Behaviour);
        Assert.Equal(LifecycleStage.Mql, stored.Stage);
        Assert.Equal("sales-1", stored.OwnerId);
        Assert.Contains("high-intent", stored.StageHistory[^1].Reason, StringComparison.Ordinal);

        var crossed = Assert.IsType<ThresholdCrossed>(host.Sink.Events[0]);
        Assert.True(crossed.Entered);
        Assert.Equal(20m, crossed.Score);
        var assigned = Assert.IsType<LeadAssigned>(host.Sink.Events[1]);
        Assert.Equal("sales-1", assigned.AssigneeId);
        Assert.Null(assigned.PreviousOwnerId);

        // Round robin: the next lead goes to the second salesperson.
        var other = await host.CreateAsync("13900139000");
        await host.IngestAsync(other.Id, EventKinds.FormSubmit);
        await host.IngestAsync(other.Id, EventKinds.FormSubmit);
        Assert.Equal("sales-2", (await host.GetAsync(other.Id)).OwnerId);
    }

    [Fact]
    public async Task Explanation_breaks_the_score_down_by_rule_with_the_events_that_earned_it()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed);
        var contact = await host.CreateAsync();
        await host.ProductViewAsync(contact.Id);
        await host.IngestAsync(contact.Id, EventKinds.PageView, null, ("page_kind", "home"));
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        await host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, Campaigns.Modeling.FieldValue?> { ["industry"] = new Campaigns.Modeling.TextValue("manufacturing") });

        var explanation = await host.Scoring.ExplainAsync(contact.Id);

        Assert.Equal(15m, explanation.Scores.Behaviour);
        Assert.Equal(40m, explanation.Scores.Fit);
        Assert.Equal("B", explanation.Scores.Grade);
        Assert.Collection(
            explanation.Behaviour,
            r => Assert.Equal(("product-page-view", 5m, "e1"), (r.RuleId, r.Points, string.Join(",", r.Events.Select(e => e.EventId)))),
            r => Assert.Equal(("form-submit", 10m, "e3"), (r.RuleId, r.Points, string.Join(",", r.Events.Select(e => e.EventId)))));
        Assert.Equal("manufacturing", Assert.Single(explanation.Fit).RuleId);
        Assert.Equal(explanation.Scores.Behaviour, explanation.Behaviour.Sum(r => r.Points));
        Assert.Equal(("B", 40m), ((await host.GetAsync(contact.Id)).Scores!.Grade, (await host.GetAsync(contact.Id)).Scores!.Fit));
    }

    [Fact]
    public async Task A_cap_limits_a_rule_per_period_and_the_next_period_earns_again()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed with
        {
            BehaviourRules = [SeedModels.ProductView with { Cap = new ScoreCap { MaxPoints = 12, Period = Duration.FromDays(1) } }],
            Thresholds = [],
        });
        var contact = await host.CreateAsync();
        var day = Instant.FromUtc(2026, 5, 19, 1, 0);
        for (var i = 0; i < 4; i++)
        {
            await host.ProductViewAsync(contact.Id, day + Duration.FromHours(i));
        }

        Assert.Equal(12m, (await host.Scoring.GetScoresAsync(contact.Id)).Behaviour);
        var earned = (await host.Scoring.ExplainAsync(contact.Id)).Behaviour[0].Events.Select(e => e.Awarded);
        Assert.Equal([5m, 5m, 2m, 0m], earned);

        await host.ProductViewAsync(contact.Id, Instant.FromUtc(2026, 5, 20, 0, 30));
        Assert.Equal(17m, (await host.GetAsync(contact.Id)).Scores!.Behaviour);
    }

    [Fact]
    public async Task Negative_points_subtract_and_can_make_the_score_negative()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed with
        {
            BehaviourRules = [SeedModels.FormSubmit, new BehaviourRule { Id = "unsubscribe", EventKind = EventKinds.EmailClick, Where = [new("url", CompareOperator.Contains, ["unsubscribe"])], Points = -15 }],
        });
        var contact = await host.CreateAsync();
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        await host.IngestAsync(contact.Id, EventKinds.EmailClick, null, ("url", "https://x.test/unsubscribe?u=1"));
        await host.IngestAsync(contact.Id, EventKinds.EmailClick, null, ("url", "https://x.test/offer"));
        Assert.Equal(-5m, (await host.GetAsync(contact.Id)).Scores!.Behaviour);
    }

    [Fact]
    public async Task Decay_halves_the_score_every_half_life_computed_from_the_clock()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed.WithHalfLife(7) with { Thresholds = [] });
        var contact = await host.CreateAsync();
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        await host.ProductViewAsync(contact.Id, host.Clock.GetCurrentInstant() - Duration.FromDays(7));

        Assert.Equal(12.5m, (await host.Scoring.GetScoresAsync(contact.Id)).Behaviour);
        host.Clock.Advance(Duration.FromDays(7));
        Assert.Equal(6.25m, (await host.Scoring.GetScoresAsync(contact.Id)).Behaviour);
        host.Clock.Advance(Duration.FromDays(7));
        Assert.Equal(3.125m, (await host.Scoring.GetScoresAsync(contact.Id)).Behaviour);
        host.Clock.Advance(Duration.FromDays(7));
        Assert.Equal(1.5625m, (await host.Scoring.GetScoresAsync(contact.Id)).Behaviour);
        Assert.Null(host.Scoring.NextDue);
    }

    [Fact]
    public async Task Hysteresis_enters_at_20_leaves_below_15_and_does_not_flap_in_between()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed with
        {
            BehaviourRules = [SeedModels.ProductView, SeedModels.FormSubmit, new BehaviourRule { Id = "bounce", EventKind = EventKinds.EmailOpen, Points = -3 }],
        });
        var contact = await host.CreateAsync();
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);     // 20: enter
        await host.IngestAsync(contact.Id, EventKinds.EmailOpen);      // 17: inside still
        await host.ProductViewAsync(contact.Id);                        // 22
        await host.IngestAsync(contact.Id, EventKinds.EmailOpen);      // 19
        await host.IngestAsync(contact.Id, EventKinds.EmailOpen);      // 16
        Assert.Single(host.Sink.Events.OfType<ThresholdCrossed>());

        await host.IngestAsync(contact.Id, EventKinds.EmailOpen);      // 13: leave
        var crossings = host.Sink.Events.OfType<ThresholdCrossed>().Select(c => (c.Entered, c.Score)).ToList();
        Assert.Equal([(true, 20m), (false, 13m)], crossings);
        await host.ProductViewAsync(contact.Id);                        // 18: still out
        Assert.Equal(2, host.Sink.Events.OfType<ThresholdCrossed>().Count());
        Assert.Single(host.Sink.Events.OfType<LeadAssigned>());
    }

    [Fact]
    public async Task A_decaying_score_leaves_the_threshold_at_the_scheduled_instant_without_a_sweep()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed.WithHalfLife(7));
        var contact = await host.CreateAsync();
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        await host.IngestAsync(contact.Id, EventKinds.FormSubmit);
        var start = host.Clock.GetCurrentInstant();

        // 20 · 2^(−Δ/7d) < 15  ⇔  Δ > 7d · log2(20/15) ≈ 2.905 days.
        var due = host.Scoring.NextDue!.Value;
        var expected = start + Duration.FromNanoseconds(Math.Ceiling(Math.Log2(20d / 15d) * Duration.FromDays(7).TotalNanoseconds));
        Assert.InRange((due - expected).TotalSeconds, 0, 10);

        Assert.Equal(0, await host.Scoring.AdvanceAsync(due - Duration.FromMinutes(1)));
        host.Clock.Reset(due);
        Assert.Equal(1, await host.Scoring.AdvanceAsync(due));
        var left = host.Sink.Events.OfType<ThresholdCrossed>().Last();
        Assert.False(left.Entered);
        Assert.True(left.Score is < 15m and > 14.99m);
        Assert.Equal(left.Score, (await host.GetAsync(contact.Id)).Scores!.Behaviour);
        Assert.Null(host.Scoring.NextDue);
    }

    [Fact]
    public async Task Assignment_by_region_map_and_keeping_the_owner()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed with
        {
            Thresholds =
            [
                SeedModels.HighIntent with
                {
                    Assignment = new AssignmentPolicy { Mode = AssignmentMode.ByRegion, RegionMap = new Dictionary<string, string> { ["华东"] = "sales-east" }, Assignees = ["sales-pool"] },
                },
            ],
        });
        var east = await host.CreateAsync("13800138001", region: "华东");
        var owned = await host.CreateAsync("13800138002", region: "华东", owner: "sales-kept");
        var south = await host.CreateAsync("13800138003", region: "华南");
        foreach (var id in new[] { east.Id, owned.Id, south.Id })
        {
            await host.IngestAsync(id, EventKinds.FormSubmit);
            await host.IngestAsync(id, EventKinds.FormSubmit);
        }

        Assert.Equal("sales-east", (await host.GetAsync(east.Id)).OwnerId);
        Assert.Equal("sales-kept", (await host.GetAsync(owned.Id)).OwnerId);
        Assert.Equal("sales-pool", (await host.GetAsync(south.Id)).OwnerId);
        Assert.Equal(["sales-east", "sales-kept", "sales-pool"], host.Sink.Events.OfType<LeadAssigned>().Select(a => a.AssigneeId));
    }

    [Fact]
    public void Models_round_trip_through_json()
    {
        var model = SeedModels.Seed.WithHalfLife(7) with
        {
            BehaviourRules = [SeedModels.ProductView with { Cap = new ScoreCap { MaxPoints = 15, Period = Duration.FromDays(1) } }, SeedModels.FormSubmit],
            Thresholds = [SeedModels.HighIntent with { Assignment = new AssignmentPolicy { Mode = AssignmentMode.ByRegion, RegionMap = new Dictionary<string, string> { ["华东"] = "s1" } } }],
        };
        var json = JsonSerializer.Serialize(model, CampaignsJson.Options);
        var back = JsonSerializer.Deserialize<ScoringModel>(json, CampaignsJson.Options)!;
        Assert.Equal(json, JsonSerializer.Serialize(back, CampaignsJson.Options));
        Assert.Contains("\"eventKind\":\"page_view\"", json, StringComparison.Ordinal);
        Assert.Contains("华东", json, StringComparison.Ordinal);
        Assert.Equal(Duration.FromDays(7), back.HalfLife);
        Assert.Equal(AssignmentMode.ByRegion, back.Thresholds[0].Assignment!.Mode);
    }

    [Fact]
    public void Unknown_event_kind_or_attribute_is_a_typed_error_naming_field_and_value_and_changes_nothing()
    {
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed);

        var kind = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(SeedModels.Seed with { BehaviourRules = [SeedModels.FormSubmit, SeedModels.FormSubmit with { Id = "x", EventKind = "webinar_join" }] }));
        Assert.Equal(("behaviourRules[1].eventKind", "webinar_join"), (kind.Field, kind.Value));
        Assert.Contains("webinar_join", kind.Message, StringComparison.Ordinal);

        var attribute = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(SeedModels.Seed with
        {
            FitRules = [new FitRule { Id = "f", Condition = new AttributeFilter("shoe_size", CompareOperator.Equal, [new Campaigns.Modeling.NumberValue(42)]), Points = 5 }],
        }));
        Assert.StartsWith("fitRules[0].condition", attribute.Field, StringComparison.Ordinal);
        Assert.Contains("shoe_size", attribute.Message, StringComparison.Ordinal);

        var exit = Assert.Throws<RuleDefinitionException>(() => host.Models.Replace(SeedModels.Seed with { Thresholds = [SeedModels.HighIntent with { Exit = 25 }] }));
        Assert.Equal(("thresholds[0].exit", "25"), (exit.Field, exit.Value));

        Assert.Same(SeedModels.Seed, host.Models.Current);
    }

    [Property(MaxTest = 40)]
    public async Task Engine_scores_equal_a_from_scratch_recomputation_after_a_random_event_stream(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        using var host = new ScoringTestHost();
        host.Models.Replace(SeedModels.Seed.WithHalfLife(3) with
        {
            BehaviourRules =
            [
                SeedModels.ProductView with { Cap = new ScoreCap { MaxPoints = 12, Period = Duration.FromDays(1) } },
                SeedModels.FormSubmit,
                new BehaviourRule { Id = "bounce", EventKind = EventKinds.EmailOpen, Points = -4, Cap = new ScoreCap { MaxPoints = 8, Period = Duration.FromHours(12) } },
            ],
        });
        var contact = await host.CreateAsync();
        var sent = new List<BehaviourEvent>();
        var kinds = new[] { EventKinds.PageView, EventKinds.FormSubmit, EventKinds.EmailOpen, EventKinds.Download };
        for (var i = 0; i < random.Next(1, 30); i++)
        {
            var e = new BehaviourEvent
            {
                EventId = "r" + random.Next(0, 40).ToString(System.Globalization.CultureInfo.InvariantCulture),
                ContactId = contact.Id,
                Kind = kinds[random.Next(kinds.Length)],
                OccurredAt = host.Clock.GetCurrentInstant() - Duration.FromMinutes(random.Next(0, 60 * 24 * 10)),
                Properties = new Dictionary<string, string> { ["page_kind"] = random.Next(2) == 0 ? "product" : "home" },
            };
            if ((await host.Events.IngestAsync(e)).IsAccepted)
            {
                sent.Add(e);
            }

            host.Clock.Advance(Duration.FromMinutes(random.Next(0, 600)));
        }

        var engine = await host.Scoring.GetScoresAsync(contact.Id);
        var reference = ScoreCalculator.Score(host.Models.Current, await host.GetAsync(contact.Id), sent, host.Clock.GetCurrentInstant());
        Assert.Equal(reference, engine);
    }

    [Property(MaxTest = 60)]
    public void A_decayed_score_of_positive_only_rules_is_never_negative(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var model = SeedModels.Seed with { HalfLife = Duration.FromMinutes(random.Next(1, 100_000)) };
        var contact = new Contact { Id = ContactId.New(), CreatedAt = Instant.FromUtc(2026, 1, 1, 0, 0) };
        var now = Instant.FromUtc(2026, 6, 1, 0, 0);
        var events = Enumerable.Range(0, random.Next(0, 50)).Select(i => new BehaviourEvent
        {
            EventId = "e" + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ContactId = contact.Id,
            Kind = random.Next(2) == 0 ? EventKinds.FormSubmit : EventKinds.PageView,
            OccurredAt = now - Duration.FromMinutes(random.Next(-10, 5_000_000)),
            Properties = new Dictionary<string, string> { ["page_kind"] = "product" },
        }).ToList();

        var score = ScoreCalculator.Score(model, contact, events, now).Behaviour;
        Assert.True(score >= 0, $"score {score}");
        Assert.True(score <= 10m * events.Count);
    }
}
