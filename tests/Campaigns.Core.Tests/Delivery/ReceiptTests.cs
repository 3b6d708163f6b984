using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Tests.Delivery;

public class DeliveryReceiptTests
{
    private static async Task<Contact> NewContact(Harness h, string email = "han.meimei@example.com", string phone = "+8613900139000")
    {
        var contacts = h.Services.GetRequiredService<IContactService>();
        var contact = await contacts.CreateAsync(new ContactDraft { Name = "韩梅梅", TimeZoneId = "Asia/Shanghai", Identities = new ContactIdentities { Email = email, Phone = phone } });
        await contacts.GrantConsentAsync(contact.Id, "email", "registration form");
        return await contacts.GrantConsentAsync(contact.Id, "sms", "registration form");
    }

    private static ContactReceiptSink Sink(Harness h) => (ContactReceiptSink)h.Services.GetRequiredService<IDeliveryReceiptSink>();

    private static async Task<List<BehaviourEvent>> Events(Harness h, ContactId id)
    {
        var list = new List<BehaviourEvent>();
        await foreach (var e in h.Services.GetRequiredService<IEventStore>().ListAsync(id))
        {
            list.Add(e);
        }

        return list;
    }

    [Fact]
    public async Task An_unsubscribe_receipt_withdraws_consent_so_the_next_send_is_refused()
    {
        using var h = new Harness();
        var contact = await NewContact(h);
        var first = await h.Send(contact, "welcome/1", "email");
        Assert.Equal(DeliveryStatus.Sent, first.Status);
        var message = Assert.Single(h.Email.Accepted);

        await h.Services.GetRequiredService<IDeliveryReceiptSink>().OnReceiptAsync(
            new DeliveryReceipt("email", DeliveryReceiptKind.Unsubscribed, h.Clock.GetCurrentInstant())
            {
                ContactId = message.ContactId,
                ProviderMessageId = first.Result!.Value.ProviderMessageId,
                IdempotencyKey = message.IdempotencyKey,
            },
            CancellationToken.None);

        var fresh = await h.Services.GetRequiredService<IContactService>().GetAsync(contact.Id);
        Assert.False(fresh.HasConsent("email"));
        Assert.True(fresh.HasConsent("sms"));
        var second = await h.Send(fresh, "reminder/1", "email");
        Assert.Equal(DeliveryStatus.Suppressed, second.Status);
        Assert.Equal(GateCheck.Consent, second.SuppressedBy);
        Assert.Contains("withdrawn", second.Decisions[^1].Detail, StringComparison.Ordinal);
        Assert.Contains("unsubscribe receipt from channel 'email'", second.Decisions[^1].Detail, StringComparison.Ordinal);
        Assert.Single(h.Email.Accepted);
        var e = Assert.Single(await Events(h, contact.Id));
        Assert.Equal("email_unsubscribe", e.Kind);
        Assert.Equal(first.Result!.Value.ProviderMessageId, e.Properties["message_id"]);
    }

    [Fact]
    public async Task A_complaint_withdraws_the_consent_key_of_the_channel_and_of_its_failover()
    {
        using var h = new Harness(o => o.Channels["sms"].FailoverTo = "backup");
        var contact = await NewContact(h);
        var sink = Sink(h);
        Assert.Equal("sms", sink.ConsentKey("backup"));

        var disposition = await sink.ProcessAsync(new DeliveryReceipt("backup", DeliveryReceiptKind.Complained, h.Clock.GetCurrentInstant()) { ContactId = contact.Id.ToString() }, CancellationToken.None);

        Assert.Equal(ReceiptDisposition.Recorded, disposition);
        var fresh = await h.Services.GetRequiredService<IContactService>().GetAsync(contact.Id);
        Assert.False(fresh.HasConsent("sms"));
        Assert.True(fresh.HasConsent("email"));
        Assert.Equal(DeliveryStatus.Suppressed, (await h.Send(fresh, "sop/1")).Status);
        Assert.Equal("sms_complaint", Assert.Single(await Events(h, contact.Id)).Kind);
    }

