using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Segmentation;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;

namespace Campaigns.Tests.Journeys;

public sealed class JourneyDefinitionTests
{
    private static JourneyDefinition Everything() => JourneyHarness.Seed004() with
    {
        CampaignId = CampaignId.New(),
        TimeZoneId = "Asia/Shanghai",
        Trigger = new ScheduleTrigger(new CronSchedule("0 9 * * *", "Asia/Shanghai"), new DateFilter(BuiltInFields.CreatedAt, DateOperator.Within, Window.Parse("1d"))),
        ReEntry = new ReEntryPolicy { Allowed = true, Cooldown = Duration.FromDays(30) },
        Exit = new JourneyExitConditions { GoalEventKind = "purchase", MaxTouches = 3, EndsAt = Instant.FromUtc(2026, 7, 31, 16, 0) },
        Nodes =
        [
            .. JourneyHarness.Seed004().Nodes,
            new SplitNode { Id = "ab", Arms = [new SplitArm("A", 45, "tag"), new SplitArm("B", 45, "score"), new SplitArm("holdout", 10, Holdout: true)] },
            new AddTagNode { Id = "tag", Tag = "vip", Next = "untag" },
            new RemoveTagNode { Id = "untag", Tag = "cold", Next = "score" },
            new ChangeScoreNode { Id = "score", Delta = 5.5m, Next = "assign" },
            new AssignLeadNode { Id = "assign", OwnerId = "sales-7", Next = "notify" },
            new NotifySalesNode { Id = "notify", Channel = "email", TemplateId = "welcome", Next = "hook" },
            new CallWebhookNode { Id = "hook", Channel = "email", TemplateId = "welcome", Url = new Uri("https://crm.example.com/hook"), Next = "attr" },
            new UpdateAttributeNode { Id = "attr", Field = "stage_note", Value = new TextValue("nurtured"), Next = "until" },
            new WaitUntilNode { Id = "until", At = new LocalTime(8, 0), Days = [IsoDayOfWeek.Monday], Next = "evt" },
            new WaitForEventNode { Id = "evt", EventKind = "email_open", Timeout = Duration.FromHours(24), OnEvent = "done", OnTimeout = "done" },
            new ExitNode { Id = "done", Reason = "finished" },
        ],
    };

    [Fact]
    public void FindNode_returns_the_node_with_the_id_ordinally_or_null()
    {
        var journey = Everything() with { Nodes = [.. Everything().Nodes, new ExitNode { Id = "Done", Reason = "other" }] };
        Assert.Same(journey.Nodes[0], journey.FindNode("welcome"));
        Assert.Equal("finished", Assert.IsType<ExitNode>(journey.FindNode("done")).Reason);
        Assert.Equal("other", Assert.IsType<ExitNode>(journey.FindNode("Done")).Reason);
        Assert.Null(journey.FindNode("DONE"));
        Assert.Null(journey.FindNode(string.Empty));
    }

    [Fact]
    public void Json_round_trips_every_trigger_and_node_kind()
    {
        var journey = Everything();
        var json = JourneyJson.Serialize(journey);
        Assert.Contains("\"schemaVersion\":1", json, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"waitForEvent\"", json, StringComparison.Ordinal);
        var back = JourneyJson.Deserialize(json);
        Assert.Equal(json, JourneyJson.Serialize(back));
        Assert.Equal(JourneyJson.Serialize(journey, indented: true), JourneyJson.Serialize(JourneyJson.Deserialize(JourneyJson.Serialize(journey, indented: true)), indented: true));

        foreach (var trigger in new JourneyTrigger[] { new ApiTrigger(), new SegmentEntryTrigger("new-leads"), new EventTrigger("registration", new TagFilter(TagMatch.Any, ["vip"])) })
        {
            var text = JourneyJson.Serialize(journey with { Trigger = trigger });
            Assert.Equal(text, JourneyJson.Serialize(JourneyJson.Deserialize(text)));
        }
    }

