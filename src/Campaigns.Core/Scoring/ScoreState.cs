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
    private static readonly Comparer<Term> TermOrder = Comparer<Term>.Create(static (a, b) => ScoreCalculator.OldestFirst(a.Entry, b.Entry));

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
            for (var i = 0; i < _adjustments.Count; i++)
            {
                if (string.Equals(_adjustments[i].Entry.EventId, entry.EventId, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        return RuleOf(entry.RuleId, create: false) is { } rule && rule.Search(entry) >= 0;
    }

    /// <summary>Books a new entry, updating the awards of its cap period and the running total.</summary>
    public void Add(ScoreLedgerEntry entry)
    {
        if (string.Equals(entry.RuleId, ScoreAdjustment.RuleId, StringComparison.Ordinal))
        {
            _adjustments.Insert(_adjustments.Count, new Term { Entry = entry, Awarded = entry.Points });
            SetTerm(ref _adjustments[_adjustments.Count - 1]);
            return;
        }

        if (RuleOf(entry.RuleId, create: true) is not { } rule)
        {
            return;
        }

        var index = rule.Search(entry);
        if (index >= 0)
        {
            return;
        }

        index = ~index;
        if (rule.Rule!.Cap is not { } cap)
        {
            rule.Insert(index, new Term { Entry = entry, Awarded = entry.Points });
            SetTerm(ref rule[index]);
            return;
        }

        var period = ScoreCalculator.PeriodOf(cap, entry.OccurredAt, _zone);
        rule.Insert(index, new Term { Entry = entry, Period = period });
        var from = index;
        while (from > 0 && rule[from - 1].Period == period)
        {
            from--;
        }

        var remaining = cap.MaxPoints;
        for (var i = from; i < rule.Count && rule[i].Period == period; i++)
        {
            ref var term = ref rule[i];
            var points = term.Entry.Points;
            var magnitude = Math.Min(Math.Abs(points), remaining);
            remaining -= magnitude;
            var awarded = Math.Sign(points) * magnitude;
            if (i == index || awarded != term.Awarded)
            {
                term.Awarded = awarded;
                SetTerm(ref term);
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
                for (var i = 0; i < (rule?.Count ?? 0); i++)
                {
                    ref var term = ref rule![i];
                    term.Current = 0m;
                    SetTerm(ref term);
                }
            }

            for (var i = 0; i < _adjustments.Count; i++)
            {
                ref var term = ref _adjustments[i];
                term.Current = 0m;
                SetTerm(ref term);
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
            for (var i = 0; i < (rule?.Count ?? 0); i++)
            {
                total += rule![i].Raw;
            }
        }

        for (var i = 0; i < _adjustments.Count; i++)
        {
            total += _adjustments[i].Raw;
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
    private void SetTerm(ref Term term)
    {
        if (_now is not { } now)
        {
            return;
        }

        var awarded = term.Awarded;
        var factor = ScoreCalculator.DecayFactor(Model.HalfLife, now - term.Entry.OccurredAt);
        var current = Math.Round(awarded * (decimal)factor, 4, MidpointRounding.AwayFromZero);
        _behaviour += current - term.Current;
        term.Current = current;
        term.Raw = (double)awarded * factor;
    }

    /// <summary>One booked entry with its award under the cap, its current value, its unrounded value and its cap period (capped rules only).</summary>
    private struct Term
    {
        public ScoreLedgerEntry Entry;
        public decimal Awarded;
        public decimal Current;
        public double Raw;
        public long Period;
    }

    /// <summary>One rule's terms (oldest first; the adjustments in arrival order) in one array.</summary>
    private sealed class RuleState(BehaviourRule? rule)
    {
        // Most contacts earn under a rule once or twice: a small first array, doubled from there. It is made on the first
        // term: every state has an adjustments list that most contacts never use.
        private Term[] _terms = [];

        public BehaviourRule? Rule { get; } = rule;

        public int Count { get; private set; }

        public ref Term this[int index] => ref _terms[index];

        public void Insert(int index, Term term)
        {
            if (Count == _terms.Length)
            {
                Array.Resize(ref _terms, Math.Max(2, _terms.Length * 2));
            }

            if (index < Count)
            {
                Array.Copy(_terms, index, _terms, index + 1, Count - index);
            }

            _terms[index] = term;
            Count++;
        }

        /// <summary>The entry's index in the (sorted) terms, or the bitwise complement of where it belongs.</summary>
        public int Search(ScoreLedgerEntry entry)
        {
            int lo = 0, hi = Count - 1;
            while (lo <= hi)
            {
                var mid = lo + ((hi - lo) >> 1);
                var order = ScoreCalculator.OldestFirst(_terms[mid].Entry, entry);
                if (order == 0)
                {
                    return mid;
                }

                if (order < 0)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return ~lo;
        }

        public void Append(ScoreLedgerEntry entry) => Insert(Count, new Term { Entry = entry });

        public void SortAndAward(DateTimeZone zone)
        {
            if (Count > 1 && Rule is not null)
            {
                Array.Sort(_terms, 0, Count, TermOrder);
            }

            var cap = Rule?.Cap;
            long? period = null;
            var remaining = 0m;
            for (var i = 0; i < Count; i++)
            {
                ref var term = ref _terms[i];
                if (cap is null)
                {
                    term.Awarded = term.Entry.Points;
                    continue;
                }

                var p = ScoreCalculator.PeriodOf(cap, term.Entry.OccurredAt, zone);
                term.Period = p;
                if (p != period)
                {
                    period = p;
                    remaining = cap.MaxPoints;
                }

                var magnitude = Math.Min(Math.Abs(term.Entry.Points), remaining);
                remaining -= magnitude;
                term.Awarded = Math.Sign(term.Entry.Points) * magnitude;
            }
        }
    }
}
