using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tags;

/// <summary>
/// The tag engine's fast path for a rule whose whole condition is one <see cref="BehaviourFilter"/> (e.g.
/// <c>count(product_view where product = "x") &gt;= 2 within 30d</c>): one pass over the contact's events collects the
/// instants of the counted events and the time boundaries, then the count at any instant is two binary searches — where
/// the general path evaluates the filter over all the events once per probed instant and builds a sorted set. Gives
/// exactly what <see cref="FilterEvaluator.Matches"/>, <see cref="TimeBoundaries.Collect"/> and the engine's probing
/// give for that filter. Not thread-safe across calls on one thread's scratch buffers, which are per thread.
/// </summary>
internal static class BehaviourWindow
{
    [ThreadStatic]
    private static List<Instant>? t_counted;

    [ThreadStatic]
    private static List<Instant>? t_candidates;

    [ThreadStatic]
    private static List<Instant>[]? t_groupCounted;

    /// <summary>The result of <see cref="Evaluate"/>.</summary>
    /// <param name="Holds">Whether the filter matches at <c>now</c>.</param>
    /// <param name="Until">When it holds: the first boundary (within <c>maxProbes</c>) at which it no longer does, else null.</param>
    /// <param name="Next">The first boundary after <c>now</c> (the instant to look again), or null.</param>
    internal readonly record struct Outcome(bool Holds, Instant? Until, Instant? Next);

    /// <summary>Evaluates <paramref name="filter"/> on the contact's <paramref name="events"/> (any order) at <paramref name="now"/>.</summary>
    /// <param name="filter">The condition.</param>
    /// <param name="contactId">The contact (events of other contacts are not counted, as in the evaluator).</param>
    /// <param name="events">The contact's events; only those of the filter's kind matter.</param>
    /// <param name="now">The instant.</param>
    /// <param name="maxProbes">How many boundaries to try, in order, when looking for <see cref="Outcome.Until"/>.</param>
    public static Outcome Evaluate(BehaviourFilter filter, ContactId contactId, IReadOnlyList<BehaviourEvent> events, Instant now, int maxProbes)
    {
        var counted = t_counted ??= [];
        var candidates = t_candidates ??= [];
        counted.Clear();
        candidates.Clear();

        var window = filter.Window?.Duration;
        var sortedCounted = true;
        var sortedCandidates = true;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (!string.Equals(e.Kind, filter.EventKind, StringComparison.Ordinal))
            {
                continue;
            }

            // Boundaries as TimeBoundaries.Collect gives them: every event of the kind enters at its instant and leaves one
            // nanosecond after its window, whether or not it is counted.
            AddCandidate(candidates, now, e.OccurredAt, ref sortedCandidates);
            if (window is { } w)
            {
                AddCandidate(candidates, now, e.OccurredAt + w + Duration.Epsilon, ref sortedCandidates);
            }

            if (e.ContactId == contactId && MatchesWhere(filter.Where, e.Properties))
            {
                sortedCounted &= counted.Count == 0 || counted[^1] <= e.OccurredAt;
                counted.Add(e.OccurredAt);
            }
        }

        if (!sortedCounted)
        {
            counted.Sort();
        }

        if (!sortedCandidates)
        {
            candidates.Sort();
        }

