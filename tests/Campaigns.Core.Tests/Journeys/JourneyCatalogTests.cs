using Campaigns.Journeys;

namespace Campaigns.Tests.Journeys;

/// <summary>The catalog's journey list is a snapshot rebuilt after each publish (every ingested event reads it).</summary>
public sealed class JourneyCatalogTests
{
    [Fact]
    public void TheJourneyListFollowsEveryPublishAndEarlierSnapshotsStayAsTheyWere()
    {
        using var h = new JourneyHarness();
        var catalog = h.Runner.Catalog;
        Assert.Empty(catalog.Journeys);

        h.Publish(JourneyHarness.Seed004("a"));
        var first = catalog.Journeys;
        Assert.Equal(["a"], first.Select(j => j.Id));
        Assert.Same(first, catalog.Journeys); // no publish since: the same snapshot

        h.Publish(JourneyHarness.Seed004("b"));
        Assert.Equal(["a", "b"], catalog.Journeys.Select(j => j.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["a"], first.Select(j => j.Id)); // the earlier snapshot is unchanged

        var replaced = JourneyHarness.Seed004("a") with { Name = "replaced" };
        h.Publish(replaced);
        Assert.Same(replaced, catalog.Journeys.Single(j => j.Id == "a"));
        Assert.Throws<NotSupportedException>(() => ((IList<JourneyDefinition>)catalog.Journeys).Add(replaced));
    }
}
