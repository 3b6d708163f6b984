using System.Collections;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>
/// A ledger's entries as an append-only view: appending to the newest view of a backing list adds to that list and
/// returns a longer view, so a new event costs O(its entries) instead of a copy of the whole ledger. Older views keep
/// their count and never see later entries. Writers are serialized per contact by the scoring engine; readers of any
/// view may enumerate concurrently (elements below a view's count are never changed).
/// </summary>
internal sealed class LedgerEntries : IReadOnlyList<ScoreLedgerEntry>
{
    private readonly List<ScoreLedgerEntry> _backing;
    private readonly int _count;

    private LedgerEntries(List<ScoreLedgerEntry> backing, int count)
    {
        _backing = backing;
        _count = count;
    }

    public int Count => _count;

    public ScoreLedgerEntry this[int index] =>
        (uint)index < (uint)_count ? _backing[index] : throw new ArgumentOutOfRangeException(nameof(index), index, $"The ledger has {_count} entries.");

    /// <summary>The entries followed by <paramref name="added"/>, sharing the backing list when <paramref name="entries"/> is its newest view.</summary>
    public static LedgerEntries Append(IReadOnlyList<ScoreLedgerEntry> entries, IReadOnlyList<ScoreLedgerEntry> added)
    {
        if (entries is LedgerEntries view && view._count == view._backing.Count)
        {
            for (var i = 0; i < added.Count; i++)
            {
                view._backing.Add(added[i]);
            }

            return new LedgerEntries(view._backing, view._backing.Count);
        }

        var list = new List<ScoreLedgerEntry>(entries.Count + added.Count + 8);
        for (var i = 0; i < entries.Count; i++)
        {
            list.Add(entries[i]);
        }

        for (var i = 0; i < added.Count; i++)
        {
            list.Add(added[i]);
        }

        return new LedgerEntries(list, list.Count);
    }

