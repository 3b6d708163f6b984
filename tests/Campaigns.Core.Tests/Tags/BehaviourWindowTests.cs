using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Segmentation;
using Campaigns.Tags;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Tags;

/// <summary>Issue 4: the tag engine's one-pass evaluation of a single behaviour filter equals the general evaluator's.</summary>
public sealed class BehaviourWindowTests
{
    private const int MaxProbes = 256;
    private static readonly Instant Now = Instant.FromUtc(2026, 6, 1, 12, 0);
    private static readonly string[] Kinds = [EventKinds.PageView, EventKinds.FormSubmit];
    private static readonly CompareOperator[] Operators =
    [
        CompareOperator.GreaterOrEqual, CompareOperator.GreaterThan, CompareOperator.Equal, CompareOperator.NotEqual,
        CompareOperator.LessThan, CompareOperator.LessOrEqual, CompareOperator.Between,
    ];

    [Property(MaxTest = 300)]
    public void One_pass_evaluation_equals_the_evaluator_time_boundaries_and_probing(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var contact = new Contact { Id = ContactId.New(), CreatedAt = Now - Duration.FromDays(400) };
        var other = ContactId.New();
        var op = Operators[random.Next(Operators.Length)];
        var low = random.Next(0, 4);
        var filter = new BehaviourFilter(
            EventKinds.PageView,
            random.Next(3) == 0 ? [] : [new PropertyCondition("page_kind", CompareOperator.Equal, ["product"])],
            op,
            op == CompareOperator.Between ? [low, low + random.Next(0, 3)] : [low],
            random.Next(4) switch { 0 => null, 1 => Window.Hours(random.Next(1, 48)), _ => Window.Days(random.Next(1, 30)) });

        // Out of order, some at the same instant, some in the future (clock skew), some of another kind or contact.
        var events = new List<BehaviourEvent>();
        var count = random.Next(0, 25);
        for (var i = 0; i < count; i++)
        {
            var at = random.Next(5) == 0 && i > 0 ? events[random.Next(events.Count)].OccurredAt : Now + Duration.FromHours(random.Next(-24 * 40, 6));
            events.Add(new BehaviourEvent
            {
                EventId = "e" + i.ToString(CultureInfo.InvariantCulture),
                ContactId = random.Next(10) == 0 ? other : contact.Id,
                Kind = Kinds[random.Next(Kinds.Length)],
                OccurredAt = at,
                Properties = new Dictionary<string, string>(StringComparer.Ordinal) { ["page_kind"] = random.Next(2) == 0 ? "product" : "blog" },
            });
        }

        foreach (var now in new[] { Now, Now - Duration.FromDays(random.Next(0, 40)), Now + Duration.FromHours(random.Next(0, 100)) })
        {
            var fast = BehaviourWindow.Evaluate(filter, contact.Id, events, now, MaxProbes);
            var (holds, until, next) = General(filter, contact, events, now);

            Assert.Equal(holds, fast.Holds);
            Assert.Equal(holds ? until : null, fast.Until);
            Assert.Equal(next, fast.Next);

            // A rule of the same kind and window right after it (the scratch buffers reused) still gives the general result.
            var sibling = filter with
            {
                Where = random.Next(3) == 0 ? [] : [new PropertyCondition("page_kind", CompareOperator.Equal, ["blog"])],
                Operator = CompareOperator.GreaterOrEqual,
                Counts = [random.Next(0, 3)],
            };
            var reused = BehaviourWindow.Evaluate(sibling, contact.Id, events, now, MaxProbes);
            var (siblingHolds, siblingUntil, siblingNext) = General(sibling, contact, events, now);

            Assert.Equal(siblingHolds, reused.Holds);
            Assert.Equal(siblingHolds ? siblingUntil : null, reused.Until);
            Assert.Equal(siblingNext, reused.Next);
        }
    }

