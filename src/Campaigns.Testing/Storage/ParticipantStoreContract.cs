using Campaigns.Modeling;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>The contract of <see cref="IParticipantStore"/>: round trip, per-campaign unique e-mail and phone (normalized), versions, order, cancellation.</summary>
public abstract class ParticipantStoreContract : StoreContract<IParticipantStore>
{
    private static Participant Sample(CampaignId campaign, string email, string phone) => new()
    {
        Id = ParticipantId.New(),
        CampaignId = campaign,
        Name = "王芳",
        Email = email,
        Phone = phone,
    };

    /// <summary>Add, get, find by e-mail (any case) or phone, update, stale update.</summary>
    [SkippableFact]
    public async Task Add_get_find_update()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var campaign = CampaignId.New();
        var p = Sample(campaign, "wang@example.com", "+8613800138000");

        var stored = await store.AddAsync(p);
        Assert.Equal(1, stored.Version);
        AssertSameDocument(p with { Version = 1 }, await other.GetAsync(p.Id));
        Assert.Equal(p.Id, (await other.FindAsync(campaign, "Wang@Example.com", null))?.Id);
        Assert.Equal(p.Id, (await other.FindAsync(campaign, null, "+8613800138000"))?.Id);
        Assert.Equal(p.Id, (await other.FindAsync(campaign, "nobody@example.com", "+8613800138000"))?.Id);
        Assert.Null(await other.FindAsync(CampaignId.New(), "wang@example.com", "+8613800138000"));
        Assert.Null(await other.FindAsync(campaign, null, null));

        var updated = await other.UpdateAsync(stored with { Email = "fang@example.com" });
        Assert.Equal(2, updated.Version);
        Assert.Null(await store.FindAsync(campaign, "wang@example.com", null));
        Assert.Equal(p.Id, (await store.FindAsync(campaign, "fang@example.com", null))?.Id);
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(stored with { Name = "stale" }));
        await Assert.ThrowsAsync<ArgumentException>(() => store.UpdateAsync(updated with { CampaignId = CampaignId.New() }));
    }

    /// <summary>The same e-mail or phone twice in a campaign is a duplicate (in another campaign it is fine); nothing is written.</summary>
    [SkippableFact]
    public async Task Email_and_phone_are_unique_per_campaign()
    {
        var store = await NewStoreAsync();
        var campaign = CampaignId.New();
        var first = await store.AddAsync(Sample(campaign, "a@example.com", "+8613800000001"));

        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(Sample(campaign, "A@EXAMPLE.COM", "+8613800000002")));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(Sample(campaign, "b@example.com", "+8613800000001")));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(first with { Version = 0, Email = "c@example.com", Phone = null }));
        await store.AddAsync(Sample(CampaignId.New(), "a@example.com", "+8613800000001"));
        var second = await store.AddAsync(Sample(campaign, "d@example.com", "+8613800000004"));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.UpdateAsync(second with { Phone = "+8613800000001" }));

        Assert.Equal([first.Id, second.Id], await IdsAsync(store.ListAsync(campaign)));
        Assert.Equal(second.Id, (await store.FindAsync(campaign, null, "+8613800000004"))?.Id);
    }

    /// <summary>A cancelled token cancels every operation.</summary>
    [SkippableFact]
    public async Task A_cancelled_token_cancels_every_operation()
    {
        var store = await NewStoreAsync();
        var campaign = CampaignId.New();
        var stored = await store.AddAsync(Sample(campaign, "a@example.com", "+8613800000001"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync(stored.Id, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.FindAsync(campaign, "a@example.com", null, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AddAsync(Sample(campaign, "b@example.com", "+8613800000002"), Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.UpdateAsync(stored with { Name = "x" }, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => IdsAsync(store.ListAsync(campaign, Cancelled())));
        Assert.Single(await IdsAsync(store.ListAsync(campaign)));
    }

    private static async Task<List<ParticipantId>> IdsAsync(IAsyncEnumerable<Participant> participants)
    {
        var ids = new List<ParticipantId>();
        await foreach (var p in participants)
        {
            ids.Add(p.Id);
        }

        return ids;
    }
}
