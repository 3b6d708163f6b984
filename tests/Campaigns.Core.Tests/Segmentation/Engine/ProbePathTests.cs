using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Campaigns.Segmentation.Engine;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The narrow offsets of bit-sliced columns (sparse blocks scanned 64 contacts per word, one-read probes), the tag rewrite
/// that touches only changed tags, categorical probes by code, and the scheduled-bit check of the registry.
/// </summary>
public sealed class ProbePathTests
{
    [Property(MaxTest = 300)]
    public bool SparseCandidatesTakeTheNarrowPathAndMatchNaive(long[] values, long lo, long hi, int scale, int seed)
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

        foreach (var o in stored.Keys.Where(k => k % 3 == 0).ToList())
        {
            column.Set(o, -stored[o]); // may move the frame (rebuild)
            stored[o] = -stored[o];
        }

        foreach (var o in stored.Keys.Where(k => k % 4 == 0).ToList())
        {
            column.Clear(o);
            stored.Remove(o);
        }

        if (column.HasNarrowOffsets != (column.Width is > 0 and <= 16))
        {
            return false;
        }

        (lo, hi) = (Math.Min(lo % shift, hi % shift), Math.Max(lo % shift, hi % shift));
        var words = ((((values.Length * 13) + 511) >> 9) + 1) * 8;
        var acc = new ulong[words];
        var random = new Random(seed);
        for (var w = 0; w < words; w++)
        {
            // About one word in four has candidates: most blocks go through the narrow offsets.
            acc[w] = random.Next(4) == 0 ? (ulong)random.NextInt64() | 1UL : 0;
        }

