using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// A bit-sliced integer column (O'Neil's bit-sliced index): each contact's value is stored as <c>value − Base</c> in
/// <see cref="Width"/> bits, one bit per slice, plus an "exists" slice. Slices are interleaved in blocks of 512
/// contacts (8 words, one cache line per slice), so a range predicate reads only the blocks that still have
/// candidates and computes 512 comparisons with a handful of vector AND/OR/ANDNOT per slice.
/// Values are exact 61-bit integers; callers scale decimals and dates to integers.
/// While the frame is at most 16 bits wide (budgets, counts, day numbers over a year or so) the column also keeps each
/// contact's offset in one byte (width ≤ 8) or two (width ≤ 16): a range predicate then compares 64 contacts with a few
/// vector instructions per candidate word (skipping words without candidates), and a single contact's value is one read
/// instead of one per slice (the probe path and incremental membership). Not thread-safe.
/// </summary>
internal sealed class BitSlicedColumn
{
    /// <summary>Words per block (512 contacts).</summary>
    public const int BlockWords = 8;

    /// <summary>Largest absolute stored value: 2^61.</summary>
    public const long Limit = 1L << 61;

    private ulong[] _data = [];
    private int _blocks;
    private long _min = long.MaxValue;
    private long _max = long.MinValue;
    private byte[]? _narrow8;
    private ushort[]? _narrow16;

    public int Width { get; private set; }

    public long Base { get; private set; }

    public int Count { get; private set; }

    public long Min => _min;

    public long Max => _max;

    private int Stride => (Width + 1) * BlockWords;

    /// <summary>Whether offsets are also kept one or two bytes per contact (frames up to 16 bits wide).</summary>
    internal bool HasNarrowOffsets => _narrow8 is not null || _narrow16 is not null;

    public void EnsureCapacity(int ordinals)
    {
        var blocks = (ordinals + 511) >> 9;
        if (blocks <= _blocks)
        {
            return;
        }

        var grown = Math.Max(blocks, _blocks + (_blocks >> 1));
        Array.Resize(ref _data, grown * Stride);
        _blocks = grown;
        if (_narrow8 is not null)
        {
            Array.Resize(ref _narrow8, grown * 512);
        }
        else if (_narrow16 is not null)
        {
            Array.Resize(ref _narrow16, grown * 512);
        }
    }

    public bool TryGet(int ordinal, out long value)
    {
        value = 0;
        var b = ordinal >> 9;
        if (b >= _blocks)
        {
            return false;
        }

        var baseIndex = (b * Stride) + ((ordinal & 511) >> 6);
        var bit = 1UL << ordinal;
        if ((_data[baseIndex] & bit) == 0)
        {
            return false;
        }

        if (_narrow8 is { } n8)
        {
            value = n8[ordinal] + Base;
            return true;
        }

        if (_narrow16 is { } n16)
        {
            value = n16[ordinal] + Base;
            return true;
        }

        long v = 0;
        for (var i = 0; i < Width; i++)
        {
            if ((_data[baseIndex + ((i + 1) * BlockWords)] & bit) != 0)
            {
                v |= 1L << i;
            }
        }

        value = v + Base;
        return true;
    }

    public void Set(int ordinal, long value)
    {
        if (value is < -Limit or > Limit)
        {
            throw new ArgumentOutOfRangeException(nameof(value));
        }

        EnsureCapacity(ordinal + 1);
        if (Count == 0 && !TryGet(ordinal, out _))
        {
            // First value: centre the frame on it.
            if (Width == 0)
            {
                Base = value;
            }
        }

        var newMin = Math.Min(_min, value);
        var newMax = Math.Max(_max, value);
        if (value < Base || BitsFor(value - Base) > Width)
        {
            var newBase = Math.Min(Base, value);
            Rebuild(newBase, BitsFor(newMax - newBase));
        }

        Clear(ordinal);
        var baseIndex = (ordinal >> 9) * Stride + ((ordinal & 511) >> 6);
        var bit = 1UL << ordinal;
        _data[baseIndex] |= bit;
        var offset = value - Base;
        for (var i = 0; i < Width; i++)
        {
            if ((offset & (1L << i)) != 0)
            {
                _data[baseIndex + ((i + 1) * BlockWords)] |= bit;
            }
        }

        SetNarrow(ordinal, offset);
        _min = newMin;
        _max = newMax;
        Count++;
    }

