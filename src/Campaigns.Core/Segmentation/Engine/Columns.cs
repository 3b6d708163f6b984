using System.Buffers;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// An exact decimal column: values are stored as <c>value · 10^Scale</c> in a <see cref="BitSlicedColumn"/>. The scale
/// grows (up to 9 decimals) when a value with more decimals arrives; values that cannot be stored exactly
/// (more than 9 decimals, or beyond ±2^61 once scaled) are kept aside and compared one by one, so every comparison
/// is exact. Not thread-safe.
/// </summary>
internal sealed class NumberColumn
{
    private const int MaxScale = 9;
    private static readonly decimal[] Powers = [1m, 10m, 100m, 1_000m, 10_000m, 100_000m, 1_000_000m, 10_000_000m, 100_000_000m, 1_000_000_000m];
    private readonly Dictionary<int, decimal> _outliers = [];

    public BitSlicedColumn Bits { get; } = new();

    public int Scale { get; private set; }

    public int Count => Bits.Count + _outliers.Count;

    /// <summary>Sets (null: clears) an ordinal's value.</summary>
    /// <returns>False when the value was already stored (nothing written).</returns>
    public bool Set(int ordinal, decimal? value)
    {
        // Unchanged (the common case when a contact is written again): nothing to do.
        if (TryGet(ordinal, out var current) ? value == current : value is null)
        {
            return false;
        }

        Bits.Clear(ordinal);
        _outliers.Remove(ordinal);
        if (value is not { } v)
        {
            return true;
        }

        var needed = DecimalsOf(v);
        if (needed > Scale && needed <= MaxScale && CanRescale(needed))
        {
            Rescale(needed);
        }

        if (needed <= Scale && TryScale(v, Scale, out var scaled))
        {
            Bits.Set(ordinal, scaled);
        }
        else
        {
            _outliers[ordinal] = v;
        }

        return true;
    }

    /// <summary>Sets a whole number: no decimal arithmetic while the column's scale is 0 (the bulk path).</summary>
    public void SetInteger(int ordinal, long value)
    {
        if (Scale == 0 && value is >= -BitSlicedColumn.Limit and <= BitSlicedColumn.Limit)
        {
            if (_outliers.Count > 0)
            {
                _outliers.Remove(ordinal);
            }

            Bits.Set(ordinal, value);
            return;
        }

        Set(ordinal, value);
    }

    public bool TryGet(int ordinal, out decimal value)
    {
        if (Bits.TryGet(ordinal, out var scaled))
        {
            value = scaled / Powers[Scale];
            return true;
        }

        return _outliers.TryGetValue(ordinal, out value);
    }

    /// <summary>Restricts <paramref name="acc"/> to values in [lo, hi] (null = unbounded), bounds inclusive or not.</summary>
    public void AndRange(Span<ulong> acc, decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive, int startWord = 0)
    {
        List<int>? outlierHits = null;
        var first = startWord * 64;
        foreach (var (o, v) in _outliers)
        {
            if (o >= first && DenseBits.Get(acc, o - first) && InRange(v, lo, loInclusive, hi, hiInclusive))
            {
                (outlierHits ??= []).Add(o);
            }
        }

        var (l, h) = ScaledBounds(lo, loInclusive, hi, hiInclusive);
        Bits.AndRange(acc, l, h, startWord);
        if (outlierHits is not null)
        {
            foreach (var o in outlierHits)
            {
                DenseBits.Set(acc, o - first);
            }
        }
    }

    public void AndExists(Span<ulong> acc, int startWord = 0)
    {
        if (_outliers.Count == 0)
        {
            Bits.AndExists(acc, startWord);
            return;
        }

        AndRange(acc, null, true, null, true, startWord);
    }

    public double Estimate(decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive, int population)
    {
        var (l, h) = ScaledBounds(lo, loInclusive, hi, hiInclusive);
        return Bits.Estimate(l, h, population);
    }

    internal static bool InRange(decimal v, decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive) =>
        (lo is not { } a || (loInclusive ? v >= a : v > a)) && (hi is not { } b || (hiInclusive ? v <= b : v < b));

    public (long Lo, long Hi) ScaledBounds(decimal? lo, bool loInclusive, decimal? hi, bool hiInclusive)
    {
        var l = long.MinValue;
        var h = long.MaxValue;
        if (lo is { } a)
        {
            var x = ScaleBound(a);
            var c = decimal.Ceiling(x);
            l = ToLong(loInclusive || c != x ? c : c + 1);
        }

        if (hi is { } b)
        {
            var y = ScaleBound(b);
            var f = decimal.Floor(y);
            h = ToLong(hiInclusive || f != y ? f : f - 1);
        }

        return (l, h);
    }

