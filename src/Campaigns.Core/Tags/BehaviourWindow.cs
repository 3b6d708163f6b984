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
