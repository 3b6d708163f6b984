using Campaigns.Contacts;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>The contract of <see cref="IEventStore"/>: idempotent appends by event id, per-contact time order whatever the arrival order, half-open ranges, cancellation.</summary>
public abstract class EventStoreContract : StoreContract<IEventStore>
{
    private static BehaviourEvent Event(string id, ContactId contact, Instant at, string kind = EventKinds.PageView) => new()
    {
        EventId = id,
        ContactId = contact,
        Kind = kind,
        OccurredAt = at,
        Properties = new Dictionary<string, string> { ["page"] = "/产品/a", ["page_kind"] = "product" },
    };

    /// <summary>A new id is stored (true); the same id again changes nothing (false), even with other content.</summary>
    [SkippableFact]
    public async Task Append_is_idempotent_on_the_event_id()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var contact = ContactId.New();
        var e = Event("e-1", contact, T0);

        Assert.True(await store.AppendAsync(e));
        Assert.False(await other.AppendAsync(e with { Kind = EventKinds.Purchase }));

        AssertSameDocument(e, await other.GetAsync("e-1"));
        Assert.Null(await store.GetAsync("unknown"));
        Assert.Single(await ToListAsync(store.ListAsync(contact)));
    }

    /// <summary>Events are listed by occurred-at then id, whatever order they arrived in, and only the contact's own.</summary>
    [SkippableFact]
    public async Task List_is_in_time_then_id_order_whatever_the_arrival_order()
    {
        var store = await NewStoreAsync();
        var contact = ContactId.New();
        var arrivals = new[]
        {
            Event("c", contact, T0 + Duration.FromMinutes(5)),
            Event("a", contact, T0 + Duration.FromMinutes(1)),
            Event("b2", contact, T0 + Duration.FromMinutes(3)),
            Event("b1", contact, T0 + Duration.FromMinutes(3)),
            Event("z", ContactId.New(), T0 + Duration.FromMinutes(2)),
        };
        foreach (var e in arrivals)
        {
            await store.AppendAsync(e);
        }

        var listed = await ToListAsync(store.ListAsync(contact));
        Assert.Equal(["a", "b1", "b2", "c"], listed.Select(e => e.EventId));
        AssertSameDocument(arrivals[1], listed[0]);
    }

    /// <summary>The range is half-open: since is included, until is not.</summary>
    [SkippableFact]
    public async Task List_range_includes_since_and_excludes_until()
    {
        var store = await NewStoreAsync();
        var contact = ContactId.New();
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAsync(Event($"e{i}", contact, T0 + Duration.FromHours(i)));
        }

        var ranged = await ToListAsync(store.ListAsync(contact, T0 + Duration.FromHours(1), T0 + Duration.FromHours(3)));
        Assert.Equal(["e1", "e2"], ranged.Select(e => e.EventId));
        Assert.Equal(["e3", "e4"], (await ToListAsync(store.ListAsync(contact, since: T0 + Duration.FromHours(3)))).Select(e => e.EventId));
        Assert.Equal(["e0"], (await ToListAsync(store.ListAsync(contact, until: T0 + Duration.FromHours(1)))).Select(e => e.EventId));
    }

    /// <summary>More events than a page of a paging store are all listed, in order.</summary>
    [SkippableFact]
    public async Task List_returns_every_event_of_a_long_history()
    {
        var store = await NewStoreAsync();
        var contact = ContactId.New();
        for (var i = 0; i < 1_100; i++)
        {
            await store.AppendAsync(Event($"e{i:D5}", contact, T0 + Duration.FromSeconds(i / 3)));
        }

        var listed = await ToListAsync(store.ListAsync(contact));
        Assert.Equal(Enumerable.Range(0, 1_100).Select(i => $"e{i:D5}"), listed.Select(e => e.EventId));
    }

    /// <summary>
    /// A store that reads its whole log (<see cref="IEventLogReader"/>, used to rebuild the segment index at start)
    /// streams every event of every contact exactly once, more than a page of them, and honours <c>since</c>.
    /// Skipped for stores without the capability.
    /// </summary>
    [SkippableFact]
    public async Task The_log_reader_streams_every_event_once_and_honours_since()
    {
        var store = await NewStoreAsync();
        Skip.IfNot(store is IEventLogReader, "The store does not implement IEventLogReader.");
        var log = (IEventLogReader)store;
        var contacts = Enumerable.Range(0, 7).Select(_ => ContactId.New()).ToArray();
        var written = new List<BehaviourEvent>();
        for (var i = 0; i < 2_345; i++)
        {
            var e = Event($"log-{i:D5}", contacts[i % contacts.Length], T0 + Duration.FromMinutes(i % 100));
            written.Add(e);
            await store.AppendAsync(e);
        }

        var all = await ToListAsync(log.ReadAllAsync());
        Assert.Equal(written.Select(e => e.EventId).Order(StringComparer.Ordinal), all.Select(e => e.EventId).Order(StringComparer.Ordinal));
        AssertSameDocument(written[42], all.Single(e => e.EventId == "log-00042"));

        var since = T0 + Duration.FromMinutes(90);
        var recent = await ToListAsync(log.ReadAllAsync(since));
        Assert.Equal(
            written.Where(e => e.OccurredAt >= since).Select(e => e.EventId).Order(StringComparer.Ordinal),
            recent.Select(e => e.EventId).Order(StringComparer.Ordinal));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ToListAsync(log.ReadAllAsync(null, Cancelled())));
    }

    /// <summary>A cancelled token cancels every operation.</summary>
    [SkippableFact]
    public async Task A_cancelled_token_cancels_every_operation()
    {
        var store = await NewStoreAsync();
        var contact = ContactId.New();
        await store.AppendAsync(Event("e", contact, T0));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.AppendAsync(Event("f", contact, T0), Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.GetAsync("e", Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ToListAsync(store.ListAsync(contact, cancellationToken: Cancelled())));
        Assert.Null(await store.GetAsync("f"));
    }

    private static async Task<List<BehaviourEvent>> ToListAsync(IAsyncEnumerable<BehaviourEvent> events)
    {
        var list = new List<BehaviourEvent>();
        await foreach (var e in events)
        {
            list.Add(e);
        }

        return list;
    }
}
