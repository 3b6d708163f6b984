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
}

internal sealed class IntRangeNode(BitSlicedColumn column, long lo, long hi) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndRange(acc, lo, hi);
}

internal sealed class IntExistsNode(BitSlicedColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndExists(acc);
}

internal sealed class NumberRangeNode(NumberColumn column, decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndRange(acc, lo, loInclusive, hi, hiInclusive);
}

internal sealed class NumberExistsNode(NumberColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc) => column.AndExists(acc);
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