    [Fact]
    public async Task Opens_and_clicks_become_behaviour_events_once_each()
    {
        using var h = new Harness();
        var contact = await NewContact(h);
        var sink = Sink(h);
        var at = h.Clock.GetCurrentInstant() - Duration.FromHours(2);
        var open = new DeliveryReceipt("email", DeliveryReceiptKind.Opened, at) { ContactId = contact.Id.ToString(), ProviderMessageId = "m1@example.com" };
        var click = new DeliveryReceipt("email", DeliveryReceiptKind.Clicked, at + Duration.FromMinutes(1)) { ContactId = contact.Id.ToString(), ProviderMessageId = "m1@example.com", Url = new Uri("https://example.com/agenda") };
        var sms = new DeliveryReceipt("sms", DeliveryReceiptKind.Clicked, at + Duration.FromSeconds(30)) { ContactId = contact.Id.ToString(), ProviderMessageId = "s1", Url = new Uri("https://e.x/r") };

        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(open, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Duplicate, await sink.ProcessAsync(open with { Detail = "provider retried the callback" }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(click, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(click with { Url = new Uri("https://example.com/map") }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(open with { OccurredAt = at + Duration.FromHours(1) }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(sms, CancellationToken.None));

        var events = await Events(h, contact.Id);
        Assert.Equal(["email_open", "sms_click", "email_click", "email_click", "email_open"], events.Select(e => e.Kind));
        Assert.All(events, e => Assert.StartsWith("receipt-", e.EventId, StringComparison.Ordinal));
        Assert.Equal("https://example.com/agenda", events.First(e => e.Kind == EventKinds.EmailClick).Properties["url"]);
        Assert.True((await h.Services.GetRequiredService<IContactService>().GetAsync(contact.Id)).HasConsent("email"));
    }

    [Fact]
    public async Task A_receipt_without_contact_id_is_matched_by_the_recipient_address_of_the_channel_kind()
    {
        using var h = new Harness();
        var contact = await NewContact(h, email: "Lucy@Example.com");
        var sink = Sink(h);
        var at = h.Clock.GetCurrentInstant();

        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(new DeliveryReceipt("email", DeliveryReceiptKind.Bounced, at) { Recipient = "lucy@example.com", IsPermanent = true }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(new DeliveryReceipt("sms", DeliveryReceiptKind.Delivered, at) { Recipient = "+86 139 0013 9000", ContactId = ContactId.New().ToString() }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Unmatched, await sink.ProcessAsync(new DeliveryReceipt("email", DeliveryReceiptKind.Opened, at) { Recipient = "nobody@example.com" }, CancellationToken.None));
        Assert.Equal(ReceiptDisposition.Unmatched, await sink.ProcessAsync(new DeliveryReceipt("unknown-channel", DeliveryReceiptKind.Unsubscribed, at) { Recipient = "lucy@example.com" }, CancellationToken.None));

        var events = await Events(h, contact.Id);
        Assert.Equal(["email_bounce", "sms_delivered"], events.Select(e => e.Kind).Order(StringComparer.Ordinal));
        Assert.Equal("true", events.Single(e => e.Kind == "email_bounce").Properties["permanent"]);
        Assert.True((await h.Services.GetRequiredService<IContactService>().GetAsync(contact.Id)).HasConsent("email"));
    }

    [Fact]
    public async Task A_late_unsubscribe_does_not_undo_a_later_consent_and_a_repeated_one_changes_nothing()
    {
        using var h = new Harness();
        var contact = await NewContact(h);
        var contacts = h.Services.GetRequiredService<IContactService>();
        var sink = Sink(h);
        var unsubscribe = new DeliveryReceipt("email", DeliveryReceiptKind.Unsubscribed, h.Clock.GetCurrentInstant()) { ContactId = contact.Id.ToString(), ProviderMessageId = "m1" };

        await sink.ProcessAsync(unsubscribe, CancellationToken.None);
        var withdrawn = await contacts.GetAsync(contact.Id);
        Assert.False(withdrawn.HasConsent("email"));
        Assert.Equal(ReceiptDisposition.Duplicate, await sink.ProcessAsync(unsubscribe, CancellationToken.None));
        Assert.Equal(withdrawn.Version, (await contacts.GetAsync(contact.Id)).Version);

        h.Clock.Advance(Duration.FromDays(2));
        await contacts.GrantConsentAsync(contact.Id, "email", "re-subscribed on the website");
        await sink.ProcessAsync(unsubscribe, CancellationToken.None); // the provider redelivers the old callback
        Assert.True((await contacts.GetAsync(contact.Id)).HasConsent("email"));
    }

    [Fact]
    public void Event_ids_are_stable_and_short()
    {
        var at = Instant.FromUtc(2026, 6, 17, 2, 0);
        var r = new DeliveryReceipt("email", DeliveryReceiptKind.Opened, at) { ProviderMessageId = new string('x', 500) };
        Assert.Equal(ContactReceiptSink.EventId(r), ContactReceiptSink.EventId(r with { Detail = "again" }));
        Assert.NotEqual(ContactReceiptSink.EventId(r), ContactReceiptSink.EventId(r with { Kind = DeliveryReceiptKind.Clicked }));
        Assert.Equal(40, ContactReceiptSink.EventId(r).Length);
        Assert.Equal("message_open", ContactReceiptSink.EventKind(DeliveryReceiptKind.Opened, ChannelAddressKind.Url));
    }
}
