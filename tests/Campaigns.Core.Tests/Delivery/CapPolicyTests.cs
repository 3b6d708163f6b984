using Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Tests.Delivery;

/// <summary>A reached cap suppresses by default, or defers to the instant the window frees.</summary>
public class CapPolicyTests
{
    private static readonly Instant T0 = Harness.T0; // Wednesday 10:00 in Shanghai

    [Fact]
    public async Task A_deferring_rolling_cap_defers_to_when_the_oldest_send_leaves_the_window()
    {
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 2, Window = TimeSpan.FromHours(24), WhenReached = FrequencyCapAction.Defer }));
        var contact = Harness.Contact();
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "a", task: "t")).Status);
        h.Clock.Advance(Duration.FromHours(2));
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "b", task: "t")).Status);
        h.Clock.Advance(Duration.FromHours(1));
        var deferred = await h.Send(contact, "c", task: "t");
        Assert.Equal((DeliveryStatus.Deferred, T0 + Duration.FromHours(24)), (deferred.Status, deferred.DeferredUntil));
        var decision = deferred.Decisions[^1];
        Assert.Equal((GateCheck.FrequencyCap, false), (decision.Check, decision.Passed));
        Assert.Contains("deferred until 2026-06-18T02:00:00Z", decision.Detail, StringComparison.Ordinal);
        Assert.Equal(1, (await h.Records.GetAsync("t", CancellationToken.None))!.Deferred);

        h.Clock.Advance(Duration.FromHours(20)); // one instant early: still full
        Assert.Equal(DeliveryStatus.Deferred, (await h.Send(contact, "c", task: "t")).Status);
        h.Clock.Advance(Duration.FromHours(1));
        var sent = await h.Send(contact, "c", task: "t");
        Assert.Equal(DeliveryStatus.Sent, sent.Status);
        var record = (await h.Records.GetAsync("t", CancellationToken.None))!;
        Assert.Equal((3L, 0L), (record.Sent, record.Deferred));
        Assert.Equal(3, h.Sms.Sends.Count);
    }

    [Fact]
    public async Task A_suppressing_cap_is_the_default()
    {
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 1, Window = TimeSpan.FromHours(24) }));
        var contact = Harness.Contact();
        await h.Send(contact, "a");
        var capped = await h.Send(contact, "b");
        Assert.Equal((DeliveryStatus.Suppressed, GateCheck.FrequencyCap, (Instant?)null), (capped.Status, capped.SuppressedBy, capped.DeferredUntil));
    }

    [Fact]
    public async Task A_deferring_calendar_day_cap_defers_to_local_midnight_then_into_the_send_window()
    {
        using var h = new Harness(o =>
        {
            o.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, PerCalendarDay = true, WhenReached = FrequencyCapAction.Defer });
            o.Channels["email"].Window = new SendWindowOptions { Opens = "09:00", Closes = "18:00" };
        });
        var contact = Harness.Contact();
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "a")).Status);
        var sms = await h.Send(contact, "b"); // no send window on sms: local midnight
        Assert.Equal(Instant.FromUtc(2026, 6, 17, 16, 0), sms.DeferredUntil);
        var email = await h.Send(contact, "c", "email"); // email opens at 09:00 local
        Assert.Equal((DeliveryStatus.Deferred, Instant.FromUtc(2026, 6, 18, 1, 0)), (email.Status, email.DeferredUntil));
    }

    [Fact]
    public async Task A_store_without_exact_times_defers_by_the_whole_window()
    {
        var store = new OpaqueCapStore();
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 1, Window = TimeSpan.FromHours(6), WhenReached = FrequencyCapAction.Defer }), capStore: store);
        var contact = Harness.Contact();
        await h.Send(contact, "a");
        h.Clock.Advance(Duration.FromHours(1));
        Assert.Equal(T0 + Duration.FromHours(7), (await h.Send(contact, "b")).DeferredUntil); // never too early
    }

    [Fact]
    public void An_unknown_action_is_refused_at_start_naming_the_key()
    {
        var services = new ServiceCollection();
        services.AddCampaigns(o => o.Delivery.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, PerCalendarDay = true, WhenReached = (FrequencyCapAction)7 }));
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IDeliveryPipeline>());
        Assert.Contains("Campaigns:Delivery:FrequencyCaps:0:WhenReached: '7' is not Suppress or Defer.", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A store that implements only the required members (like a durable store written before NextFreeAsync).</summary>
    private sealed class OpaqueCapStore : IFrequencyCapStore
    {
        private readonly InMemoryFrequencyCapStore _inner = new();

        public ValueTask<CapWindow?> TryAcquireAsync(string contactId, string channel, Instant at, IReadOnlyList<CapWindow> windows, CancellationToken cancellationToken) =>
            _inner.TryAcquireAsync(contactId, channel, at, windows, cancellationToken);

        public ValueTask ReleaseAsync(string contactId, string channel, Instant at, CancellationToken cancellationToken) =>
            _inner.ReleaseAsync(contactId, channel, at, cancellationToken);
    }
}
