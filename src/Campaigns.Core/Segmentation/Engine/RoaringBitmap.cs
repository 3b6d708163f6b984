using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// A compressed bitmap of 32-bit values laid out as Roaring does: the high 16 bits pick a chunk, each chunk is an
/// array container (≤ 4096 sorted values), a bitmap container (1024 words) or a run container (sorted runs).
/// Not thread-safe: the owner synchronizes.
/// </summary>
internal sealed class RoaringBitmap
{
    private ushort[] _keys = [];
    private Container[] _containers = [];
    private int _count;

    /// <summary>The sum of the containers' cardinalities, kept up to date by every change (<see cref="Add"/>,
    /// <see cref="Remove"/>, <see cref="Insert"/>): a plan's compiler asks for the cardinality of many bitmaps (each day of
    /// a window, each value of a union, each tag), and summing 153 containers each time was a cache miss per container.</summary>
    private long _cardinality;

    /// <summary>The number of values (O(1)).</summary>
    public long Cardinality => _cardinality;

    public bool IsEmpty => _count == 0;

    internal int ContainerCount => _count;

    internal Container GetContainer(int index) => _containers[index];

    internal ushort GetKey(int index) => _keys[index];

    public static RoaringBitmap FromValues(IEnumerable<int> values)
    {
        var r = new RoaringBitmap();
        foreach (var v in values)
        {
            r.Add(v);
        }

        return r;
    }

    /// <summary>Builds a bitmap from dense words, choosing the smallest container per chunk.</summary>
    public static RoaringBitmap FromDense(ReadOnlySpan<ulong> words)
    {
        var r = new RoaringBitmap();
        for (var start = 0; start < words.Length; start += Container.Words)
        {
            var chunk = words.Slice(start, Math.Min(Container.Words, words.Length - start));
            var c = Container.FromWords(chunk);
            if (c is not null)
            {
                r.Append((ushort)(start / Container.Words), c);
            }
        }

        return r;
    }

    /// <summary>Appends chunk <paramref name="key"/> (greater than every key so far) from its words.</summary>
    /// <remarks>Chunks with more than 512 values become bitmap containers (a copy) rather than arrays: cheaper to
    /// build for evaluation results, at most 8 KB per chunk.</remarks>
    public void AppendChunk(int key, ReadOnlySpan<ulong> words)
    {
        if (ChunkContainer(words) is { } c)
        {
            Append((ushort)key, c);
        }
    }

    /// <summary>The container for one chunk's words (as <see cref="AppendChunk"/> stores it), or null when empty.</summary>
    public static Container? ChunkContainer(ReadOnlySpan<ulong> words)
    {
        // One pass counts values and runs (a run starts at each 1 whose predecessor bit is 0), then the smallest encoding
        // is built directly, as Container.FromWords chooses it.
        var card = 0;
        var runs = 0;
        ulong prevHigh = 0;
        foreach (var w in words)
        {
            card += BitOperations.PopCount(w);
            runs += BitOperations.PopCount(w & ~((w << 1) | prevHigh));
            prevHigh = w >> 63;
        }

        if (card == 0)
        {
            return null;
        }

        if (card > 512 && words.Length == Container.Words)
        {
            return BitmapContainer.FromWords(words, card);
        }

        if (runs * 4 < Math.Min(card * 2, Container.Words * 8))
        {
            return RunContainer.FromWords(words, runs);
        }

        return card <= Container.ArrayMax ? ArrayContainer.FromWords(words, card) : BitmapContainer.FromWords(words, card);
    }

    /// <summary>Builds a bitmap from one container (or null) per chunk, chunk <c>k</c> at index <c>k</c>.</summary>
    public static RoaringBitmap FromChunks(ReadOnlySpan<Container?> chunks)
    {
        var r = new RoaringBitmap();
        for (var k = 0; k < chunks.Length; k++)
        {
            if (chunks[k] is { } c)
            {
                r.Append((ushort)k, c);
            }
        }

        return r;
    }

