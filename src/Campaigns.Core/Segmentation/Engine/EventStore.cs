using System.Globalization;
using Campaigns.Contacts;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// Behaviour events per contact and kind, sorted by occurred-at, with a bitmap per kind of the contacts that have
/// any. Counting in a window is two binary searches (plus a pass over the window when property conditions apply).
/// Idempotent on event id. Not thread-safe.
/// </summary>
internal sealed class EventStore
{
    private readonly Dictionary<string, Kind> _kinds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    public long EventCount { get; private set; }

    public int KindCount => _kinds.Count;

    /// <summary>Adds an event; false when its id was seen before or it is older than what <see cref="Trim"/> dropped of its kind.</summary>
    public bool Add(int ordinal, BehaviourEvent e)
    {
        var ticks = e.OccurredAt.ToUnixTimeTicks();
        _kinds.TryGetValue(e.Kind, out var kind);
        if (kind is not null && ticks < kind.TrimmedBefore)
        {
            return false; // trimmed history: no live window reaches it
        }

        if (!_seen.Add(e.EventId))
        {
            return false;
        }

        if (kind is null)
        {
            kind = new Kind();
            _kinds.Add(e.Kind, kind);
        }

        if (!kind.Events.TryGetValue(ordinal, out var list))
        {
            list = [];
            kind.Events.Add(ordinal, list);
            kind.Contacts.Add(ordinal);
        }

        var stored = new StoredEvent(ticks, e.Properties, e.EventId);
        var index = list.Count;
        while (index > 0 && list[index - 1].Ticks > stored.Ticks)
        {
            index--;
        }

        list.Insert(index, stored);
        EventCount++;
        return true;
    }

    public void RemoveOrdinal(int ordinal)
    {
        foreach (var kind in _kinds.Values)
        {
            if (kind.Events.Remove(ordinal, out var list))
            {
                kind.Contacts.Remove(ordinal);
                EventCount -= list.Count;
            }
        }
    }

    public RoaringBitmap? ContactsWith(string kind) => _kinds.TryGetValue(kind, out var k) ? k.Contacts : null;

    /// <summary>Counts the contact's events of the kind in [fromTicks, toTicks] that satisfy every condition.</summary>
    public int Count(string kind, int ordinal, IReadOnlyList<PropertyCondition> where, long fromTicks, long toTicks)
    {
        if (!_kinds.TryGetValue(kind, out var k) || !k.Events.TryGetValue(ordinal, out var list))
        {
            return 0;
        }

        var lo = LowerBound(list, fromTicks);
        var hi = LowerBound(list, toTicks == long.MaxValue ? toTicks : toTicks + 1);
        if (where.Count == 0)
        {
            return hi - lo;
        }

        var n = 0;
        for (var i = lo; i < hi; i++)
        {
            if (Matches(list[i].Properties, where))
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>Occurred-at ticks of the contact's events of the kind that satisfy every condition.</summary>
    public IEnumerable<long> TicksOf(string kind, int ordinal, IReadOnlyList<PropertyCondition> where)
    {
        if (!_kinds.TryGetValue(kind, out var k) || !k.Events.TryGetValue(ordinal, out var list))
        {
            yield break;
        }

        foreach (var e in list)
        {
            if (where.Count == 0 || Matches(e.Properties, where))
            {
                yield return e.Ticks;
            }
        }
    }

    internal static bool Matches(IReadOnlyDictionary<string, string> properties, IReadOnlyList<PropertyCondition> where)
    {
        foreach (var c in where)
        {
            properties.TryGetValue(c.Property, out var value);
            if (!Matches(value, c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>One property condition: text compared ordinally, or numbers when both sides parse (invariant culture).</summary>
    internal static bool Matches(string? value, PropertyCondition c)
    {
        switch (c.Operator)
        {
            case CompareOperator.Exists:
                return !string.IsNullOrEmpty(value);
            case CompareOperator.IsEmpty:
                return string.IsNullOrEmpty(value);
            case CompareOperator.NotEqual:
            case CompareOperator.NotIn:
                return value is null || !c.Values.Any(v => Compare(value, v) == 0);
        }

        if (value is null)
        {
            return false;
        }

        return c.Operator switch
        {
            CompareOperator.Equal or CompareOperator.In => c.Values.Any(v => Compare(value, v) == 0),
            CompareOperator.LessThan => Compare(value, c.Values[0]) < 0,
            CompareOperator.LessOrEqual => Compare(value, c.Values[0]) <= 0,
            CompareOperator.GreaterThan => Compare(value, c.Values[0]) > 0,
            CompareOperator.GreaterOrEqual => Compare(value, c.Values[0]) >= 0,
            CompareOperator.Between => Compare(value, c.Values[0]) >= 0 && Compare(value, c.Values[1]) <= 0,
            CompareOperator.Contains => value.Contains(c.Values[0], StringComparison.Ordinal),
            CompareOperator.StartsWith => value.StartsWith(c.Values[0], StringComparison.Ordinal),
            _ => false,
        };
    }

    private static int Compare(string a, string b) =>
        decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y)
            : string.CompareOrdinal(a, b);

    private static int LowerBound(List<StoredEvent> list, long ticks)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >> 1;
            if (list[mid].Ticks < ticks)
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

    /// <summary>Drops the events of a kind that occurred before <paramref name="beforeTicks"/> (and forgets their ids); later
    /// events of the kind older than that are refused by <see cref="Add"/>.</summary>
    /// <returns>The number of events dropped.</returns>
    public int Trim(string kindName, long beforeTicks)
    {
        if (!_kinds.TryGetValue(kindName, out var kind) || beforeTicks <= kind.TrimmedBefore)
        {
            return 0;
        }

        kind.TrimmedBefore = beforeTicks;
        var dropped = 0;
        List<int>? emptied = null;
        foreach (var (ordinal, list) in kind.Events)
        {
            var n = LowerBound(list, beforeTicks);
            if (n == 0)
            {
                continue;
            }

            for (var i = 0; i < n; i++)
            {
                _seen.Remove(list[i].EventId);
            }

            list.RemoveRange(0, n);
            dropped += n;
            if (list.Count == 0)
            {
                (emptied ??= []).Add(ordinal);
            }
        }

        if (emptied is not null)
        {
            foreach (var o in emptied)
            {
                kind.Events.Remove(o);
                kind.Contacts.Remove(o);
            }
        }

        EventCount -= dropped;
        return dropped;
    }

    private readonly record struct StoredEvent(long Ticks, IReadOnlyDictionary<string, string> Properties, string EventId);

    private sealed class Kind
    {
        /// <summary>Events before this instant (Unix ticks) were trimmed.</summary>
        public long TrimmedBefore { get; set; } = long.MinValue;

        public RoaringBitmap Contacts { get; } = new();

        public Dictionary<int, List<StoredEvent>> Events { get; } = [];
    }
}
