using Campaigns.Segmentation.Engine;
using FsCheck.Xunit;

namespace Campaigns.Tests.Segmentation.Engine;

public sealed class BitmapTests
{
    [Fact]
    public void ArrayContainerBecomesBitmapAbove4096AndBackAtOrBelow()
    {
        var r = new RoaringBitmap();
        for (var i = 0; i < 4096; i++)
        {
            r.Add(i * 2);
        }

        Assert.IsType<ArrayContainer>(r.GetContainer(0));
        r.Add(1);
        Assert.IsType<BitmapContainer>(r.GetContainer(0));
        Assert.Equal(4097, r.Cardinality);
        r.Remove(1);
        Assert.IsType<ArrayContainer>(r.GetContainer(0));
        Assert.Equal(4096, r.Cardinality);
    }

    [Fact]
    public void RunsOptimizeToRunContainer()
    {
        var r = new RoaringBitmap();
        for (var i = 100; i < 60_000; i++)
        {
            r.Add(i);
        }

        r.Optimize();
        var run = Assert.IsType<RunContainer>(r.GetContainer(0));
        Assert.Equal(1, run.RunCount);
        Assert.Equal(59_900, r.Cardinality);
        Assert.True(r.Contains(100) && r.Contains(59_999) && !r.Contains(99) && !r.Contains(60_000));
        r.Add(99);
        r.Remove(500);
        Assert.Equal(Enumerable.Range(99, 59_901).Where(i => i != 500), r.Enumerate());
    }

    [Fact]
    public void DenseRoundTripChoosesContainers()
    {
        var words = new ulong[4096]; // 4 chunks
        for (var i = 0; i < 10; i++)
        {
            DenseBits.Set(words, i * 1000); // sparse chunk 0
        }

        for (var i = 65_536; i < 65_536 + 30_000; i += 2)
        {
            DenseBits.Set(words, i); // dense, no runs
        }

        for (var i = 131_072 + 5; i < 131_072 + 40_000; i++)
        {
            DenseBits.Set(words, i); // one run
        }

        var r = RoaringBitmap.FromDense(words);
        Assert.IsType<ArrayContainer>(r.GetContainer(0));
        Assert.IsType<BitmapContainer>(r.GetContainer(1));
        Assert.IsType<RunContainer>(r.GetContainer(2));
        Assert.Equal(3, r.ContainerCount);
        Assert.Equal(words, r.ToDense(words.Length));
    }

    [Property(MaxTest = 200)]
    public bool OperationsMatchHashSets(int[] a, int[] b, int shape)
    {
        // Spread values over 3 chunks; shape makes some inputs dense enough for bitmap/run containers.
        var xs = Spread(a, shape);
        var ys = Spread(b, shape >> 3);
        var ra = RoaringBitmap.FromValues(xs);
        var rb = RoaringBitmap.FromValues(ys);
        if ((shape & 1) == 0)
        {
            ra.Optimize();
        }

        var sa = xs.ToHashSet();
        var sb = ys.ToHashSet();
        var words = 3 * 1024;
        var dense = ra.ToDense(words);
        rb.AndInto(dense);
        var denseOr = ra.ToDense(words);
        rb.OrInto(denseOr);
        var denseNot = ra.ToDense(words);
        rb.AndNotInto(denseNot);
        return Same(RoaringBitmap.And(ra, rb), sa.Intersect(sb))
            && Same(RoaringBitmap.Or(ra, rb), sa.Union(sb))
            && Same(RoaringBitmap.AndNot(ra, rb), sa.Except(sb))
            && Same(RoaringBitmap.FromDense(dense), sa.Intersect(sb))
            && Same(RoaringBitmap.FromDense(denseOr), sa.Union(sb))
            && Same(RoaringBitmap.FromDense(denseNot), sa.Except(sb))
            && ra.Cardinality == sa.Count
            && RoaringBitmap.And(ra, rb).Cardinality == sa.Intersect(sb).Count()
            && RoaringBitmap.Or(ra, rb).Cardinality == sa.Union(sb).Count()
            && RoaringBitmap.AndNot(ra, rb).Cardinality == sa.Except(sb).Count()
            && RoaringBitmap.FromDense(denseOr).Cardinality == sa.Union(sb).Count()
            && xs.All(ra.Contains);
    }

    [Property(MaxTest = 100)]
    public bool RemoveMatchesHashSet(int[] a, int[] removed, int shape)
    {
        var xs = Spread(a, shape);
        var r = RoaringBitmap.FromValues(xs);
        var s = xs.ToHashSet();
        foreach (var x in Spread(removed, shape).Concat(xs.Take(xs.Count / 2)))
        {
            Assert.Equal(s.Remove(x), r.Remove(x));
        }

        // The cardinality is kept as values come and go (containers converted, emptied and dropped), and by Optimize.
        var cardinalityKept = r.Cardinality == s.Count;
        foreach (var x in Spread(removed, shape ^ 2).Take(3_000))
        {
            Assert.Equal(s.Add(x), r.Add(x));
        }

        r.Optimize();
        return Same(r, s) && cardinalityKept && r.Cardinality == s.Count;
    }

    [Property(MaxTest = 200)]
    public bool BitSlicedRangesMatchNaive(long[] values, long lo, long hi, int scale)
    {
        var column = new BitSlicedColumn();
        var shift = 1L << (Math.Abs(scale % 40));
        var stored = new Dictionary<int, long>();
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] % 5 == 0)
            {
                continue; // no value
            }

            var v = values[i] % shift;
            column.Set(i * 7, v);
            stored[i * 7] = v;
        }

        // Overwrite and clear a few.
        foreach (var o in stored.Keys.Where(k => k % 3 == 0).ToList())
        {
            column.Set(o, -stored[o]);
            stored[o] = -stored[o];
        }

        foreach (var o in stored.Keys.Where(k => k % 4 == 0).ToList())
        {
            column.Clear(o);
            stored.Remove(o);
        }

        (lo, hi) = (lo % shift, hi % shift);
        var words = ((((values.Length * 7) + 511) >> 9) + 1) * 8;
        var acc = new ulong[words];
        Array.Fill(acc, ulong.MaxValue);
        column.AndRange(acc, Math.Min(lo, hi), Math.Max(lo, hi));
        var expected = stored.Where(kv => kv.Value >= Math.Min(lo, hi) && kv.Value <= Math.Max(lo, hi)).Select(kv => kv.Key).ToHashSet();
        return Same(RoaringBitmap.FromDense(acc), expected)
            && stored.All(kv => column.TryGet(kv.Key, out var v) && v == kv.Value);
    }

    private static List<int> Spread(int[] values, int shape)
    {
        var dense = (shape & 6) != 0;
        var list = values.Select(v => (int)((uint)v % (3u * 65_536))).ToList();
        if (dense && values.Length > 0)
        {
            var start = (int)((uint)values[0] % 60_000);
            list.AddRange(Enumerable.Range(start, 5_000 + (Math.Abs(shape) % 3_000)).Where(i => (shape & 8) == 0 || i % 3 != 0));
        }

        return list;
    }

    private static bool Same(RoaringBitmap r, IEnumerable<int> expected) => r.Enumerate().SequenceEqual(expected.Order());
}