    /// <summary>The highest chunk key holding values, -1 when empty.</summary>
    public int LastKey => _count == 0 ? -1 : _keys[_count - 1];

    /// <summary>Adds sorted distinct low halves of chunk <paramref name="key"/>: one exact-size container appended when the
    /// chunk is beyond every chunk so far (the bulk path), value by value otherwise.</summary>
    public void AppendSorted(int key, ReadOnlySpan<ushort> lows)
    {
        if (lows.IsEmpty)
        {
            return;
        }

        if (_count == 0 || _keys[_count - 1] < key)
        {
            Append((ushort)key, lows.Length > Container.ArrayMax ? BitmapContainer.FromArray(lows) : ArrayContainer.FromSorted(lows));
            return;
        }

        foreach (var low in lows)
        {
            Add((key << 16) | low);
        }
    }

    public bool Contains(int value)
    {
        var i = Find((ushort)((uint)value >> 16));
        return i >= 0 && _containers[i].Contains((ushort)value);
    }

    public bool Add(int value)
    {
        var key = (ushort)((uint)value >> 16);
        var i = Find(key);
        if (i < 0)
        {
            Insert(~i, key, new ArrayContainer((ushort)value));
            return true;
        }

        var before = _containers[i].Cardinality;
        _containers[i] = _containers[i].Add((ushort)value);
        var added = _containers[i].Cardinality - before;
        _cardinality += added;
        return added != 0;
    }

    public bool Remove(int value)
    {
        var i = Find((ushort)((uint)value >> 16));
        if (i < 0)
        {
            return false;
        }

        var before = _containers[i].Cardinality;
        var c = _containers[i].Remove((ushort)value);
        if (c is null)
        {
            Array.Copy(_keys, i + 1, _keys, i, _count - i - 1);
            Array.Copy(_containers, i + 1, _containers, i, _count - i - 1);
            _count--;
            _containers[_count] = null!;
            _cardinality -= before;
            return true;
        }

        _containers[i] = c;
        var removed = before - c.Cardinality;
        _cardinality -= removed;
        return removed != 0;
    }

    /// <summary>Converts containers to run containers where that is smaller.</summary>
    public void Optimize()
    {
        for (var i = 0; i < _count; i++)
        {
            _containers[i] = _containers[i].Optimize();
        }
    }

    /// <summary>Values in ascending order.</summary>
    public IEnumerable<int> Enumerate()
    {
        for (var i = 0; i < _count; i++)
        {
            var high = _keys[i] << 16;
            foreach (var low in _containers[i].Enumerate())
            {
                yield return high | low;
            }
        }
    }

    /// <summary><paramref name="words"/> (the words of chunk <paramref name="key"/>, at most 1024) &amp;= this.</summary>
    public void AndIntoChunk(Span<ulong> words, int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        if (i < 0)
        {
            words.Clear();
        }
        else
        {
            _containers[i].AndInto(words);
        }
    }

    /// <summary><paramref name="words"/> (the words of chunk <paramref name="key"/>) &amp;= ~this.</summary>
    public void AndNotIntoChunk(Span<ulong> words, int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        if (i >= 0)
        {
            _containers[i].AndNotInto(words);
        }
    }

    /// <summary>The words of chunk <paramref name="key"/> when it is stored as a bitmap container (1,024 words), else null.</summary>
    public ulong[]? ChunkWords(int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        return i >= 0 && _containers[i] is BitmapContainer b ? b.WordArray : null;
    }

    /// <summary>The number of values in chunk <paramref name="key"/> (65,536 ordinals from <c>key · 65,536</c>).</summary>
    public int ChunkCardinality(int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        return i < 0 ? 0 : _containers[i].Cardinality;
    }

    /// <summary><paramref name="words"/> (the words of chunk <paramref name="key"/>) |= this.</summary>
    public void OrIntoChunk(Span<ulong> words, int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        if (i >= 0)
        {
            _containers[i].OrInto(words);
        }
    }

