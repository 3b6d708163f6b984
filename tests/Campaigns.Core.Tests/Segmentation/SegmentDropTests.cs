using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Segmentation;

/// <summary><see cref="SegmentRegistry.Drop"/>: a referenced segment is refused and nothing changes; a dropped one stops being evaluated and scheduled.</summary>
public sealed class SegmentDropTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 6, 1, 9, 0);

    private static SegmentDefinition Segment(string id, string text, SegmentRegistry registry) =>
        new() { Id = id, Name = id, Filter = FilterParser.Parse(text, new FilterContext(ContactsOptions.DefaultSchema) { Segments = new Resolver(registry) }) };

    private sealed class Resolver(SegmentRegistry registry) : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) => registry.SegmentIds.Contains(segmentId) ? registry.Definition(segmentId) : null;
    }

    [Fact]
    public async Task A_referenced_segment_is_refused_and_a_dropped_one_leaves_no_schedule_and_raises_nothing()
    {
        var clock = new FakeClock(Now);
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddLogging();
        services.AddCampaigns().AddLiveSegments();
        await using var sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<SegmentRegistry>();
        var contacts = sp.GetRequiredService<IContactService>();
        var events = sp.GetRequiredService<IContactEvents>();
        var ids = new List<ContactId>();
        for (var i = 0; i < 3; i++)
        {
            var c = await contacts.CreateAsync(new ContactDraft
            {
                Name = "c" + i,
                Identities = new ContactIdentities { Email = $"c{i}@example.com" },
                Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue("manufacturing") },
            });
            ids.Add(c.Id);
            registry.Upsert(c, Now);
        }

        registry.Define(Segment("makers", "industry = \"manufacturing\"", registry), Now);
        registry.Define(Segment("hot", "in_segment(\"makers\") and visited(\"product\") >= 1 within 7d", registry), Now);
        var changes = new List<string>();
        registry.MembershipChanged += (_, e) => changes.Add(e.SegmentId + (e.Entered ? "+" : "-"));
        foreach (var (id, n) in ids.Select((id, n) => (id, n)))
        {
            var visit = new BehaviourEvent
            {
                EventId = "v" + n,
                ContactId = id,
                Kind = EventKinds.PageView,
                OccurredAt = Now - Duration.FromDays(1),
                Properties = new Dictionary<string, string> { ["page_kind"] = "product" },
            };
            await events.IngestAsync(visit);
            registry.Apply(visit, Now);
        }

        Assert.Equal(3, registry.SizeOf("hot"));
        Assert.True(registry.ScheduledCount > 0); // each visit leaves the 7-day window at a known instant
        changes.Clear();

        var refused = Assert.Throws<InvalidOperationException>(() => registry.Drop("makers"));
        Assert.Contains("'hot'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["makers", "hot"], registry.SegmentIds);
        Assert.Equal(3, registry.SizeOf("makers"));

        Assert.True(registry.Drop("hot"));
        Assert.False(registry.Drop("hot"));
        Assert.Equal(["makers"], registry.SegmentIds);
        Assert.Throws<ArgumentException>(() => registry.SizeOf("hot"));
        Assert.Equal(0, registry.ScheduledCount);
        Assert.Null(registry.NextDue);

        // Time passing past every window and a contact change reach only the segment that is left.
        Assert.Equal(0, registry.AdvanceTo(Now + Duration.FromDays(10)));
        var changed = await contacts.SetAttributesAsync(ids[0], new Dictionary<string, FieldValue?> { ["industry"] = new TextValue("retail") });
        registry.Upsert(changed, Now + Duration.FromDays(10));
        Assert.Equal(["makers-"], changes);

        // Now nothing refers to "makers"; it can go, and a dropped id can be defined again from scratch.
        Assert.True(registry.Drop("makers"));
        Assert.Empty(registry.SegmentIds);
        registry.Define(Segment("makers", "industry = \"manufacturing\"", registry), Now + Duration.FromDays(10));
        Assert.Equal(2, registry.SizeOf("makers"));
    }
}
