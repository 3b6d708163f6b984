using Campaigns.Segmentation.Engine;
using FsCheck.Xunit;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The bulk load's writers: <see cref="BitSlicedColumn.AppendBlock"/> (a window of values written at once) stores what
/// <see cref="BitSlicedColumn.Set"/> value by value stores, and <see cref="BulkRuns"/> builds the bitmap that adding each
/// value builds.
/// </summary>
public sealed class BulkLoadTests
{
    [Property(MaxTest = 60)]
    public void AppendBlockStoresWhatSetStoresValueByValue(int seed)
    {
        var r = new Random(seed);
        var n = r.Next(1, 6_000);
        // Frames of one byte (AVX-512 path), two bytes (AVX-512 path), wider (registers), one value (width 0), negatives.
        var kind = r.Next(5);
        long Next() => kind switch
        {
            0 => r.Next(0, 101),
            1 => 20_000 + r.Next(0, 400),
            2 => r.NextInt64(-1_000_000_000_000, 1_000_000_000_000),
            3 => 42,
            _ => r.Next(-300, 300),
        };
        var bySet = new BitSlicedColumn();
        var bulk = new BitSlicedColumn();
        if (r.Next(2) == 0)
        {
            bySet.EnsureCapacity(n);
            bulk.EnsureCapacity(n);
        }

        var expected = new Dictionary<int, long>();
        for (var o = 0; o < n; o++)
        {
            if (r.Next(20) == 0)
            {
                // Values written directly before the load: AppendBlock leaves them (and the words they share) alone.
                var v = Next();
                bySet.Set(o, v);
                bulk.Set(o, v);
                expected[o] = v;
            }
        }

        for (var start = 0; start < n;)
        {
            var length = 64 * r.Next(1, 80);
            var values = new long[length];
            var present = new ulong[length / 64];
            for (var j = 0; j < length && start + j < n; j++)
            {
                var o = start + j;
                if (!expected.ContainsKey(o) && r.Next(10) < 8)
                {
                    values[j] = Next();
                    present[j >> 6] |= 1UL << j;
                    bySet.Set(o, values[j]);
                    expected[o] = values[j];
                }
            }

            bulk.AppendBlock(start, values, present);
            start += length;
        }

        for (var o = 0; o < n; o++)
        {
            Assert.Equal(bySet.TryGet(o, out var a), bulk.TryGet(o, out var b));
            Assert.Equal(expected.GetValueOrDefault(o), b);
            Assert.Equal(a, b);
        }

        Assert.Equal(bySet.Count, bulk.Count);
        Assert.Equal(bySet.Min, bulk.Min);
        Assert.Equal(bySet.Max, bulk.Max);
        var words = ((n + 511) / 512) * BitSlicedColumn.BlockWords;
        for (var q = 0; q < 20; q++)
        {
            long x = Next(), y = Next();
            var (lo, hi) = (Math.Min(x, y), Math.Max(x, y));
            var viaSet = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
            var viaBulk = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
            bySet.AndRange(viaSet, lo, hi);
            bulk.AndRange(viaBulk, lo, hi);
            Assert.Equal(viaSet, viaBulk);
            Assert.Equal(expected.Count(e => e.Value >= lo && e.Value <= hi), viaBulk.Sum(w => System.Numerics.BitOperations.PopCount(w)));
        }
    }

    [Property(MaxTest = 60)]
    public void BulkRunsBuildTheBitmapThatAddingEachValueBuilds(int seed)
    {
        var r = new Random(seed);
        var target = new RoaringBitmap();
        var expected = new RoaringBitmap();
        if (r.Next(3) == 0)
        {
            // Values already in the bitmap, in chunks the runs reach later.
            foreach (var v in Enumerable.Range(0, 50).Select(_ => r.Next(0, 300_000)))
            {
                target.Add(v);
                expected.Add(v);
            }
        }

        var runs = new BulkRuns(target);
        var value = r.Next(0, 1_000);
        for (var i = 0; i < 20_000; i++)
        {
            var step = r.Next(100);
            // Mostly the next value (a run goes on), sometimes a gap, a value back in the chunk, or far back; now and then
            // a flush (the builder flushes before direct writes).
            value = step switch
            {
                < 85 => value + 1,
                < 93 => value + r.Next(2, 70_000),
                < 97 => Math.Max(0, value - r.Next(1, 500)),
                _ => r.Next(0, Math.Max(1, value)),
            };
            runs.Add(value);
            expected.Add(value);
            if (r.Next(2_000) == 0)
            {
                runs.Flush();
            }
        }

        runs.Flush();
        Assert.Equal(expected.Cardinality, target.Cardinality);
        Assert.Equal(expected.Enumerate(), target.Enumerate());
    }
}