    /// <summary>Prefetches the first cache lines of chunk <paramref name="key"/>'s values (array containers: a union of many
    /// sparse bitmaps issues these misses together instead of one array after the other).</summary>
    public void PrefetchChunk(int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        if (i >= 0)
        {
            _containers[i].Prefetch();
        }
    }

    /// <summary>The values of chunk <paramref name="key"/> in ascending order.</summary>
    public IEnumerable<int> EnumerateChunk(int key)
    {
        var i = key > ushort.MaxValue ? -1 : Find((ushort)key);
        if (i < 0)
        {
            yield break;
        }

        foreach (var low in _containers[i].Enumerate())
        {
            yield return (key << 16) | low;
        }
    }

    /// <summary><paramref name="dense"/> &amp;= this.</summary>
    public void AndInto(Span<ulong> dense)
    {
        var next = 0;
        for (var i = 0; i < _count; i++)
        {
            var start = _keys[i] * Container.Words;
            if (start >= dense.Length)
            {
                break;
            }

            dense[next..start].Clear();
            var end = Math.Min(start + Container.Words, dense.Length);
            _containers[i].AndInto(dense[start..end]);
            next = end;
        }

        if (next < dense.Length)
        {
            dense[next..].Clear();
        }
    }

    /// <summary><paramref name="dense"/> |= this.</summary>
    public void OrInto(Span<ulong> dense)
    {
        for (var i = 0; i < _count; i++)
        {
            var start = _keys[i] * Container.Words;
            if (start >= dense.Length)
            {
                break;
            }

            _containers[i].OrInto(dense[start..Math.Min(start + Container.Words, dense.Length)]);
        }
    }

    /// <summary><paramref name="dense"/> &amp;= ~this.</summary>
    public void AndNotInto(Span<ulong> dense)
    {
        for (var i = 0; i < _count; i++)
        {
            var start = _keys[i] * Container.Words;
            if (start >= dense.Length)
            {
                break;
            }

            _containers[i].AndNotInto(dense[start..Math.Min(start + Container.Words, dense.Length)]);
        }
    }

    public ulong[] ToDense(int wordCount)
    {
        var words = new ulong[wordCount];
        OrInto(words);
        return words;
    }

    public static RoaringBitmap And(RoaringBitmap a, RoaringBitmap b) => Combine(a, b, Op.And);

    public static RoaringBitmap Or(RoaringBitmap a, RoaringBitmap b) => Combine(a, b, Op.Or);

    public static RoaringBitmap AndNot(RoaringBitmap a, RoaringBitmap b) => Combine(a, b, Op.AndNot);

    private enum Op
    {
        And,
        Or,
        AndNot,
    }

    private static RoaringBitmap Combine(RoaringBitmap a, RoaringBitmap b, Op op)
    {
        var r = new RoaringBitmap();
        int i = 0, j = 0;
        Span<ulong> x = stackalloc ulong[Container.Words];
        while (i < a._count || j < b._count)
        {
            var ka = i < a._count ? a._keys[i] : int.MaxValue;
            var kb = j < b._count ? b._keys[j] : int.MaxValue;
            if (ka < kb)
            {
                if (op != Op.And)
                {
                    r.Append((ushort)ka, a._containers[i].Clone());
                }

                i++;
            }
            else if (kb < ka)
            {
                if (op == Op.Or)
                {
                    r.Append((ushort)kb, b._containers[j].Clone());
                }

                j++;
            }
            else
            {
                Container? c;
                if (op == Op.And && a._containers[i] is ArrayContainer aa && b._containers[j] is ArrayContainer ab)
                {
                    c = ArrayContainer.Intersect(aa, ab);
                }
                else
                {
                    x.Clear();
                    a._containers[i].OrInto(x);
                    switch (op)
                    {
                        case Op.And:
                            b._containers[j].AndInto(x);
                            break;
                        case Op.Or:
                            b._containers[j].OrInto(x);
                            break;
                        default:
                            b._containers[j].AndNotInto(x);
                            break;
                    }

                    c = Container.FromWords(x);
                }

                if (c is not null)
                {
                    r.Append((ushort)ka, c);
                }

                i++;
                j++;
            }
        }

        return r;
    }

