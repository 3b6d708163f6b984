using Campaigns.Contacts;
using Campaigns.Segmentation;
using Campaigns.Tags;

namespace Campaigns.Scoring;

/// <summary>
/// The behaviour rules of one event kind, in model order, matched against an event. The rules whose only condition is
/// <c>property = value</c> on the kind's most used such property are found with one read of that property and one
/// lookup (e.g. ten rules <c>page_kind = "page-N"</c>), where each would read and compare it; the others are matched one
/// by one. Gives exactly what <see cref="FilterEvaluator.MatchesEvent"/> gives per rule. Immutable, thread-safe.
/// </summary>
internal sealed class KindRuleMatcher
{
    private readonly string? _property;
    private readonly bool[] _inGroup;
    private readonly Dictionary<string, int[]> _byValue = [];

    /// <summary>Indexes the rules of one kind.</summary>
    /// <param name="rules">The rules, in model order, all of the same event kind.</param>
    public KindRuleMatcher(BehaviourRule[] rules)
    {
        Rules = rules;
        _inGroup = new bool[rules.Length];
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            if (EqualityOf(rule) is { } condition)
            {
                counts[condition.Property] = counts.GetValueOrDefault(condition.Property) + 1;
            }
        }

        var best = counts.Where(p => p.Value >= 2).OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).FirstOrDefault();
        if (best.Key is null)
        {
            return;
        }

        _property = best.Key;
        var entries = new List<(string Value, int Position)>();
        for (var i = 0; i < rules.Length; i++)
        {
            if (EqualityOf(rules[i]) is { } condition && string.Equals(condition.Property, _property, StringComparison.Ordinal))
            {
                _inGroup[i] = true;
                entries.Add((condition.Values[0], i));
            }
        }

        _byValue = EqualityIndex.ByValue(entries);
    }

    /// <summary>The rules, in model order.</summary>
    public BehaviourRule[] Rules { get; }

    /// <summary>Adds the ledger entries of the rules <paramref name="behaviourEvent"/> matches, in model order.</summary>
    /// <param name="behaviourEvent">The event (of the rules' kind).</param>
    /// <param name="matched">The entries, made when the first rule matches (an array of one for most events: no list).</param>
    public void Match(BehaviourEvent behaviourEvent, ref ScoreLedgerEntry[]? matched)
    {
        // For the grouped rules: none matches (absent, empty or unknown text value), the ones listed (text value), or each
        // is compared as the evaluator does (a value that may be a number, where "1" = "1.0").
        int[]? hits = null;
        var groupKnown = _property is not null && EqualityIndex.TryMatch(behaviourEvent.Properties, _property, _byValue, out hits);

        var rules = Rules;
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            var matches = groupKnown && _inGroup[i]
                ? hits is not null && Array.IndexOf(hits, i) >= 0
                : FilterEvaluator.MatchesEvent(behaviourEvent, rule.EventKind, rule.Where);
            if (matches)
            {
                Append(ref matched, new ScoreLedgerEntry(rule.Id, behaviourEvent.EventId, behaviourEvent.OccurredAt, rule.Points));
            }
        }
    }

    /// <summary>Appends an entry, growing the array by one (most events match one rule, few more than two).</summary>
    /// <param name="entries">The entries so far, or null.</param>
    /// <param name="entry">The entry.</param>
    internal static void Append(ref ScoreLedgerEntry[]? entries, ScoreLedgerEntry entry)
    {
        if (entries is null)
        {
            entries = [entry];
            return;
        }

        Array.Resize(ref entries, entries.Length + 1);
        entries[^1] = entry;
    }

    private static PropertyCondition? EqualityOf(BehaviourRule rule) =>
        rule.Where is [{ Operator: CompareOperator.Equal, Values.Count: 1 } condition] ? condition : null;
}
