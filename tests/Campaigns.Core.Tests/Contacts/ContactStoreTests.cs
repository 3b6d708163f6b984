using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Tests.Contacts;

public class ContactStoreTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 5, 20, 0, 0);

    private static Contact NewContact(string? phone = null, string? email = null, string? crm = null) => new()
    {
        Id = ContactId.New(),
        Identities = new ContactIdentities { Phone = phone, Email = email, CrmId = crm },
        CreatedAt = T0,
    };

    [Fact]
    public async Task Finds_by_every_identity_kind_and_keeps_indexes_right_on_update()
    {
        var store = new InMemoryContactStore();
        var added = await store.AddAsync(NewContact("+8613800138000", "a@x.com", "crm-1") with
        {
            Identities = new ContactIdentities
            {
                Phone = "+8613800138000",
                Email = "a@x.com",
                CrmId = "crm-1",
                WeChatOpenId = "o1",
                WeChatUnionId = "u1",
                WeComExternalUserId = "w1",
                AdditionalPhones = ["+8613900139000"],
            },
        });
        foreach (var (kind, value) in new[]
        {
            (IdentityKind.Phone, "+8613800138000"), (IdentityKind.Phone, "+8613900139000"), (IdentityKind.Email, "a@x.com"),
            (IdentityKind.CrmId, "crm-1"), (IdentityKind.WeChatOpenId, "o1"), (IdentityKind.WeChatUnionId, "u1"), (IdentityKind.WeComExternalUserId, "w1"),
        })
        {
            Assert.Equal(added.Id, (await store.FindAsync(kind, value))?.Id);
        }

        var updated = await store.UpdateAsync(added with { Identities = added.Identities with { Email = "b@x.com", AdditionalPhones = [] } });
        Assert.Null(await store.FindAsync(IdentityKind.Email, "a@x.com"));
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613900139000"));
        Assert.Equal(updated, await store.FindAsync(IdentityKind.Email, "b@x.com"));

        // The freed e-mail can be taken by another contact; the one still held cannot.
        await store.AddAsync(NewContact(email: "a@x.com"));
        var taken = await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(NewContact(email: "b@x.com")));
        Assert.Equal("email:b@x.com", taken.Key);
        Assert.Equal(2, await store.CountAsync());
    }

    [Fact]
    public async Task A_stale_update_throws_and_writes_nothing()
    {
        var store = new InMemoryContactStore();
        var v1 = await store.AddAsync(NewContact("+8613800138000"));
        var v2 = await store.UpdateAsync(v1 with { Name = "first" });
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(v1 with { Name = "stale", Identities = new ContactIdentities { Email = "s@x.com" } }));
        Assert.Equal((1L, (long?)2L), (ex.ExpectedVersion, ex.ActualVersion));
        Assert.Equal(v2, await store.GetAsync(v1.Id));
        Assert.Null(await store.FindAsync(IdentityKind.Email, "s@x.com"));
        Assert.NotNull(await store.FindAsync(IdentityKind.Phone, "+8613800138000"));
    }

    [Fact]
    public async Task An_update_taking_another_contacts_identity_throws_and_writes_nothing()
    {
        var store = new InMemoryContactStore();
        var a = await store.AddAsync(NewContact("+8613800138000"));
        var b = await store.AddAsync(NewContact("+8613900139000"));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.UpdateAsync(b with { Identities = new ContactIdentities { Phone = "+8613800138000" } }));
        Assert.Equal(a.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800138000"))!.Id);
        Assert.Equal(b.Id, (await store.FindAsync(IdentityKind.Phone, "+8613900139000"))!.Id);
        Assert.Equal(1, (await store.GetAsync(b.Id))!.Version);
    }

    [Fact]
    public async Task Concurrent_adds_of_one_identity_store_exactly_one_and_lose_nothing_else()
    {
        var store = new InMemoryContactStore();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            try
            {
                await store.AddAsync(NewContact(i % 2 == 0 ? "+8613800138000" : $"+86139001390{i:00}"));
                return true;
            }
            catch (DuplicateEntityException)
            {
                return false;
            }
        })));
        Assert.Equal(26, results.Count(r => r));
        Assert.Equal(26, await store.CountAsync());
        var listed = new List<Contact>();
        await foreach (var c in store.ListAsync())
        {
            listed.Add(c);
        }

        Assert.Equal(26, listed.Select(c => c.Id).Distinct().Count());
    }

    [Fact]
    public async Task Events_are_idempotent_and_read_back_in_occurred_at_order()
    {
        var store = new InMemoryEventStore();
        var contact = ContactId.New();
        BehaviourEvent E(string id, int minute) => new() { EventId = id, ContactId = contact, Kind = EventKinds.PageView, OccurredAt = T0 + Duration.FromMinutes(minute) };

        Assert.True(await store.AppendAsync(E("e3", 30)));
        Assert.True(await store.AppendAsync(E("e1", 10)));
        Assert.True(await store.AppendAsync(E("e2", 20)));
        Assert.True(await store.AppendAsync(E("e0", 20)));
        Assert.False(await store.AppendAsync(E("e1", 99)));

        var all = new List<string>();
        await foreach (var e in store.ListAsync(contact))
        {
            all.Add(e.EventId);
        }

        Assert.Equal(["e1", "e0", "e2", "e3"], all);
        var window = new List<string>();
        await foreach (var e in store.ListAsync(contact, T0 + Duration.FromMinutes(20), T0 + Duration.FromMinutes(30)))
        {
            window.Add(e.EventId);
        }

        Assert.Equal(["e0", "e2"], window);
        Assert.Equal(T0 + Duration.FromMinutes(10), (await store.GetAsync("e1"))!.OccurredAt);
    }

    [Fact]
    public async Task Events_are_read_in_place_in_store_order_and_an_unknown_contact_has_none()
    {
        var store = new InMemoryEventStore();
        var contact = ContactId.New();
        BehaviourEvent E(string id, int minute) => new() { EventId = id, ContactId = contact, Kind = EventKinds.PageView, OccurredAt = T0 + Duration.FromMinutes(minute) };
        await store.AppendAsync(E("e2", 20));
        await store.AppendAsync(E("e1", 10));

        var ids = store.Read(contact, "seen:", static (prefix, events) => events.Select(e => prefix + e.EventId).ToList());
        var none = store.Read(ContactId.New(), 0, static (_, events) => events.Count);

        Assert.Equal(["seen:e1", "seen:e2"], ids);
        Assert.Equal(0, none);
    }

    [Fact]
    public async Task A_commit_stores_the_next_version_as_is_and_a_stale_one_throws()
    {
        var store = new InMemoryContactStore();
        var v1 = await store.AddAsync(NewContact("+8613800138000"));
        var next = v1 with { Name = "next", Version = 2 };

        var stored = store.Commit(next);
        var stale = Assert.Throws<ConcurrencyException>(() => store.Commit(v1 with { Name = "stale", Version = 2 }));

        Assert.Same(next, stored);
        Assert.Same(next, await store.GetAsync(v1.Id));
        Assert.Equal((1L, (long?)2L), (stale.ExpectedVersion, stale.ActualVersion));
    }
}
