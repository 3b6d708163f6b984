using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Segmentation;

/// <summary><c>AddLiveSegments()</c>: the index rebuilt from the stores at start, kept live by contact changes and events, feeding segment-entry journeys.</summary>
public sealed class LiveSegmentsTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 6, 1, 9, 0);

    private static SegmentDefinition Segment(string id, string text) =>
        new() { Id = id, Name = id, Filter = FilterParser.Parse(text, new FilterContext(ContactsOptions.DefaultSchema)) };

    private static ServiceProvider Build(FakeClock clock)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddLogging();
        services.AddCampaigns().AddLiveSegments();
        return services.BuildServiceProvider();
    }

    private static async Task<ContactId> AddAsync(IServiceProvider sp, string name, string industry)
    {
        var contact = await sp.GetRequiredService<IContactService>().CreateAsync(new ContactDraft
        {
            Name = name,
            Identities = new ContactIdentities { Email = $"{name}@example.com" },
            Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue(industry) },
        });
        return contact.Id;
    }

    private static async Task VisitAsync(IServiceProvider sp, ContactId id, string eventId, Instant at) =>
        await sp.GetRequiredService<IContactEvents>().IngestAsync(new BehaviourEvent
        {
            EventId = eventId,
            ContactId = id,
            Kind = EventKinds.PageView,
            OccurredAt = at,
            Properties = new Dictionary<string, string> { ["page_kind"] = "product" },
        });

    private static async Task StartAsync(IServiceProvider sp)
    {
        foreach (var hosted in sp.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    private static async Task StopAsync(IServiceProvider sp)
    {
        foreach (var hosted in sp.GetServices<IHostedService>().Reverse())
        {
            await hosted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TheIndexIsLoadedFromTheStoresAtStartAndSegmentsDefinedEarlierAreReevaluated()
    {
        var clock = new FakeClock(Now);
        await using var sp = Build(clock);
        var a = await AddAsync(sp, "a", "manufacturing");
        var b = await AddAsync(sp, "b", "manufacturing");
        await AddAsync(sp, "c", "retail");
        await VisitAsync(sp, a, "v1", Now - Duration.FromDays(1));
        await VisitAsync(sp, a, "v2", Now - Duration.FromDays(2));
        await VisitAsync(sp, b, "v3", Now - Duration.FromDays(20));

        var registry = sp.GetRequiredService<SegmentRegistry>();
        registry.Define(Segment("hot", "industry = \"manufacturing\" and visited(\"product\") >= 2 within 7d"), Now);
        registry.Define(Segment("mfg", "industry = \"manufacturing\""), Now);
        Assert.Equal(0, registry.SizeOf("mfg")); // nothing loaded yet

        await StartAsync(sp);
        var report = await sp.GetRequiredService<SegmentIndexLoader>().Completion;
        Assert.Equal(3, report.Contacts);
        Assert.Equal(3, report.Events);
        Assert.Equal(2, report.Segments);
        Assert.Equal(2, registry.SizeOf("mfg"));
        Assert.Equal([a], registry.Members("hot", Now).ToSnapshot());
        await StopAsync(sp);
    }

    [Fact]
    public async Task AfterStartChangesAndEventsMoveMembershipAndEnterSegmentTriggeredJourneys()
    {
        var clock = new FakeClock(Now);
        await using var sp = Build(clock);
        await StartAsync(sp);
        var registry = sp.GetRequiredService<SegmentRegistry>();
        registry.Define(Segment("hot", "industry = \"manufacturing\" and visited(\"product\") >= 2 within 7d"), Now);
        var runner = sp.GetRequiredService<JourneyRunner>();
        runner.Catalog.Publish(
            new JourneyDefinition
            {
                Id = "nurture",
                Trigger = new SegmentEntryTrigger("hot"),
                StartNodeId = "tag",
                Nodes = [new AddTagNode { Id = "tag", Tag = "hot-lead" }],
            },
            new JourneyValidationContext { Channels = sp.GetRequiredService<IChannelRegistry>() },
            Now);
        var bridge = sp.GetServices<IHostedService>().OfType<SegmentJourneyBridge>().Single();
        var entered = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        bridge.BatchCompleted = n => entered.TrySetResult(n);

        var a = await AddAsync(sp, "a", "manufacturing");
        await VisitAsync(sp, a, "v1", Now - Duration.FromHours(3));
        Assert.Equal(0, registry.SizeOf("hot"));
        await VisitAsync(sp, a, "v2", Now - Duration.FromHours(1));
        Assert.Equal(1, registry.SizeOf("hot"));

        Assert.Equal(1, await entered.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        var run = await sp.GetRequiredService<IJourneyRunStore>().GetLatestAsync("nurture", a);
        Assert.NotNull(run);

        // A contact change that breaks the condition takes the contact out at once.
        await sp.GetRequiredService<IContactService>().SetAttributesAsync(a, new Dictionary<string, FieldValue?> { ["industry"] = new TextValue("retail") });
        Assert.Equal(0, registry.SizeOf("hot"));
        await StopAsync(sp);
    }

    [Fact]
    public async Task ChangesStoredWhileTheLoadRunsAreAppliedAfterItAndNoWriterWaits()
    {
        var clock = new FakeClock(Now);
        var store = new ListingHookStore();
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddSingleton<IContactStore>(store);
        services.AddLogging();
        services.AddCampaigns().AddLiveSegments();
        await using var sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<SegmentRegistry>();
        registry.Define(Segment("mfg", "industry = \"manufacturing\""), Now);
        var early = await AddAsync(sp, "early", "manufacturing"); // before the load: completes at once, applied later
        ContactId late = default;

        // After the loader has listed the store, a writer adds a contact the listing cannot contain.
        store.Listed = async () => late = await AddAsync(sp, "late", "manufacturing");
        await StartAsync(sp);

        Assert.Equal(1, (await sp.GetRequiredService<SegmentIndexLoader>().Completion).Contacts);
        Assert.Equal(2, registry.SizeOf("mfg"));
        var members = registry.Members("mfg", Now);
        Assert.True(members.Contains(early));
        Assert.True(members.Contains(late));
        await StopAsync(sp);
    }

    /// <summary>An in-memory contact store that runs a callback after a listing has been read, before it is returned.</summary>
    private sealed class ListingHookStore : IContactStore
    {
        private readonly InMemoryContactStore _inner = new();

        public Func<Task>? Listed { get; set; }

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => _inner.GetAsync(id, cancellationToken);

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => _inner.FindAsync(kind, value, cancellationToken);

        public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) => _inner.AddAsync(contact, cancellationToken);

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => _inner.UpdateAsync(contact, cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => _inner.CountAsync(cancellationToken);

        public async IAsyncEnumerable<Contact> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var all = new List<Contact>();
            await foreach (var c in _inner.ListAsync(cancellationToken))
            {
                all.Add(c);
            }

            if (Listed is { } listed)
            {
                Listed = null;
                await listed();
            }

            foreach (var c in all)
            {
                yield return c;
            }
        }
    }

    [Fact]
    public async Task AnIndexThatAlreadyHoldsContactsIsRefused()
    {
        var index = new SegmentIndex(ContactsOptions.DefaultSchema);
        index.Upsert(new Contact { Id = ContactId.New(), CreatedAt = Now });
        var ex = Assert.Throws<ArgumentException>(() => new SegmentIndexBuilder(index));
        Assert.Contains("already holds 1 contacts", ex.Message, StringComparison.Ordinal);

        var loader = new SegmentIndexLoader(index, new SegmentRegistry(index), new InMemoryContactStore(), new InMemoryEventStore(), new FakeClock(Now));
        await Assert.ThrowsAsync<ArgumentException>(() => loader.LoadAsync());
        await Assert.ThrowsAsync<ArgumentException>(() => loader.Completion);
    }
}