    private int Find(ushort key)
    {
        if (_count > 0 && _keys[_count - 1] == key)
        {
            return _count - 1;
        }

        if (_count > key && _keys[key] == key)
        {
            return key; // dense bitmaps: chunk k is at index k
        }

        return Array.BinarySearch(_keys, 0, _count, key);
    }

    private void Append(ushort key, Container c) => Insert(_count, key, c);

    private void Insert(int index, ushort key, Container c)
    {
        if (_count == _keys.Length)
        {
            var size = Math.Max(4, _count * 2);
            Array.Resize(ref _keys, size);
            Array.Resize(ref _containers, size);
        }

        Array.Copy(_keys, index, _keys, index + 1, _count - index);
        Array.Copy(_containers, index, _containers, index + 1, _count - index);
        _keys[index] = key;
        _containers[index] = c;
        _count++;
        _cardinality += c.Cardinality;
    }
}

/// <summary>One 2^16-value chunk of a <see cref="RoaringBitmap"/>.</summary>
internal abstract class Container
{
    public const int Words = 1024;
    public const int ArrayMax = 4096;

    public abstract int Cardinality { get; }

    /// <summary>Prefetches the first cache lines of the container's values (a no-op unless overridden).</summary>
    public virtual void Prefetch()
    {
    }

    public abstract bool Contains(ushort value);

    /// <summary>Adds; returns this or a converted container.</summary>
    public abstract Container Add(ushort value);

    /// <summary>Removes; returns this, a converted container, or null when empty.</summary>
    public abstract Container? Remove(ushort value);

    public abstract IEnumerable<int> Enumerate();

    public abstract void AndInto(Span<ulong> words);

    public abstract void OrInto(Span<ulong> words);

    public abstract void AndNotInto(Span<ulong> words);

    public abstract Container Clone();

    /// <summary>The smallest of array, bitmap and run encodings of the same values.</summary>
    public Container Optimize()
    {
        Span<ulong> w = stackalloc ulong[Words];
        OrInto(w);
        return FromWords(w) ?? this;
    }

    /// <summary>Builds the smallest container for the words (up to 1024), or null when empty.</summary>
    public static Container? FromWords(ReadOnlySpan<ulong> words)
    {
        var card = 0;
        var runs = 0;
        ulong prevHigh = 0;
        for (var i = 0; i < words.Length; i++)
        {
            var w = words[i];
            card += BitOperations.PopCount(w);

            // A run starts at each 1 whose predecessor bit is 0.
            var starts = w & ~((w << 1) | prevHigh);
            runs += BitOperations.PopCount(starts);
            prevHigh = w >> 63;
        }

        if (card == 0)
        {
            return null;
        }

        var arrayBytes = card * 2;
        var runBytes = runs * 4;
        if (runBytes < Math.Min(arrayBytes, Words * 8))
        {
            return RunContainer.FromWords(words, runs);
        }

        return card <= ArrayMax ? ArrayContainer.FromWords(words, card) : BitmapContainer.FromWords(words, card);
    }
}

/// <summary>Sorted distinct 16-bit values; at most 4096.</summary>
internal sealed class ArrayContainer : Container
{
    private ushort[] _values;
    private int _count;

    public ArrayContainer(ushort value)
    {
        _values = new ushort[4];
        _values[0] = value;
        _count = 1;
    }

    private ArrayContainer(ushort[] values, int count)
    {
        _values = values;
        _count = count;
    }

    public override int Cardinality => _count;

    /// <summary>How many lines of values <see cref="Prefetch"/> asks for (4 lines: 128 values; the hardware prefetcher
    /// follows the sequential reads after them).</summary>
    private const int PrefetchLines = 4;

