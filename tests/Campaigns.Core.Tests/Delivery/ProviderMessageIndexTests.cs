using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Tests.Delivery;

public class ProviderMessageIndexTests
{
    private static readonly Instant T0 = Harness.T0;

    private static async Task<Contact> NewContact(Harness h, string email, string phone)
    {
        var contacts = h.Services.GetRequiredService<IContactService>();
        var contact = await contacts.CreateAsync(new ContactDraft { Name = "韩梅梅", TimeZoneId = "Asia/Shanghai", Identities = new ContactIdentities { Email = email, Phone = phone } });
        await contacts.GrantConsentAsync(contact.Id, "email", "registration form");
        return await contacts.GrantConsentAsync(contact.Id, "sms", "registration form");
    }

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
    public async Task A_bounce_with_only_the_message_id_is_recorded_on_the_contact_that_was_sent_to()
    {
        using var h = new Harness();
        var lucy = await NewContact(h, "lucy@example.com", "+8613900000001");
        var lily = await NewContact(h, "lily@example.com", "+8613900000002");
        var toLucy = await h.Send(lucy, "welcome/lucy", "email");
        var toLily = await h.Send(lily, "welcome/lily", "email");
        Assert.NotEqual(toLucy.Result!.Value.ProviderMessageId, toLily.Result!.Value.ProviderMessageId);

        var sink = (ContactReceiptSink)h.Services.GetRequiredService<IDeliveryReceiptSink>();
        var bounce = new DeliveryReceipt("email", DeliveryReceiptKind.Bounced, h.Clock.GetCurrentInstant()) { ProviderMessageId = toLily.Result!.Value.ProviderMessageId, IsPermanent = true };
        Assert.Equal(ReceiptDisposition.Recorded, await sink.ProcessAsync(bounce, CancellationToken.None));
        var e = Assert.Single(await Events(h, lily.Id));
        Assert.Equal(("email_bounce", "true", "welcome/lily"), (e.Kind, e.Properties["permanent"], e.Properties["idempotency_key"]));
        Assert.Empty(await Events(h, lucy.Id));
        Assert.Equal(ReceiptDisposition.Duplicate, await sink.ProcessAsync(bounce, CancellationToken.None));
    }

    [Fact]
    public async Task A_complaint_with_only_the_message_id_withdraws_the_right_contacts_consent()
    {
        using var h = new Harness(o => o.Channels["sms"].FailoverTo = "backup");
        var lucy = await NewContact(h, "lucy@example.com", "+8613900000001");
        var lily = await NewContact(h, "lily@example.com", "+8613900000002");
        h.Sms.FailAlwaysFor("+8613900000002", DeliveryFailureReason.ProviderError);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(lucy, "sms/lucy")).Status);
        var failedOver = await h.Send(lily, "sms/lily");
        Assert.Equal(("backup", true), (failedOver.Channel, failedOver.FailedOver));

        // The receipt comes from the channel that sent (the secondary), with the provider's id only.
        await h.Services.GetRequiredService<IDeliveryReceiptSink>().OnReceiptAsync(
            new DeliveryReceipt("backup", DeliveryReceiptKind.Complained, h.Clock.GetCurrentInstant()) { ProviderMessageId = failedOver.Result!.Value.ProviderMessageId },
            CancellationToken.None);
        var contacts = h.Services.GetRequiredService<IContactService>();
        Assert.False((await contacts.GetAsync(lily.Id)).HasConsent("sms"));
        Assert.True((await contacts.GetAsync(lucy.Id)).HasConsent("sms"));
    }

    [Fact]
    public async Task An_unknown_message_id_stays_unmatched()
    {
        using var h = new Harness();
        var sink = (ContactReceiptSink)h.Services.GetRequiredService<IDeliveryReceiptSink>();
        Assert.Equal(ReceiptDisposition.Unmatched, await sink.ProcessAsync(new DeliveryReceipt("email", DeliveryReceiptKind.Bounced, T0) { ProviderMessageId = "nobody-sent-this" }, CancellationToken.None));
    }

    [Fact]
    public async Task The_in_memory_index_forgets_sends_past_retention_and_scopes_ids_per_channel()
    {
        var index = new InMemoryProviderMessageIndex(Duration.FromDays(30));
        await index.RecordAsync("m1", new ProviderMessage("c1", "email", "k1", T0), CancellationToken.None);
        await index.RecordAsync("m1", new ProviderMessage("c9", "sms", "k9", T0), CancellationToken.None);
        Assert.Equal("c1", (await index.FindAsync("email", "m1", CancellationToken.None))?.ContactId);
        Assert.Equal("c9", (await index.FindAsync("sms", "m1", CancellationToken.None))?.ContactId);
        Assert.Null(await index.FindAsync("webhook", "m1", CancellationToken.None));

        await index.RecordAsync("m2", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromDays(30)), CancellationToken.None);
        Assert.NotNull(await index.FindAsync("email", "m1", CancellationToken.None)); // exactly 30 days: kept
        await index.RecordAsync("m3", new ProviderMessage("c3", "email", "k3", T0 + Duration.FromDays(31)), CancellationToken.None);
        Assert.Null(await index.FindAsync("email", "m1", CancellationToken.None));
        Assert.Equal(2, index.Count);
        Assert.Equal("c2", (await index.FindAsync("email", "m2", CancellationToken.None))?.ContactId);
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryProviderMessageIndex(Duration.Zero));
    }

    [Fact]
    public void The_retention_is_validated_at_start_naming_the_key()
    {
        var services = new ServiceCollection();
        services.AddCampaigns(o => o.Delivery.ProviderMessageRetention = TimeSpan.Zero);
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => sp.GetRequiredService<IDeliveryPipeline>());
        Assert.Contains("Campaigns:Delivery:ProviderMessageRetention:", e.Message, StringComparison.Ordinal);
    }
}