    private decimal ScaleBound(decimal d) => Math.Abs(d) > BitSlicedColumn.Limit * 2m ? Math.Sign(d) * BitSlicedColumn.Limit * 2m : d * Powers[Scale];

    private static long ToLong(decimal d) => (long)Math.Clamp(d, long.MinValue / 2, long.MaxValue / 2);

    private static int DecimalsOf(decimal v)
    {
        for (var s = 0; s <= MaxScale; s++)
        {
            if (Math.Abs(v) > 1e18m)
            {
                return int.MaxValue;
            }

            var m = v * Powers[s];
            if (m == decimal.Truncate(m))
            {
                return s;
            }
        }

        return int.MaxValue;
    }

    private static bool TryScale(decimal v, int scale, out long scaled)
    {
        scaled = 0;
        if (Math.Abs(v) > BitSlicedColumn.Limit / Powers[scale])
        {
            return false;
        }

        var m = v * Powers[scale];
        if (m != decimal.Truncate(m))
        {
            return false;
        }

        scaled = (long)m;
        return true;
    }

    private bool CanRescale(int scale)
    {
        if (Bits.Count == 0)
        {
            return true;
        }

        var factor = Powers[scale - Scale];
        return Math.Max(Math.Abs((decimal)Bits.Min), Math.Abs((decimal)Bits.Max)) * factor <= BitSlicedColumn.Limit;
    }

    private void Rescale(int scale)
    {
        var factor = (long)Powers[scale - Scale];
        if (Bits.Count > 0)
        {
            var values = new List<(int, long)>(Bits.Count);
            for (var o = 0; values.Count < Bits.Count; o++)
            {
                if (Bits.TryGet(o, out var v))
                {
                    values.Add((o, v));
                }
            }

            Bits.Reset();
            foreach (var (o, v) in values)
            {
                Bits.Set(o, v * factor);
            }
        }

        Scale = scale;
    }
}

/// <summary>
/// A dictionary-encoded single-valued text column: a code per contact (0 = no value; one byte per contact while there
/// are fewer than 255 distinct values, four bytes after) and one compressed bitmap per distinct value. Not thread-safe.
/// </summary>
internal sealed class CategoricalColumn
{
    private readonly Dictionary<string, int> _codes = new(StringComparer.Ordinal);
    private readonly List<string> _values = [];
    private readonly List<RoaringBitmap> _bitmaps = [];
    private byte[]? _byteCodes = [];
    private int[]? _intCodes;

    public RoaringBitmap NonEmpty { get; } = new();

    public int DistinctCount => _values.Count;

    /// <summary>The text of a code.</summary>
    public string ValueAt(int code) => _values[code];

    public int Capacity => _byteCodes?.Length ?? _intCodes!.Length;

    public void EnsureCapacity(int ordinals)
    {
        var capacity = Capacity;
        if (ordinals <= capacity)
        {
            return;
        }

        var size = Math.Max(ordinals, capacity + (capacity >> 1));
        if (_byteCodes is not null)
        {
            Array.Resize(ref _byteCodes, size);
        }
        else
        {
            Array.Resize(ref _intCodes, size);
        }
    }

    /// <summary>Sets (null: clears) an ordinal's value.</summary>
    /// <returns>False when the value was already stored (nothing written).</returns>
    public bool Set(int ordinal, string? value)
    {
        EnsureCapacity(ordinal + 1);
        var old = CodeAt(ordinal);
        if (value is null ? old == 0 : old != 0 && string.Equals(_values[old - 1], value, StringComparison.Ordinal))
        {
            return false; // unchanged
        }

        if (old != 0)
        {
            _bitmaps[old - 1].Remove(ordinal);
            NonEmpty.Remove(ordinal);
            SetCode(ordinal, 0);
        }

        if (value is null)
        {
            return true;
        }

        var code = CodeOf(value);
        _bitmaps[code].Add(ordinal);
        SetCode(ordinal, code + 1);
        if (value.Length > 0)
        {
            NonEmpty.Add(ordinal);
        }

        return true;
    }

    /// <summary>The code of a value (0-based), added to the dictionary when new.</summary>
    public int CodeOf(string value)
    {
        if (!_codes.TryGetValue(value, out var code))
        {
            code = _values.Count;
            _codes.Add(value, code);
            _values.Add(value);
            _bitmaps.Add(new RoaringBitmap());
        }

        return code;
    }

