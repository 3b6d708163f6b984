using Campaigns.Contacts;
using Campaigns.Segmentation;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>Incremental membership after a random stream of changes equals a full re-evaluation.</summary>
public sealed class IncrementalMembershipTests
{
    [Property(MaxTest = 8)]
    public void IncrementalEqualsFullReevaluation(int seed)
    {
        var data = new RandomBase(seed, 300);
        var index = data.BuildIndex();
        var registry = new SegmentRegistry(index);
        var now = RandomBase.Now;
        var sizes = new Dictionary<string, int>();
        var changes = 0;
        var timed = 0;
        registry.MembershipChanged += (_, e) =>
        {
            sizes[e.SegmentId] = sizes.GetValueOrDefault(e.SegmentId) + (e.Entered ? 1 : -1);
            changes++;
        };
        var ids = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            var id = "s" + i;
            registry.Define(new SegmentDefinition { Id = id, Name = id, Filter = data.NewFilter() }, now);
            sizes[id] = registry.SizeOf(id);
            ids.Add(id);
        }

        var r = new Random(seed);
        var next = 0;
        for (var step = 0; step < 300; step++)
        {
            now += Duration.FromMinutes(r.Next(0, 6 * 60));
            timed += registry.AdvanceTo(now);
            switch (r.Next(4))
            {
                case 0:
                    foreach (var c in data.Mutate(0.01))
                    {
                        registry.Upsert(c, now);
                    }

                    break;
                case 1 when data.Contacts.Count > 0:
                    var victim = data.Contacts[r.Next(data.Contacts.Count)];
                    data.Contacts.Remove(victim);
                    data.Events.Remove(victim.Id);
                    registry.Remove(victim.Id, now);
                    break;
                default:
                    var contact = data.Contacts[r.Next(data.Contacts.Count)];
                    var e = new BehaviourEvent
                    {
                        EventId = "stream-" + next++,
                        ContactId = contact.Id,
                        Kind = r.Next(2) == 0 ? "page_view" : "download",
                        OccurredAt = now - Duration.FromMinutes(r.Next(0, 3 * 24 * 60)),
                        Properties = new Dictionary<string, string> { ["page_kind"] = r.Next(2) == 0 ? "product" : "10" },
                    };
                    data.Events[contact.Id].Add(e);
                    Assert.True(registry.Apply(e, now));
                    break;
            }
        }

        now += Duration.FromDays(3);
        timed += registry.AdvanceTo(now);
        Assert.True(changes > 0 && timed > 0, $"changes {changes}, timed re-evaluations {timed}");
        foreach (var id in ids)
        {
            var live = registry.Members(id, now);
            var full = index.Evaluate(registry.Definition(id).Filter, now, ids.ToDictionary(x => x, registry.Definition));
            Assert.True(full.SequenceEqual(live), $"seed {seed}, {id}: {registry.Definition(id).Filter}\nfull {full.Count}, live {live.Count}");
            Assert.Equal(full.Count, registry.SizeOf(id));
            Assert.Equal(full.Count, sizes[id]);
        }
    }

    /// <summary>A new day of a date column after plans were compiled (day bitmaps) once went unseen.</summary>
    [Fact]
    public void IncrementalEqualsFullReevaluationWhenNewDaysAppear() => IncrementalEqualsFullReevaluation(73);

    [Fact]
    public void RepeatedChangesKeepTheTimeQueueCompactAndReplacedSegmentsDoNotFire()
    {
        var data = new RandomBase(3, 50);
        var registry = new SegmentRegistry(data.BuildIndex());
        var now = RandomBase.Now;
        registry.Define(new SegmentDefinition { Id = "recent", Name = "recent", Filter = new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(3)) }, now);
        var a = data.Contacts[0] with { Attributes = new Dictionary<string, Campaigns.Modeling.FieldValue> { ["last_visit"] = new Campaigns.Modeling.DateValue(now.InZone(RandomBase.Zone).Date) } };
        var b = a with { Attributes = new Dictionary<string, Campaigns.Modeling.FieldValue> { ["last_visit"] = new Campaigns.Modeling.DateValue(now.InZone(RandomBase.Zone).Date.PlusDays(-1)) } };
        for (var i = 0; i < 5_000; i++)
        {
            registry.Upsert(i % 2 == 0 ? a : b, now);
        }

        Assert.InRange(registry.ScheduledCount, 1, 50);
        Assert.InRange(registry.QueueLength, registry.ScheduledCount, 1024 + (4 * registry.ScheduledCount));

        // Replacing the segment with one that is not time-relative drops the old schedule: nothing fires later.
        var exits = 0;
        registry.MembershipChanged += (_, _) => exits++;
        registry.Define(new SegmentDefinition { Id = "recent", Name = "recent", Filter = new AttributeFilter("budget", CompareOperator.Exists, []) }, now);
        Assert.Equal(0, registry.ScheduledCount);
        Assert.Equal(0, registry.AdvanceTo(now + Duration.FromDays(10)));
        Assert.Equal(0, exits);
    }

    [Fact]
    public void ARemovedContactWrittenAgainReentersItsSegments()
    {
        // The registry learns from the index's upsert whether the contact was live: a contact written again after its
        // removal is re-evaluated against every segment (it was in none), a live one only against contact-data readers.
        var registry = new SegmentRegistry(new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone));
        var now = RandomBase.Now;
        registry.Define(new SegmentDefinition { Id = "a", Name = "a", Filter = new TagFilter(TagMatch.Any, ["a"]) }, now);
        var id = new ContactId(Guid.NewGuid());
        var contact = new Contact { Id = id, CreatedAt = now, Tags = [new ContactTag { Tag = "a", AssignedAt = now }] };
        var entered = 0;
        registry.MembershipChanged += (_, e) => entered += e.Entered ? 1 : -1;
        registry.Upsert(contact, now);
        registry.Upsert(contact, now);
        Assert.Equal(1, registry.SizeOf("a"));
        Assert.True(registry.Remove(id, now));
        Assert.Equal(0, registry.SizeOf("a"));
        registry.Upsert(contact, now);
        Assert.Equal(1, registry.SizeOf("a"));
        Assert.Equal(1, entered);
        registry.Upsert(contact with { Tags = [] }, now);
        Assert.Equal(0, registry.SizeOf("a"));
    }
}
