using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Journeys;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Campaigns.Storage.Sqlite.Tests;

/// <summary>Definitions on a SQLite file survive a restart: a second host on the file gets them back at start and evaluates the same.</summary>
public sealed class SqliteDurableDefinitionsTests : IDisposable
{
    private static readonly FilterContext Context = new(ContactsOptions.DefaultSchema);
    private readonly TempDatabase _file = new();

    public void Dispose() => _file.Dispose();

    private static TagModel Industry() => new()
    {
        Id = "industry",
        Name = "行业",
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

    private static JourneyDefinition Journey() => new()
    {
        Id = "nurture",
        Name = "Nurture",
        Trigger = new SegmentEntryTrigger("makers"),
        StartNodeId = "tag",
        Nodes = [new AddTagNode { Id = "tag", Tag = "hot-lead" }],
    };

    private static ScoringModel Scoring() => new()
    {
        FitRules = [new FitRule { Id = "maker", Condition = FilterParser.Parse("industry = \"manufacturing\"", Context), Points = 30 }],
    };

    private IHost BuildHost()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCampaigns().UseSqliteStorage(_file.Path).AddLiveSegments();
        return builder.Build();
    }

    private static async Task DefineAllAsync(DurableDefinitions definitions)
    {
        await definitions.SetTagModelAsync(Industry());
        await definitions.DefineSegmentAsync(new SegmentDefinition { Id = "makers", Name = "Makers", Filter = FilterParser.Parse("industry = \"manufacturing\"", Context) });
        await definitions.DefineSegmentAsync(new SegmentDefinition { Id = "others", Name = "Others", Filter = FilterParser.Parse("not in_segment(\"makers\")", Context with { Segments = new OneSegment("makers") }) });
        await definitions.PublishJourneyAsync(Journey());
        await definitions.ReplaceScoringModelAsync(Scoring());
    }

    [Fact]
    public async Task Definitions_come_back_after_a_restart_and_evaluate_the_same()
    {
        long stamp;
        int makers, others;
        using (var host = BuildHost())
        {
            await host.StartAsync();
            var definitions = host.Services.GetRequiredService<DurableDefinitions>();
            await DefineAllAsync(definitions);
            var contacts = host.Services.GetRequiredService<IContactService>();
            foreach (var (name, industry) in new[] { ("a", "manufacturing"), ("b", "retail"), ("c", "manufacturing") })
            {
                await contacts.CreateAsync(new ContactDraft
                {
                    Name = name,
                    Identities = new ContactIdentities { Email = name + "@example.com" },
                    Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue(industry) },
                });
            }

            host.Services.GetRequiredService<JourneyRunner>().PauseJourney("nurture");
            var registry = host.Services.GetRequiredService<SegmentRegistry>();
            (makers, others) = (registry.SizeOf("makers"), registry.SizeOf("others"));
            Assert.Equal((2, 1), (makers, others));
            await host.StopAsync(); // stores the pending journey state
            stamp = await host.Services.GetRequiredService<IDefinitionStore>().GetStampAsync();
        }

        using (var again = BuildHost())
        {
            await again.StartAsync();
            var registry = again.Services.GetRequiredService<SegmentRegistry>();
            Assert.Equal(["makers", "others"], registry.SegmentIds);
            Assert.Equal((makers, others), (registry.SizeOf("makers"), registry.SizeOf("others")));
            Assert.Equal(["industry"], again.Services.GetRequiredService<ITagCatalog>().Models.Select(m => m.Id));
            var journeys = again.Services.GetRequiredService<JourneyCatalog>();
            Assert.Equal(JourneyJson.Serialize(Journey()), JourneyJson.Serialize(journeys.Find("nurture")!));
            Assert.Equal(JourneyState.Paused, journeys.GetState("nurture"));
            Assert.Equal(30, again.Services.GetRequiredService<IScoringModelStore>().Current.FitRules.Single().Points);
            Assert.Empty(again.Services.GetRequiredService<DurableDefinitions>().Problems);

            // A host that defines the same things at every start writes nothing new.
            await DefineAllAsync(again.Services.GetRequiredService<DurableDefinitions>());
            Assert.Equal(stamp, await again.Services.GetRequiredService<IDefinitionStore>().GetStampAsync());
            Assert.Equal(JourneyState.Paused, journeys.GetState("nurture"));
            await again.StopAsync();
        }
    }

    private sealed class OneSegment(string id) : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) =>
            segmentId == id ? new SegmentDefinition { Id = id, Name = id, Filter = FilterParser.Parse("industry = \"x\"", Context) } : null;
    }
}
