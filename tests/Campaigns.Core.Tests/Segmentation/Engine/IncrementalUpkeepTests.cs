using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// Segment upkeep writes only what changed: after random per-family changes (one attribute, tags, scores, stage, owner,
/// consents, deletions) the index holds what a fresh build holds and every live segment equals a full evaluation; a
/// change of one family writes only that family and re-evaluates only the segments that read it.
/// </summary>
public sealed class IncrementalUpkeepTests
{
    private static readonly string[] Fields = ["industry", "region", "budget", "employees", "last_visit", "vip", "interests"];

    [Property(MaxTest = 10)]
    public void PartialChangesLeaveTheIndexAndEveryMembershipAsAFreshBuildAndFullEvaluation(int seed)
    {
        var data = new RandomBase(seed, 200);
        var index = data.BuildIndex();
        var registry = new SegmentRegistry(index);
        var now = RandomBase.Now;
        var sizes = new Dictionary<string, int>();
        registry.MembershipChanged += (_, e) => sizes[e.SegmentId] = sizes.GetValueOrDefault(e.SegmentId) + (e.Entered ? 1 : -1);
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var id = "s" + i;
            registry.Define(new SegmentDefinition { Id = id, Name = id, Filter = data.NewFilter() }, now);
            sizes[id] = registry.SizeOf(id);
            ids.Add(id);
        }

        var r = new Random(seed);
        var donors = new RandomBase(seed + 1, 400).Contacts; // other random contacts: the values changes take
        var removed = new List<Contact>();
        for (var step = 0; step < 400; step++)
        {
            if (r.Next(4) == 0)
            {
                now += Duration.FromMinutes(r.Next(0, 3 * 60));
                registry.AdvanceTo(now);
            }

            if (r.Next(12) == 0 && data.Contacts.Count > 1)
            {
                var victim = data.Contacts[r.Next(data.Contacts.Count)];
                data.Contacts.Remove(victim);
                data.Events.Remove(victim.Id);
                registry.Remove(victim.Id, now);
                removed.Add(victim);
                continue;
            }

            if (r.Next(12) == 0 && removed.Count > 0)
            {
                var back = removed[^1];
                removed.RemoveAt(removed.Count - 1);
                data.Contacts.Add(back);
                data.Events[back.Id] = [];
                registry.Upsert(back, now);
                continue;
            }

            var at = r.Next(data.Contacts.Count);
            var previous = data.Contacts[at];
            var changed = Change(previous, donors[step], r);
            data.Contacts[at] = changed;
            if (r.Next(2) == 0)
            {
                registry.Upsert(changed, now);
            }
            else
            {
                registry.Upsert(changed, previous, now); // the live listener's path: families shared with previous are skipped
            }
        }

        now += Duration.FromDays(2);
        registry.AdvanceTo(now);

        // Every segment equals a full evaluation, and the sizes told by the events add up.
        var definitions = ids.ToDictionary(x => x, registry.Definition);
        foreach (var id in ids)
        {
            var live = registry.Members(id, now);
            var full = index.Evaluate(registry.Definition(id).Filter, now, definitions);
            Assert.True(full.SequenceEqual(live), $"seed {seed}, {id}: {registry.Definition(id).Filter}\nfull {full.Count}, live {live.Count}");
            Assert.Equal(full.Count, sizes[id]);
        }

        // The index holds, contact by contact, what a fresh build of the final contacts holds.
        var fresh = data.BuildIndex();
        Assert.Equal(fresh.Count, index.Count);
        foreach (var c in data.Contacts)
        {
            AssertSameColumns(fresh, fresh.OrdinalOf(c.Id), index, index.OrdinalOf(c.Id), now);
        }

        foreach (var c in removed)
        {
            var o = index.OrdinalOf(c.Id);
            Assert.False(index.IsLive(o));
            Assert.False(index.Tags.BitmapOf("t0")?.Contains(o) ?? false);
        }

