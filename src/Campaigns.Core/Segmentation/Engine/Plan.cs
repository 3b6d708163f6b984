using System.Buffers;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// A compiled filter: each node restricts a candidate bitmap (<c>acc</c>, one bit per ordinal) to its matches,
/// touching only the words that still have candidates. <see cref="Cost"/> orders AND operands: 0 = bitmap operation,
/// 1 = bit-sliced column scan, 2 = per-contact work; within a cost class the most selective operand runs first.
/// </summary>
internal abstract class PlanNode
{
    public double Selectivity { get; init; } = 1;

    public int Cost { get; init; }

    public abstract void AndInto(Span<ulong> acc);

    /// <summary>Whether one contact matches (the single-contact path of incremental membership).</summary>
    public abstract bool Matches(int ordinal);

    /// <summary>The first instant (Unix ticks) after the plan's "now" at which the contact's result may change as time
    /// passes (a window edge or a tag expiry), or <see cref="long.MaxValue"/>.</summary>
    public virtual long NextChange(int ordinal) => long.MaxValue;

    internal static ulong[] Rent(int words) => ArrayPool<ulong>.Shared.Rent(words);

    internal static void Return(ulong[] array) => ArrayPool<ulong>.Shared.Return(array);
}

internal sealed class ConstNode(bool value) : PlanNode
{
    public bool Value { get; } = value;

    public override void AndInto(Span<ulong> acc)
    {
        if (!Value)
        {
            acc.Clear();
        }
    }

    public override bool Matches(int ordinal) => Value;
}

internal sealed class AndNode : PlanNode
{
    private readonly PlanNode[] _operands;

    public AndNode(IEnumerable<PlanNode> operands)
    {
        _operands = [.. operands.OrderBy(o => o.Cost).ThenBy(o => o.Selectivity)];
        Selectivity = _operands.Aggregate(1.0, (s, o) => s * o.Selectivity);
        Cost = _operands.Length == 0 ? 0 : _operands.Max(o => o.Cost);
    }

    public override void AndInto(Span<ulong> acc)
    {
        foreach (var op in _operands)
        {
            op.AndInto(acc);
        }
    }