    /// <summary>Sets a fresh ordinal (no value yet, at or beyond every ordinal set so far) to a known code: the bulk path.</summary>
    public void Append(int ordinal, int code)
    {
        EnsureCapacity(ordinal + 1);
        _bitmaps[code].Add(ordinal);
        SetCode(ordinal, code + 1);
        if (_values[code].Length > 0)
        {
            NonEmpty.Add(ordinal);
        }
    }

    /// <summary>Sets a fresh ordinal's code without touching the bitmaps (the bulk path adds to them through <see cref="BulkBits"/>).</summary>
    public void SetCodeOnly(int ordinal, int code)
    {
        EnsureCapacity(ordinal + 1);
        SetCode(ordinal, code + 1);
    }

    public bool IsEmptyValue(int code) => _values[code].Length == 0;

    public int CodeAt(int ordinal) => _byteCodes is { } b ? b[ordinal] : _intCodes![ordinal];

    /// <summary>The stored code of an ordinal (code + 1; 0 = no value), 0 beyond the column's capacity.</summary>
    public int StoredCodeAt(int ordinal) =>
        _byteCodes is { } b ? ((uint)ordinal < (uint)b.Length ? b[ordinal] : 0) : ((uint)ordinal < (uint)_intCodes!.Length ? _intCodes[ordinal] : 0);

    private void SetCode(int ordinal, int code)
    {
        if (_byteCodes is { } b)
        {
            if (code <= byte.MaxValue)
            {
                b[ordinal] = (byte)code;
                return;
            }

            // More than 255 distinct values: widen once.
            _intCodes = new int[b.Length];
            for (var i = 0; i < b.Length; i++)
            {
                _intCodes[i] = b[i];
            }

            _byteCodes = null;
        }

        _intCodes![ordinal] = code;
    }

    public string? Get(int ordinal) => ordinal < Capacity && CodeAt(ordinal) is var c and > 0 ? _values[c - 1] : null;

    /// <summary>The codes whose values satisfy the predicate (a scan of the dictionary, not of the contacts).</summary>
    public List<int> CodesWhere(Func<string, bool> predicate)
    {
        var codes = new List<int>();
        for (var i = 0; i < _values.Count; i++)
        {
            if (predicate(_values[i]))
            {
                codes.Add(i);
            }
        }

        return codes;
    }

    public RoaringBitmap Bitmap(int code) => _bitmaps[code];

    public long CardinalityOf(List<int> codes)
    {
        long c = 0;
        foreach (var code in codes)
        {
            c += _bitmaps[code].Cardinality;
        }

        return c;
    }

    /// <summary>The union of the codes' bitmaps as a list of bitmaps.</summary>
    public List<RoaringBitmap> Bitmaps(List<int> codes) => codes.ConvertAll(c => _bitmaps[c]);
}

/// <summary>
/// Bitmaps by key (tag, tag group, list element, consent channel), each with optional expiry instants (Unix ticks)
/// for the contacts whose membership ends. Not thread-safe.
/// </summary>
internal sealed class KeyedBitmaps
{
    private const int Buckets = 32;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<Entry>[]? _buckets;
    private uint[] _keyBuckets = [];
    private Entry[] _held = [];

    /// <param name="trackOrdinals">Keep 4 bytes per contact saying which of 32 key buckets hold it, so removing a contact
    /// from every key visits only those buckets' keys instead of all keys (for tags: many keys, frequent changes).</param>
    public KeyedBitmaps(bool trackOrdinals = false)
    {
        if (trackOrdinals)
        {
            _buckets = [.. Enumerable.Range(0, Buckets).Select(_ => new List<Entry>())];
        }
    }

    public int KeyCount => _entries.Count;

    /// <summary>The bitmap of a key, created empty when new (the bulk path adds ordinals to it directly and calls
    /// <see cref="Track"/> with the returned bucket).</summary>
    public RoaringBitmap BitsOf(string key) => EntryOf(key).Bits;

    /// <summary>The bucket of a key (for <see cref="Track"/>).</summary>
    public int BucketOf(string key) => EntryOf(key).Bucket;

    /// <summary>Records that an ordinal was added to a key of the bucket directly (bulk path).</summary>
    public void Track(int ordinal, int bucket)
    {
        if (_buckets is null)
        {
            return;
        }

        if (ordinal >= _keyBuckets.Length)
        {
            Array.Resize(ref _keyBuckets, Math.Max(ordinal + 1, _keyBuckets.Length + (_keyBuckets.Length >> 1)));
        }

        _keyBuckets[ordinal] |= 1u << bucket;
    }

    public void EnsureCapacity(int ordinals)
    {
        if (_buckets is not null && ordinals > _keyBuckets.Length)
        {
            Array.Resize(ref _keyBuckets, ordinals);
        }
    }

