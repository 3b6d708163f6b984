using Campaigns.Modeling;
using Campaigns.Storage;

namespace Campaigns.Tests.Storage;

public sealed class InMemoryParticipantStoreTests
{
    private readonly InMemoryParticipantStore _store = new();
    private readonly CampaignId _campaign = CampaignId.New();

    [Fact]
    public async Task Add_stores_version_1_and_get_returns_it()
    {
        var stored = await _store.AddAsync(New(email: "ann@example.com"));

        Assert.Equal(1, stored.Version);
        Assert.Equal(stored, await _store.GetAsync(stored.Id));
        Assert.Null(await _store.GetAsync(ParticipantId.New()));
    }

    [Fact]
    public async Task Add_requires_version_0()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _store.AddAsync(New(email: "a@x.io") with { Version = 3 }));

        Assert.Equal("participant", ex.ParamName);
    }

    [Fact]
    public async Task Add_rejects_a_taken_id()
    {
        var first = await _store.AddAsync(New(email: "a@x.io"));

        var ex = await Assert.ThrowsAsync<DuplicateEntityException>(() => _store.AddAsync(New(email: "b@x.io") with { Id = first.Id }));

        Assert.Equal(first.Id.ToString(), ex.Key);
    }

    [Fact]
    public async Task Add_rejects_a_taken_email_or_phone_within_the_campaign()
    {
        await _store.AddAsync(New(email: "ann@example.com", phone: "+8613800138000"));

        var byEmail = await Assert.ThrowsAsync<DuplicateEntityException>(() => _store.AddAsync(New(email: "ANN@example.com ")));
        var byPhone = await Assert.ThrowsAsync<DuplicateEntityException>(() => _store.AddAsync(New(phone: "+86 138 0013 8000")));

        Assert.Contains("ann@example.com", byEmail.Key, StringComparison.Ordinal);
        Assert.Contains("+8613800138000", byPhone.Key, StringComparison.Ordinal);
        Assert.Single(await ToListAsync(_store.ListAsync(_campaign)));
    }

    [Fact]
    public async Task The_same_person_may_join_another_campaign()
    {
        await _store.AddAsync(New(email: "ann@example.com", phone: "13800138000"));
        var other = CampaignId.New();

        var stored = await _store.AddAsync(New(email: "ann@example.com", phone: "13800138000") with { CampaignId = other });

        Assert.Equal(stored.Id, (await _store.FindAsync(other, "ann@example.com", null))!.Id);
    }

    [Fact]
    public async Task Find_matches_normalized_email_then_phone()
    {
        var ann = await _store.AddAsync(New(email: "ann@example.com"));
        var bob = await _store.AddAsync(New(phone: "13800138000"));

        Assert.Equal(ann.Id, (await _store.FindAsync(_campaign, " Ann@Example.com", null))!.Id);
        Assert.Equal(bob.Id, (await _store.FindAsync(_campaign, null, "138-0013-8000"))!.Id);
        Assert.Equal(ann.Id, (await _store.FindAsync(_campaign, "ann@example.com", "13800138000"))!.Id);
        Assert.Equal(bob.Id, (await _store.FindAsync(_campaign, "nobody@example.com", "13800138000"))!.Id);
        Assert.Null(await _store.FindAsync(_campaign, "nobody@example.com", "000000"));
        Assert.Null(await _store.FindAsync(_campaign, null, null));
        Assert.Null(await _store.FindAsync(CampaignId.New(), "ann@example.com", null));
    }

    [Fact]
    public async Task Stale_update_throws_and_leaves_the_stored_value_unchanged()
    {
        var v1 = await _store.AddAsync(New(email: "ann@example.com", name: "Ann"));
        var v2 = await _store.UpdateAsync(v1 with { Name = "Ann Li" });

        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => _store.UpdateAsync(v1 with { Name = "Stale", Email = "stale@example.com" }));

        Assert.Equal((1L, 2L), (ex.ExpectedVersion, ex.ActualVersion));
        Assert.Equal(v2, await _store.GetAsync(v1.Id));
        Assert.Equal("Ann Li", (await _store.GetAsync(v1.Id))!.Name);
        Assert.Null(await _store.FindAsync(_campaign, "stale@example.com", null));
        Assert.NotNull(await _store.FindAsync(_campaign, "ann@example.com", null));
    }

    [Fact]
    public async Task Update_of_a_missing_participant_throws_concurrency_exception()
    {
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => _store.UpdateAsync(New(email: "a@x.io") with { Version = 1 }));

        Assert.Null(ex.ActualVersion);
    }

    [Fact]
    public async Task Update_moves_the_email_and_phone_index()
    {
        var ann = await _store.AddAsync(New(email: "ann@old.com", phone: "111111"));

        var moved = await _store.UpdateAsync(ann with { Email = "ann@new.com", Phone = "222222" });

        Assert.Equal(2, moved.Version);
        Assert.Null(await _store.FindAsync(_campaign, "ann@old.com", null));
        Assert.Null(await _store.FindAsync(_campaign, null, "111111"));
        Assert.Equal(ann.Id, (await _store.FindAsync(_campaign, "ann@new.com", null))!.Id);
        Assert.Equal(ann.Id, (await _store.FindAsync(_campaign, null, "222222"))!.Id);

        // The freed e-mail and phone can be taken by someone else.
        await _store.AddAsync(New(email: "ann@old.com", phone: "111111"));
    }

    [Fact]
    public async Task Update_may_drop_the_phone()
    {
        var ann = await _store.AddAsync(New(email: "ann@example.com", phone: "111111"));

        await _store.UpdateAsync(ann with { Phone = null });

        Assert.Null(await _store.FindAsync(_campaign, null, "111111"));
        await _store.AddAsync(New(phone: "111111"));
    }

    [Fact]
    public async Task Update_to_a_taken_email_or_phone_throws_and_writes_nothing()
    {
        var ann = await _store.AddAsync(New(email: "ann@example.com", phone: "111111"));
        var bob = await _store.AddAsync(New(email: "bob@example.com", phone: "222222"));

        await Assert.ThrowsAsync<DuplicateEntityException>(() => _store.UpdateAsync(bob with { Email = "Ann@example.com" }));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => _store.UpdateAsync(bob with { Phone = "111-111" }));

        Assert.Equal(bob, await _store.GetAsync(bob.Id));
        Assert.Equal(bob.Id, (await _store.FindAsync(_campaign, "bob@example.com", null))!.Id);
        Assert.Equal(bob.Id, (await _store.FindAsync(_campaign, null, "222222"))!.Id);
        Assert.Equal(ann.Id, (await _store.FindAsync(_campaign, "ann@example.com", null))!.Id);
    }

    [Fact]
    public async Task Update_cannot_move_a_participant_to_another_campaign()
    {
        var ann = await _store.AddAsync(New(email: "ann@example.com"));

        await Assert.ThrowsAsync<ArgumentException>(() => _store.UpdateAsync(ann with { CampaignId = CampaignId.New() }));
    }

    [Fact]
    public async Task List_returns_a_campaigns_participants_in_insertion_order()
    {
        var added = new List<ParticipantId>();
        for (var i = 0; i < 20; i++)
        {
            added.Add((await _store.AddAsync(New(email: $"p{i}@example.com"))).Id);
            await _store.AddAsync(New(email: $"p{i}@example.com") with { CampaignId = CampaignId.New() });
        }

        // Updates do not change the order.
        var fifth = (await _store.GetAsync(added[4]))!;
        await _store.UpdateAsync(fifth with { Name = "Changed" });

        Assert.Equal(added, (await ToListAsync(_store.ListAsync(_campaign))).Select(p => p.Id));
        Assert.Empty(await ToListAsync(_store.ListAsync(CampaignId.New())));
    }

    [Fact]
    public async Task Parallel_updates_exactly_one_wins_per_version()
    {
        const int Writers = 16;
        const int Rounds = 25;
        var current = await _store.AddAsync(New(email: "ann@example.com"));
        for (var round = 0; round < Rounds; round++)
        {
            var read = current;
            var attempts = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                try
                {
                    await _store.UpdateAsync(read with { Name = $"writer {w}" });
                    return true;
                }
                catch (ConcurrencyException)
                {
                    return false;
                }
            })).ToArray();
            var outcomes = await Task.WhenAll(attempts);

            Assert.Equal(1, outcomes.Count(won => won));
            current = (await _store.GetAsync(read.Id))!;
            Assert.Equal(read.Version + 1, current.Version);
            Assert.Equal($"writer {Array.IndexOf(outcomes, true)}", current.Name);
        }

        Assert.Equal(Rounds + 1, current.Version);
    }

    [Fact]
    public async Task Parallel_adds_of_the_same_person_store_one()
    {
        var attempts = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            try
            {
                // Half by e-mail (varying case), half by phone (varying format), all the same person.
                await _store.AddAsync(New(email: i % 2 == 0 ? $"ANN@example.com{new string(' ', i)}" : "ann@example.com", phone: "138 0013 8000"));
                return true;
            }
            catch (DuplicateEntityException)
            {
                return false;
            }
        })).ToArray();

        var outcomes = await Task.WhenAll(attempts);

        Assert.Equal(1, outcomes.Count(won => won));
        Assert.Single(await ToListAsync(_store.ListAsync(_campaign)));
    }

    [Fact]
    public async Task Honours_cancellation()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.AddAsync(New(email: "a@x.io"), cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.GetAsync(ParticipantId.New(), cts.Token));
    }

    private Participant New(string? email = null, string? phone = null, string? name = null) => new()
    {
        Id = ParticipantId.New(),
        CampaignId = _campaign,
        Name = name,
        Email = email,
        Phone = phone,
        Status = RegistrationStatus.Invited,
    };

    private static async Task<List<Participant>> ToListAsync(IAsyncEnumerable<Participant> items)
    {
        var list = new List<Participant>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
