using Campaigns.Modeling;
using Campaigns.Storage;
using Campaigns.Tests.Modeling;

namespace Campaigns.Tests.Storage;

public class InMemoryCampaignStoreTests
{
    [Fact]
    public async Task Add_stores_version_one_and_get_returns_it()
    {
        var store = new InMemoryCampaignStore();
        var stored = await store.AddAsync(CampaignLifecycleTests.NewCampaign());
        Assert.Equal(1, stored.Version);
        Assert.Same(stored, await store.GetAsync(stored.Id));
        Assert.Null(await store.GetAsync(CampaignId.New()));
    }

    [Fact]
    public async Task Add_rejects_a_duplicate_id_and_a_nonzero_version()
    {
        var store = new InMemoryCampaignStore();
        var c = CampaignLifecycleTests.NewCampaign();
        await store.AddAsync(c);
        var dup = await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(c));
        Assert.Equal(c.Id.ToString(), dup.Key);
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddAsync(CampaignLifecycleTests.NewCampaign() with { Version = 3 }));
    }

    [Fact]
    public async Task A_stale_update_throws_and_loses_nothing()
    {
        var store = new InMemoryCampaignStore();
        var v1 = await store.AddAsync(CampaignLifecycleTests.NewCampaign());
        var v2 = await store.UpdateAsync(v1 with { Name = "first writer" });
        Assert.Equal(2, v2.Version);

        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(v1 with { Name = "second writer" }));
        Assert.Equal((1L, (long?)2L), (ex.ExpectedVersion, ex.ActualVersion));
        var current = await store.GetAsync(v1.Id);
        Assert.Equal(("first writer", 2L), (current!.Name, current.Version));
    }

    [Fact]
    public async Task Updating_a_missing_campaign_is_a_concurrency_error()
    {
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => new InMemoryCampaignStore().UpdateAsync(CampaignLifecycleTests.NewCampaign() with { Version = 1 }));
        Assert.Null(ex.ActualVersion);
    }

    [Fact]
    public async Task Concurrent_writers_on_one_version_have_exactly_one_winner()
    {
        var store = new InMemoryCampaignStore();
        var v1 = await store.AddAsync(CampaignLifecycleTests.NewCampaign());
        var attempts = Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            try
            {
                await store.UpdateAsync(v1 with { Name = $"writer {i}" });
                return true;
            }
            catch (ConcurrencyException)
            {
                return false;
            }
        }));
        var results = await Task.WhenAll(attempts);
        Assert.Equal(1, results.Count(r => r));
        Assert.Equal(2, (await store.GetAsync(v1.Id))!.Version);
    }

    [Fact]
    public async Task List_filters_by_state_and_orders_by_creation()
    {
        var store = new InMemoryCampaignStore();
        var a = await store.AddAsync(CampaignLifecycleTests.NewCampaign(CampaignState.Running) with { CreatedAt = NodaTime.Instant.FromUtc(2026, 1, 2, 0, 0) });
        var b = await store.AddAsync(CampaignLifecycleTests.NewCampaign(CampaignState.Draft) with { CreatedAt = NodaTime.Instant.FromUtc(2026, 1, 1, 0, 0) });
        var all = await store.ListAsync().ToListAsync();
        Assert.Equal([b.Id, a.Id], all.Select(c => c.Id));
        var running = await store.ListAsync([CampaignState.Running]).ToListAsync();
        Assert.Equal([a.Id], running.Select(c => c.Id));
    }

    [Fact]
    public async Task Cancelled_token_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new InMemoryCampaignStore().GetAsync(CampaignId.New(), cts.Token));
    }
}