        // And random filters over both indexes agree (events included).
        for (var i = 0; i < 30; i++)
        {
            var filter = data.NewFilter();
            Assert.True(
                fresh.Evaluate(filter, now).ToHashSet().SetEquals(index.Evaluate(filter, now)),
                $"seed {seed}: {filter}");
        }
    }

    [Fact]
    public void AScoreOnlyChangeWritesOnlyTheScoresAndReevaluatesOnlyTheSegmentsThatReadThem()
    {
        var data = new RandomBase(11, 100);
        var index = data.BuildIndex();
        var registry = new SegmentRegistry(index);
        var now = RandomBase.Now;
        var east = new AttributeFilter("region", CompareOperator.Equal, [new TextValue("east")]);
        registry.Define(Segment("hot", new ScoreFilter(ScoreKind.Behaviour, CompareOperator.GreaterOrEqual, [20])), now);
        registry.Define(Segment("a-grade", new GradeFilter(["A"])), now);
        registry.Define(Segment("east", east), now);
        registry.Define(Segment("tagged", new TagFilter(TagMatch.Any, ["t1"])), now);
        registry.Define(Segment("mixed", new OrFilter([east, new ScoreFilter(ScoreKind.Behaviour, CompareOperator.LessThan, [5])])), now);
        var contact = data.Contacts[7] with { Scores = new ContactScores(1, 2, "B", now) };
        registry.Upsert(contact, now);

        // The change mask of a score-only write has the scores' slot alone.
        var raised = new List<(string Segment, bool Entered)>();
        registry.MembershipChanged += (_, e) => raised.Add((e.SegmentId, e.Entered));
        var hot = contact with { Scores = contact.Scores! with { Behaviour = 40 } };
        var before = Reevaluations(registry);
        var expected = ExpectedChanges(index, registry, hot, now);
        registry.Upsert(hot, now);
        Assert.Equal(2, Reevaluations(registry) - before); // "hot" and "mixed": not "a-grade", "east" or "tagged"
        Assert.Equal(expected, raised);
        Assert.Contains(("hot", true), raised);
        Assert.Contains(hot.Id, registry.Members("hot", now));

        var mask = new ulong[index.ChangeWords];
        lock (index.Gate)
        {
            index.UpsertLocked(hot with { Scores = hot.Scores! with { Fit = 7 } }, null, out var wasLive, mask);
            Assert.True(wasLive);
        }

        Assert.Equal(1UL << SegmentIndex.ScoresSlot, mask[0]);
        Assert.All(mask.Skip(1), w => Assert.Equal(0UL, w));

        // A grade change writes the grade alone; an unchanged write changes nothing and re-evaluates no segment.
        Array.Clear(mask);
        lock (index.Gate)
        {
            index.UpsertLocked(hot with { Scores = hot.Scores! with { Fit = 7, Grade = "A" } }, null, out _, mask);
        }

        Assert.Equal(1UL << SegmentIndex.GradeSlot, mask[0]);
        var same = hot with { Scores = hot.Scores! with { Fit = 7, Grade = "A" } };
        before = Reevaluations(registry);
        raised.Clear();
        registry.Upsert(same, now);
        Assert.Equal(before, Reevaluations(registry));
        Assert.Empty(raised);
    }

    [Fact]
    public void EachFamilySetsOnlyItsOwnSlot()
    {
        var data = new RandomBase(5, 20);
        var index = data.BuildIndex();
        var now = RandomBase.Now;
        var c = data.Contacts[3] with
        {
            Attributes = new Dictionary<string, FieldValue> { ["region"] = new TextValue("east"), ["interests"] = new ChoicesValue(["ai", "iot"]) },
            Tags = [new ContactTag { Tag = "t1", Group = "g0", AssignedAt = now }],
            Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", now) },
            OwnerId = "u1",
            Stage = LifecycleStage.Mql,
            Scores = new ContactScores(1, 1, "B", now),
        };
        Write(index, c);
        Assert.Equal(0UL, Write(index, c)[0]); // the same again: nothing written
        Assert.Equal(Bit(index.SlotOf("region")), Diff(index, c, c with { Attributes = new Dictionary<string, FieldValue>(c.Attributes) { ["region"] = new TextValue("west") } })[0]);
        Assert.Equal(Bit(index.SlotOf("interests")), Diff(index, c, c with { Attributes = new Dictionary<string, FieldValue>(c.Attributes) { ["interests"] = new ChoicesValue(["ai"]) } })[0]);
        Assert.Equal(Bit(index.SlotOf("budget")), Diff(index, c, c with { Attributes = new Dictionary<string, FieldValue>(c.Attributes) { ["budget"] = new NumberValue(3) } })[0]);
        Assert.Equal(Bit(SegmentIndex.TagsSlot), Diff(index, c, c with { Tags = [new ContactTag { Tag = "t1", Group = "g1", AssignedAt = now }] })[0]);
        Assert.Equal(Bit(SegmentIndex.TagsSlot), Diff(index, c, c with { Tags = [new ContactTag { Tag = "t1", Group = "g0", AssignedAt = now, ExpiresAt = now + Duration.FromDays(1) }] })[0]);
        Assert.Equal(0UL, Diff(index, c, c with { Tags = [new ContactTag { Tag = "t1", Group = "g0", AssignedAt = now - Duration.FromDays(1) }] })[0]); // assigned-at is not indexed
        Assert.Equal(Bit(SegmentIndex.ConsentsSlot), Diff(index, c, c with { Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(false, "form", now) } })[0]);
        Assert.Equal(Bit(SegmentIndex.OwnerSlot), Diff(index, c, c with { OwnerId = "u2" })[0]);
        Assert.Equal(Bit(SegmentIndex.StageSlot), Diff(index, c, c with { Stage = LifecycleStage.Customer })[0]);
        Assert.Equal(Bit(SegmentIndex.CreatedAtSlot), Diff(index, c, c with { CreatedAt = c.CreatedAt + Duration.FromDays(1) })[0]);
        Assert.Equal(Bit(SegmentIndex.ScoresSlot) | Bit(SegmentIndex.GradeSlot), Diff(index, c, c with { Scores = new ContactScores(2, 1, "A", now) })[0]);
        Assert.Equal(0UL, Diff(index, c, c with { TimeZoneId = "Europe/Berlin", Name = "renamed" })[0]); // not indexed

        static ulong Bit(int slot) => 1UL << slot;
    }

    [Fact]
    public void FamiliesSharedByReferenceWithThePreviousVersionAreNotComparedUnlessTheContactWasRemoved()
    {
        var now = RandomBase.Now;
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        var registry = new SegmentRegistry(index);
        registry.Define(Segment("t1", new TagFilter(TagMatch.Any, ["t1"])), now);
        var held = new Contact { Id = new ContactId(Guid.NewGuid()), CreatedAt = now, Tags = [new ContactTag { Tag = "t1", AssignedAt = now }] };
        registry.Upsert(held, now);
        Assert.Equal(1, registry.SizeOf("t1"));

        // The caller vouches that the index holds "previous"; its tag list is the new one's, so tags are not looked at
        // (here the index in fact holds other tags: the write trusts the caller, and t1 stays).
        var untagged = held with { Tags = [] };
        var scored = untagged with { Scores = new ContactScores(5, 0, null, now) };
        registry.Upsert(scored, untagged, now);
        Assert.Equal(1, registry.SizeOf("t1"));
        Assert.True(index.Tags.Contains("t1", index.OrdinalOf(held.Id), now.ToUnixTimeTicks()));

        // Without it every family is compared: t1 goes.
        registry.Upsert(scored, now);
        Assert.Equal(0, registry.SizeOf("t1"));

        // A removed contact written again is written whole, whatever "previous" says.
        Assert.True(registry.Remove(held.Id, now));
        registry.Upsert(held, held, now);
        Assert.Equal(1, registry.SizeOf("t1"));
        Assert.Equal(0UL, Diff(index, held, held with { Attributes = new Dictionary<string, FieldValue>() })[0]);
    }

    /// <summary>The change mask of writing <paramref name="changed"/> over <paramref name="c"/>.</summary>
    private static ulong[] Diff(SegmentIndex index, Contact c, Contact changed)
    {
        Write(index, c);
        return Write(index, changed);
    }

    private static ulong[] Write(SegmentIndex index, Contact contact)
    {
        var mask = new ulong[index.ChangeWords];
        lock (index.Gate)
        {
            index.UpsertLocked(contact, null, out _, mask);
        }

        return mask;
    }

    private static SegmentDefinition Segment(string id, Filter filter) => new() { Id = id, Name = id, Filter = filter };

    private static long Reevaluations(SegmentRegistry registry) => registry.Reevaluations;

    /// <summary>What a full evaluation says changes for the contact: the segments it enters or exits, in definition order.</summary>
    private static List<(string, bool)> ExpectedChanges(SegmentIndex index, SegmentRegistry registry, Contact next, Instant now)
    {
        var result = new List<(string, bool)>();
        var scratch = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        scratch.Upsert(next);
        foreach (var id in registry.SegmentIds)
        {
            var filter = registry.Definition(id).Filter;
            var was = index.Evaluate(filter, now).Contains(next.Id);
            var will = scratch.Evaluate(filter, now).Contains(next.Id);
            if (was != will)
            {
                result.Add((id, will));
            }
        }

        return result;
    }

    /// <summary>A changed copy of <paramref name="c"/>: one family (one attribute, tags, scores, stage, owner or consents)
    /// taken from <paramref name="donor"/> (which may hold the same value), or only what the index does not hold.</summary>
    private static Contact Change(Contact c, Contact donor, Random r)
    {
        switch (r.Next(8))
        {
            case 0:
            case 1:
                var field = Fields[r.Next(Fields.Length)];
                var attributes = new Dictionary<string, FieldValue>(c.Attributes);
                if (donor.Attributes.TryGetValue(field, out var value))
                {
                    attributes[field] = value;
                }
                else
                {
                    attributes.Remove(field);
                }

                return c with { Attributes = attributes };
            case 2:
                return c with { Tags = r.Next(3) == 0 ? [.. c.Tags, .. donor.Tags] : donor.Tags };
            case 3:
                return c with { Scores = donor.Scores };
            case 4:
                return c with { Stage = donor.Stage };
            case 5:
                return c with { OwnerId = donor.OwnerId };
            case 6:
                return c with { Consents = donor.Consents };
            default:
                return c with { TimeZoneId = donor.TimeZoneId }; // nothing the index holds
        }
    }

    private static void AssertSameColumns(SegmentIndex expected, int e, SegmentIndex actual, int a, Instant now)
    {
        Assert.True(actual.IsLive(a));
        foreach (var definition in RandomBase.Schema.Attributes)
        {
            var x = expected.Column(definition.Name)!;
            var y = actual.Column(definition.Name)!;
            Assert.Equal(x.Categorical?.Get(e), y.Categorical?.Get(a));
            Assert.Equal(Number(x.Numbers, e), Number(y.Numbers, a));
            Assert.Equal(x.Dates is { } xd && xd.TryGet(e, out var dx) ? dx : (long?)null, y.Dates is { } yd && yd.TryGet(a, out var dy) ? dy : (long?)null);
            Assert.Equal(x.NonEmpty?.Contains(e), y.NonEmpty?.Contains(a));
            foreach (var element in new[] { "ai", "iot", "mes", "plm" })
            {
                Assert.Equal(x.Elements?.BitmapOf(element)?.Contains(e) ?? false, y.Elements?.BitmapOf(element)?.Contains(a) ?? false);
            }
        }

        Assert.Equal(expected.Stage.Get(e), actual.Stage.Get(a));
        Assert.Equal(expected.Grade.Get(e), actual.Grade.Get(a));
        Assert.Equal(expected.OwnerIds.Get(e), actual.OwnerIds.Get(a));
        Assert.Equal(expected.CreatedAt.TryGet(e, out var ce) ? ce : (long?)null, actual.CreatedAt.TryGet(a, out var ca) ? ca : (long?)null);
        foreach (var kind in new[] { ScoreKind.Behaviour, ScoreKind.Fit, ScoreKind.Total })
        {
            Assert.Equal(Number(expected.Score(kind), e), Number(actual.Score(kind), a));
        }

        foreach (var tag in new[] { "t0", "t1", "t2", "t3", "t4", "t5" })
        {
            Assert.Equal(expected.Tags.BitmapOf(tag)?.Contains(e) ?? false, actual.Tags.BitmapOf(tag)?.Contains(a) ?? false);
            Assert.Equal(expected.Tags.ExpiryOf(tag, e), actual.Tags.ExpiryOf(tag, a));
            Assert.Equal(expected.Tags.Contains(tag, e, now.ToUnixTimeTicks()), actual.Tags.Contains(tag, a, now.ToUnixTimeTicks()));
        }

        foreach (var group in new[] { "g0", "g1", "g2" })
        {
            Assert.Equal(expected.Groups.BitmapOf(group)?.Contains(e) ?? false, actual.Groups.BitmapOf(group)?.Contains(a) ?? false);
            Assert.Equal(expected.Groups.ExpiryOf(group, e), actual.Groups.ExpiryOf(group, a));
        }

        foreach (var channel in new[] { "email", "sms" })
        {
            Assert.Equal(expected.Consents.BitmapOf(channel)?.Contains(e) ?? false, actual.Consents.BitmapOf(channel)?.Contains(a) ?? false);
        }

        static decimal? Number(Campaigns.Segmentation.Engine.NumberColumn? column, int o) =>
            column is not null && column.TryGet(o, out var v) ? v : null;
    }
}
