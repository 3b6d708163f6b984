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

    [Fact]
    public async Task The_in_memory_index_holds_at_most_its_capacity_dropping_the_oldest_sends_first()
    {
        var index = new InMemoryProviderMessageIndex(Duration.FromDays(30), capacity: 3);
        Assert.Equal(3, index.Capacity);
        for (var i = 1; i <= 5; i++)
        {
            await index.RecordAsync($"m{i}", new ProviderMessage($"c{i}", "email", $"k{i}", T0 + Duration.FromSeconds(i)), CancellationToken.None);
            Assert.Equal(Math.Min(i, 3), index.Count);
        }

        Assert.Null(await index.FindAsync("email", "m1", CancellationToken.None));
        Assert.Null(await index.FindAsync("email", "m2", CancellationToken.None));
        Assert.Equal(["c3", "c4", "c5"], [(await index.FindAsync("email", "m3", CancellationToken.None))!.ContactId, (await index.FindAsync("email", "m4", CancellationToken.None))!.ContactId, (await index.FindAsync("email", "m5", CancellationToken.None))!.ContactId]);
    }

    [Fact]
    public async Task A_send_recorded_again_is_counted_once_and_kept_by_its_newer_entry_when_the_capacity_evicts()
    {
        var index = new InMemoryProviderMessageIndex(Duration.FromDays(30), capacity: 2);
        await index.RecordAsync("m1", new ProviderMessage("c1", "email", "k1", T0), CancellationToken.None);
        await index.RecordAsync("m2", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromSeconds(1)), CancellationToken.None);
        await index.RecordAsync("m1", new ProviderMessage("c1", "email", "k1-again", T0 + Duration.FromSeconds(2)), CancellationToken.None);
        Assert.Equal(2, index.Count); // m1 replaced, not added

        // Over capacity: the oldest queued item (m1's first record) must not remove m1's newer entry; m2 goes.
        await index.RecordAsync("m3", new ProviderMessage("c3", "email", "k3", T0 + Duration.FromSeconds(3)), CancellationToken.None);
        Assert.Equal(2, index.Count);
        Assert.Equal("k1-again", (await index.FindAsync("email", "m1", CancellationToken.None))?.IdempotencyKey);
        Assert.Null(await index.FindAsync("email", "m2", CancellationToken.None));
        Assert.Equal("c3", (await index.FindAsync("email", "m3", CancellationToken.None))?.ContactId);
    }

    [Fact]
    public async Task Concurrent_sends_past_the_capacity_leave_the_index_at_its_capacity()
    {
        var index = new InMemoryProviderMessageIndex(Duration.FromDays(30), capacity: 100);
        await Parallel.ForAsync(0, 4_000, async (i, ct) =>
            await index.RecordAsync($"m{i}", new ProviderMessage($"c{i}", "email", $"k{i}", T0 + Duration.FromMilliseconds(i)), ct));

        Assert.Equal(100, index.Count);
        await index.RecordAsync("last", new ProviderMessage("c", "email", "k", T0 + Duration.FromDays(1)), CancellationToken.None);
        Assert.Equal(100, index.Count);
        Assert.NotNull(await index.FindAsync("email", "last", CancellationToken.None));
    }

    [Fact]
    public void The_capacity_is_validated_at_start_naming_the_key_and_by_the_constructor()
    {
        var services = new ServiceCollection();
        services.AddCampaigns(o => o.Delivery.ProviderMessageCapacity = 0);
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => sp.GetRequiredService<IDeliveryPipeline>());
        Assert.Contains("Campaigns:Delivery:ProviderMessageCapacity:", e.Message, StringComparison.Ordinal);
        Assert.Equal("capacity", Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryProviderMessageIndex(Duration.FromDays(1), -1)).ParamName);
    }

    [Fact]
    public void The_registered_index_takes_its_capacity_and_retention_from_the_options()
    {
        var services = new ServiceCollection();
        services.AddCampaigns(o =>
        {
            o.Delivery.ProviderMessageCapacity = 12_345;
            o.Delivery.ProviderMessageRetention = TimeSpan.FromDays(7);
        });
        using var sp = services.BuildServiceProvider();
        var index = Assert.IsType<InMemoryProviderMessageIndex>(sp.GetRequiredService<IProviderMessageIndex>());
        Assert.Equal((12_345, Duration.FromDays(7)), (index.Capacity, index.Retention));
        Assert.Equal(InMemoryProviderMessageIndex.DefaultCapacity, new InMemoryProviderMessageIndex(Duration.FromDays(1)).Capacity);
    }
}