    public override void Prefetch()
    {
        var lines = Math.Min(PrefetchLines, (_count + 31) >> 5);
        for (var l = 0; l < lines; l++)
        {
            Engine.Prefetch.Line(ref _values[l << 5]);
        }
    }

    public static ArrayContainer FromWords(ReadOnlySpan<ulong> words, int card)
    {
        var values = new ushort[card];
        var n = 0;
        for (var w = 0; w < words.Length; w++)
        {
            var word = words[w];
            while (word != 0)
            {
                values[n++] = (ushort)((w << 6) + BitOperations.TrailingZeroCount(word));
                word &= word - 1;
            }
        }

        return new ArrayContainer(values, n);
    }

    public static ArrayContainer FromSorted(ReadOnlySpan<ushort> values) => new(values.ToArray(), values.Length);

    public static Container? Intersect(ArrayContainer a, ArrayContainer b)
    {
        var result = new ushort[Math.Min(a._count, b._count)];
        int i = 0, j = 0, n = 0;
        while (i < a._count && j < b._count)
        {
            var x = a._values[i];
            var y = b._values[j];
            if (x == y)
            {
                result[n++] = x;
                i++;
                j++;
            }
            else if (x < y)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return n == 0 ? null : new ArrayContainer(result, n);
    }

    public override bool Contains(ushort value) => Array.BinarySearch(_values, 0, _count, value) >= 0;

    public override Container Add(ushort value)
    {
        int index;
        if (_count == 0 || _values[_count - 1] < value)
        {
            index = _count;
        }
        else
        {
            index = Array.BinarySearch(_values, 0, _count, value);
            if (index >= 0)
            {
                return this;
            }

            index = ~index;
        }

        if (_count == ArrayMax)
        {
            var bitmap = BitmapContainer.FromArray(_values, _count);
            return bitmap.Add(value);
        }

        if (_count == _values.Length)
        {
            Array.Resize(ref _values, Math.Min(ArrayMax, _count * 2));
        }

        Array.Copy(_values, index, _values, index + 1, _count - index);
        _values[index] = value;
        _count++;
        return this;
    }

    public override Container? Remove(ushort value)
    {
        var index = Array.BinarySearch(_values, 0, _count, value);
        if (index < 0)
        {
            return this;
        }

        Array.Copy(_values, index + 1, _values, index, _count - index - 1);
        _count--;
        return _count == 0 ? null : this;
    }

    public override IEnumerable<int> Enumerate()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return _values[i];
        }
    }

    public override void AndInto(Span<ulong> words)
    {
        // In place: each word keeps the bits of the values that fall in it; words without values are cleared.
        var next = 0;
        var i = 0;
        while (i < _count)
        {
            var w = _values[i] >> 6;
            if (w >= words.Length)
            {
                break;
            }

            words[next..w].Clear();
            ulong mask = 0;
            while (i < _count && _values[i] >> 6 == w)
            {
                mask |= 1UL << _values[i];
                i++;
            }

            words[w] &= mask;
            next = w + 1;
        }

        words[next..].Clear();
    }

    public override void OrInto(Span<ulong> words)
    {
        // Values ascend: those below the span's end are a prefix. Then no bounds checks, four values per step (unions of
        // many sparse bitmaps, e.g. the day bitmaps of a date window, spend their time here).
        var n = _count;
        var limit = words.Length << 6;
        if (n > 0 && _values[n - 1] >= limit)
        {
            // limit < 65,536 here (the last value is at least limit); values are distinct.
            var at = Array.BinarySearch(_values, 0, n, (ushort)limit);
            n = at < 0 ? ~at : at;
        }

        ref var w = ref MemoryMarshal.GetReference(words);
        ref var v = ref MemoryMarshal.GetArrayDataReference(_values);
        var i = 0;
        for (; i + 4 <= n; i += 4)
        {
            int a = Unsafe.Add(ref v, i);
            int b = Unsafe.Add(ref v, i + 1);
            int c = Unsafe.Add(ref v, i + 2);
            int d = Unsafe.Add(ref v, i + 3);
            Unsafe.Add(ref w, a >> 6) |= 1UL << a;
            Unsafe.Add(ref w, b >> 6) |= 1UL << b;
            Unsafe.Add(ref w, c >> 6) |= 1UL << c;
            Unsafe.Add(ref w, d >> 6) |= 1UL << d;
        }

        for (; i < n; i++)
        {
            int a = Unsafe.Add(ref v, i);
            Unsafe.Add(ref w, a >> 6) |= 1UL << a;
        }
    }

    public override void AndNotInto(Span<ulong> words)
    {
        for (var i = 0; i < _count; i++)
        {
            int v = _values[i];
            if ((v >> 6) < words.Length)
            {
                words[v >> 6] &= ~(1UL << v);
            }
        }
    }

    public override Container Clone() => new ArrayContainer((ushort[])_values.Clone(), _count);
}

