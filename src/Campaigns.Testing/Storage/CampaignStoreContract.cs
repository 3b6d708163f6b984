using Campaigns.Modeling;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>The contract of <see cref="ICampaignStore"/>: round trip, versions, duplicates, state filters, order, cancellation.</summary>
public abstract class CampaignStoreContract : StoreContract<ICampaignStore>
{
    /// <summary>A new campaign (version 0).</summary>
    /// <param name="name">Its name.</param>
    /// <param name="createdAt">When it was created.</param>
    /// <param name="state">Its state.</param>
    /// <returns>The campaign.</returns>
    protected static Campaign SampleCampaign(string name, Instant createdAt, CampaignState state = CampaignState.Draft) => new()
    {
        Id = CampaignId.New(),
        Name = name,
        TypeId = "offline-seminar",
        Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai", StartsAt = createdAt + Duration.FromDays(30), Location = "上海" },
        CreatedBy = "u-1",
        CreatedAt = createdAt,
        State = state,
    };

    /// <summary>Add, get, update and a stale update.</summary>
    [SkippableFact]
    public async Task Add_get_update_and_stale_update()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var campaign = SampleCampaign("2026 Q2 上海制造业沙龙", T0);

        var stored = await store.AddAsync(campaign);
        Assert.Equal(1, stored.Version);
        AssertSameDocument(campaign with { Version = 1 }, await other.GetAsync(campaign.Id));

        var updated = await other.UpdateAsync(stored with { Name = "renamed", State = CampaignState.PendingApproval });
        Assert.Equal(2, updated.Version);
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(stored with { Name = "stale" }));
        Assert.Equal(2, ex.ActualVersion);
        Assert.Equal("renamed", (await store.GetAsync(campaign.Id))!.Name);
        Assert.Null(await store.GetAsync(CampaignId.New()));
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(SampleCampaign("missing", T0) with { Version = 1 }));
    }

    /// <summary>The same id twice is a duplicate; a new campaign needs version 0.</summary>
    [SkippableFact]
    public async Task Duplicates_and_bad_versions_are_refused()
    {
        var store = await NewStoreAsync();
        var campaign = SampleCampaign("a", T0);
        await store.AddAsync(campaign);
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(campaign with { Name = "b" }));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddAsync(SampleCampaign("c", T0) with { Version = 1 }));
        Assert.Equal("a", (await store.GetAsync(campaign.Id))!.Name);
    }

    /// <summary>Listing is by creation time (then id) and filters by state.</summary>
    [SkippableFact]
    public async Task List_orders_by_creation_and_filters_by_state()
    {
        var store = await NewStoreAsync();
        var late = await store.AddAsync(SampleCampaign("late", T0 + Duration.FromDays(2), CampaignState.Scheduled));
        var early = await store.AddAsync(SampleCampaign("early", T0));
        var middle = await store.AddAsync(SampleCampaign("middle", T0 + Duration.FromDays(1), CampaignState.Scheduled));
        await store.UpdateAsync(early with { State = CampaignState.Cancelled });

        Assert.Equal(["early", "middle", "late"], await NamesAsync(store.ListAsync()));
        Assert.Equal(["early", "middle", "late"], await NamesAsync(store.ListAsync([])));
        Assert.Equal(["middle", "late"], await NamesAsync(store.ListAsync([CampaignState.Scheduled])));
        Assert.Equal(["early"], await NamesAsync(store.ListAsync([CampaignState.Cancelled, CampaignState.Draft])));
        GC.KeepAlive(late);
        GC.KeepAlive(middle);
    }

    /// <summary>A cancelled token cancels every operation.</summary>
    [SkippableFact]
    public async Task A_cancelled_token_cancels_every_operation()
    {
        var store = await NewStoreAsync();
        var stored = await store.AddAsync(SampleCampaign("a", T0));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync(stored.Id, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AddAsync(SampleCampaign("b", T0), Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.UpdateAsync(stored with { Name = "x" }, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => NamesAsync(store.ListAsync(cancellationToken: Cancelled())));
        Assert.Equal(1, (await store.GetAsync(stored.Id))!.Version);
    }

    private static async Task<List<string>> NamesAsync(IAsyncEnumerable<Campaign> campaigns)
    {
        var names = new List<string>();
        await foreach (var c in campaigns)
        {
            names.Add(c.Name);
        }

        return names;
    }
}
