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

    /// <summary>Restricts <paramref name="acc"/> to the node's matches.</summary>
    /// <param name="acc">Candidates: the words of one 65,536-contact chunk (at most 1024 words).</param>
    /// <param name="startWord">The chunk's first word in the whole base (a multiple of 1024).</param>
    public abstract void AndInto(Span<ulong> acc, int startWord);

    /// <summary>Whether one contact matches (the single-contact path of incremental membership).</summary>
    public abstract bool Matches(int ordinal);

    /// <summary>Removes the node's matches from <paramref name="acc"/> directly (<c>acc &amp;= ~matches</c>) when the node can
    /// do so without a copy of the candidates (a plain bitmap); false (and <paramref name="acc"/> untouched) otherwise.</summary>
    /// <param name="acc">Candidates of one chunk.</param>
    /// <param name="startWord">The chunk's first word in the whole base.</param>
    public virtual bool TryAndNotInto(Span<ulong> acc, int startWord) => false;

    /// <summary>Whether the node is a plain union of bitmaps at the plan's instant (no per-contact test): then
    /// <see cref="OrInto"/> can add its matches to a union without the candidates.</summary>
    public virtual bool IsPlainBitmap => false;

    /// <summary><c>union |= matches</c> for a node that <see cref="IsPlainBitmap"/>.</summary>
    /// <param name="union">A union being built for one chunk.</param>
    /// <param name="startWord">The chunk's first word in the whole base.</param>
    public virtual void OrInto(Span<ulong> union, int startWord) => throw new NotSupportedException("Only plain bitmap nodes add to a union.");

    /// <summary>For a node that <see cref="IsPlainBitmap"/>: appends to <paramref name="words"/> the word arrays whose union
    /// is the node's matches in chunk <paramref name="key"/> (one per bitmap stored there as a bitmap container; bitmaps
    /// without values there add nothing). False when a bitmap holds the chunk in another container, when
    /// <paramref name="words"/> is full, or for other nodes; <paramref name="n"/> is then meaningless.</summary>
    /// <param name="key">The chunk (65,536 contacts).</param>
    /// <param name="words">Word arrays collected so far.</param>
    /// <param name="n">How many of <paramref name="words"/> are used.</param>
    public virtual bool TryChunkWords(int key, Span<ulong[]?> words, ref int n) => false;

    /// <summary><see cref="TryChunkWords(int, Span{ulong[]}, ref int)"/> for one bitmap.</summary>
    internal static bool TryChunkWords(RoaringBitmap b, int key, Span<ulong[]?> words, ref int n)
    {
        if (b.ChunkWords(key) is { } w)
        {
            if (n == words.Length)
            {
                return false;
            }

            words[n++] = w;
            return true;
        }

        return b.ChunkCardinality(key) == 0;
    }

    /// <summary>The first instant (Unix ticks) after the plan's "now" at which the contact's result may change as time
    /// passes (a window edge or a tag expiry), or <see cref="long.MaxValue"/>.</summary>
    public virtual long NextChange(int ordinal) => long.MaxValue;

    /// <summary>Whether the node's result for a contact can change as time passes without a change to the contact (a window,
    /// an expiry, a behaviour count); false means <see cref="NextChange"/> is always <see cref="long.MaxValue"/>.</summary>
    public virtual bool TimeDependent => false;

    /// <summary><see cref="Matches"/> and <see cref="NextChange"/> in one walk that stops at the first operand time cannot
    /// change and that decides the result (the single-contact path of incremental membership).</summary>
    public virtual bool Evaluate(int ordinal, out long next)
    {
        next = TimeDependent ? NextChange(ordinal) : long.MaxValue;
        return Matches(ordinal);
    }

    /// <summary>
    /// Moves the instant the single-contact path (<see cref="Matches"/>, <see cref="NextChange"/>, <see cref="Evaluate"/>)
    /// evaluates at, without recompiling: windows, expiries and behaviour counts are re-anchored at <paramref name="nowTicks"/>.
    /// <see cref="AndInto"/> keeps the instant the plan was compiled at (whole-base evaluations compile a fresh plan).
    /// </summary>
    /// <param name="nowTicks">The new instant (Unix ticks).</param>
    public virtual void Retarget(long nowTicks)
    {
    }
}