    /// <summary>
    /// Writes the values of ordinals that have none yet, a word-aligned run at a time (the bulk load path): the frame is
    /// widened at most once for the whole run, and each 64-contact word of every slice is assembled in a register and
    /// stored once (with AVX-512, 64 narrow offsets per instruction) instead of a read-modify-write per contact and slice.
    /// The result is the same as <see cref="Set"/> of each present value in ascending order.
    /// </summary>
    /// <param name="first">The first ordinal of the run; a multiple of 64.</param>
    /// <param name="values">The values of ordinals <paramref name="first"/> + i (only those marked present are read).</param>
    /// <param name="present">One bit per value: which ordinals to write; each must hold no value yet.</param>
    public void AppendBlock(int first, ReadOnlySpan<long> values, ReadOnlySpan<ulong> present)
    {
        var words = Math.Min(present.Length, (values.Length + 63) >> 6);
        long min = long.MaxValue, max = long.MinValue;
        var added = 0;
        var last = 0;
        for (var w = 0; w < words; w++)
        {
            var bits = present[w];
            added += BitOperations.PopCount(bits);
            last = bits != 0 ? (w << 6) + 63 - BitOperations.LeadingZeroCount(bits) : last;
            while (bits != 0)
            {
                var v = values[(w << 6) + BitOperations.TrailingZeroCount(bits)];
                bits &= bits - 1;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        }

        if (added == 0)
        {
            return;
        }

        if (min < -Limit || max > Limit)
        {
            throw new ArgumentOutOfRangeException(nameof(values));
        }

        EnsureCapacity(first + last + 1); // not to the end of the window: that would grow a column reserved for exactly the load
        if (Count == 0 && Width == 0)
        {
            Base = min; // first values: the frame starts at the smallest (Set starts it at the first one and moves it down)
        }

        var newMin = Math.Min(_min, min);
        var newMax = Math.Max(_max, max);
        if (min < Base || BitsFor(max - Base) > Width)
        {
            var newBase = Math.Min(Base, min);
            Rebuild(newBase, BitsFor(newMax - newBase));
        }

        var width = Width;
        var stride = Stride;
        Span<ulong> slices = stackalloc ulong[64];
        for (var w = 0; w < words; w++)
        {
            var bits = present[w];
            if (bits == 0)
            {
                continue;
            }

            var ordinal0 = first + (w << 6);
            var row = values.Slice(w << 6, Math.Min(64, values.Length - (w << 6)));
            var baseIndex = ((ordinal0 >> 9) * stride) + ((ordinal0 & 511) >> 6);
            _data[baseIndex] |= bits;
            if (width == 0)
            {
                continue;
            }

            if (_narrow8 is { } n8)
            {
                var offsets = n8.AsSpan(ordinal0, 64);
                for (var m = bits; m != 0; m &= m - 1)
                {
                    var j = BitOperations.TrailingZeroCount(m);
                    offsets[j] = (byte)(row[j] - Base);
                }

                if (Vector512.IsHardwareAccelerated)
                {
                    // Bit i of 64 bytes at once: shift it to each byte's top bit (16-bit lanes: the low byte's bits do not
                    // reach the high byte's top bit) and gather the top bits.
                    var v = Vector512.Create<byte>(offsets).AsUInt16();
                    for (var i = 0; i < width; i++)
                    {
                        _data[baseIndex + ((i + 1) * BlockWords)] |= Vector512.ShiftLeft(v, 7 - i).AsByte().ExtractMostSignificantBits() & bits;
                    }

                    continue;
                }
            }
            else if (_narrow16 is { } n16)
            {
                var offsets = n16.AsSpan(ordinal0, 64);
                for (var m = bits; m != 0; m &= m - 1)
                {
                    var j = BitOperations.TrailingZeroCount(m);
                    offsets[j] = (ushort)(row[j] - Base);
                }

                if (Vector512.IsHardwareAccelerated)
                {
                    var lo = Vector512.Create<ushort>(offsets);
                    var hi = Vector512.Create<ushort>(offsets[32..]);
                    for (var i = 0; i < width; i++)
                    {
                        var word = Vector512.ShiftLeft(lo, 15 - i).ExtractMostSignificantBits() | (Vector512.ShiftLeft(hi, 15 - i).ExtractMostSignificantBits() << 32);
                        _data[baseIndex + ((i + 1) * BlockWords)] |= word & bits;
                    }

                    continue;
                }
            }

            // Wide frames (or no AVX-512): assemble each slice's word in registers, without branches on the bits.
            slices[..width].Clear();
            for (var m = bits; m != 0; m &= m - 1)
            {
                var j = BitOperations.TrailingZeroCount(m);
                var offset = (ulong)(row[j] - Base);
                for (var i = 0; i < width; i++)
                {
                    slices[i] |= ((offset >> i) & 1) << j;
                }
            }

            for (var i = 0; i < width; i++)
            {
                _data[baseIndex + ((i + 1) * BlockWords)] |= slices[i];
            }
        }

        _min = newMin;
        _max = newMax;
        Count += added;
    }

    public void Clear(int ordinal)
    {
        var b = ordinal >> 9;
        if (b >= _blocks)
        {
            return;
        }

        var baseIndex = (b * Stride) + ((ordinal & 511) >> 6);
        var bit = 1UL << ordinal;
        if ((_data[baseIndex] & bit) == 0)
        {
            return;
        }

        for (var i = 0; i <= Width; i++)
        {
            _data[baseIndex + (i * BlockWords)] &= ~bit;
        }

        SetNarrow(ordinal, 0); // a contact without a value has offset 0 in the narrow offsets too (see AndRangeNarrow)
        Count--;
    }

    private void SetNarrow(int ordinal, long offset)
    {
        if (_narrow8 is { } n8)
        {
            n8[ordinal] = (byte)offset;
        }
        else if (_narrow16 is { } n16)
        {
            n16[ordinal] = (ushort)offset;
        }
    }

    /// <summary>Allocates the narrow offsets for a frame <paramref name="width"/> bits wide (none beyond 16 bits; none for
    /// width 0, where every value is <see cref="Base"/>).</summary>
    private void AllocateNarrow(int width)
    {
        _narrow8 = width is > 0 and <= 8 ? new byte[_blocks * 512] : null;
        _narrow16 = width is > 8 and <= 16 ? new ushort[_blocks * 512] : null;
    }

    /// <summary>Removes every value and forgets the frame.</summary>
    public void Reset()
    {
        Array.Clear(_data);
        _data = new ulong[_blocks * BlockWords];
        Width = 0;
        Base = 0;
        Count = 0;
        _narrow8 = null;
        _narrow16 = null;
        _min = long.MaxValue;
        _max = long.MinValue;
    }

    /// <summary>Rewrites every value with a new frame (base and width). O(contacts × width).</summary>
    public void Rebuild(long newBase, int newWidth)
    {
        var oldData = _data;
        var oldStride = Stride;
        var oldWidth = Width;
        var oldBase = Base;
        var newStride = (newWidth + 1) * BlockWords;
        var data = new ulong[_blocks * newStride];
        AllocateNarrow(newWidth);
        for (var b = 0; b < _blocks; b++)
        {
            for (var j = 0; j < BlockWords; j++)
            {
                var exists = oldData[(b * oldStride) + j];
                data[(b * newStride) + j] = exists;
                while (exists != 0)
                {
                    var bitIndex = BitOperations.TrailingZeroCount(exists);
                    var bit = 1UL << bitIndex;
                    exists &= exists - 1;
                    long v = 0;
                    for (var i = 0; i < oldWidth; i++)
                    {
                        if ((oldData[(b * oldStride) + ((i + 1) * BlockWords) + j] & bit) != 0)
                        {
                            v |= 1L << i;
                        }
                    }

                    var offset = v + oldBase - newBase;
                    SetNarrow((b * 512) + (j * 64) + bitIndex, offset);
                    for (var i = 0; i < newWidth; i++)
                    {
                        if ((offset & (1L << i)) != 0)
                        {
                            data[(b * newStride) + ((i + 1) * BlockWords) + j] |= bit;
                        }
                    }
                }
            }
        }

        _data = data;
        Width = newWidth;
        Base = newBase;
    }

    /// <summary>How many blocks ahead the dense scan prefetches the lines it will read. The scan reads a block's slices from
    /// the top one down (and skips the exists line and the low slices when it can), a pattern the hardware prefetcher
    /// follows badly: prefetching the next blocks' lines in ascending order cut BROAD's one-thread CPU by about a quarter
    /// (4 to 16 blocks measured the same; docs/benchmarks.md, session 6).</summary>
    private const int BlocksAhead = 8;

    /// <summary>Restricts <paramref name="acc"/> to contacts with a value in [<paramref name="lo"/>, <paramref name="hi"/>].</summary>
    /// <param name="acc">Candidates; its length is a multiple of <see cref="BlockWords"/>.</param>
    /// <param name="lo">Inclusive lower bound (stored units).</param>
    /// <param name="hi">Inclusive upper bound (stored units).</param>
    /// <param name="startWord">The word of the whole base that <paramref name="acc"/> starts at (a multiple of <see cref="BlockWords"/>).</param>
    [SkipLocalsInit] // narrowWords is written before it is read
    public void AndRange(Span<ulong> acc, long lo, long hi, int startWord = 0)
    {
        lo = Math.Max(lo, -Limit - 1);
        hi = Math.Min(hi, Limit + 1);
        var maxOffset = Width == 0 ? 0 : (Width >= 63 ? long.MaxValue : (1L << Width) - 1);
        var loOff = lo - Base;
        var hiOff = hi - Base;
        if (Count == 0 || lo > hi || hiOff < 0 || loOff > maxOffset)
        {
            acc.Clear();
            return;
        }

        loOff = Math.Max(loOff, 0);
        hiOff = Math.Min(hiOff, maxOffset);
        // Every stored value lies in [Min, Max]: a bound outside it needs no comparison.
        var checkLo = loOff > 0 && lo > _min;
        var checkHi = hiOff < maxOffset && hi < _max;
        // Per block, the narrow offsets read one or two cache lines per word with candidates (plus the exists line) where
        // the slices read width + 1 lines: sparse blocks go narrow, dense ones through the slices.
        var narrowLines = _narrow8 is not null ? 1 : _narrow16 is not null ? 2 : int.MaxValue / 16;
        var compare = checkLo || checkHi;
        // Slices below the lowest 1 of loOff cannot change "≥ lo" (gt | eqLo stays the same), nor slices below the lowest 0
        // of hiOff "≤ hi": the bit-serial comparison stops there (budget ≥ 20 reads 5 of 7 slices).
        var lowest = Math.Min(checkLo ? BitOperations.TrailingZeroCount(loOff) : Width, checkHi ? BitOperations.TrailingZeroCount(~hiOff) : Width);
        // A contact without a value has every slice 0 (offset 0, Set/Clear/Rebuild keep it so): with a lower bound above
        // offset 0 it already fails "≥ lo", so the exists slice need not be read (budget ≥ 20: 5 lines per block, not 6).
        var readExists = !checkLo;
        var denseLines = (compare ? Width - lowest : 0) + (readExists ? 1 : 0);
        // Likewise a contact without a value has narrow offset 0 (Set, Clear, Rebuild and AppendBlock keep it so): with
        // loOff > 0 the narrow comparison rejects it without the exists line.
        var narrowExists = !(compare && loOff > 0);
        var accVec = MemoryMarshal.Cast<ulong, Vector<ulong>>(acc);
        var data = MemoryMarshal.Cast<ulong, Vector<ulong>>(_data.AsSpan());
        var perSlice = BlockWords / Vector<ulong>.Count;
        var stride = Stride / Vector<ulong>.Count;
        var blocks = acc.Length / BlockWords;
        var width = Width;
        var firstBlock = startWord / BlockWords;
        // Words of sparse blocks, probed after the dense blocks with their cache lines prefetched a few words ahead: the
        // offsets of scattered candidates are cache misses, and probing them one after the other would wait for each.
        Span<int> narrowWords = stackalloc int[acc.Length];
        var narrowCount = 0;
        for (var lb = 0; lb < blocks; lb++)
        {
            var b = firstBlock + lb;
            var accBlock = acc.Slice(lb * BlockWords, BlockWords);
            if (b >= _blocks)
            {
                accBlock.Clear();
                continue;
            }

            if (IsZero(accBlock))
            {
                continue;
            }

            if ((NonZeroWords(accBlock) * narrowLines) + (narrowExists ? 1 : 0) < denseLines)
            {
                for (var w = 0; w < BlockWords; w++)
                {
                    if (accBlock[w] != 0)
                    {
                        narrowWords[narrowCount++] = (lb * BlockWords) + w;
                    }
                }

                continue;
            }

            if (b + BlocksAhead < _blocks)
            {
                ref var ahead = ref _data[(b + BlocksAhead) * Stride];
                if (readExists)
                {
                    Prefetch.Line(ref ahead);
                }

                for (var i = lowest; i < width; i++)
                {
                    Prefetch.Line(ref Unsafe.Add(ref ahead, (i + 1) * BlockWords));
                }
            }

            if (Vector512.IsHardwareAccelerated)
            {
                // One 512-bit vector is a whole block: half the instructions of Vector<T> (256 bits) per slice.
                AndBlock512(accBlock, b * Stride, loOff, hiOff, checkLo, checkHi, lowest, readExists);
                continue;
            }

            var blockBase = b * stride;
            for (var j = 0; j < perSlice; j++)
            {
                ref var target = ref accVec[(lb * perSlice) + j];
                var cand = readExists ? target & data[blockBase + j] : target;
                if (cand == Vector<ulong>.Zero)
                {
                    target = cand;
                    continue;
                }

                var gt = Vector<ulong>.Zero;
                var eqLo = cand;
                var lt = Vector<ulong>.Zero;
                var eqHi = cand;
                for (var i = width - 1; i >= lowest; i--)
                {
                    var s = data[blockBase + ((i + 1) * perSlice) + j];
                    if (checkLo)
                    {
                        if ((loOff & (1L << i)) != 0)
                        {
                            eqLo &= s;
                        }
                        else
                        {
                            gt |= eqLo & s;
                            eqLo = Vector.AndNot(eqLo, s);
                        }
                    }

                    if (checkHi)
                    {
                        if ((hiOff & (1L << i)) != 0)
                        {
                            lt |= Vector.AndNot(eqHi, s);
                            eqHi &= s;
                        }
                        else
                        {
                            eqHi = Vector.AndNot(eqHi, s);
                        }
                    }
                }

                var ge = checkLo ? gt | eqLo : cand;
                var le = checkHi ? lt | eqHi : cand;
                target = ge & le;
            }
        }

        if (narrowCount > 0)
        {
            AndRangeNarrow(acc, narrowWords[..narrowCount], loOff, hiOff, compare, narrowExists, startWord);
        }
    }

    /// <summary>O'Neil's comparison of one block (512 contacts) with the bounds, one <see cref="Vector512{T}"/> per slice.</summary>
    private void AndBlock512(Span<ulong> accBlock, int blockBase, long loOff, long hiOff, bool checkLo, bool checkHi, int lowest, bool readExists)
    {
        ref var target = ref MemoryMarshal.GetReference(accBlock);
        ref var block = ref _data[blockBase];
        var cand = readExists ? Vector512.LoadUnsafe(ref target) & Vector512.LoadUnsafe(ref block) : Vector512.LoadUnsafe(ref target);
        if (cand == Vector512<ulong>.Zero)
        {
            cand.StoreUnsafe(ref target);
            return;
        }

        var gt = Vector512<ulong>.Zero;
        var eqLo = cand;
        var lt = Vector512<ulong>.Zero;
        var eqHi = cand;
        for (var i = Width - 1; i >= lowest; i--)
        {
            var s = Vector512.LoadUnsafe(ref block, (nuint)((i + 1) * BlockWords));
            if (checkLo)
            {
                if ((loOff & (1L << i)) != 0)
                {
                    eqLo &= s;
                }
                else
                {
                    gt |= eqLo & s;
                    eqLo = Vector512.AndNot(eqLo, s);
                }
            }

            if (checkHi)
            {
                if ((hiOff & (1L << i)) != 0)
                {
                    lt |= Vector512.AndNot(eqHi, s);
                    eqHi &= s;
                }
                else
                {
                    eqHi = Vector512.AndNot(eqHi, s);
                }
            }
        }

        var ge = checkLo ? gt | eqLo : cand;
        var le = checkHi ? lt | eqHi : cand;
        (ge & le).StoreUnsafe(ref target);
    }

    /// <summary>The most candidates <see cref="AndRangeProbe"/> takes (per call).</summary>
    public const int MaxProbeCandidates = 4096;

    /// <summary>
    /// Restricts <paramref name="acc"/> to contacts with a value in [<paramref name="lo"/>, <paramref name="hi"/>] by reading
    /// each candidate's narrow offset (prefetched a few candidates ahead) instead of scanning blocks: cheaper than any scan
    /// when the candidates are few and scattered. Needs <see cref="HasNarrowOffsets"/> and at most
    /// <see cref="MaxProbeCandidates"/> candidates; returns false (and leaves <paramref name="acc"/> alone) otherwise.
    /// </summary>
    /// <param name="acc">Candidates.</param>
    /// <param name="lo">Inclusive lower bound (stored units).</param>
    /// <param name="hi">Inclusive upper bound (stored units).</param>
    /// <param name="startWord">The word of the whole base that <paramref name="acc"/> starts at.</param>
    [SkipLocalsInit] // candidates is written before it is read
    public bool AndRangeProbe(Span<ulong> acc, long lo, long hi, int startWord)
    {
        if (!HasNarrowOffsets)
        {
            return false;
        }

        Span<int> candidates = stackalloc int[MaxProbeCandidates];
        var n = 0;
        for (var w = 0; w < acc.Length; w++)
        {
            var word = acc[w];
            if (word == 0)
            {
                continue;
            }

            if (n + BitOperations.PopCount(word) > MaxProbeCandidates)
            {
                return false;
            }

            while (word != 0)
            {
                candidates[n++] = (w << 6) + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
            }
        }

        var maxOffset = (1L << Width) - 1;
        var loOff = Math.Max(lo, -Limit - 1) - Base;
        var hiOff = Math.Min(hi, Limit + 1) - Base;
        if (Count == 0 || lo > hi || hiOff < 0 || loOff > maxOffset)
        {
            acc.Clear();
            return true;
        }

        var l = (ushort)Math.Max(loOff, 0);
        var range = (ushort)(Math.Min(hiOff, maxOffset) - l);
        // Offset 0 is every contact without a value: a lower bound above it needs no exists line.
        var readExists = l == 0;
        var first = startWord << 6;
        var end = _blocks << 9;
        var data = _data;
        var stride = Stride;
        var n8 = _narrow8;
        var n16 = _narrow16;
        for (var k = 0; k < n; k++)
        {
            if (k + PrefetchDistance < n && first + candidates[k + PrefetchDistance] < end)
            {
                var p = first + candidates[k + PrefetchDistance];
                if (readExists)
                {
                    Prefetch.Line(ref data[((p >> 9) * stride) + ((p & 511) >> 6)]);
                }

                if (n8 is not null)
                {
                    Prefetch.Line(ref n8[p]);
                }
                else
                {
                    Prefetch.Line(ref n16![p]);
                }
            }

            var c = candidates[k];
            var o = first + c;
            var keep = o < end
                && (!readExists || (data[((o >> 9) * stride) + ((o & 511) >> 6)] & (1UL << o)) != 0)
                && (n8 is not null ? (byte)(n8[o] - l) <= range : (ushort)(n16![o] - l) <= range);
            if (!keep)
            {
                acc[c >> 6] &= ~(1UL << c);
            }
        }

        return true;
    }

    /// <summary>How many candidate words ahead <see cref="AndRangeNarrow"/> prefetches (enough misses in flight to hide
    /// memory latency, few enough lines to stay in L1).</summary>
    private const int PrefetchDistance = 12;

    /// <summary>The range scan over the narrow offsets for the listed candidate words of <paramref name="acc"/> (all within the
    /// column's blocks): per word, 64 offsets compared at once; the exists word and the offsets of the word
    /// <see cref="PrefetchDistance"/> places ahead are prefetched.</summary>
    /// <param name="acc">Candidates.</param>
    /// <param name="words">The words of <paramref name="acc"/> to scan.</param>
    /// <param name="loOff">Inclusive lower bound, as an offset (≥ 0).</param>
    /// <param name="hiOff">Inclusive upper bound, as an offset.</param>
    /// <param name="compare">Whether the offsets are compared (false: only "has a value").</param>
    /// <param name="readExists">Whether the exists words are read: not needed when the comparison rejects offset 0, the
    /// offset of every contact without a value.</param>
    /// <param name="startWord">The word of the whole base that <paramref name="acc"/> starts at.</param>
    private void AndRangeNarrow(Span<ulong> acc, ReadOnlySpan<int> words, long loOff, long hiOff, bool compare, bool readExists, int startWord)
    {
        var lo = (ushort)loOff;
        var range = (ushort)(hiOff - loOff);
        var stride = Stride;
        var data = _data;
        var n8 = _narrow8;
        var n16 = _narrow16;
        for (var k = 0; k < Math.Min(PrefetchDistance, words.Length); k++)
        {
            PrefetchWord(startWord + words[k], readExists ? data : null, stride, n8, n16);
        }

        for (var k = 0; k < words.Length; k++)
        {
            if (k + PrefetchDistance < words.Length)
            {
                PrefetchWord(startWord + words[k + PrefetchDistance], readExists ? data : null, stride, n8, n16);
            }

            var w = words[k];
            var gw = startWord + w;
            var a = readExists ? acc[w] & data[((gw >> 3) * stride) + (gw & 7)] : acc[w];
            if (a != 0 && compare)
            {
                a &= n8 is not null ? InRange8(n8, gw << 6, (byte)lo, (byte)range) : InRange16(n16!, gw << 6, lo, range);
            }

            acc[w] = a;
        }
    }

    /// <summary>Prefetches the exists word (unless <paramref name="data"/> is null) and the narrow offsets of global word <paramref name="gw"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchWord(int gw, ulong[]? data, int stride, byte[]? n8, ushort[]? n16)
    {
        if (data is not null)
        {
            Prefetch.Line(ref data[((gw >> 3) * stride) + (gw & 7)]);
        }

        if (n8 is not null)
        {
            Prefetch.Line(ref n8[gw << 6]);
            Prefetch.Line(ref n8[(gw << 6) + 63]);
        }
        else if (n16 is not null)
        {
            Prefetch.Line(ref n16[gw << 6]);
            Prefetch.Line(ref n16[(gw << 6) + 32]);
            Prefetch.Line(ref n16[(gw << 6) + 63]);
        }
    }

    /// <summary>Bit i set ⇔ <c>lo ≤ offsets[first + i] ≤ lo + range</c>, for 64 offsets.</summary>
    private static ulong InRange8(byte[] offsets, int first, byte lo, byte range)
    {
        ref var start = ref offsets[first];
        if (Vector256.IsHardwareAccelerated)
        {
            var l = Vector256.Create(lo);
            var r = Vector256.Create(range);
            var m0 = Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref start) - l, r).ExtractMostSignificantBits();
            var m1 = Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref start, 32) - l, r).ExtractMostSignificantBits();
            return m0 | ((ulong)m1 << 32);
        }

        ulong mask = 0;
        for (var i = 0; i < 64; i++)
        {
            if ((byte)(Unsafe.Add(ref start, i) - lo) <= range)
            {
                mask |= 1UL << i;
            }
        }

        return mask;
    }

    /// <summary>Bit i set ⇔ <c>lo ≤ offsets[first + i] ≤ lo + range</c>, for 64 offsets.</summary>
    private static ulong InRange16(ushort[] offsets, int first, ushort lo, ushort range)
    {
        ref var start = ref offsets[first];
        if (Vector256.IsHardwareAccelerated)
        {
            var l = Vector256.Create(lo);
            var r = Vector256.Create(range);
            ulong mask = 0;
            for (var i = 0; i < 4; i++)
            {
                mask |= (ulong)Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref start, (nuint)(i * 16)) - l, r).ExtractMostSignificantBits() << (i * 16);
            }

            return mask;
        }

        ulong scalar = 0;
        for (var i = 0; i < 64; i++)
        {
            if ((ushort)(Unsafe.Add(ref start, i) - lo) <= range)
            {
                scalar |= 1UL << i;
            }
        }

        return scalar;
    }

    /// <summary>Restricts <paramref name="acc"/> to contacts with a value.</summary>
    public void AndExists(Span<ulong> acc, int startWord = 0)
    {
        var blocks = acc.Length / BlockWords;
        for (var lb = 0; lb < blocks; lb++)
        {
            var b = (startWord / BlockWords) + lb;
            var accBlock = acc.Slice(lb * BlockWords, BlockWords);
            if (b >= _blocks)
            {
                accBlock.Clear();
                continue;
            }

            DenseBits.And(accBlock, _data.AsSpan(b * Stride, BlockWords));
        }
    }

    /// <summary>Estimated fraction of contacts in [lo, hi], assuming values spread evenly between min and max.</summary>
    public double Estimate(long lo, long hi, int population)
    {
        if (Count == 0 || population == 0 || hi < lo || hi < _min || lo > _max)
        {
            return 0;
        }

        var span = (double)_max - _min + 1;
        var covered = (double)Math.Min(hi, _max) - Math.Max(lo, _min) + 1;
        return covered / span * Count / population;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NonZeroWords(ReadOnlySpan<ulong> block)
    {
        var n = 0;
        foreach (var w in block)
        {
            n += w != 0 ? 1 : 0;
        }

        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsZero(ReadOnlySpan<ulong> block)
    {
        var v = MemoryMarshal.Cast<ulong, Vector<ulong>>(block);
        var any = Vector<ulong>.Zero;
        for (var i = 0; i < v.Length; i++)
        {
            any |= v[i];
        }

        return any == Vector<ulong>.Zero;
    }

    private static int BitsFor(long offset) => offset <= 0 ? 0 : 64 - BitOperations.LeadingZeroCount((ulong)offset);
}
