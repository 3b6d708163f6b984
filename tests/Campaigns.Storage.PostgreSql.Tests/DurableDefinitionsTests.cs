using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>Two host instances on one PostgreSQL schema share their definitions: a change on one is applied on the other at its next poll.</summary>
public sealed class DurableDefinitionsTests
{
    private static readonly FilterContext Context = new(ContactsOptions.DefaultSchema);

    private static TagModel Industry(string name) => new()
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

    [SkippableFact]
    public async Task A_change_on_one_instance_is_seen_by_the_other_after_a_poll_and_stale_writes_conflict()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var clock = new FakeClock(Instant.FromUtc(2026, 6, 1, 9, 0));
        ServiceProvider Instance() => schema.CreateServices((services, _) =>
        {
            services.AddSingleton<IClock>(clock);
            services.Configure<CampaignsOptions>(o => o.Definitions.PollInterval = TimeSpan.FromSeconds(5));
        });
        var aServices = Instance();
        var a = aServices.GetRequiredService<DurableDefinitions>();
        var bServices = Instance();
        var b = bServices.GetRequiredService<DurableDefinitions>();
        await a.LoadAsync();
        await b.LoadAsync();
        Assert.False(await b.PollIfDueAsync());

        await a.SetTagModelAsync(Industry("v1"));
        await a.DefineSegmentAsync(new SegmentDefinition { Id = "makers", Name = "Makers", Filter = FilterParser.Parse("industry = \"manufacturing\"", Context) });
        await a.PublishJourneyAsync(new JourneyDefinition { Id = "j", Name = "J", Trigger = new ApiTrigger(), StartNodeId = "t", Nodes = [new AddTagNode { Id = "t", Tag = "x" }] });

        clock.Advance(Duration.FromSeconds(4));
        Assert.False(await b.PollIfDueAsync()); // not due yet: b is stale by at most the poll interval
        Assert.Empty(bServices.GetRequiredService<ITagCatalog>().Models);
        var stale = await Assert.ThrowsAsync<ConcurrencyException>(async () => await b.SetTagModelAsync(Industry("from b")));
        Assert.Equal((0L, (long?)1L), (stale.ExpectedVersion, stale.ActualVersion));

        clock.Advance(Duration.FromSeconds(1));
        Assert.True(await b.PollIfDueAsync());
        Assert.Equal("v1", bServices.GetRequiredService<ITagCatalog>().Models.Single().Name);
        Assert.Equal(["makers"], bServices.GetRequiredService<SegmentRegistry>().SegmentIds);
        Assert.Equal(JourneyState.Active, bServices.GetRequiredService<JourneyCatalog>().GetState("j"));

        // And back: b's change (now expecting the version it saw) reaches a.
        await b.SetTagModelAsync(Industry("v2 from b"));
        bServices.GetRequiredService<JourneyRunner>().PauseJourney("j");
        await b.FlushJourneyStatesAsync();
        Assert.True(await a.PollAsync());
        Assert.Equal(JourneyState.Paused, aServices.GetRequiredService<JourneyCatalog>().GetState("j"));
        Assert.Equal("v2 from b", aServices.GetRequiredService<ITagCatalog>().Models.Single().Name);
        Assert.Equal(2L, await schema.ScalarAsync("SELECT version FROM definitions WHERE kind = 'tag-model' AND id = 'industry'"));
    }
}