    [Property(MaxTest = 300)]
    public void Group_evaluation_equals_evaluating_each_filter_alone(Guid seed)
    {
        // Values that compare as text and as numbers ("1" = "1.0" = "+1" numerically), empty, absent, other contacts and kinds.
        string[] values = ["a", "b", "B", "1", "1.0", "+1", "01", "-0", "0", ".5", "0.5", "x1", ""];
        var random = new Random(seed.GetHashCode());
        var contact = ContactId.New();
        var other = ContactId.New();
        var window = random.Next(3) switch { 0 => (Window?)null, 1 => Window.Hours(random.Next(1, 48)), _ => Window.Days(random.Next(1, 30)) };
        var members = random.Next(2, 8);
        var filters = new BehaviourFilter?[members + 2];
        for (var m = 0; m < members; m++)
        {
            var op = Operators[random.Next(Operators.Length)];
            var low = random.Next(0, 4);
            filters[m] = new BehaviourFilter(
                EventKinds.PageView,
                [new PropertyCondition("page_kind", CompareOperator.Equal, [values[random.Next(values.Length - 1)]])],
                op,
                op == CompareOperator.Between ? [low, low + random.Next(0, 3)] : [low],
                window);
        }

        // Two that are not in the group: another property, another kind.
        filters[members] = new BehaviourFilter(EventKinds.PageView, [new PropertyCondition("topic", CompareOperator.Equal, ["a"])], CompareOperator.GreaterOrEqual, [1], window);
        filters[members + 1] = null;
        var groups = EqualityGroup.Of(filters, out var groupOf);
        var group = Assert.Single(groups);
        Assert.Equal(-1, groupOf[members]);
        Assert.Equal(-1, groupOf[members + 1]);

        var events = new List<BehaviourEvent>();
        var count = random.Next(0, 25);
        for (var i = 0; i < count; i++)
        {
            var at = random.Next(5) == 0 && i > 0 ? events[random.Next(events.Count)].OccurredAt : Now + Duration.FromHours(random.Next(-24 * 40, 6));
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            if (random.Next(8) != 0)
            {
                properties["page_kind"] = values[random.Next(values.Length)];
            }

            events.Add(new BehaviourEvent
            {
                EventId = "e" + i.ToString(CultureInfo.InvariantCulture),
                ContactId = random.Next(10) == 0 ? other : contact,
                Kind = Kinds[random.Next(Kinds.Length)],
                OccurredAt = at,
                Properties = properties,
            });
        }

        foreach (var now in new[] { Now, Now - Duration.FromDays(random.Next(0, 40)), Now + Duration.FromHours(random.Next(0, 100)) })
        {
            var outcomes = new BehaviourWindow.Outcome[filters.Length];
            BehaviourWindow.EvaluateGroup(group, contact, events, now, MaxProbes, outcomes);
            for (var m = 0; m < members; m++)
            {
                Assert.Equal(m, groupOf[m] == 0 ? group.Slots[Array.IndexOf(group.Slots, m)] : -1);
                Assert.Equal(BehaviourWindow.Evaluate(filters[m]!, contact, events, now, MaxProbes), outcomes[m]);
            }
        }
    }

    [Fact]
    public void Two_views_in_30_days_hold_until_one_nanosecond_after_the_older_leaves_the_window()
    {
        var id = ContactId.New();
        var filter = new BehaviourFilter(EventKinds.PageView, [], CompareOperator.GreaterOrEqual, [2], Window.Days(30));
        BehaviourEvent View(string eventId, Instant at) => new() { EventId = eventId, ContactId = id, Kind = EventKinds.PageView, OccurredAt = at };
        var older = Now - Duration.FromDays(10);
        var newer = Now - Duration.FromDays(2);

        var outcome = BehaviourWindow.Evaluate(filter, id, [View("b", newer), View("a", older)], Now, MaxProbes);

        Assert.True(outcome.Holds);
        Assert.Equal(older + Duration.FromDays(30) + Duration.Epsilon, outcome.Until);
        Assert.Equal(older + Duration.FromDays(30) + Duration.Epsilon, outcome.Next);
    }

    /// <summary>What the tag engine's general path computes for any condition.</summary>
    private static (bool Holds, Instant? Until, Instant? Next) General(Filter filter, Contact contact, IReadOnlyList<BehaviourEvent> events, Instant now)
    {
        var evaluator = FilterEvaluator.Default;
        var candidates = new SortedSet<Instant>();
        TimeBoundaries.Collect(filter, contact, events, now, evaluator.DefaultZone, candidates);
        Instant? next = candidates.Count > 0 ? candidates.Min : null;
        if (!evaluator.Matches(filter, contact, events, now))
        {
            return (false, null, next);
        }

        var probes = 0;
        foreach (var candidate in candidates)
        {
            if (++probes > MaxProbes)
            {
                break;
            }

            if (!evaluator.Matches(filter, contact, events, candidate))
            {
                return (true, candidate, next);
            }
        }

        return (true, null, next);
    }
}