internal sealed class ConstNode(bool value) : PlanNode
{
    public bool Value { get; } = value;

    public override void AndInto(Span<ulong> acc, int startWord)
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
    private readonly PlanNode[] _staticFirst;

    /// <summary>How many operands of <see cref="_staticFirst"/> time cannot change (they come first; TimeDependent is fixed
    /// at construction, so the single-contact walk does not ask each operand again).</summary>
    private readonly int _staticCount;
    private readonly bool _timeDependent;

    public AndNode(IEnumerable<PlanNode> operands)
    {
        _operands = [.. operands.OrderBy(o => o.Cost).ThenBy(o => o.Selectivity)];
        _timeDependent = Array.Exists(_operands, o => o.TimeDependent);
        _staticFirst = [.. _operands.Where(o => !o.TimeDependent), .. _operands.Where(o => o.TimeDependent)];
        _staticCount = _operands.Count(o => !o.TimeDependent);
        Selectivity = _operands.Aggregate(1.0, (s, o) => s * o.Selectivity);
        Cost = _operands.Length == 0 ? 0 : _operands.Max(o => o.Cost);
    }

    public override void AndInto(Span<ulong> acc, int startWord)
    {
        foreach (var op in _operands)
        {
            op.AndInto(acc, startWord);
            if (DenseBits.IsZero(acc))
            {
                return; // no candidate left in this chunk
            }
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

    public override bool TimeDependent => _timeDependent;

    public override void Retarget(long ticks)
    {
        foreach (var op in _operands)
        {
            op.Retarget(ticks);
        }
    }

    public override bool Evaluate(int ordinal, out long next)
    {
        next = long.MaxValue;
        var ops = _staticFirst;
        var i = 0;
        for (; i < _staticCount; i++)
        {
            if (!ops[i].Matches(ordinal))
            {
                return false; // false until the contact changes
            }
        }

        var result = true;
        for (; i < ops.Length; i++)
        {
            result &= ops[i].Evaluate(ordinal, out var n);
            next = Math.Min(next, n);
        }

        return result;
    }

    public override long NextChange(int ordinal)
    {
        // An operand that time cannot change and that fails now fails until the contact changes: so does the AND.
        foreach (var op in _operands)
        {
            if (!op.TimeDependent && !op.Matches(ordinal))
            {
                return long.MaxValue;
            }
        }

        var next = long.MaxValue;
        foreach (var op in _operands)
        {
            if (op.TimeDependent)
            {
                next = Math.Min(next, op.NextChange(ordinal));
            }
        }

        return next;
    }
}

internal sealed class OrNode : PlanNode
{
    private readonly PlanNode[] _operands;
    private readonly PlanNode[] _staticFirst;

    /// <summary>How many operands of <see cref="_staticFirst"/> time cannot change (they come first; TimeDependent is fixed
    /// at construction, so the single-contact walk does not ask each operand again).</summary>
    private readonly int _staticCount;
    private readonly bool _timeDependent;

    private readonly bool _plain;

    public OrNode(IEnumerable<PlanNode> operands)
    {
        _operands = [.. operands.OrderBy(o => o.Cost).ThenByDescending(o => o.Selectivity)];
        _plain = _operands.Length > 0 && Array.TrueForAll(_operands, o => o.IsPlainBitmap);
        _timeDependent = Array.Exists(_operands, o => o.TimeDependent);
        _staticFirst = [.. _operands.Where(o => !o.TimeDependent), .. _operands.Where(o => o.TimeDependent)];
        _staticCount = _operands.Count(o => !o.TimeDependent);
        Selectivity = Math.Min(1, _operands.Sum(o => o.Selectivity));
        Cost = _operands.Length == 0 ? 0 : _operands.Max(o => o.Cost);
    }

    public override bool IsPlainBitmap => _plain;

    public override bool TryChunkWords(int key, Span<ulong[]?> words, ref int n)
    {
        foreach (var op in _operands)
        {
            if (!op.TryChunkWords(key, words, ref n))
            {
                return false;
            }
        }

        return _plain;
    }

    public override void OrInto(Span<ulong> union, int startWord)
    {
        foreach (var op in _operands)
        {
            op.OrInto(union, startWord);
        }
    }

    [System.Runtime.CompilerServices.SkipLocalsInit] // rest and tmp are overwritten before they are read
    public override void AndInto(Span<ulong> acc, int startWord)
    {
        var n = acc.Length;
        if (_plain)
        {
            // Dense bitmaps only (has_tag(a) or has_tag(b), both bitmap containers in this chunk): acc &= a | b | … in one
            // pass, without building the union.
            Span<ulong[]?> words = [null, null, null, null];
            var count = 0;
            if (TryChunkWords(startWord >> 10, words, ref count))
            {
                DenseBits.AndUnion(acc, words[..count]);
                return;
            }

            // Bitmaps only: one union, one AND, no copies of the candidates.
            Span<ulong> union = stackalloc ulong[n];
            union.Clear();
            OrInto(union, startWord);
            DenseBits.And(acc, union);
            return;
        }

        Span<ulong> rest = stackalloc ulong[n];
        Span<ulong> tmp = stackalloc ulong[n];
        acc.CopyTo(rest);
        foreach (var op in _operands)
        {
            // Only candidates not matched yet need this operand.
            rest.CopyTo(tmp);
            op.AndInto(tmp, startWord);
            DenseBits.AndNot(rest, tmp);
        }

        // Matched = candidates − never matched.
        DenseBits.AndNot(acc, rest);
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

    public override bool TimeDependent => _timeDependent;

    public override void Retarget(long ticks)
    {
        foreach (var op in _operands)
        {
            op.Retarget(ticks);
        }
    }

    public override bool Evaluate(int ordinal, out long next)
    {
        next = long.MaxValue;
        var ops = _staticFirst;
        var i = 0;
        for (; i < _staticCount; i++)
        {
            if (ops[i].Matches(ordinal))
            {
                return true; // true until the contact changes
            }
        }

        var result = false;
        for (; i < ops.Length; i++)
        {
            result |= ops[i].Evaluate(ordinal, out var n);
            next = Math.Min(next, n);
        }

        return result;
    }

    public override long NextChange(int ordinal)
    {
        // An operand that time cannot change and that holds now holds until the contact changes: so does the OR.
        foreach (var op in _operands)
        {
            if (!op.TimeDependent && op.Matches(ordinal))
            {
                return long.MaxValue;
            }
        }

        var next = long.MaxValue;
        foreach (var op in _operands)
        {
            if (op.TimeDependent)
            {
                next = Math.Min(next, op.NextChange(ordinal));
            }
        }

        return next;
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

    [System.Runtime.CompilerServices.SkipLocalsInit] // tmp is overwritten before it is read
    public override void AndInto(Span<ulong> acc, int startWord)
    {
        if (_operand.TryAndNotInto(acc, startWord))
        {
            return;
        }

        Span<ulong> tmp = stackalloc ulong[acc.Length];
        acc.CopyTo(tmp);
        _operand.AndInto(tmp, startWord);
        DenseBits.AndNot(acc, tmp);
    }

    public override bool Matches(int ordinal) => !_operand.Matches(ordinal);

    public override long NextChange(int ordinal) => _operand.NextChange(ordinal);

    public override bool TimeDependent => _operand.TimeDependent;

    public override void Retarget(long ticks) => _operand.Retarget(ticks);

    public override bool Evaluate(int ordinal, out long next) => !_operand.Evaluate(ordinal, out next);
}

/// <summary>The union of compressed bitmaps (one bitmap: a plain intersection).</summary>
/// <param name="bitmapList">The bitmaps.</param>
/// <param name="codes">When the bitmaps are values of a categorical column: the column and its 0-based codes, so that
/// one contact is tested with one read of its code instead of a search per bitmap.</param>
internal sealed class UnionNode(IReadOnlyList<RoaringBitmap> bitmapList, (CategoricalColumn Column, IReadOnlyList<int> Codes)? codes = null) : PlanNode
{
    private readonly RoaringBitmap[] bitmaps = [.. bitmapList];
    private readonly CategoricalColumn? _column = codes?.Column;
    private readonly bool[] _stored = StoredCodes(codes);

    /// <summary>Indexed by stored code (code + 1; 0 = no value): whether the code is one of the union's.</summary>
    private static bool[] StoredCodes((CategoricalColumn Column, IReadOnlyList<int> Codes)? codes)
    {
        if (codes is not { } c || c.Codes.Count == 0)
        {
            return [];
        }

        var stored = new bool[c.Codes.Max() + 2];
        foreach (var code in c.Codes)
        {
            stored[code + 1] = true;
        }

        return stored;
    }

    public override void AndInto(Span<ulong> acc, int startWord)
    {
        var key = startWord >> 10;
        switch (bitmaps.Length)
        {
            case 0:
                acc.Clear();
                return;
            case 1:
                bitmaps[0].AndIntoChunk(acc, key);
                return;
        }

        if (AndIntoBitmapChunks(acc, key))
        {
            return;
        }

        // Many bitmaps (the days of a date window): their values' first lines are fetched together, not one array's misses
        // after the other's.
        foreach (var b in bitmaps)
        {
            b.PrefetchChunk(key);
        }

        Span<ulong> tmp = stackalloc ulong[acc.Length];
        tmp.Clear();
        foreach (var b in bitmaps)
        {
            b.OrIntoChunk(tmp, key);
        }

        DenseBits.And(acc, tmp);
    }

    public override bool TryAndNotInto(Span<ulong> acc, int startWord)
    {
        foreach (var b in bitmaps)
        {
            b.AndNotIntoChunk(acc, startWord >> 10);
        }

        return true;
    }

    public override bool IsPlainBitmap => true;

    public override bool TryChunkWords(int key, Span<ulong[]?> words, ref int n)
    {
        foreach (var b in bitmaps)
        {
            if (!TryChunkWords(b, key, words, ref n))
            {
                return false;
            }
        }

        return true;
    }

    public override void OrInto(Span<ulong> union, int startWord)
    {
        foreach (var b in bitmaps)
        {
            b.OrIntoChunk(union, startWord >> 10);
        }
    }

    /// <summary>When every bitmap's chunk is a bitmap container (or absent): <c>acc &amp;= b0 | b1 | …</c> in one pass, no
    /// intermediate union (dense values such as regions).</summary>
    private bool AndIntoBitmapChunks(Span<ulong> acc, int key)
    {
        if (bitmaps.Length > 4)
        {
            return false;
        }

        Span<ulong[]?> words = [null, null, null, null];
        var n = 0;
        foreach (var b in bitmaps)
        {
            if (b.ChunkWords(key) is { } w)
            {
                words[n++] = w;
            }
            else if (b.ChunkCardinality(key) != 0)
            {
                return false;
            }
        }

        DenseBits.AndUnion(acc, words[..n]);
        return true;
    }

    public override bool Matches(int ordinal)
    {
        if (_column is not null)
        {
            var code = _column.StoredCodeAt(ordinal);
            return (uint)code < (uint)_stored.Length && _stored[code];
        }

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
/// <param name="keyed">The bitmaps.</param>
/// <param name="keys">The keys.</param>
/// <param name="nowTicks">The instant.</param>
/// <param name="canExpire">Whether memberships of these keys can expire (tags and groups).</param>
internal sealed class KeysNode(KeyedBitmaps keyed, IReadOnlyList<string> keys, long nowTicks, bool canExpire) : PlanNode
{
    private readonly RoaringBitmap?[] _bitmaps = [.. keys.Select(keyed.BitmapOf)];
    private readonly IReadOnlyDictionary<int, long>?[] _expiries = [.. keys.Select(keyed.ExpiriesOf)];
    private readonly int[][] _expired = [.. keys.Select(k => keyed.Expired(k, nowTicks))];

    /// <summary>0 = not known yet, 1 = no membership of the keys has expired at the plan's instant (plain bitmaps), 2 = some
    /// has. An int, so that threads evaluating chunks in parallel read and write it atomically (each computes the same).</summary>
    private int _plainState;
    private long _now = nowTicks;

    public override bool TimeDependent => canExpire;

    public override void Retarget(long ticks) => _now = ticks;

    public override void AndInto(Span<ulong> acc, int startWord)
    {
        var key = startWord >> 10;
        if (_bitmaps.Length == 1)
        {
            if (_bitmaps[0] is not { } only)
            {
                acc.Clear();
                return;
            }

            only.AndIntoChunk(acc, key);
            ClearExpired(acc, startWord, _expired[0]);
            return;
        }

        Span<ulong> tmp = stackalloc ulong[acc.Length];
        Span<ulong> one = stackalloc ulong[acc.Length];
        tmp.Clear();
        for (var i = 0; i < _bitmaps.Length; i++)
        {
            if (_bitmaps[i] is not { } b)
            {
                continue;
            }

            if (_expired[i].Length == 0)
            {
                b.OrIntoChunk(tmp, key);
                continue;
            }

            one.Clear();
            b.OrIntoChunk(one, key);
            ClearExpired(one, startWord, _expired[i]);
            DenseBits.Or(tmp, one);
        }

        DenseBits.And(acc, tmp);
    }

    public override bool IsPlainBitmap
    {
        get
        {
            if (_plainState == 0)
            {
                _plainState = Array.TrueForAll(_expired, e => e.Length == 0) ? 1 : 2;
            }

            return _plainState == 1;
        }
    }

    public override bool TryChunkWords(int key, Span<ulong[]?> words, ref int n)
    {
        if (!IsPlainBitmap)
        {
            return false;
        }

        foreach (var b in _bitmaps)
        {
            if (b is not null && !TryChunkWords(b, key, words, ref n))
            {
                return false;
            }
        }

        return true;
    }

    public override void OrInto(Span<ulong> union, int startWord)
    {
        foreach (var b in _bitmaps)
        {
            b?.OrIntoChunk(union, startWord >> 10);
        }
    }

    public override bool TryAndNotInto(Span<ulong> acc, int startWord)
    {
        if (_bitmaps.Length != 1 || _expired[0].Length != 0)
        {
            return false;
        }

        _bitmaps[0]?.AndNotIntoChunk(acc, startWord >> 10);
        return true;
    }

    private static void ClearExpired(Span<ulong> acc, int startWord, int[] expired)
    {
        if (expired.Length == 0)
        {
            return;
        }

        var first = startWord * 64;
        var end = first + (acc.Length * 64);
        var i = Array.BinarySearch(expired, first);
        for (i = i < 0 ? ~i : i; i < expired.Length && expired[i] < end; i++)
        {
            DenseBits.Clear(acc, expired[i] - first);
        }
    }

    public override bool Matches(int ordinal)
    {
        for (var i = 0; i < _bitmaps.Length; i++)
        {
            if (_bitmaps[i] is { } b && b.Contains(ordinal) && (_expiries[i] is not { Count: > 0 } x || !x.TryGetValue(ordinal, out var t) || _now < t))
            {
                return true;
            }
        }

        return false;
    }

    public override long NextChange(int ordinal)
    {
        var next = long.MaxValue;
        for (var i = 0; i < _bitmaps.Length; i++)
        {
            if (_expiries[i] is { Count: > 0 } x && x.TryGetValue(ordinal, out var t) && t > _now && _bitmaps[i]!.Contains(ordinal))
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
/// <param name="window">For <c>within</c>/<c>before</c> on instants (Unix ticks): (now, window) in ticks, so the edges can be scheduled.</param>
internal sealed class IntRangeNode(BitSlicedColumn column, long lo, long hi, (long Now, long Window)? window = null) : PlanNode
{
    // "before" ends at now − W − 1; "within" is [now − W, now].
    private readonly bool _before = window is { } w0 && hi != w0.Now;
    private readonly long _compiledLo = lo;
    private readonly long _compiledHi = hi;
    private long _lo = lo;
    private long _hi = hi;
    private long _now = window?.Now ?? 0;

    public override bool TimeDependent => window is not null;

    public override void AndInto(Span<ulong> acc, int startWord) => column.AndRange(acc, _compiledLo, _compiledHi, startWord);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out var v) && v >= _lo && v <= _hi;

    public override void Retarget(long ticks)
    {
        if (window is not { } w)
        {
            return;
        }

        _now = ticks;
        if (_before)
        {
            _hi = ticks - w.Window - 1;
        }
        else
        {
            (_lo, _hi) = (ticks - w.Window, ticks);
        }
    }

    public override long NextChange(int ordinal)
    {
        if (window is not { } w || !column.TryGet(ordinal, out var t))
        {
            return long.MaxValue;
        }

        // The instant t is in [now − W, now] from now = t until now = t + W; "before" flips at t + W + 1 as well.
        return t > _now ? t : t + w.Window + 1 > _now ? t + w.Window + 1 : long.MaxValue;
    }
}

/// <summary>
/// <c>within</c>/<c>before</c> on a date attribute: day numbers in [lo, hi], bounds computed from the calendar dates
/// of now and now − window in one zone. A day d is within while start(d) ≤ now &lt; start(d + 1) + window, and before
/// from start(d + 1) + window on (start = the day's first instant in the zone).
/// </summary>
/// <remarks>With <paramref name="days"/> (the column's bitmaps of the days in [lo, hi]) the scan reads those instead of the slices.</remarks>
internal sealed class DayWindowNode(BitSlicedColumn column, long lo, long hi, NodaTime.DateTimeZone zone, long windowTicks, long nowTicks, IReadOnlyList<RoaringBitmap>? days = null) : PlanNode
{
    private readonly UnionNode? _union = days is null ? null : new UnionNode(days);
    private readonly bool _before = lo == long.MinValue;
    private readonly long _compiledLo = lo;
    private readonly long _compiledHi = hi;
    private long _lo = lo;
    private long _hi = hi;
    private long _now = nowTicks;
    private long _validFrom = nowTicks;
    private long _validTo = nowTicks + 1;

    public override bool TimeDependent => true;

    public override void Retarget(long ticks)
    {
        if (ticks >= _validFrom && ticks < _validTo)
        {
            _now = ticks; // same calendar days: same bounds
            return;
        }

        // within ⇔ date(now − w) ≤ day ≤ date(now); before ⇔ day < date(now − w), dates in the zone. Both dates stay
        // the same while now is in [start(today), start(today + 1)) and now − w in [start(from), start(from + 1)).
        var today = DayOf(ticks);
        var from = DayOf(ticks - windowTicks);
        (_lo, _hi) = _before ? (long.MinValue, from - 1) : (from, today);
        _validFrom = Math.Max(StartOf(today), StartOf(from) + windowTicks);
        _validTo = Math.Min(StartOf(today + 1), StartOf(from + 1) + windowTicks);
        _now = ticks;
    }

    private long DayOf(long ticks) => AttributeColumn.DayNumber(NodaTime.Instant.FromUnixTimeTicks(ticks).InZone(zone).Date);

    /// <summary>A union costs about as much per value of its day bitmaps (a bit OR'd into the chunk) as a probe costs per
    /// candidate divided by this (a cache miss, several in flight): probe when candidates × this &lt; the union's values.
    /// Measured at 10M (docs/benchmarks.md, session 8): NARROW's `within 7d` after industry and region (755 candidates and
    /// 8,200 day values per chunk, ratio 10.9) cost ≈ 1 ms more probed than unioned (≈ 19 ns per probe, ≈ 1 ns per union
    /// value; s19 measured ≈ 14 ns per probe): 6 probed there, 16 unions.</summary>
    internal const int ProbeCostRatio = 16;

    private readonly RoaringBitmap[] _days = days is null ? [] : [.. days];

    public override void AndInto(Span<ulong> acc, int startWord)
    {
        if (_union is null)
        {
            column.AndRange(acc, _compiledLo, _compiledHi, startWord);
            return;
        }

        // Few candidates left (the selective operands ran first): read their days instead of OR-ing every day bitmap.
        var key = startWord >> 10;
        var unionValues = 0L;
        foreach (var d in _days)
        {
            unionValues += d.ChunkCardinality(key);
        }

        var candidates = DenseBits.PopCount(acc);
        if (candidates * ProbeCostRatio < unionValues && column.AndRangeProbe(acc, _compiledLo, _compiledHi, startWord))
        {
            return;
        }

        _union.AndInto(acc, startWord);
    }

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out var v) && v >= _lo && v <= _hi;

    public override long NextChange(int ordinal)
    {
        if (!column.TryGet(ordinal, out var day))
        {
            return long.MaxValue;
        }

        var start = StartOf(day);
        if (start > _now)
        {
            return start;
        }

        var leave = StartOf(day + 1) + windowTicks;
        return leave > _now ? leave : long.MaxValue;
    }

    private readonly Dictionary<long, long> _starts = [];

    /// <summary>The first instant of a day in the zone (cached: the single-contact path asks for the same few days).</summary>
    private long StartOf(long day)
    {
        if (!_starts.TryGetValue(day, out var start))
        {
            start = NodaTime.LocalDate.FromDateOnly(DateOnly.FromDayNumber((int)(day + AttributeColumn.EpochDay))).AtStartOfDayInZone(zone).ToInstant().ToUnixTimeTicks();
            if (_starts.Count < 4096)
            {
                _starts[day] = start;
            }
        }

        return start;
    }
}

internal sealed class IntExistsNode(BitSlicedColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc, int startWord) => column.AndExists(acc, startWord);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out _);
}

internal sealed class NumberRangeNode(NumberColumn column, decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive) : PlanNode
{
    private readonly (long Lo, long Hi) _scaled = column.ScaledBounds(lo, loInclusive, hi, hiInclusive);
    private readonly int _scale = column.Scale;

    public override void AndInto(Span<ulong> acc, int startWord) => column.AndRange(acc, lo, loInclusive, hi, hiInclusive, startWord);

    public override bool Matches(int ordinal)
    {
        // Compare stored (scaled) integers while the column's scale is the one the bounds were scaled with.
        if (column.Scale == _scale && column.Bits.TryGet(ordinal, out var scaled))
        {
            return scaled >= _scaled.Lo && scaled <= _scaled.Hi;
        }

        return column.TryGet(ordinal, out var v) && NumberColumn.InRange(v, lo, loInclusive, hi, hiInclusive);
    }
}

internal sealed class NumberExistsNode(NumberColumn column) : PlanNode
{
    public override void AndInto(Span<ulong> acc, int startWord) => column.AndExists(acc, startWord);

    public override bool Matches(int ordinal) => column.TryGet(ordinal, out _);
}

/// <summary>Counts each candidate's events of a kind in a window and compares the count.</summary>
internal sealed class BehaviourNode(EventStore events, BehaviourFilter filter, long fromTicks, long toTicks) : PlanNode
{
    private readonly long _compiledFrom = fromTicks;
    private readonly long _compiledTo = toTicks;
    private long _from = fromTicks;
    private long _to = toTicks;

    public override bool TimeDependent => true;

    public override void Retarget(long ticks)
    {
        _to = ticks;
        _from = filter.Window is { } w ? ticks - w.Duration.BclCompatibleTicks : long.MinValue;
    }

    public override void AndInto(Span<ulong> acc, int startWord)
    {
        var key = startWord >> 10;
        var first = startWord * 64;
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
            has.AndIntoChunk(acc, key);
        }

        foreach (var o in has.EnumerateChunk(key))
        {
            var local = o - first;
            if ((local >> 6) >= acc.Length)
            {
                break;
            }

            if (DenseBits.Get(acc, local) && !CountMatches(filter, events.Count(filter.EventKind, o, filter.Where, _compiledFrom, _compiledTo)))
            {
                DenseBits.Clear(acc, local);
            }
        }
    }

    public override bool Matches(int ordinal) => CountMatches(filter, events.Count(filter.EventKind, ordinal, filter.Where, _from, _to));

    public override long NextChange(int ordinal)
    {
        // An event at t counts from now = t until now = t + W (forever without a window).
        var window = filter.Window is { } w ? w.Duration.BclCompatibleTicks : long.MaxValue;
        var now = _to;
        var next = long.MaxValue;
        foreach (var t in events.TicksOf(filter.EventKind, ordinal, filter.Where))
        {
            if (t > now)
            {
                next = Math.Min(next, t);
            }
            else if (window != long.MaxValue && t + window + 1 > now)
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
