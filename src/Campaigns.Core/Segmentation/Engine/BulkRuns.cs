namespace Campaigns.Segmentation.Engine;

/// <summary>
/// Collects values for a <see cref="RoaringBitmap"/> that nearly every new ordinal joins (the live set, the stage of new
/// contacts, "has a value" of a filled column): consecutive values only extend a run (no store per value), and each
/// 65,536-value chunk is appended as one container built from its words, as <see cref="RoaringBitmap.AppendChunk"/>
/// encodes it. Values in any order within the current chunk are fine; values of an earlier chunk go to the bitmap
/// directly. <see cref="Flush"/> before the bitmap is read. Not thread-safe.
/// </summary>
internal sealed class BulkRuns(RoaringBitmap target)
{
    private readonly ulong[] _words = new ulong[Container.Words];
    private int _key = -1;
    private int _start;
    private int _end;
    private int _loWord = int.MaxValue;
    private int _hiWord = -1;

    public RoaringBitmap Target => target;

    /// <summary>Adds a value.</summary>
    public void Add(int value)
    {
        if (value == _end && (value >> 16) == _key)
        {
            _end++; // the run goes on
            return;
        }

        AddSlow(value);
    }

    public void Flush()
    {
        if (_key < 0)
        {
            return;
        }

        CloseRun();
        if (_hiWord >= 0)
        {
            var words = _words.AsSpan(_loWord, _hiWord - _loWord + 1);
            if (target.LastKey < _key)
            {
                target.AppendChunk(_key, _words);
            }
            else
            {
                // The chunk is already in the bitmap (values added to it after an earlier flush): value by value.
                for (var w = 0; w < words.Length; w++)
                {
                    for (var bits = words[w]; bits != 0; bits &= bits - 1)
                    {
                        target.Add((_key << 16) | ((_loWord + w) << 6) | System.Numerics.BitOperations.TrailingZeroCount(bits));
                    }
                }
            }

            words.Clear();
        }

        _key = -1;
        _loWord = int.MaxValue;
        _hiWord = -1;
    }

    private void AddSlow(int value)
    {
        var key = value >> 16;
        if (key < _key)
        {
            Flush();
            target.Add(value);
            return;
        }

        if (key != _key)
        {
            Flush();
            _key = key;
        }
        else
        {
            CloseRun();
        }

        _start = value;
        _end = value + 1;
    }

    /// <summary>Writes the current run's bits into the chunk's words.</summary>
    private void CloseRun()
    {
        if (_end <= _start)
        {
            return;
        }

        int lo = _start & 0xFFFF, hi = ((_end - 1) & 0xFFFF) + 1; // [lo, hi) within the chunk
        int first = lo >> 6, last = (hi - 1) >> 6;
        _loWord = Math.Min(_loWord, first);
        _hiWord = Math.Max(_hiWord, last);
        if (first == last)
        {
            _words[first] |= (ulong.MaxValue >> (64 - (hi - lo))) << (lo & 63);
        }
        else
        {
            _words[first] |= ulong.MaxValue << (lo & 63);
            _words.AsSpan(first + 1, last - first - 1).Fill(ulong.MaxValue);
            _words[last] |= ulong.MaxValue >> ((64 - (hi & 63)) & 63);
        }

        _start = _end = 0;
    }
}