        var candidates = Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).ToHashSet();
        column.AndRange(acc, lo, hi);
        var expected = stored.Where(kv => candidates.Contains(kv.Key) && kv.Value >= lo && kv.Value <= hi).Select(kv => kv.Key).Order();
        return Enumerable.Range(0, words * 64).Where(o => DenseBits.Get(acc, o)).SequenceEqual(expected)
            && stored.All(kv => column.TryGet(kv.Key, out var v) && v == kv.Value)
            && Enumerable.Range(0, values.Length * 13).Where(o => !stored.ContainsKey(o)).All(o => !column.TryGet(o, out _));
    }

    [Fact]
    public void NarrowOffsetsFollowTheFrameFromByteToUshortToSlices()
    {
        var column = new BitSlicedColumn();
        for (var o = 0; o < 2000; o++)
        {
            column.Set(o, o % 200);
        }

        Assert.True(column.HasNarrowOffsets);
        Assert.InRange(column.Width, 1, 8);
        column.Set(2000, -1000); // base moves down, 11 bits
        Assert.True(column.HasNarrowOffsets);
        Assert.InRange(column.Width, 9, 16);
        AssertValues(column, o => o == 2000 ? -1000 : o % 200, 2001);
        AssertSparseRange(column, 50, 150, o => o == 2000 ? -1000 : o % 200, 2001);
        column.Set(2001, 1L << 20); // 21 bits: slices only
        Assert.False(column.HasNarrowOffsets);
        AssertValues(column, o => o == 2000 ? -1000 : o == 2001 ? 1L << 20 : o % 200, 2002);
        AssertSparseRange(column, 50, 150, o => o == 2000 ? -1000 : o == 2001 ? 1L << 20 : o % 200, 2002);
    }

    private static void AssertValues(BitSlicedColumn column, Func<int, long> expected, int count)
    {
        for (var o = 0; o < count; o++)
        {
            Assert.True(column.TryGet(o, out var v));
            Assert.Equal(expected(o), v);
        }
    }

    private static void AssertSparseRange(BitSlicedColumn column, long lo, long hi, Func<int, long> value, int count)
    {
        var acc = new ulong[((count + 511) >> 9) * 8];
        for (var o = 0; o < count; o += 97)
        {
            DenseBits.Set(acc, o); // one candidate every 97: sparse blocks
        }

        column.AndRange(acc, lo, hi);
        for (var o = 0; o < count; o++)
        {
            Assert.Equal(o % 97 == 0 && value(o) >= lo && value(o) <= hi, DenseBits.Get(acc, o));
        }
    }

    [Fact]
    public void RewritingPlainTagsKeepsUnchangedOnesAndDropsExpiryAndOthers()
    {
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var now = RandomBase.Now;
        var id = new ContactId(Guid.NewGuid());
        var other = new ContactId(Guid.NewGuid());
        index.Upsert(Contact(other, "a", "b", "c"));
        index.Upsert(new Contact
        {
            Id = id,
            CreatedAt = now,
            Tags =
            [
                new ContactTag { Tag = "a", AssignedAt = now },
                new ContactTag { Tag = "b", AssignedAt = now, ExpiresAt = now + Duration.FromHours(1) },
                new ContactTag { Tag = "x", AssignedAt = now, Group = "g" },
            ],
        });
        Assert.True(Has(index, "has_tag(b)", now, id));
        Assert.False(Has(index, "has_tag(b)", now + Duration.FromHours(2), id));

        index.Upsert(Contact(id, "a", "b", "c")); // plain tags: a kept, b loses its expiry, x and its group go, c comes
        var later = now + Duration.FromHours(2);
        Assert.True(Has(index, "has_tag(a)", later, id));
        Assert.True(Has(index, "has_tag(b)", later, id));
        Assert.True(Has(index, "has_tag(c)", later, id));
        Assert.False(Has(index, "has_tag(x)", later, id));
        Assert.False(Has(index, "has_tag_in_group(g)", later, id));

        index.Upsert(Contact(id, "c"));
        Assert.False(Has(index, "has_any_tag(a, b)", later, id));
        Assert.True(Has(index, "has_tag(c)", later, id));
        Assert.True(index.Remove(id));
        Assert.False(Has(index, "has_tag(c)", later, id));
        Assert.Equal(other, Assert.Single(index.Evaluate(Parse("has_all_tags(a, b, c)"), later))); // the other contact is untouched
    }

    [Fact]
    public void ATagHeldTwiceAndConsentsSurviveRewritesOnTheDiffPath()
    {
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var now = RandomBase.Now;
        var id = new ContactId(Guid.NewGuid());
        var consent = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", now), ["sms"] = new(false, "form", now) };
        index.Upsert(Contact(id, "a", "a", "b") with { Consents = consent }); // "a" from two campaigns (F-3.5)
        Assert.True(Has(index, "has_all_tags(a, b)", now, id));
        Assert.True(Has(index, "consent(email)", now, id));
        Assert.False(Has(index, "consent(sms)", now, id));

        index.Upsert(Contact(id, "b", "b") with { Consents = consent }); // a dropped (both copies), b held twice
        Assert.False(Has(index, "has_tag(a)", now, id));
        Assert.True(Has(index, "has_tag(b)", now, id));
        Assert.True(Has(index, "consent(email)", now, id));

        var switched = new Dictionary<string, ConsentRecord> { ["email"] = new(false, "unsubscribe", now), ["sms"] = new(true, "form", now), ["wechat"] = new(true, "form", now) };
        index.Upsert(Contact(id, "b") with { Consents = switched });
        Assert.False(Has(index, "consent(email)", now, id));
        Assert.True(Has(index, "consent(sms) and consent(wechat)", now, id));

        index.Upsert(Contact(id, "b"));
        Assert.False(Has(index, "consent(sms) or consent(wechat) or consent(email)", now, id));
    }

    [Property(MaxTest = 40)]
    public void RewritingRandomPlainTagSetsLeavesExactlyTheLastSet(int seed)
    {
        // 80 tags over 32 buckets: the diff path walks buckets shared by kept, dropped and foreign tags; tags repeat (F-3.5).
        var random = new Random(seed);
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var ids = Enumerable.Range(0, 4).Select(_ => new ContactId(Guid.NewGuid())).ToArray();
        var expected = ids.ToDictionary(id => id, _ => new HashSet<string>());
        for (var round = 0; round < 25; round++)
        {
            var id = ids[random.Next(ids.Length)];
            var tags = Enumerable.Range(0, random.Next(0, 12)).Select(_ => $"t{random.Next(80)}").ToArray();
            index.Upsert(Contact(id, tags));
            expected[id] = [.. tags];
            for (var t = 0; t < 80; t++)
            {
                var members = index.Evaluate(Parse($"has_tag(t{t})"), RandomBase.Now);
                foreach (var other in ids)
                {
                    Assert.Equal(expected[other].Contains($"t{t}"), members.Contains(other));
                }
            }
        }
    }

    [Fact]
    public void RewritingTheStageKeepsOrChangesItsMembership()
    {
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var now = RandomBase.Now;
        var id = new ContactId(Guid.NewGuid());
        index.Upsert(Contact(id) with { Stage = LifecycleStage.Mql });
        index.Upsert(Contact(id) with { Stage = LifecycleStage.Mql }); // unchanged: the code comparison skips the write
        Assert.True(Has(index, "stage = mql", now, id));
        index.Upsert(Contact(id) with { Stage = LifecycleStage.Customer });
        Assert.False(Has(index, "stage = mql", now, id));
        Assert.True(Has(index, "stage = customer", now, id));
        index.Upsert(Contact(id) with { Stage = LifecycleStage.Mql });
        Assert.True(Has(index, "stage = mql", now, id));
        Assert.False(Has(index, "stage = customer", now, id));
    }

    [Fact]
    public void CategoricalProbeByCodeEqualsTheBitmaps()
    {
        var data = new RandomBase(7, 400);
        var index = data.BuildIndex();
        foreach (var text in new[] { "region = \"east\"", "region in (\"north\", \"west\")", "region starts with \"north\"", "industry = \"chem\"", "vip = true" })
        {
            var filter = Parse(text);
            var members = index.Evaluate(filter, RandomBase.Now).ToDense(index.WordCount);
            var plan = index.Compile(filter, RandomBase.Now, null);
            for (var o = 0; o < index.OrdinalCount + 70_000; o += o < index.OrdinalCount ? 1 : 4096)
            {
                Assert.Equal(DenseBits.Get(members, o), plan.Matches(o));
            }
        }
    }

    [Property(MaxTest = 10)]
    public void RetargetedPlanEqualsAFreshCompile(int seed)
    {
        // The registry keeps compiled plans and moves their "now" (windows, expiries, behaviour counts): a plan compiled at
        // t0 and retargeted to t1 must answer every contact exactly like a plan compiled at t1, across day boundaries too.
        var data = new RandomBase(seed, 200);
        var index = data.BuildIndex();
        var random = new Random(seed);
        for (var f = 0; f < 15; f++)
        {
            var filter = data.NewFilter();
            var t0 = RandomBase.Now + Duration.FromMinutes(random.Next(-3 * 24 * 60, 3 * 24 * 60));
            var plan = index.Compile(filter, t0, null);
            foreach (var step in new[] { 0, 1, 59, 6 * 60, 24 * 60, -10 * 60, 9 * 24 * 60, random.Next(-20_000, 20_000) })
            {
                var t1 = t0 + Duration.FromMinutes(step);
                plan.Retarget(t1.ToUnixTimeTicks());
                var fresh = index.Compile(filter, t1, null);
                for (var o = 0; o < index.OrdinalCount; o++)
                {
                    Assert.Equal(fresh.Matches(o), plan.Matches(o));
                    Assert.Equal(fresh.NextChange(o), plan.NextChange(o));
                    Assert.Equal(fresh.Evaluate(o, out var freshNext), plan.Evaluate(o, out var next));
                    Assert.Equal(freshNext, next);
                }
            }
        }
    }

    [Fact]
    public void UnscheduledContactsStayUnscheduledAndScheduledOnesAreDropped()
    {
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var registry = new SegmentRegistry(index);
        var now = RandomBase.Now;
        registry.Define(new SegmentDefinition { Id = "recent", Name = "recent", Filter = Parse("last_visit within 7d") }, now);
        var id = new ContactId(Guid.NewGuid());
        registry.Upsert(Visit(id, now, 1), now);
        Assert.Equal(1, registry.ScheduledCount); // leaves the window in 6–7 days
        registry.Upsert(Visit(id, now, 30), now);
        Assert.Equal(0, registry.ScheduledCount); // before the window: nothing to schedule
        registry.Upsert(Visit(id, now, 31), now);
        Assert.Equal(0, registry.ScheduledCount);
        registry.Upsert(Visit(id, now, 2), now);
        Assert.Equal(1, registry.ScheduledCount);
        Assert.Equal(1, registry.SizeOf("recent"));
    }

    private static Contact Visit(ContactId id, Instant now, int daysAgo) => new()
    {
        Id = id,
        CreatedAt = now,
        Attributes = new Dictionary<string, FieldValue> { ["last_visit"] = new DateValue(now.InZone(RandomBase.Zone).Date.PlusDays(-daysAgo)) },
    };

    private static Contact Contact(ContactId id, params string[] tags) => new()
    {
        Id = id,
        CreatedAt = RandomBase.Now,
        Tags = [.. tags.Select(t => new ContactTag { Tag = t, AssignedAt = RandomBase.Now })],
    };

    private static Filter Parse(string text) => FilterParser.Parse(text, new FilterContext(RandomBase.Schema));

    private static bool Has(SegmentIndex index, string filter, Instant now, ContactId id) =>
        index.Evaluate(Parse(filter), now).Contains(id);
}
