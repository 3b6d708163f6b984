using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Campaigns.Segmentation.Engine;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The scans that read less: per-candidate probes of narrow offsets (date windows with few candidates left), the
/// bit-serial slice scan that stops at the bound's last significant bit, and unions/differences of plain bitmaps computed
/// without copies of the candidates.
/// </summary>
public sealed class SparseScanTests
{
    [Property(MaxTest = 300)]
    public bool ProbeEqualsNaive(long[] values, long lo, long hi, int scale, int seed)
    {
        var (column, stored, shift) = RandomColumn(values, scale);
        (lo, hi) = (Math.Min(lo % shift, hi % shift), Math.Max(lo % shift, hi % shift));
        var words = ((((values.Length * 13) + 511) >> 9) + 2) * 8; // a block beyond the column too
        var acc = RandomCandidates(words, seed, density: 8);
        var candidates = Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).ToHashSet();
        if (!column.AndRangeProbe(acc, lo, hi, 0))
        {
            // Only frames wider than 16 bits (or none) have no narrow offsets; acc must then be untouched.
            return !column.HasNarrowOffsets && Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).ToHashSet().SetEquals(candidates);
        }

        var expected = stored.Where(kv => candidates.Contains(kv.Key) && kv.Value >= lo && kv.Value <= hi).Select(kv => kv.Key).Order();
        return Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).SequenceEqual(expected);
    }

    [Property(MaxTest = 300)]
    public bool DenseSliceScanEqualsNaive(long[] values, long lo, long hi, bool openLo, bool openHi, int scale, int seed)
    {
        // Dense candidates take the slices; bounds with trailing zeros (lo) or trailing ones (hi) stop the bit-serial
        // comparison early: lo and hi are rounded to such values half of the time.
        var (column, stored, shift) = RandomColumn(values, scale);
        (lo, hi) = (Math.Min(lo % shift, hi % shift), Math.Max(lo % shift, hi % shift));
        if (seed % 2 == 0)
        {
            lo &= ~7L;
            hi |= 7L;
        }

        if (openLo)
        {
            lo = long.MinValue;
        }

        if (openHi)
        {
            hi = long.MaxValue;
        }

        var words = ((((values.Length * 13) + 511) >> 9) + 1) * 8;
        var acc = RandomCandidates(words, seed, density: 1);
        var candidates = Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).ToHashSet();
        column.AndRange(acc, lo, hi);
        var expected = stored.Where(kv => candidates.Contains(kv.Key) && kv.Value >= lo && kv.Value <= hi).Select(kv => kv.Key).Order();
        return Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).SequenceEqual(expected);
    }

    [Fact]
    public void ProbeRefusesMoreCandidatesThanItHolds()
    {
        var column = new BitSlicedColumn();
        for (var o = 0; o < 70_000; o++)
        {
            column.Set(o, o % 100);
        }

        var acc = new ulong[1024];
        Array.Fill(acc, ulong.MaxValue); // 65,536 candidates
        Assert.False(column.AndRangeProbe(acc, 10, 20, 0));
        Assert.All(acc, w => Assert.Equal(ulong.MaxValue, w));
    }

    public static TheoryData<string> WindowFilters() => new()
    {
        // Few candidates (1 contact in 400 is in the east): the day window probes each candidate's day.
        "region = \"east\" and last_visit within 7d",
        "region = \"east\" and last_visit within 1d",
        "region = \"east\" and last_visit within 2d",
        "region = \"east\" and not (last_visit within 3d)",
        "region = \"east\" and last_visit before 3d",
        // Many candidates: the union of day bitmaps.
        "region = \"north\" and last_visit within 7d",
        "last_visit within 7d",
    };

    [Theory]
    [MemberData(nameof(WindowFilters))]
    public void DayWindowsAreExactAtTheirEdgesWhetherProbedOrUnioned(string text)
    {
        // One chunk of 60,000 contacts with visits spread over 120 days (so the date window reads day bitmaps), every 97th
        // without a visit; the 1-in-400 eastern contacts visited from 9 days ago to 2 days ahead. The within-7d union holds
        // ≈ 4,000 values: the ≈ 150 eastern candidates (× ProbeCostRatio < 4,000) are probed, the others unioned.
        var zone = RandomBase.Zone;
        var today = RandomBase.Now.InZone(zone).Date;
        var contacts = new List<Contact>();
        for (var i = 0; i < 60_000; i++)
        {
            var east = i % 400 == 0;
            var attributes = new Dictionary<string, FieldValue> { ["region"] = new TextValue(east ? "east" : "north") };
            if (i % 97 != 0)
            {
                attributes["last_visit"] = new DateValue(today.PlusDays(2 - (east ? i / 400 % 12 : i % 120)));
            }

            contacts.Add(new Contact { Id = new ContactId(new Guid(i + 1, 0, 0, new byte[8])), CreatedAt = RandomBase.Now, Attributes = attributes });
        }

        var index = new SegmentIndex(RandomBase.Schema, zone: zone);
        foreach (var c in contacts)
        {
            index.Upsert(c);
        }

        var oracle = new EvaluatorOracle(RandomBase.Schema, new Dictionary<ContactId, List<BehaviourEvent>>());
        var filter = FilterParser.Parse(text, new FilterContext(RandomBase.Schema));
        var midnight = today.AtStartOfDayInZone(zone).ToInstant();
        var instants = new List<Instant>
        {
            midnight, midnight - Duration.Epsilon, midnight + Duration.Epsilon, RandomBase.Now,
            midnight + Duration.FromDays(1) - Duration.Epsilon, midnight + Duration.FromDays(1), midnight + Duration.FromDays(3),
            midnight - Duration.FromDays(5) + Duration.FromHours(11),
            // The DST change of the zone (2026-03-08, 02:00 → 03:00) a week before "now".
            Instant.FromUtc(2026, 3, 8, 6, 59), Instant.FromUtc(2026, 3, 8, 7, 0), Instant.FromUtc(2026, 3, 9, 4, 0),
        };
        foreach (var now in instants)
        {
            var expected = oracle.Evaluate(contacts, filter, now).ToHashSet();
            var members = index.Evaluate(filter, now);
            Assert.True(expected.SetEquals(members), $"{text} at {now}: engine {members.Count}, reference {expected.Count}");
        }
    }

    [Fact]
    public void DenseUnionsAndDifferencesOfTagsEqualTheReference()
    {
        // Dense tags become bitmap containers (the fused union), sparse ones arrays (the mixed path); an expiring tag keeps the
        // per-contact test.
        var zone = RandomBase.Zone;
        var contacts = new List<Contact>();
        for (var i = 0; i < 30_000; i++)
        {
            var tags = new List<ContactTag>();
            void Tag(string name, Instant? expires = null) => tags.Add(new ContactTag { Tag = name, AssignedAt = RandomBase.Now - Duration.FromDays(1), ExpiresAt = expires });
            if (i % 3 == 0)
            {
                Tag("t0");
            }

            if (i % 5 == 0)
            {
                Tag("t1");
            }

            if (i % 101 == 0)
            {
                Tag("t2");
            }

            if (i % 7 == 0)
            {
                Tag("t3", i % 2 == 0 ? RandomBase.Now - Duration.FromHours(1) : RandomBase.Now + Duration.FromHours(1));
            }

            contacts.Add(new Contact
            {
                Id = new ContactId(new Guid(i + 1, 0, 0, new byte[8])),
                CreatedAt = RandomBase.Now,
                Attributes = new Dictionary<string, FieldValue> { ["region"] = new TextValue((i % 4) switch { 0 => "east", 1 => "north", 2 => "south", _ => "west" }) },
                Tags = tags,
            });
        }

        var index = new SegmentIndex(RandomBase.Schema, zone: zone);
        foreach (var c in contacts)
        {
            index.Upsert(c);
        }

        var oracle = new EvaluatorOracle(RandomBase.Schema, new Dictionary<ContactId, List<BehaviourEvent>>());
        foreach (var text in new[]
        {
            "region in (\"east\", \"north\", \"south\")",
            "region in (\"east\", \"north\") and (has_tag(t0) or has_tag(t1))",
            "(has_tag(t0) or has_tag(t2)) and not has_tag(t1)",
            "not has_tag(t2) and not region in (\"west\")",
            "has_tag(t0) or has_tag(t3)",
            "not has_tag(t3) and (has_tag(t1) or has_tag(t2))",
            "has_tag(t1) and (region in (\"east\") or has_tag(t0))",
            "(has_tag(t0) or has_tag(t1) or region in (\"east\", \"north\", \"south\")) and not has_tag(t2)",
            "(has_tag(t0) or has_tag(t2)) and region in (\"west\", \"east\")",
            "(has_tag(t0) or has_tag(t1) or has_tag(t3)) and region in (\"north\")",
        })
        {
            var filter = FilterParser.Parse(text, new FilterContext(RandomBase.Schema));
            var expected = oracle.Evaluate(contacts, filter, RandomBase.Now).ToHashSet();
            var members = index.Evaluate(filter, RandomBase.Now);
            Assert.True(expected.SetEquals(members), $"{text}: engine {members.Count}, reference {expected.Count}");
        }
    }

    [Fact]
    public void ChunkContainersChooseTheSmallestEncoding()
    {
        var words = new ulong[1024];
        Assert.Null(RoaringBitmap.ChunkContainer(words));
        words[3] = 0b1011;
        Assert.IsType<ArrayContainer>(RoaringBitmap.ChunkContainer(words));
        Array.Fill(words, ulong.MaxValue, 0, 4); // one run of 256 values (at most 512 values: the encodings are compared)
        Assert.IsType<RunContainer>(RoaringBitmap.ChunkContainer(words));
        Array.Fill(words, ulong.MaxValue, 0, 100); // more than 512 values in a whole chunk: a bitmap, as before
        Assert.IsType<BitmapContainer>(RoaringBitmap.ChunkContainer(words));
        for (var w = 0; w < 1024; w++)
        {
            words[w] = 0x5555_5555_5555_5555UL; // 32,768 values, no runs
        }

        var dense = RoaringBitmap.ChunkContainer(words);
        Assert.IsType<BitmapContainer>(dense);
        Assert.Equal(32_768, dense!.Cardinality);
        var partial = RoaringBitmap.ChunkContainer(words.AsSpan(0, 20)); // the last chunk of a base: fewer words
        Assert.Equal(640, partial!.Cardinality);
        var back = new ulong[1024];
        partial.OrInto(back);
        Assert.All(back.Skip(20), w => Assert.Equal(0UL, w));
    }

    [Property(MaxTest = 200)]
    public bool LongDenseScansWithRoundBoundsSkipTheExistsLineAndLowSlicesExactly(int seed, byte bits, byte trailing, bool openLo, bool openHi, bool rebase, byte firstBlock)
    {
        // Many blocks (the scan prefetches blocks ahead), a third of the contacts without a value or cleared (every slice
        // 0: a lower bound above the frame's base excludes them without the exists line), bounds with many trailing zeros
        // (lo) or ones (hi) so the bit-serial comparison stops early, a frame moved by a later smaller value, and a scan
        // that starts at a later word of the base.
        var random = new Random(seed);
        var width = 1 + (bits % 12);
        var t = trailing % (width + 1);
        var column = new BitSlicedColumn();
        var stored = new Dictionary<int, long>();
        const int Blocks = 24;
        for (var o = 0; o < Blocks * 512; o++)
        {
            if (random.Next(3) == 0)
            {
                continue;
            }

            var v = random.NextInt64(1L << width) + 5;
            column.Set(o, v);
            stored[o] = v;
        }

        foreach (var o in stored.Keys.Where(_ => random.Next(8) == 0).ToList())
        {
            column.Clear(o);
            stored.Remove(o);
        }

        if (rebase)
        {
            column.Set(3, 1); // a value below the base: every value is rewritten in a new frame
            stored[3] = 1;
        }

        var lo = openLo ? long.MinValue : (random.NextInt64(1L << width) >> t << t) + 5;
        var hi = openHi ? long.MaxValue : (random.NextInt64(1L << width) >> t << t) + ((1L << t) - 1) + 5;
        var start = (firstBlock % 4) * BitSlicedColumn.BlockWords;
        var words = (Blocks * BitSlicedColumn.BlockWords) - start;
        var acc = RandomCandidates(words, seed, density: 1);
        var candidates = Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).Select(o => o + (start * 64)).ToHashSet();
        column.AndRange(acc, lo, hi, start);
        var expected = stored.Where(kv => candidates.Contains(kv.Key) && kv.Value >= lo && kv.Value <= hi).Select(kv => kv.Key).Order();
        return Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).Select(o => o + (start * 64)).SequenceEqual(expected);
    }

    [Property(MaxTest = 200)]
    public bool NarrowScansWithoutTheExistsLineEqualNaiveAfterRandomWrites(int seed, byte bits, bool sparse, bool rebase)
    {
        // Offsets of contacts without a value stay 0 in the narrow offsets (Set, Clear, re-Set, widening and AppendBlock), so
        // a lower bound above the base rejects them without the exists line: values set, cleared, set again larger or
        // smaller, a frame widened (byte → ushort offsets) or moved down, rows appended in bulk; then sparse candidates (the
        // narrow scan) or dense ones (the slices), and the probe.
        var random = new Random(seed);
        var width = 1 + (bits % 16);
        var column = new BitSlicedColumn();
        var stored = new Dictionary<int, long>();
        const int Blocks = 12;
        void Set(int o, long v)
        {
            column.Set(o, v);
            stored[o] = v;
        }

        for (var o = 0; o < Blocks * 512; o++)
        {
            if (random.Next(3) != 0)
            {
                Set(o, random.NextInt64(1L << width) + 3);
            }
        }

        foreach (var o in stored.Keys.ToList())
        {
            switch (random.Next(6))
            {
                case 0:
                    column.Clear(o);
                    stored.Remove(o);
                    break;
                case 1:
                    Set(o, Math.Max(3, stored[o] / 2)); // shrinks
                    break;
                case 2:
                    Set(o, Math.Min((1L << width) + 2, stored[o] * 2)); // grows within the frame
                    break;
            }
        }

        if (rebase)
        {
            Set(7, 1); // below the base: every value rewritten in a new frame
            Set(11, (1L << Math.Min(width + 1, 16)) + 40); // and wider (byte offsets may become ushort ones)
            column.Clear(11);
            stored.Remove(11);
        }

        // Rows appended in bulk after the written ones: every other word present.
        var first = Blocks * 512;
        var values = new long[256];
        var present = new ulong[4];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = random.NextInt64(1L << width) + 3;
            if ((i >> 6) % 2 == 0 && random.Next(2) == 0)
            {
                present[i >> 6] |= 1UL << i;
                stored[first + i] = values[i];
            }
        }

        column.AppendBlock(first, values, present);
        var words = (Blocks * BitSlicedColumn.BlockWords) + 8;
        var lo = random.NextInt64(1L << width) + 3;
        var hi = lo + random.NextInt64(1L << width);
        var ok = true;
        foreach (var (l, h) in new[] { (lo, hi), (lo, long.MaxValue), (long.MinValue, hi), (1L, hi) })
        {
            var acc = RandomCandidates(words, seed, density: sparse ? 8 : 1);
            var probe = (ulong[])acc.Clone();
            var candidates = Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).ToHashSet();
            var expected = stored.Where(kv => candidates.Contains(kv.Key) && kv.Value >= l && kv.Value <= h).Select(kv => kv.Key).Order().ToList();
            column.AndRange(acc, l, h);
            ok &= Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).SequenceEqual(expected);
            if (column.AndRangeProbe(probe, l, h, 0))
            {
                ok &= Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(probe, o)).SequenceEqual(expected);
            }
        }

        return ok;
    }

    private static (BitSlicedColumn Column, Dictionary<int, long> Stored, long Shift) RandomColumn(long[] values, int scale)
    {
        var column = new BitSlicedColumn();
        var shift = 1L << (Math.Abs(scale % 20) + 1); // frames 1–21 bits: byte, ushort and slices only
        var stored = new Dictionary<int, long>();
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] % 7 == 0)
            {
                continue; // no value
            }

            var v = values[i] % shift;
            column.Set(i * 13, v);
            stored[i * 13] = v;
        }

        foreach (var o in stored.Keys.Where(k => k % 4 == 0).ToList())
        {
            column.Clear(o);
            stored.Remove(o);
        }

        return (column, stored, shift);
    }

    /// <summary>Random candidate words: about one word in <paramref name="density"/> has candidates.</summary>
    private static ulong[] RandomCandidates(int words, int seed, int density)
    {
        var acc = new ulong[words];
        var random = new Random(seed);
        for (var w = 0; w < words; w++)
        {
            acc[w] = random.Next(density) == 0 ? (ulong)random.NextInt64() & (ulong)random.NextInt64() : 0;
        }

        return acc;
    }
}