    public IEnumerator<ScoreLedgerEntry> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return _backing[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// A contact's running scoring state under one model and zone (issue 4): per behaviour rule its entries sorted oldest
/// first with their awards under the cap, and each entry's current (decayed, rounded) value at the last instant asked
/// for, with the running behaviour total. Adding an event costs O(log n) to place it plus the entries of its cap
/// period; asking at the same instant again costs nothing; asking at a new instant recomputes each entry's decayed value
/// (no allocation). Every value is computed with exactly <see cref="ScoreCalculator"/>'s formula, so the total equals a
/// from-scratch <see cref="ScoreCalculator.Explain"/>. Not thread-safe: the engine uses it under the contact's lock.
/// </summary>
internal sealed class ScoreState
{
    private static readonly Comparer<ScoreLedgerEntry> Order = Comparer<ScoreLedgerEntry>.Create(ScoreCalculator.OldestFirst);

    private readonly RuleState?[] _rules;
    private readonly IReadOnlyDictionary<string, int> _ruleIds;
    private readonly RuleState _adjustments = new(null);
    private readonly DateTimeZone _zone;
    private Instant? _now;
    private decimal _behaviour;

    /// <param name="model">The model.</param>
    /// <param name="ruleIds">The model's behaviour rule ids → their index in the model (shared by every state of the model).</param>
    /// <param name="zone">The contact's zone (calendar caps).</param>
    /// <param name="ledger">The ledger to mirror.</param>
    public ScoreState(ScoringModel model, IReadOnlyDictionary<string, int> ruleIds, DateTimeZone zone, ScoreLedger ledger)
    {
        Model = model;
        _zone = zone;
        Ledger = ledger;
        _ruleIds = ruleIds;

        // A rule's state is made when the contact first earns under it: most contacts match few of the rules.
        _rules = new RuleState?[model.BehaviourRules.Count];

        var entries = ledger.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (string.Equals(entry.RuleId, ScoreAdjustment.RuleId, StringComparison.Ordinal))
            {
                _adjustments.Append(entry);
            }
            else if (RuleOf(entry.RuleId, create: true) is { } rule)
            {
                rule.Append(entry);
            }
        }

        foreach (var rule in _rules)
        {
            rule?.SortAndAward(zone);
        }

        _adjustments.SortAndAward(zone);
    }

    /// <summary>The model the state was built under.</summary>
    public ScoringModel Model { get; }

    /// <summary>The zone's id (calendar caps).</summary>
    public string ZoneId => _zone.Id;

    /// <summary>The ledger the state mirrors (the object last read from or written to the ledger store).</summary>
    public ScoreLedger Ledger { get; set; }

    /// <summary>Whether the entry's event is already booked under its rule.</summary>
    public bool Contains(ScoreLedgerEntry entry)
    {
        if (string.Equals(entry.RuleId, ScoreAdjustment.RuleId, StringComparison.Ordinal))
        {
            for (var i = 0; i < _adjustments.Entries.Count; i++)
            {
                if (string.Equals(_adjustments.Entries[i].EventId, entry.EventId, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        return RuleOf(entry.RuleId, create: false) is { } rule && rule.Entries.BinarySearch(entry, Order) >= 0;
    }

    /// <summary>Books a new entry, updating the awards of its cap period and the running total.</summary>
    public void Add(ScoreLedgerEntry entry)
    {
        if (string.Equals(entry.RuleId, ScoreAdjustment.RuleId, StringComparison.Ordinal))
        {
            _adjustments.Append(entry);
            _adjustments.Awarded.Add(entry.Points);
            _adjustments.Current.Add(0m);
            _adjustments.Raw.Add(0d);
            SetTerm(_adjustments, _adjustments.Entries.Count - 1);
            return;
        }

        if (RuleOf(entry.RuleId, create: true) is not { } rule)
        {
            return;
        }

        var index = rule.Entries.BinarySearch(entry, Order);
        if (index >= 0)
        {
            return;
        }

        index = ~index;
        rule.Entries.Insert(index, entry);
        rule.Awarded.Insert(index, 0m);
        rule.Current.Insert(index, 0m);
        rule.Raw.Insert(index, 0d);
        if (rule.Rule!.Cap is not { } cap)
        {
            rule.Awarded[index] = entry.Points;
            SetTerm(rule, index);
            return;
        }

        var period = ScoreCalculator.PeriodOf(cap, entry.OccurredAt, _zone);
        rule.Periods.Insert(index, period);
        var from = index;
        while (from > 0 && rule.Periods[from - 1] == period)
        {
            from--;
        }

        var remaining = cap.MaxPoints;
        for (var i = from; i < rule.Entries.Count && rule.Periods[i] == period; i++)
        {
            var points = rule.Entries[i].Points;
            var magnitude = Math.Min(Math.Abs(points), remaining);
            remaining -= magnitude;
            var awarded = Math.Sign(points) * magnitude;
            if (i == index || awarded != rule.Awarded[i])
            {
                rule.Awarded[i] = awarded;
                SetTerm(rule, i);
            }
        }
    }

    /// <summary>The behaviour score at <paramref name="now"/>: the sum of every entry's decayed, rounded value.</summary>
    public decimal BehaviourAt(Instant now)
    {
        if (_now != now)
        {
            _now = now;
            _behaviour = 0m;
            foreach (var rule in _rules)
            {
                for (var i = 0; i < (rule?.Entries.Count ?? 0); i++)
                {
                    rule!.Current[i] = 0m;
                    SetTerm(rule, i);
                }
            }

            for (var i = 0; i < _adjustments.Entries.Count; i++)
            {
                _adjustments.Current[i] = 0m;
                SetTerm(_adjustments, i);
            }
        }

        return _behaviour;
    }

    /// <summary>The unrounded behaviour score at <paramref name="now"/>, summed in the order of the rules, then the adjustments.</summary>
    public double RawAt(Instant now)
    {
        BehaviourAt(now);
        var total = 0d;
        foreach (var rule in _rules)
        {
            for (var i = 0; i < (rule?.Raw.Count ?? 0); i++)
            {
                total += rule!.Raw[i];
            }
        }

        for (var i = 0; i < _adjustments.Raw.Count; i++)
        {
            total += _adjustments.Raw[i];
        }

        return total;
    }

    private RuleState? RuleOf(string ruleId, bool create)
    {
        if (!_ruleIds.TryGetValue(ruleId, out var index))
        {
            return null;
        }

        return _rules[index] ?? (create ? _rules[index] = new RuleState(Model.BehaviourRules[index]) : null);
    }

    /// <summary>Recomputes one entry's current value at the state's instant (if any) and moves the running total.</summary>
    private void SetTerm(RuleState rule, int index)
    {
        if (_now is not { } now)
        {
            return;
        }

        var awarded = rule.Awarded[index];
        var factor = ScoreCalculator.DecayFactor(Model.HalfLife, now - rule.Entries[index].OccurredAt);
        var current = Math.Round(awarded * (decimal)factor, 4, MidpointRounding.AwayFromZero);
        _behaviour += current - rule.Current[index];
        rule.Current[index] = current;
        rule.Raw[index] = (double)awarded * factor;
    }

    /// <summary>One rule's entries (oldest first; the adjustments in arrival order) and their awards and values.</summary>
    private sealed class RuleState(BehaviourRule? rule)
    {
        public BehaviourRule? Rule { get; } = rule;

        // Most contacts earn under a rule once or twice: small first arrays (a list grows by doubling from there).
        public List<ScoreLedgerEntry> Entries { get; } = new(2);

        public List<decimal> Awarded { get; } = new(2);

        public List<decimal> Current { get; } = new(2);

        public List<double> Raw { get; } = new(2);

        /// <summary>The cap period of each entry (capped rules only).</summary>
        public List<long> Periods { get; } = [];

        public void Append(ScoreLedgerEntry entry) => Entries.Add(entry);

        public void SortAndAward(DateTimeZone zone)
        {
            if (Entries.Count > 1 && Rule is not null)
            {
                Entries.Sort(Order);
            }

            var cap = Rule?.Cap;
            long? period = null;
            var remaining = 0m;
            foreach (var entry in Entries)
            {
                Current.Add(0m);
                Raw.Add(0d);
                if (cap is null)
                {
                    Awarded.Add(entry.Points);
                    continue;
                }

                var p = ScoreCalculator.PeriodOf(cap, entry.OccurredAt, zone);
                Periods.Add(p);
                if (p != period)
                {
                    period = p;
                    remaining = cap.MaxPoints;
                }

                var magnitude = Math.Min(Math.Abs(entry.Points), remaining);
                remaining -= magnitude;
                Awarded.Add(Math.Sign(entry.Points) * magnitude);
            }
        }
    }
}
