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
}