    public override bool Matches(int ordinal)
    {
        foreach (var op in _operands)
        {
            if (!op.Matches(ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public override long NextChange(int ordinal) => _operands.Length == 0 ? long.MaxValue : _operands.Min(o => o.NextChange(ordinal));
}

internal sealed class OrNode : PlanNode
{
    private readonly PlanNode[] _operands;

    public OrNode(IEnumerable<PlanNode> operands)
    {
        _operands = [.. operands.OrderBy(o => o.Cost).ThenByDescending(o => o.Selectivity)];
        Selectivity = Math.Min(1, _operands.Sum(o => o.Selectivity));
        Cost = _operands.Length == 0 ? 0 : _operands.Max(o => o.Cost);
    }

    public override void AndInto(Span<ulong> acc)
    {
        var n = acc.Length;
        var resultArray = Rent(n);
        var restArray = Rent(n);
        var tmpArray = Rent(n);
        var result = resultArray.AsSpan(0, n);
        var rest = restArray.AsSpan(0, n);
        var tmp = tmpArray.AsSpan(0, n);
        result.Clear();
        acc.CopyTo(rest);
        foreach (var op in _operands)
        {
            // Only candidates not matched yet need this operand.
            rest.CopyTo(tmp);
            op.AndInto(tmp);
            DenseBits.Or(result, tmp);
            DenseBits.AndNot(rest, tmp);
        }

        result.CopyTo(acc);
        Return(resultArray);
        Return(restArray);
        Return(tmpArray);
    }

    public override bool Matches(int ordinal)
    {
        foreach (var op in _operands)
        {
            if (op.Matches(ordinal))
            {
                return true;
            }
        }

        return false;
    }

    public override long NextChange(int ordinal) => _operands.Length == 0 ? long.MaxValue : _operands.Min(o => o.NextChange(ordinal));
}

internal sealed class NotNode : PlanNode
{
    private readonly PlanNode _operand;

    public NotNode(PlanNode operand)
    {
        _operand = operand;
        Selectivity = 1 - operand.Selectivity;
        Cost = operand.Cost;
    }

    public override void AndInto(Span<ulong> acc)
    {
        var n = acc.Length;
        var tmpArray = Rent(n);
        var tmp = tmpArray.AsSpan(0, n);
        acc.CopyTo(tmp);
        _operand.AndInto(tmp);
        DenseBits.AndNot(acc, tmp);
        Return(tmpArray);
    }

    public override bool Matches(int ordinal) => !_operand.Matches(ordinal);

    public override long NextChange(int ordinal) => _operand.NextChange(ordinal);
}

/// <summary>The union of compressed bitmaps (one bitmap: a plain intersection).</summary>
internal sealed class UnionNode(IReadOnlyList<RoaringBitmap> bitmaps) : PlanNode
{
    public override void AndInto(Span<ulong> acc)
    {
        switch (bitmaps.Count)
        {
            case 0:
                acc.Clear();
                return;
            case 1:
                bitmaps[0].AndInto(acc);
                return;
        }

        var n = acc.Length;
        var tmpArray = Rent(n);
        var tmp = tmpArray.AsSpan(0, n);
        tmp.Clear();
        foreach (var b in bitmaps)
        {
            b.OrInto(tmp);
        }

        DenseBits.And(acc, tmp);
        Return(tmpArray);
    }

    public override bool Matches(int ordinal)
    {
        foreach (var b in bitmaps)
        {
            if (b.Contains(ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>The union of current members of keys (tags, groups, list elements, channels) at an instant.</summary>
internal sealed class KeysNode(KeyedBitmaps keyed, IReadOnlyList<string> keys, long nowTicks) : PlanNode
{
    public override void AndInto(Span<ulong> acc)
    {
        if (keys.Count == 1)
        {
            keyed.AndInto(acc, keys[0], nowTicks);
            return;
        }

        var n = acc.Length;
        var tmpArray = Rent(n);
        var tmp = tmpArray.AsSpan(0, n);
        tmp.Clear();
        foreach (var k in keys)
        {
            keyed.OrInto(tmp, k, nowTicks);
        }

        DenseBits.And(acc, tmp);
        Return(tmpArray);
    }

    public override bool Matches(int ordinal)
    {
        foreach (var k in keys)
        {
            if (keyed.Contains(k, ordinal, nowTicks))
            {
                return true;
            }
        }

        return false;
    }

    public override long NextChange(int ordinal)
    {
        var next = long.MaxValue;
        foreach (var k in keys)
        {
            if (keyed.ExpiryOf(k, ordinal) is { } t && t > nowTicks)
            {
                next = Math.Min(next, t);
            }
        }

        return next;
    }
}

/// <param name="column">The column.</param>
/// <param name="lo">Inclusive lower bound.</param>
/// <param name="hi">Inclusive upper bound.</param>
/// <param name="window">For <c>within</c>/<c>before</c> on day numbers: (now, window) in ticks, so the edges can be scheduled.</param>
internal sealed class IntRangeNode(BitSlicedColumn column, long lo, long hi, (long Now, long Window)? window = null) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndRange(acc, lo, hi);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out var v) && v >= lo && v <= hi;

    public override long NextChange(int ordinal)
    {
        if (window is not { } w || !column.TryGet(ordinal, out var day))
        {
            return long.MaxValue;
        }

        // The day's midnight m is in [now − W, now] from now = m until now = m + W.
        var m = day * NodaTime.NodaConstants.TicksPerDay;
        return m > w.Now ? m : m + w.Window + 1 > w.Now ? m + w.Window + 1 : long.MaxValue;
    }
}

internal sealed class IntExistsNode(BitSlicedColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndExists(acc);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out _);
}

internal sealed class NumberRangeNode(NumberColumn column, decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndRange(acc, lo, loInclusive, hi, hiInclusive);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out var v) && NumberColumn.InRange(v, lo, loInclusive, hi, hiInclusive);
}

internal sealed class NumberExistsNode(NumberColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndExists(acc);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out _);
}

/// <summary>Counts each candidate's events of a kind in a window and compares the count.</summary>
internal sealed class BehaviourNode(EventStore events, BehaviourFilter filter, long fromTicks, long toTicks) : PlanNode
{
    public override void AndInto(Span<ulong> acc)
    {
        var zeroMatches = CountMatches(filter, 0);
        var has = events.ContactsWith(filter.EventKind);
        if (has is null)
        {
            if (!zeroMatches)
            {
                acc.Clear();
            }

            return;
        }

        if (!zeroMatches)
        {
            has.AndInto(acc);
        }

        foreach (var o in has.Enumerate())
        {
            if ((o >> 6) >= acc.Length)
            {
                break;
            }

            if (DenseBits.Get(acc, o) && !CountMatches(filter, events.Count(filter.EventKind, o, filter.Where, fromTicks, toTicks)))
            {
                DenseBits.Clear(acc, o);
            }
        }
    }

    public override bool Matches(int ordinal) => CountMatches(filter, events.Count(filter.EventKind, ordinal, filter.Where, fromTicks, toTicks));

    public override long NextChange(int ordinal)
    {
        if (filter.Window is not { } w)
        {
            return long.MaxValue;
        }

        // An event at t counts from now = t until now = t + W.
        var window = w.Duration.BclCompatibleTicks;
        var now = toTicks;
        var next = long.MaxValue;
        foreach (var t in events.TicksOf(filter.EventKind, ordinal, filter.Where))
        {
            if (t > now)
            {
                next = Math.Min(next, t);
            }
            else if (t + window + 1 > now)
            {
                next = Math.Min(next, t + window + 1);
            }
        }

        return next;
    }

    internal static bool CountMatches(BehaviourFilter f, int count) => f.Operator switch
    {
        CompareOperator.Equal => count == f.Counts[0],
        CompareOperator.NotEqual => count != f.Counts[0],
        CompareOperator.LessThan => count < f.Counts[0],
        CompareOperator.LessOrEqual => count <= f.Counts[0],
        CompareOperator.GreaterThan => count > f.Counts[0],
        CompareOperator.GreaterOrEqual => count >= f.Counts[0],
        CompareOperator.Between => count >= f.Counts[0] && count <= f.Counts[1],
        CompareOperator.In => f.Counts.Contains(count),
        CompareOperator.NotIn => !f.Counts.Contains(count),
        _ => throw new ArgumentException($"A behaviour count cannot be compared with {f.Operator}.", nameof(f)),
    };
}