    public void Add(string key, int ordinal, long? expiresAtTicks)
    {
        var e = EntryOf(key);
        e.Bits.Add(ordinal);
        Track(ordinal, e.Bucket);
        if (expiresAtTicks is { } t)
        {
            (e.Expiry ??= [])[ordinal] = t;
        }
        else
        {
            e.Expiry?.Remove(ordinal);
        }
    }

    /// <summary>Removes the contact from every key: O(keys), or O(keys in the contact's buckets) when ordinals are tracked.</summary>
    public void RemoveOrdinal(int ordinal)
    {
        if (_buckets is null)
        {
            foreach (var e in _entries.Values)
            {
                RemoveFrom(e, ordinal);
            }

            return;
        }

        if (ordinal >= _keyBuckets.Length)
        {
            return;
        }

        var mask = _keyBuckets[ordinal];
        _keyBuckets[ordinal] = 0;
        while (mask != 0)
        {
            var bucket = _buckets[System.Numerics.BitOperations.TrailingZeroCount(mask)];
            mask &= mask - 1;
            for (var i = 0; i < bucket.Count; i++)
            {
                RemoveFrom(bucket[i], ordinal);
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="keys"/> (with their expiry instants, null = never) exactly the keys the contact holds: keys it
    /// holds already with the same expiry are left alone (no remove and re-add, which shift the arrays of large containers),
    /// others are removed, missing ones added. O(keys in the contact's buckets) when ordinals are tracked, else O(keys).
    /// A key listed twice is held once, with the expiry of its last listing (callers merge expiries first).
    /// </summary>
    /// <returns>Whether anything changed (a key gained, lost, or an expiry changed).</returns>
    public bool Replace(int ordinal, ReadOnlySpan<string> keys, ReadOnlySpan<long?> expiries)
    {
        // The entries of the new keys, looked up once: the walk below compares references (no string compares, no
        // membership test for keys the contact keeps), and the re-add below reuses them (no second dictionary look-up).
        var count = keys.Length;
        if (_held.Length < count)
        {
            _held = new Entry[Math.Max(count, _held.Length * 2)];
        }

        var held = _held;
        for (var i = 0; i < count; i++)
        {
            held[i] = EntryOf(keys[i]);
        }

        var changed = false;
        if (_buckets is null)
        {
            foreach (var e in _entries.Values)
            {
                if (!Holds(held, count, e))
                {
                    changed |= RemoveFrom(e, ordinal);
                }
            }
        }
        else if (ordinal < _keyBuckets.Length)
        {
            var mask = _keyBuckets[ordinal];
            _keyBuckets[ordinal] = 0;
            while (mask != 0)
            {
                var bucket = _buckets[System.Numerics.BitOperations.TrailingZeroCount(mask)];
                mask &= mask - 1;
                for (var i = 0; i < bucket.Count; i++)
                {
                    var e = bucket[i];
                    if (!Holds(held, count, e))
                    {
                        changed |= RemoveFrom(e, ordinal); // one search: a no-op when the contact is not in the key
                    }
                }
            }
        }

        for (var i = 0; i < count; i++)
        {
            // Kept keys: Add finds the contact and changes nothing.
            var e = held[i];
            changed |= e.Bits.Add(ordinal);
            Track(ordinal, e.Bucket);
            if (expiries[i] is { } t)
            {
                var expiry = e.Expiry ??= [];
                if (!expiry.TryGetValue(ordinal, out var was) || was != t)
                {
                    expiry[ordinal] = t;
                    changed = true;
                }
            }
            else if (e.Expiry is { Count: > 0 } expiry && expiry.Remove(ordinal))
            {
                changed = true;
            }
        }

        Array.Clear(held, 0, count); // no stale references to entries kept alive by the scratch array
        return changed;
    }

    private static bool Holds(Entry[] held, int count, Entry e)
    {
        for (var i = 0; i < count; i++)
        {
            if (ReferenceEquals(held[i], e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Makes the channels granted in <paramref name="consents"/> exactly the keys the contact holds (none expiring): keys
    /// it holds already are left alone, so an unchanged consent costs a lookup, not a remove and re-add (which shift
    /// the arrays of large containers). O(keys).
    /// </summary>
    /// <returns>Whether anything changed.</returns>
    public bool ReplaceGranted(int ordinal, IReadOnlyDictionary<string, Campaigns.Contacts.ConsentRecord> consents)
    {
        var changed = false;
        var held = 0;
        foreach (var e in _entries.Values)
        {
            if (!(consents.TryGetValue(e.Key, out var consent) && consent.Granted))
            {
                changed |= RemoveFrom(e, ordinal);
            }
            else if (e.Bits.Contains(ordinal) && (e.Expiry is not { Count: > 0 } x || !x.ContainsKey(ordinal)))
            {
                held++;
            }
        }

        if (held == consents.Count)
        {
            return changed; // every consent is granted and held already: no (boxed) enumeration of the dictionary
        }

        foreach (var (key, consent) in consents)
        {
            if (consent.Granted && !(_entries.TryGetValue(key, out var e) && e.Bits.Contains(ordinal) && (e.Expiry is not { Count: > 0 } x || !x.ContainsKey(ordinal))))
            {
                Add(key, ordinal, null);
                changed = true;
            }
        }

        return changed;
    }

    /// <summary>Removes the ordinal from a key; false when it did not hold it.</summary>
    private static bool RemoveFrom(Entry e, int ordinal)
    {
        if (e.Bits.Remove(ordinal))
        {
            e.Expiry?.Remove(ordinal);
            return true;
        }

        return false;
    }

    private Entry EntryOf(string key)
    {
        if (!_entries.TryGetValue(key, out var e))
        {
            e = new Entry(key, _entries.Count % Buckets);
            _entries.Add(key, e);
            _buckets?[e.Bucket].Add(e);
        }

        return e;
    }

    /// <summary>The expiry instants of a key's members that expire (null when none does); read-only for callers.</summary>
    public IReadOnlyDictionary<int, long>? ExpiriesOf(string key) => _entries.TryGetValue(key, out var e) ? e.Expiry : null;

    public bool Contains(string key, int ordinal, long nowTicks) =>
        _entries.TryGetValue(key, out var e) && e.Bits.Contains(ordinal) && (e.Expiry is null || !e.Expiry.TryGetValue(ordinal, out var t) || nowTicks < t);

    public long? ExpiryOf(string key, int ordinal) =>
        _entries.TryGetValue(key, out var e) && e.Expiry is not null && e.Bits.Contains(ordinal) && e.Expiry.TryGetValue(ordinal, out var t) ? t : null;

    public long Cardinality(string key) => _entries.TryGetValue(key, out var e) ? e.Bits.Cardinality : 0;

    /// <summary>The sorted ordinals whose membership of <paramref name="key"/> has expired at <paramref name="nowTicks"/>.</summary>
    public int[] Expired(string key, long nowTicks)
    {
        if (!_entries.TryGetValue(key, out var e) || e.Expiry is not { Count: > 0 })
        {
            return [];
        }

        var expired = e.Expiry.Where(kv => kv.Value <= nowTicks).Select(kv => kv.Key).ToArray();
        Array.Sort(expired);
        return expired;
    }

    public RoaringBitmap? BitmapOf(string key) => _entries.TryGetValue(key, out var e) ? e.Bits : null;

    /// <summary><paramref name="acc"/> &amp;= current members of <paramref name="key"/>.</summary>
    public void AndInto(Span<ulong> acc, string key, long nowTicks)
    {
        if (!_entries.TryGetValue(key, out var e))
        {
            acc.Clear();
            return;
        }

        e.Bits.AndInto(acc);
        ClearExpired(acc, e, nowTicks);
    }

    /// <summary><paramref name="acc"/> |= current members of <paramref name="key"/>.</summary>
    public void OrInto(Span<ulong> acc, string key, long nowTicks)
    {
        if (!_entries.TryGetValue(key, out var e))
        {
            return;
        }

        if (e.Expiry is not { Count: > 0 })
        {
            e.Bits.OrInto(acc);
            return;
        }

        var tmp = ArrayPool<ulong>.Shared.Rent(acc.Length);
        var span = tmp.AsSpan(0, acc.Length);
        span.Clear();
        e.Bits.OrInto(span);
        ClearExpired(span, e, nowTicks);
        DenseBits.Or(acc, span);
        ArrayPool<ulong>.Shared.Return(tmp);
    }

    private static void ClearExpired(Span<ulong> acc, Entry e, long nowTicks)
    {
        if (e.Expiry is null)
        {
            return;
        }

        foreach (var (o, t) in e.Expiry)
        {
            if (t <= nowTicks && (o >> 6) < acc.Length)
            {
                DenseBits.Clear(acc, o);
            }
        }
    }

    private sealed class Entry(string key, int bucket)
    {
        public string Key { get; } = key;

        public int Bucket { get; } = bucket;

        public RoaringBitmap Bits { get; } = new();

        /// <summary>Always present (empty when nothing expires), so compiled plans that hold it see later expiries.</summary>
        public Dictionary<int, long>? Expiry { get; set; } = [];
    }
}