        return Finish(filter, counted, candidates, window, now, maxProbes);
    }

    /// <summary>
    /// Evaluates every filter of <paramref name="group"/> (same kind, window and equality property) in one pass over the
    /// events: each event's property is read once and the filters it satisfies are found by one lookup, then each filter's
    /// outcome is what <see cref="Evaluate"/> gives for it. The outcomes go to <paramref name="outcomes"/> at the group's slots.
    /// </summary>
    /// <param name="group">The group.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="events">The contact's events (any order).</param>
    /// <param name="now">The instant.</param>
    /// <param name="maxProbes">As for <see cref="Evaluate"/>.</param>
    /// <param name="outcomes">Receives the outcome of member <c>m</c> at <c>group.Slots[m]</c>.</param>
    public static void EvaluateGroup(EqualityGroup group, ContactId contactId, IReadOnlyList<BehaviourEvent> events, Instant now, int maxProbes, Outcome[] outcomes)
    {
        var members = group.Filters.Length;
        var counted = t_groupCounted;
        if (counted is null || counted.Length < members)
        {
            counted = t_groupCounted = new List<Instant>[Math.Max(members, counted?.Length * 2 ?? 8)];
        }

        for (var m = 0; m < members; m++)
        {
            (counted[m] ??= []).Clear();
        }

        var candidates = t_candidates ??= [];
        candidates.Clear();
        var window = group.Window;
        var sortedCandidates = true;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (!string.Equals(e.Kind, group.Kind, StringComparison.Ordinal))
            {
                continue;
            }

            AddCandidate(candidates, now, e.OccurredAt, ref sortedCandidates);
            if (window is { } w)
            {
                AddCandidate(candidates, now, e.OccurredAt + w + Duration.Epsilon, ref sortedCandidates);
            }

            if (e.ContactId != contactId)
            {
                continue;
            }

            if (EqualityIndex.TryMatch(e.Properties, group.Property, group.ByValue, out var matching))
            {
                for (var k = 0; matching is not null && k < matching.Length; k++)
                {
                    counted[matching[k]].Add(e.OccurredAt);
                }

                continue;
            }

            for (var m = 0; m < members; m++)
            {
                if (FilterEvaluator.MatchesCondition(group.Filters[m].Where[0], e.Properties))
                {
                    counted[m].Add(e.OccurredAt);
                }
            }
        }

        if (!sortedCandidates)
        {
            candidates.Sort();
        }

        for (var m = 0; m < members; m++)
        {
            var list = counted[m];
            for (var i = 1; i < list.Count; i++)
            {
                if (list[i - 1] > list[i])
                {
                    list.Sort();
                    break;
                }
            }

            outcomes[group.Slots[m]] = Finish(group.Filters[m], list, candidates, window, now, maxProbes);
        }
    }

    /// <summary>
    /// The same test as the evaluator's: whether text can be an invariant-culture number (digit, sign or point first). A
    /// value that cannot is compared ordinally by <see cref="FilterEvaluator.MatchesCondition"/>, so it equals only itself.
    /// </summary>
    /// <param name="text">The value.</param>
    internal static bool CanStartNumber(string text) => text.Length > 0 && (char.IsAsciiDigit(text[0]) || text[0] is '-' or '+' or '.');

    /// <summary>The outcome from the sorted counted instants and the sorted time boundaries.</summary>
    private static Outcome Finish(BehaviourFilter filter, List<Instant> counted, List<Instant> candidates, Duration? window, Instant now, int maxProbes)
    {
        var holds = FilterEvaluator.CountMatches(filter, CountAt(counted, window, now));
        Instant? next = candidates.Count > 0 ? candidates[0] : null;
        if (!holds)
        {
            return new Outcome(false, null, next);
        }

        var probes = 0;
        var previous = Instant.MinValue;
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            if (i > 0 && candidate == previous)
            {
                continue; // the general path probes a set: each instant once
            }

            previous = candidate;
            if (++probes > maxProbes)
            {
                break;
            }

            if (!FilterEvaluator.CountMatches(filter, CountAt(counted, window, candidate)))
            {
                return new Outcome(true, candidate, next);
            }
        }

        return new Outcome(true, null, next);
    }

    private static void AddCandidate(List<Instant> candidates, Instant now, Instant candidate, ref bool sorted)
    {
        if (candidate > now)
        {
            sorted &= candidates.Count == 0 || candidates[^1] <= candidate;
            candidates.Add(candidate);
        }
    }

    private static bool MatchesWhere(IReadOnlyList<PropertyCondition> where, IReadOnlyDictionary<string, string> properties)
    {
        for (var j = 0; j < where.Count; j++)
        {
            if (!FilterEvaluator.MatchesCondition(where[j], properties))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>How many counted instants lie in [at − window, at] (or at or before <paramref name="at"/> without a window).</summary>
    private static int CountAt(List<Instant> counted, Duration? window, Instant at)
    {
        var upTo = UpperBound(counted, at);
        return window is { } w ? upTo - LowerBound(counted, at - w) : upTo;
    }

    /// <summary>The number of items ≤ <paramref name="value"/>.</summary>
    private static int UpperBound(List<Instant> sorted, Instant value)
    {
        int lo = 0, hi = sorted.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The number of items &lt; <paramref name="value"/>.</summary>
    private static int LowerBound(List<Instant> sorted, Instant value)
    {
        int lo = 0, hi = sorted.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}

/// <summary>
/// Behaviour filters of one rule list that count the same event kind over the same window with one condition
/// <c>property = value</c> on the same property (e.g. ten rules <c>count(page_view where page_kind = "page-N") &gt;= 2
/// within 30d</c>), evaluated together by <see cref="BehaviourWindow.EvaluateGroup"/>. Immutable.
/// </summary>
internal sealed class EqualityGroup
{
    private EqualityGroup(string kind, Duration? window, string property, BehaviourFilter[] filters, int[] slots)
    {
        Kind = kind;
        Window = window;
        Property = property;
        Filters = filters;
        Slots = slots;
        ByValue = EqualityIndex.ByValue(filters.Select((f, m) => (f.Where[0].Values[0], m)));
    }

    /// <summary>The event kind.</summary>
    public string Kind { get; }

    /// <summary>The window, or null for all time.</summary>
    public Duration? Window { get; }

    /// <summary>The property every member compares.</summary>
    public string Property { get; }

    /// <summary>The members' filters.</summary>
    public BehaviourFilter[] Filters { get; }

    /// <summary>Each member's position in the rule list the group was made from.</summary>
    public int[] Slots { get; }

    /// <summary>The members whose value equals a text ordinally, by that text.</summary>
    public Dictionary<string, int[]> ByValue { get; }

    /// <summary>Groups the filters (null for a rule that is not a behaviour filter); a filter in no group of two or more gets -1.</summary>
    /// <param name="filters">The rule list's conditions, by position.</param>
    /// <param name="groupOf">Receives each position's group index, or -1.</param>
    /// <returns>The groups.</returns>
    public static EqualityGroup[] Of(IReadOnlyList<BehaviourFilter?> filters, out int[] groupOf)
    {
        groupOf = new int[filters.Count];
        Array.Fill(groupOf, -1);
        var byKey = new Dictionary<(string Kind, Duration? Window, string Property), List<int>>();
        for (var i = 0; i < filters.Count; i++)
        {
            if (filters[i] is { Where: [{ Operator: CompareOperator.Equal, Values.Count: 1 } condition] } filter)
            {
                var key = (filter.EventKind, filter.Window?.Duration, condition.Property);
                if (!byKey.TryGetValue(key, out var positions))
                {
                    byKey[key] = positions = [];
                }

                positions.Add(i);
            }
        }

        var groups = new List<EqualityGroup>();
        foreach (var ((kind, window, property), positions) in byKey)
        {
            if (positions.Count < 2)
            {
                continue;
            }

            foreach (var position in positions)
            {
                groupOf[position] = groups.Count;
            }

            groups.Add(new EqualityGroup(kind, window, property, [.. positions.Select(p => filters[p]!)], [.. positions]));
        }

        return [.. groups];
    }
}

/// <summary>
/// Conditions <c>property = value</c> on one property, indexed by value, so that an event's property is read once and
/// the conditions it satisfies are found by one lookup — exactly what <see cref="FilterEvaluator.MatchesCondition"/>
/// gives for each. Shared by the tag engine's <see cref="EqualityGroup"/> and scoring's <c>KindRuleMatcher</c>.
/// </summary>
internal static class EqualityIndex
{
    /// <summary>Indexes positions by the text each must equal.</summary>
    /// <param name="entries">Each condition's value and position.</param>
    /// <returns>The positions whose value equals a text ordinally, by that text, in the order given.</returns>
    public static Dictionary<string, int[]> ByValue(IEnumerable<(string Value, int Position)> entries)
    {
        var byValue = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var (value, position) in entries)
        {
            if (!byValue.TryGetValue(value, out var positions))
            {
                byValue[value] = positions = [];
            }

            positions.Add(position);
        }

        return byValue.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>
    /// Which indexed conditions an event's property satisfies, when that is known without comparing: none when the
    /// property is absent or empty (it satisfies no equality), the listed ones when it cannot be a number (the evaluator
    /// compares such text ordinally). False when the value may be a number ("1" = "1.0"): compare each condition then.
    /// </summary>
    /// <param name="properties">The event's properties.</param>
    /// <param name="property">The indexed property.</param>
    /// <param name="byValue">The index from <see cref="ByValue"/>.</param>
    /// <param name="hits">The positions satisfied, or null for none; only meaningful when the method returns true.</param>
    public static bool TryMatch(IReadOnlyDictionary<string, string> properties, string property, Dictionary<string, int[]> byValue, out int[]? hits)
    {
        hits = null;
        if (!properties.TryGetValue(property, out var value) || string.IsNullOrEmpty(value))
        {
            return true;
        }

        if (BehaviourWindow.CanStartNumber(value))
        {
            return false;
        }

        byValue.TryGetValue(value, out hits);
        return true;
    }
}

/// <summary>How a rule list's behaviour rules are evaluated: which ones together (<see cref="EqualityGroup"/>). Immutable; made once per rule list.</summary>
internal sealed class RulePlan
{
    private RulePlan(EqualityGroup[] groups, int[] groupOf)
    {
        Groups = groups;
        GroupOf = groupOf;
    }

    /// <summary>The groups of two or more rules.</summary>
    public EqualityGroup[] Groups { get; }

    /// <summary>Each rule's group index, or -1 when it is evaluated alone.</summary>
    public int[] GroupOf { get; }

    /// <summary>Plans a rule list.</summary>
    /// <param name="rules">The rules.</param>
    public static RulePlan Of(IReadOnlyList<CompiledTagRule> rules)
    {
        var filters = new BehaviourFilter?[rules.Count];
        for (var i = 0; i < rules.Count; i++)
        {
            filters[i] = rules[i].Tag.Condition as BehaviourFilter;
        }

        var groups = EqualityGroup.Of(filters, out var groupOf);
        return new RulePlan(groups, groupOf);
    }
}
