namespace Campaigns.Segmentation.Engine;

/// <summary>
/// Collects the values of new ordinals for a <see cref="BitSlicedColumn"/> a 4,096-ordinal window at a time and writes
/// each window with one <see cref="BitSlicedColumn.AppendBlock"/> (the bulk load path: the frame is checked once per
/// window and every slice word is stored once, instead of a read-modify-write per contact and slice). Only ordinals at or
/// above <see cref="Floor"/> that hold no value in the column are buffered; the owner writes others directly after
/// <see cref="Flush"/>. <see cref="Flush"/> before the column is read. Not thread-safe.
/// </summary>
internal sealed class BulkSlices(BitSlicedColumn target)
{
    private const int Window = 4096;
    private readonly long[] _values = new long[Window];
    private readonly ulong[] _present = new ulong[Window / 64];
    private int _start = -Window;
    private int _highest = -1;

    public BitSlicedColumn Target => target;

    /// <summary>The lowest ordinal that may be buffered: every ordinal below it has been written to the column (or may hold
    /// a value there), so later values for it go to the column directly.</summary>
    public int Floor { get; private set; }

    /// <summary>Buffers a value of an ordinal that holds none; false when the ordinal is below <see cref="Floor"/> or the
    /// current window, already has a buffered value, or the value is beyond ±<see cref="BitSlicedColumn.Limit"/> (the caller
    /// then flushes and writes it directly, which replaces a value and reports or sets aside an out-of-range one).</summary>
    public bool TryAdd(int ordinal, long value)
    {
        if (ordinal < Floor || ordinal < _start || value is < -BitSlicedColumn.Limit or > BitSlicedColumn.Limit)
        {
            return false; // written directly (out-of-range values: the column's own error or outlier handling)
        }

        var i = ordinal - _start;
        if (i >= Window)
        {
            Flush();
            _start = ordinal & ~(Window - 1);
            i = ordinal - _start;
        }

        ref var word = ref _present[i >> 6];
        var bit = 1UL << i;
        if ((word & bit) != 0)
        {
            return false;
        }

        word |= bit;
        _values[i] = value;
        _highest = Math.Max(_highest, ordinal);
        return true;
    }

    /// <summary>Writes the buffered values to the column; from then on ordinals up to the highest one written (and below
    /// <paramref name="floor"/>) are no longer buffered.</summary>
    public void Flush(int floor = 0)
    {
        if (_highest >= Floor)
        {
            target.AppendBlock(_start, _values, _present);
            Array.Clear(_present);
            Floor = _highest + 1;
        }

        Floor = Math.Max(Floor, floor);
    }
}