/// <summary>A 65536-bit bitmap; more than 4096 values.</summary>
internal sealed class BitmapContainer : Container
{
    private readonly ulong[] _words;
    private int _cardinality;

    private BitmapContainer(ulong[] words, int cardinality)
    {
        _words = words;
        _cardinality = cardinality;
    }

    public override int Cardinality => _cardinality;

    public static BitmapContainer FromArray(ReadOnlySpan<ushort> values)
    {
        var words = new ulong[Words];
        foreach (var v in values)
        {
            words[v >> 6] |= 1UL << v;
        }

        return new BitmapContainer(words, values.Length);
    }

    public static BitmapContainer FromArray(ushort[] values, int count)
    {
        var words = new ulong[Words];
        for (var i = 0; i < count; i++)
        {
            words[values[i] >> 6] |= 1UL << values[i];
        }

        return new BitmapContainer(words, count);
    }

    public static BitmapContainer FromWords(ReadOnlySpan<ulong> source, int card)
    {
        // Not zeroed by the allocator: every word is written here (evaluation results are built this way chunk by chunk).
        var words = GC.AllocateUninitializedArray<ulong>(Words);
        source.CopyTo(words);
        words.AsSpan(source.Length).Clear();
        return new BitmapContainer(words, card);
    }

    public override bool Contains(ushort value) => (_words[value >> 6] & (1UL << value)) != 0;

    public override Container Add(ushort value)
    {
        ref var w = ref _words[value >> 6];
        var bit = 1UL << value;
        if ((w & bit) == 0)
        {
            w |= bit;
            _cardinality++;
        }

        return this;
    }

    public override Container? Remove(ushort value)
    {
        ref var w = ref _words[value >> 6];
        var bit = 1UL << value;
        if ((w & bit) == 0)
        {
            return this;
        }

        w &= ~bit;
        _cardinality--;
        return _cardinality <= ArrayMax ? ArrayContainer.FromWords(_words, _cardinality) : this;
    }

    public override IEnumerable<int> Enumerate()
    {
        for (var w = 0; w < Words; w++)
        {
            var word = _words[w];
            while (word != 0)
            {
                yield return (w << 6) + BitOperations.TrailingZeroCount(word);
                word &= word - 1;
            }
        }
    }

    public override void AndInto(Span<ulong> words) => DenseBits.And(words, _words.AsSpan(0, words.Length));

    public override void OrInto(Span<ulong> words) => DenseBits.Or(words, _words.AsSpan(0, words.Length));

    public override void AndNotInto(Span<ulong> words) => DenseBits.AndNot(words, _words.AsSpan(0, words.Length));

    public override Container Clone() => new BitmapContainer((ulong[])_words.Clone(), _cardinality);

    /// <summary>The 1,024 words (read only: callers must not write them).</summary>
    internal ulong[] WordArray => _words;
}

/// <summary>Sorted runs of consecutive values as (start, length − 1) pairs.</summary>
internal sealed class RunContainer : Container
{
    private readonly ushort[] _runs; // start0, lenMinus1_0, start1, ...
    private readonly int _cardinality;

