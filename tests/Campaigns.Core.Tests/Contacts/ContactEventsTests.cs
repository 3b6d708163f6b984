using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Tests.Contacts;

public class ContactEventsTests
{
    [Fact]
    public async Task Ingest_is_idempotent_on_the_event_id()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var e = Event(contact.Id, "evt-1", host.Clock.GetCurrentInstant());

        Assert.Equal(IngestResult.Accepted("evt-1"), await host.Events.IngestAsync(e));
        Assert.Equal(IngestResult.Duplicate("evt-1"), await host.Events.IngestAsync(e));
        Assert.Equal(IngestStatus.Duplicate, (await host.Events.IngestAsync(e with { Kind = EventKinds.Purchase })).Status);

        Assert.Single(host.Listener.Events);
        Assert.Equal(EventKinds.PageView, (await host.EventStore.GetAsync("evt-1"))!.Kind);
    }

    [Fact]
    public async Task Out_of_order_events_are_kept_in_occurred_at_order()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var now = host.Clock.GetCurrentInstant();
        foreach (var (id, ago) in new[] { ("b", 2), ("c", 1), ("a", 3), ("d", 0) })
        {
            Assert.True((await host.Events.IngestAsync(Event(contact.Id, id, now - Duration.FromDays(ago)))).IsAccepted);
        }

        var order = new List<string>();
        await foreach (var e in host.EventStore.ListAsync(contact.Id))
        {
            order.Add(e.EventId);
        }

        Assert.Equal(["a", "b", "c", "d"], order);
        Assert.Equal(["b", "c", "a", "d"], host.Listener.Events.Select(e => e.EventId));
    }

    [Theory]
    [InlineData("", "page_view", "eventId", "''")]
    [InlineData("   ", "page_view", "eventId", "'   '")]
    [InlineData("e1", "", "kind", "''")]
    [InlineData("e1", "Page View", "kind", "'Page View'")]
    [InlineData("e1", "9lives", "kind", "'9lives'")]
    public async Task Bad_events_are_rejected_naming_the_field_and_value(string id, string kind, string field, string quoted)
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var result = await host.Events.IngestAsync(Event(contact.Id, id, host.Clock.GetCurrentInstant()) with { Kind = kind });
        Assert.Equal(IngestStatus.Rejected, result.Status);
        Assert.Equal(field, result.Field);
        Assert.Contains(quoted, result.Reason, StringComparison.Ordinal);
        Assert.Empty(host.Listener.Events);
    }

    [Fact]
    public async Task Unknown_contacts_future_events_and_bad_amounts_are_rejected()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var now = host.Clock.GetCurrentInstant();
        var stranger = ContactId.New();

        var unknown = await host.Events.IngestAsync(Event(stranger, "e1", now));
        Assert.Equal("contactId", unknown.Field);
        Assert.Contains(stranger.ToString(), unknown.Reason, StringComparison.Ordinal);

        var future = await host.Events.IngestAsync(Event(contact.Id, "e2", now + Duration.FromHours(1)));
        Assert.Equal("occurredAt", future.Field);
        Assert.True((await host.Events.IngestAsync(Event(contact.Id, "e3", now + Duration.FromMinutes(4)))).IsAccepted);

        var amount = await host.Events.IngestAsync(Event(contact.Id, "e4", now) with
        {
            Kind = EventKinds.Purchase,
            Properties = new Dictionary<string, string> { ["amount"] = "1,999元" },
        });
        Assert.Equal("properties.amount", amount.Field);
        Assert.Contains("'1,999元'", amount.Reason, StringComparison.Ordinal);

        var custom = await host.Events.IngestAsync(Event(contact.Id, "e5", now) with
        {
            Kind = "webinar.poll_answer",
            Properties = new Dictionary<string, string> { ["amount"] = "1999.50", ["question"] = "q1" },
        });
        Assert.True(custom.IsAccepted);
        Assert.Null(await host.EventStore.GetAsync("e2"));
        Assert.Equal(["e3", "e5"], host.Listener.Events.Select(e => e.EventId));
    }

    internal static BehaviourEvent Event(ContactId contact, string id, Instant at) => new()
    {
        EventId = id,
        ContactId = contact,
        Kind = EventKinds.PageView,
        OccurredAt = at,
        Properties = new Dictionary<string, string> { ["url"] = "https://example.com/p/a", ["page_kind"] = "product" },
    };
}
