namespace Campaigns.Segmentation.Engine;

/// <summary>
/// Collects ascending values for a <see cref="RoaringBitmap"/> one 65,536-value chunk at a time and appends each chunk as
/// one exact-size container (the bulk load path: no per-value container growth or search). Values that arrive out of
/// order go to the bitmap directly. <see cref="Flush"/> before the bitmap is read. Not thread-safe.
/// </summary>
internal sealed class BulkBits(RoaringBitmap target)
{
    private ushort[] _buffer = new ushort[16];
    private int _count;
    private int _key = -1;
    private int _last = -1; // the last buffered value (when _count > 0)

    public RoaringBitmap Target => target;

    /// <summary>Adds a value (buffered when it follows the values so far in the current or a later chunk).</summary>
    public void Add(int value)
    {
        if (value > _last && (value >> 16) == _key && _count < _buffer.Length)
        {
            _buffer[_count++] = (ushort)value; // the common case: later in the current chunk
            _last = value;
            return;
        }

        AddSlow(value);
    }

    private void AddSlow(int value)
    {
        var key = value >> 16;
        var low = (ushort)value;
        if (key > _key)
        {
            Flush();
            _key = key;
        }
        else if (key < _key || (_count > 0 && _buffer[_count - 1] >= low))
        {
            Flush();
            target.Add(value);
            return;
        }

        if (_count == _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Min(Container.Words * 64, _count * 2));
        }

        _buffer[_count++] = low;
        _last = value;
    }

    public void Flush()
    {
        if (_count == 0)
        {
            return;
        }

        target.AppendSorted(_key, _buffer.AsSpan(0, _count));
        _count = 0;
        _last = -1;
    }
}