    [Fact]
    public void Json_refuses_an_unknown_schema_version()
    {
        var json = JourneyJson.Serialize(JourneyHarness.Seed004()).Replace("\"schemaVersion\":1", "\"schemaVersion\":9", StringComparison.Ordinal);
        var ex = Assert.Throws<JsonException>(() => JourneyJson.Deserialize(json));
        Assert.Contains("schema version 9", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_seed_flow_is_valid()
    {
        using var h = new JourneyHarness();
        Assert.True(JourneyValidator.Validate(JourneyHarness.Seed004(), h.Context).IsValid, JourneyValidator.Validate(JourneyHarness.Seed004(), h.Context).ToString());
    }

    [Fact]
    public void Validation_names_the_node_of_every_problem()
    {
        using var h = new JourneyHarness();
        h.State.Templates.Add("needs-product", new Campaigns.Delivery.MessageTemplate("{name}: {product} is here"));
        var journey = new JourneyDefinition
        {
            Id = "broken",
            Trigger = new SegmentEntryTrigger("nope"),
            StartNodeId = "start",
            Nodes =
            [
                new SendMessageNode { Id = "start", Channel = "fax", TemplateId = "welcome", Next = "check" },
                new ConditionNode { Id = "check", Condition = new TagFilter(TagMatch.Any, ["vip"]), Then = "tag" },
                new AddTagNode { Id = "tag", Tag = "x", Next = "score" },
                new ChangeScoreNode { Id = "score", Delta = 1, Next = "tag" },
                new SendMessageNode { Id = "product", Channel = "sms", TemplateId = "needs-product" },
                new SendMessageNode { Id = "ghost", Channel = "sms", TemplateId = "missing", Next = "nowhere" },
                new SplitNode { Id = "split", Arms = [new SplitArm("A", 1, "tag"), new SplitArm("B", 0)] },
            ],
        };
        var result = JourneyValidator.Validate(journey, h.Context with { Segments = new NoSegments() });
        var errors = result.Errors.Select(e => (e.NodeId, e.Code)).ToList();
        Assert.Contains((null, "unknownSegment"), errors);
        Assert.Contains(("start", "unknownChannel"), errors);
        Assert.Contains(("check", "missingTarget"), errors);
        Assert.Contains(("tag", "loopWithoutWait"), errors);
        Assert.Contains(("product", "unreachable"), errors);
        Assert.Contains(("product", "content"), errors);
        Assert.Contains(("ghost", "unknownTemplate"), errors);
        Assert.Contains(("ghost", "unknownNode"), errors);
        Assert.Contains(("split", "missingTarget"), errors);
        Assert.Contains(("split", "invalid"), errors);
        Assert.Contains("Node 'product': template 'needs-product': ", result.ToString(), StringComparison.Ordinal);
        Assert.Contains("{product}", result.ToString(), StringComparison.Ordinal);
        Assert.Contains("tag → score → tag", result.ToString(), StringComparison.Ordinal);
        var ex = Assert.Throws<JourneyValidationException>(() => h.Runner.Catalog.Publish(journey, h.Context, JourneyHarness.T0));
        Assert.Contains("Node 'start': the channel 'fax' is not registered", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loop_through_a_wait_is_valid()
    {
        using var h = new JourneyHarness();
        var result = JourneyValidator.Validate(JourneyHarness.Seed004(), h.Context);
        Assert.DoesNotContain(result.Errors, e => e.Code == "loopWithoutWait");
    }

    [Fact]
    public void Split_arm_is_stable_and_proportions_stay_within_tolerance()
    {
        var split = new SplitNode { Id = "ab", Arms = [new SplitArm("A", 45, "a"), new SplitArm("B", 45, "b"), new SplitArm("holdout", 10, Holdout: true)] };
        Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
        {
            var random = new Random(seed);
            var journey = $"journey-{seed}";
            var counts = new Dictionary<string, int>(StringComparer.Ordinal) { ["A"] = 0, ["B"] = 0, ["holdout"] = 0 };
            for (var i = 0; i < 4000; i++)
            {
                var bytes = new byte[16];
                random.NextBytes(bytes);
                var contact = new ContactId(new Guid(bytes));
                var arm = JourneySplit.Choose(journey, split, contact);
                if (JourneySplit.Choose(journey, split, new ContactId(Guid.Parse(contact.ToString()))) != arm)
                {
                    return false;
                }

                counts[arm.Name]++;
            }

            // 4000 draws: σ ≈ 31 for 45 %, ≈ 19 for 10 %; allow 5σ.
            return Math.Abs(counts["A"] - 1800) < 160 && Math.Abs(counts["B"] - 1800) < 160 && Math.Abs(counts["holdout"] - 400) < 95;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Split_bucket_is_a_fixed_function_of_journey_node_and_contact()
    {
        var contact = ContactId.Parse("6f1c2b8e-0d3a-4e55-9a7b-1c2d3e4f5a6b", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(JourneySplit.Bucket("j", "ab", contact), JourneySplit.Bucket("j", "ab", contact));
        Assert.NotEqual(JourneySplit.Bucket("j", "ab", contact), JourneySplit.Bucket("j2", "ab", contact));
        Assert.InRange(JourneySplit.Bucket("j", "ab", contact), 0.0, 1.0);
    }

    [Fact]
    public void Wait_until_a_local_time_follows_the_zone_and_dst()
    {
        var node = new WaitUntilNode { Id = "w", At = new LocalTime(2, 30) };
        var ny = DateTimeZoneProviders.Tzdb["America/New_York"];
        // 2026-03-08 02:30 does not exist in New York: shifted forward to 03:30 EDT.
        Assert.Equal(Instant.FromUtc(2026, 3, 8, 7, 30), JourneyRunner.NextLocal(node, ny, Instant.FromUtc(2026, 3, 8, 5, 0)));
        var monday = new WaitUntilNode { Id = "m", At = new LocalTime(8, 0), Days = [IsoDayOfWeek.Monday] };
        Assert.Equal(Instant.FromUtc(2026, 6, 22, 0, 0), JourneyRunner.NextLocal(monday, DateTimeZoneProviders.Tzdb["Asia/Shanghai"], JourneyHarness.T0));
    }

    private sealed class NoSegments : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) => null;
    }
}