    private RunContainer(ushort[] runs, int cardinality)
    {
        _runs = runs;
        _cardinality = cardinality;
    }

    public override int Cardinality => _cardinality;

    internal int RunCount => _runs.Length / 2;

    public static RunContainer FromWords(ReadOnlySpan<ulong> words, int runs)
    {
        var pairs = new ushort[runs * 2];
        var n = 0;
        var card = 0;
        var total = words.Length * 64;
        var v = 0;
        while (v < total)
        {
            var first = Next(words, v, true);
            if (first < 0)
            {
                break;
            }

            var end = Next(words, first, false);
            if (end < 0)
            {
                end = total;
            }

            pairs[n++] = (ushort)first;
            pairs[n++] = (ushort)(end - 1 - first);
            card += end - first;
            v = end;
        }

        return new RunContainer(pairs, card);
    }

    private static int Next(ReadOnlySpan<ulong> words, int from, bool set)
    {
        var w = from >> 6;
        var word = (set ? words[w] : ~words[w]) & (ulong.MaxValue << (from & 63));
        while (word == 0)
        {
            if (++w == words.Length)
            {
                return -1;
            }

            word = set ? words[w] : ~words[w];
        }

        return (w << 6) + BitOperations.TrailingZeroCount(word);
    }

    public override bool Contains(ushort value)
    {
        int lo = 0, hi = (_runs.Length / 2) - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            int start = _runs[mid * 2];
            if (value < start)
            {
                hi = mid - 1;
            }
            else if (value > start + _runs[(mid * 2) + 1])
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    public override Container Add(ushort value)
    {
        if (Contains(value))
        {
            return this;
        }

        Span<ulong> w = stackalloc ulong[Words];
        w.Clear();
        OrInto(w);
        w[value >> 6] |= 1UL << value;
        return FromWords(w)!;
    }

    public override Container? Remove(ushort value)
    {
        if (!Contains(value))
        {
            return this;
        }

        Span<ulong> w = stackalloc ulong[Words];
        w.Clear();
        OrInto(w);
        w[value >> 6] &= ~(1UL << value);
        return FromWords(w);
    }

    public override IEnumerable<int> Enumerate()
    {
        for (var i = 0; i < _runs.Length; i += 2)
        {
            for (int v = _runs[i], end = _runs[i] + _runs[i + 1]; v <= end; v++)
            {
                yield return v;
            }
        }
    }

    public override void AndInto(Span<ulong> words)
    {
        Span<ulong> mask = stackalloc ulong[Words];
        mask.Clear();
        OrInto(mask);
        DenseBits.And(words, mask[..words.Length]);
    }

    public override void OrInto(Span<ulong> words)
    {
        for (var i = 0; i < _runs.Length; i += 2)
        {
            SetRange(words, _runs[i], _runs[i] + _runs[i + 1], true);
        }
    }

    public override void AndNotInto(Span<ulong> words)
    {
        for (var i = 0; i < _runs.Length; i += 2)
        {
            SetRange(words, _runs[i], _runs[i] + _runs[i + 1], false);
        }
    }

    public override Container Clone() => new RunContainer((ushort[])_runs.Clone(), _cardinality);

    private static void SetRange(Span<ulong> words, int first, int last, bool value)
    {
        var limit = (words.Length * 64) - 1;
        if (first > limit)
        {
            return;
        }

        last = Math.Min(last, limit);
        var fw = first >> 6;
        var lw = last >> 6;
        for (var w = fw; w <= lw; w++)
        {
            var lo = w == fw ? first & 63 : 0;
            var hi = w == lw ? last & 63 : 63;
            var mask = (hi == 63 ? ulong.MaxValue : (1UL << (hi + 1)) - 1) & ~((1UL << lo) - 1);
            if (value)
            {
                words[w] |= mask;
            }
            else
            {
                words[w] &= ~mask;
            }
        }
    }
}
