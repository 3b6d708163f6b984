using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Campaigns.Tests.Scoring;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Tags;

public class TagEnginePropertyTests
{
    private static readonly PropertyCondition Product = new("page_kind", CompareOperator.Equal, ["product"]);

    /// <summary>Rules over several kinds: windowed, all-time, one that becomes true with time alone, and one reading two kinds.</summary>
    private static readonly (string Id, Filter Condition)[] Rules =
    [
        ("viewed-twice", new BehaviourFilter(EventKinds.PageView, [Product], CompareOperator.GreaterOrEqual, [2], Window.Days(30))),
        // Same kind and window as the rule before, other property value and count.
        ("home-reader", new BehaviourFilter(EventKinds.PageView, [new PropertyCondition("page_kind", CompareOperator.Equal, ["home"])], CompareOperator.GreaterOrEqual, [1], Window.Days(30))),
        ("submitted", new BehaviourFilter(EventKinds.FormSubmit, [], CompareOperator.GreaterOrEqual, [1], Window.Days(7))),
        ("downloaded", new BehaviourFilter(EventKinds.Download, [], CompareOperator.GreaterOrEqual, [1])),
        ("quiet", new BehaviourFilter(EventKinds.PageView, [], CompareOperator.Equal, [0], Window.Days(10))),
        ("viewed-and-opened", new AndFilter(
        [
            new BehaviourFilter(EventKinds.PageView, [], CompareOperator.GreaterOrEqual, [1], Window.Days(3)),
            new BehaviourFilter(EventKinds.EmailOpen, [], CompareOperator.GreaterOrEqual, [1], Window.Days(3)),
        ])),
        ("opened-not-submitted", new AndFilter(
        [
            new BehaviourFilter(EventKinds.EmailOpen, [], CompareOperator.GreaterOrEqual, [2], Window.Days(5)),
            new NotFilter(new BehaviourFilter(EventKinds.FormSubmit, [], CompareOperator.GreaterOrEqual, [1], Window.Days(2))),
        ])),
    ];

    private static TagModel Model() => new()
    {
        Id = "behaviour",
        Name = "行为特征",
        Dimension = TagDimension.Behaviour,
        Groups =
        [
            new TagGroupDefinition
            {
                Id = "rules",
                Name = "规则标签",
                Tags = [.. Rules.Select(r => new TagDefinition { Id = r.Id, Name = r.Id, Condition = r.Condition, Owner = "system" })],
            },
        ],
    };

    [Property(MaxTest = 40)]
    public async Task Incremental_rule_tags_equal_a_from_scratch_evaluation_after_random_out_of_order_streams_and_time_passing(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Model());
        var contact = await host.CreateAsync();
        var sent = new List<BehaviourEvent>();
        var kinds = new[] { EventKinds.PageView, EventKinds.FormSubmit, EventKinds.Download, EventKinds.EmailOpen, EventKinds.EmailClick };
        var steps = random.Next(1, 40);
        for (var i = 0; i < steps; i++)
        {
            var e = new BehaviourEvent
            {
                EventId = "r" + random.Next(0, 30).ToString(CultureInfo.InvariantCulture),
                ContactId = contact.Id,
                Kind = kinds[random.Next(kinds.Length)],
                // Half the events are recent (inside the short windows), the rest up to 40 days old; all arrive out of order.
                OccurredAt = host.Clock.GetCurrentInstant() - Duration.FromMinutes(random.Next(0, random.Next(2) == 0 ? 60 * 24 * 4 : 60 * 24 * 40)),
                Properties = new Dictionary<string, string> { ["page_kind"] = random.Next(2) == 0 ? "product" : "home" },
            };
            if ((await host.Events.IngestAsync(e)).IsAccepted)
            {
                sent.Add(e);
            }

            // Right after ingest (same instant as the last advance) the tags are exact.
            await AssertSameAsFromScratchAsync(host, contact.Id, sent);

            // Time passes, sometimes by days; the host drives the engine with the clock.
            host.Clock.Advance(Duration.FromMinutes(random.Next(0, random.Next(3) == 0 ? 60 * 24 * 12 : 600)));
            await host.TagEngine.AdvanceAsync(host.Clock.GetCurrentInstant());
            await AssertSameAsFromScratchAsync(host, contact.Id, sent);
        }

        host.Clock.Advance(Duration.FromDays(random.Next(0, 45)));
        await host.TagEngine.AdvanceAsync(host.Clock.GetCurrentInstant());
        await AssertSameAsFromScratchAsync(host, contact.Id, sent);
    }

    private static async Task AssertSameAsFromScratchAsync(ScoringTestHost host, ContactId id, List<BehaviourEvent> sent)
    {
        var now = host.Clock.GetCurrentInstant();
        var stored = await host.GetAsync(id);
        var history = sent.OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId, StringComparer.Ordinal).ToList();
        var expected = Rules.Where(r => FilterEvaluator.Default.Matches(r.Condition, stored, history, now)).Select(r => r.Id).Order(StringComparer.Ordinal).ToList();
        var effective = stored.Tags
            .Where(t => t.Source == TagSource.Rule && (t.ExpiresAt is not { } x || x > now))
            .Select(t => t.Tag).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, effective);

        // Nothing lapsed is left physically once the engine has been advanced to now.
        Assert.DoesNotContain(stored.Tags, t => t.ExpiresAt is { } x && x <= now);
    }
}
