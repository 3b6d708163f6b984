using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Storage;
using Campaigns.Tags;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Tests.Storage;

/// <summary>
/// <see cref="DurableDefinitions"/>: writes store then apply, a second instance on the same store loads them and picks up
/// changes by polling on the clock, stale writes throw and change nothing, a stored definition that does not validate
/// is reported without stopping the others.
/// </summary>
public sealed class DurableDefinitionsTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 6, 1, 9, 0);
    private static readonly FilterContext Context = new(ContactsOptions.DefaultSchema);

    internal static TagModel Industry(string name = "行业") => new()
    {
        Id = "industry",
        Name = name,
        Dimension = TagDimension.BasicAttributes,
        Groups =
        [
            new TagGroupDefinition
            {
                Id = "industry-group",
                Name = "所属行业",
                Tags = [new TagDefinition { Id = "manufacturing", Name = "制造业", Condition = FilterParser.Parse("industry = \"manufacturing\"", Context) }],
            },
        ],
    };

    internal static SegmentDefinition Segment(string id, string text) => new() { Id = id, Name = id, Filter = FilterParser.Parse(text, Context with { Segments = new AnySegment() }) };

    internal static JourneyDefinition Journey(string name = "Nurture") => new()
    {
        Id = "nurture",
        Name = name,
        Trigger = new ApiTrigger(),
        StartNodeId = "tag",
        Nodes = [new AddTagNode { Id = "tag", Tag = "hot-lead" }],
    };

    internal static ScoringModel Scoring(decimal points) => new()
    {
        FitRules = [new FitRule { Id = "maker", Condition = FilterParser.Parse("industry = \"manufacturing\"", Context), Points = points }],
    };

    private sealed class Host : IAsyncDisposable
    {
        public Host(IDefinitionStore store, ControllableClock clock, TimeSpan? pollInterval = null)
        {
            var services = new ServiceCollection();
            services.AddSingleton<IClock>(clock);
            services.AddSingleton(store);
            services.AddLogging();
            services.AddCampaigns(o => o.Definitions.PollInterval = pollInterval ?? TimeSpan.FromSeconds(5)).AddDurableDefinitions();
            Services = services.BuildServiceProvider();
        }

        public ServiceProvider Services { get; }

        public DurableDefinitions Definitions => Services.GetRequiredService<DurableDefinitions>();

        public ITagCatalog Tags => Services.GetRequiredService<ITagCatalog>();

        public SegmentRegistry Segments => Services.GetRequiredService<SegmentRegistry>();

        public JourneyCatalog Journeys => Services.GetRequiredService<JourneyCatalog>();

        public IScoringModelStore Scoring => Services.GetRequiredService<IScoringModelStore>();

        public ValueTask DisposeAsync() => Services.DisposeAsync();
    }

    [Fact]
    public async Task Writes_are_stored_then_applied_and_a_second_instance_loads_them()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock);
        await a.Definitions.SetTagModelAsync(Industry());
        await a.Definitions.DefineSegmentAsync(Segment("makers", "industry = \"manufacturing\""));
        await a.Definitions.PublishJourneyAsync(Journey());
        await a.Definitions.ReplaceScoringModelAsync(Scoring(10));
        Assert.Equal(["industry"], a.Tags.Models.Select(m => m.Id));
        Assert.Equal(["makers"], a.Segments.SegmentIds);
        Assert.Equal(JourneyState.Active, a.Journeys.GetState("nurture"));
        Assert.Equal(10, a.Scoring.Current.FitRules[0].Points);
        Assert.Equal(1, (await store.GetAsync(DefinitionKinds.ScoringModel, DurableDefinitions.ScoringModelId))!.Version);

        await using var b = new Host(store, clock);
        var report = await b.Definitions.LoadAsync();
        Assert.Equal((4, 0), (report.Applied, report.Problems.Count));
        Assert.Equal(StorageJson.Serialize(Industry()), StorageJson.Serialize(b.Tags.Models.Single()));
        Assert.Equal(StorageJson.Serialize(Segment("makers", "industry = \"manufacturing\"")), StorageJson.Serialize(b.Segments.Definition("makers")));
        Assert.Equal(JourneyJson.Serialize(Journey()), JourneyJson.Serialize(b.Journeys.Find("nurture")!));
        Assert.Equal(10, b.Scoring.Current.FitRules[0].Points);
    }

    [Fact]
    public async Task Defining_the_same_things_again_creates_no_new_versions()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using (var first = new Host(store, clock))
        {
            await first.Definitions.SetTagModelAsync(Industry());
            await first.Definitions.PublishJourneyAsync(Journey());
        }

        var stamp = await store.GetStampAsync();
        await using var second = new Host(store, clock);
        Assert.Equal(1, (await second.Definitions.SetTagModelAsync(Industry())).Version); // loads first (no host start), then writes nothing
        Assert.Equal(1, (await second.Definitions.PublishJourneyAsync(Journey())).Version);
        Assert.Equal(stamp, await store.GetStampAsync());
    }

    [Fact]
    public async Task Another_instances_change_is_applied_after_the_poll_interval_on_the_clock()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock, TimeSpan.FromSeconds(10));
        await using var b = new Host(store, clock, TimeSpan.FromSeconds(10));
        await a.Definitions.LoadAsync();
        await b.Definitions.LoadAsync();
        Assert.False(await b.Definitions.PollIfDueAsync()); // the first poll is due at once; nothing changed: no reload
        await a.Definitions.SetTagModelAsync(Industry("行业 v2"));

        clock.Advance(Duration.FromSeconds(9));
        Assert.False(await b.Definitions.PollIfDueAsync());
        Assert.Empty(b.Tags.Models);

        clock.Advance(Duration.FromSeconds(1));
        Assert.True(await b.Definitions.PollIfDueAsync());
        Assert.Equal("行业 v2", b.Tags.Models.Single().Name);

        clock.Advance(Duration.FromSeconds(10));
        Assert.False(await b.Definitions.PollIfDueAsync()); // due, but the stamp did not move: no reload
    }

    [Fact]
    public async Task A_stale_write_throws_and_changes_nothing_until_the_instance_polls()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock);
        await using var b = new Host(store, clock);
        await a.Definitions.SetTagModelAsync(Industry("v1"));
        await b.Definitions.LoadAsync();
        await a.Definitions.SetTagModelAsync(Industry("v2 from a"));

        var stale = await Assert.ThrowsAsync<ConcurrencyException>(async () => await b.Definitions.SetTagModelAsync(Industry("v2 from b")));
        Assert.Equal((1L, (long?)2L), (stale.ExpectedVersion, stale.ActualVersion));
        Assert.Equal("v1", b.Tags.Models.Single().Name);
        Assert.Contains("v2 from a", (await store.GetAsync(DefinitionKinds.TagModel, "industry"))!.Document, StringComparison.Ordinal);

        Assert.True(await b.Definitions.PollAsync());
        Assert.Equal("v2 from a", b.Tags.Models.Single().Name);
        Assert.Equal(3, (await b.Definitions.SetTagModelAsync(Industry("v3 from b"))).Version);
    }

    [Fact]
    public async Task A_stored_definition_that_does_not_validate_is_reported_and_the_others_load()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using (var writer = new Host(store, clock))
        {
            await writer.Definitions.SetTagModelAsync(Industry());
            await writer.Definitions.DefineSegmentAsync(Segment("makers", "industry = \"manufacturing\""));
        }

        // Written by an older version or by hand: a blank tag name, a document that is not a segment, an unknown attribute.
        var blank = StorageJson.Serialize(Industry() with { Id = "blank", Name = " " });
        await store.PutAsync(DefinitionKinds.TagModel, "blank", blank, null, Now);
        await store.PutAsync(DefinitionKinds.Segment, "broken", """{"id":"broken","name":"x","filter":{"type":"nonsense"}}""", null, Now);
        var unknown = StorageJson.Serialize(Segment("makers", "industry = \"manufacturing\"") with { Id = "gone" })
            .Replace("\"industry\"", "\"no_such_attribute\"", StringComparison.Ordinal);
        await store.PutAsync(DefinitionKinds.Segment, "gone", unknown, null, Now);

        await using var host = new Host(store, clock);
        var report = await host.Definitions.LoadAsync();
        Assert.Equal(["industry"], host.Tags.Models.Select(m => m.Id));
        Assert.Equal(["makers"], host.Segments.SegmentIds);
        Assert.Equal(2, report.Applied);
        Assert.Equal(
            [(DefinitionKinds.Segment, "broken"), (DefinitionKinds.Segment, "gone"), (DefinitionKinds.TagModel, "blank")],
            report.Problems.Select(p => (p.Kind, p.Id)));
        var blankProblem = report.Problems.Single(p => p.Id == "blank");
        Assert.Equal("models[0].name", blankProblem.Field);
        Assert.Contains("tag-model 'blank' (version 1), field 'models[0].name'", blankProblem.ToString(), StringComparison.Ordinal);
        Assert.Contains("no_such_attribute", report.Problems.Single(p => p.Id == "gone").Message, StringComparison.Ordinal);

        // A valid version written over the bad one (expecting the version seen) clears the problem.
        Assert.Equal(2, (await host.Definitions.SetTagModelAsync(Industry() with { Id = "blank", Name = "fixed", Groups = [] })).Version);
        Assert.DoesNotContain(host.Definitions.Problems, p => p.Id == "blank");
    }

    [Fact]
    public async Task Segments_load_in_reference_order_and_deleted_tag_models_are_removed()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock);
        await a.Definitions.DefineSegmentAsync(Segment("z-base", "industry = \"manufacturing\""));
        await a.Definitions.DefineSegmentAsync(Segment("a-derived", "in_segment(\"z-base\")"));
        await a.Definitions.SetTagModelAsync(Industry());

        await using var b = new Host(store, clock);
        Assert.Empty((await b.Definitions.LoadAsync()).Problems);
        Assert.Equal(["z-base", "a-derived"], b.Segments.SegmentIds);

        Assert.True(await a.Definitions.RemoveTagModelAsync("industry"));
        Assert.Empty(a.Tags.Models);
        Assert.True(await b.Definitions.PollAsync());
        Assert.Empty(b.Tags.Models);
    }

    [Fact]
    public async Task Removed_segments_leave_the_store_and_the_other_instance_but_a_referenced_one_is_refused()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock);
        await a.Definitions.DefineSegmentAsync(Segment("z-base", "industry = \"manufacturing\""));
        await a.Definitions.DefineSegmentAsync(Segment("a-derived", "in_segment(\"z-base\")"));
        await using var b = new Host(store, clock);
        await b.Definitions.LoadAsync();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(async () => await a.Definitions.RemoveSegmentAsync("z-base"));
        Assert.Contains("'a-derived'", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(await store.GetAsync(DefinitionKinds.Segment, "z-base"));
        Assert.Equal(["z-base", "a-derived"], a.Segments.SegmentIds);

        Assert.True(await a.Definitions.RemoveSegmentAsync("a-derived"));
        Assert.True(await a.Definitions.RemoveSegmentAsync("z-base"));
        Assert.False(await a.Definitions.RemoveSegmentAsync("z-base"));
        Assert.Empty(await store.ListAsync(DefinitionKinds.Segment));
        Assert.Empty(a.Segments.SegmentIds);

        // The other instance drops both at its next poll, the referrer first whatever the listing order.
        Assert.True(await b.Definitions.PollAsync());
        Assert.Empty(b.Segments.SegmentIds);
        Assert.Empty(b.Definitions.Problems);
    }

    [Fact]
    public async Task Journey_state_changes_are_stored_and_reach_the_other_instance()
    {
        var store = new InMemoryDefinitionStore();
        var clock = new ControllableClock(Now);
        await using var a = new Host(store, clock);
        await using var b = new Host(store, clock);
        await a.Definitions.PublishJourneyAsync(Journey());
        await b.Definitions.LoadAsync();

        a.Services.GetRequiredService<JourneyRunner>().PauseJourney("nurture");
        await a.Definitions.FlushJourneyStatesAsync();
        Assert.Contains("\"state\":\"Paused\"", (await store.GetAsync(DefinitionKinds.Journey, "nurture"))!.Document, StringComparison.Ordinal);
        Assert.True(await b.Definitions.PollAsync());
        Assert.Equal(JourneyState.Paused, b.Journeys.GetState("nurture"));

        // Republishing keeps the state; a restart gets both back.
        await a.Definitions.PublishJourneyAsync(Journey("Nurture v2"));
        await using var c = new Host(store, clock);
        await c.Definitions.LoadAsync();
        Assert.Equal((JourneyState.Paused, "Nurture v2"), (c.Journeys.GetState("nurture")!.Value, c.Journeys.Find("nurture")!.Name));
    }

    [Fact]
    public async Task State_changes_of_a_journey_published_on_the_catalog_directly_are_not_stored_and_a_failed_write_is_kept_for_the_next_flush()
    {
        var store = new FlakyStore();
        var clock = new ControllableClock(Now);
        await using var host = new Host(store, clock);
        await host.Definitions.LoadAsync();
        host.Journeys.Publish(Journey() with { Id = "local" }, new JourneyValidationContext(), Now);
        var runner = host.Services.GetRequiredService<JourneyRunner>();
        runner.PauseJourney("local");
        await host.Definitions.FlushJourneyStatesAsync();
        Assert.Empty(await store.ListAsync(DefinitionKinds.Journey));

        await host.Definitions.PublishJourneyAsync(Journey());
        await host.Definitions.FlushJourneyStatesAsync(); // let the background flush of the publish settle
        store.FailPuts = true;
        runner.PauseJourney("nurture");
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.Definitions.FlushJourneyStatesAsync());
        store.FailPuts = false;
        await host.Definitions.FlushJourneyStatesAsync();
        Assert.Contains("\"state\":\"Paused\"", (await store.GetAsync(DefinitionKinds.Journey, "nurture"))!.Document, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_definitions_are_refused_before_anything_is_stored()
    {
        var store = new InMemoryDefinitionStore();
        await using var host = new Host(store, new ControllableClock(Now));
        await Assert.ThrowsAsync<RuleDefinitionException>(async () => await host.Definitions.SetTagModelAsync(Industry(" ")));
        await Assert.ThrowsAsync<FilterException>(async () => await host.Definitions.DefineSegmentAsync(Segment("orphan", "in_segment(\"missing\")")));
        await Assert.ThrowsAsync<RuleDefinitionException>(async () => await host.Definitions.ReplaceScoringModelAsync(Scoring(5) with { Grades = [] }));
        await Assert.ThrowsAsync<JourneyValidationException>(async () => await host.Definitions.PublishJourneyAsync(Journey() with { StartNodeId = "nowhere" }));
        Assert.Equal(0, await store.GetStampAsync());
    }

    [Fact]
    public async Task The_hosted_service_loads_at_start_and_the_poll_interval_is_validated()
    {
        var store = new InMemoryDefinitionStore();
        await store.PutAsync(DefinitionKinds.TagModel, "industry", StorageJson.Serialize(Industry()), null, Now);
        await using var host = new Host(store, new ControllableClock(Now));
        foreach (var hosted in host.Services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        Assert.True(host.Definitions.IsLoaded);
        Assert.Equal(["industry"], host.Tags.Models.Select(m => m.Id));
        foreach (var hosted in host.Services.GetServices<IHostedService>().Reverse())
        {
            await hosted.StopAsync(CancellationToken.None);
        }

        var services = new ServiceCollection();
        services.AddCampaigns(o => o.Definitions.PollInterval = TimeSpan.Zero);
        using var bad = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IOptions<CampaignsOptions>>().Value);
        Assert.Contains("Campaigns:Definitions:PollInterval", error.Message, StringComparison.Ordinal);
    }

    /// <summary>An in-memory store whose puts fail on demand (a store outage).</summary>
    private sealed class FlakyStore : IDefinitionStore
    {
        private readonly InMemoryDefinitionStore _inner = new();

        public volatile bool FailPuts;

        public ValueTask<StoredDefinition?> GetAsync(string kind, string id, CancellationToken cancellationToken = default) => _inner.GetAsync(kind, id, cancellationToken);

        public ValueTask<IReadOnlyList<StoredDefinition>> ListAsync(string kind, CancellationToken cancellationToken = default) => _inner.ListAsync(kind, cancellationToken);

        public ValueTask<StoredDefinition> PutAsync(string kind, string id, string document, long? expectedVersion, Instant at, CancellationToken cancellationToken = default) =>
            FailPuts ? throw new InvalidOperationException("the store is down") : _inner.PutAsync(kind, id, document, expectedVersion, at, cancellationToken);

        public ValueTask<bool> DeleteAsync(string kind, string id, long? expectedVersion, CancellationToken cancellationToken = default) => _inner.DeleteAsync(kind, id, expectedVersion, cancellationToken);

        public ValueTask<long> GetStampAsync(CancellationToken cancellationToken = default) => _inner.GetStampAsync(cancellationToken);
    }

    /// <summary>Lets a test parse <c>in_segment(...)</c> before the referenced segment exists.</summary>
    private sealed class AnySegment : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) => new() { Id = segmentId, Name = segmentId, Filter = FilterParser.Parse("industry = \"x\"", Context) };
    }
}
