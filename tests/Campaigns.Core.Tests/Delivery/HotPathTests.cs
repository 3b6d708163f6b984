using System.Text.Json;
using Campaigns.Channels;
using Campaigns.Delivery;

namespace Campaigns.Tests.Delivery;

/// <summary>The success-path shortcuts of issue 6's speed work keep the observable behaviour.</summary>
public class HotPathTests
{
    [Fact]
    public async Task The_consent_detail_is_formatted_when_read()
    {
        using var h = new Harness();
        var outcome = await h.Send(Harness.Contact(), "k1");
        Assert.Equal("consent for 'sms' granted at 2026-06-16T02:00:00Z (registration form)", outcome.Decisions[0].Detail);
        Assert.Equal("not on the do-not-contact list", outcome.Decisions[1].Detail);
        Assert.Equal("content passes the rules", outcome.Decisions[2].Detail);
    }

    [Fact]
    public void A_lazy_decision_equals_the_eager_one_with_the_same_text()
    {
        var lazy = GateDecision.Lazy(GateCheck.FrequencyCap, true, static (n, _) => $"{n} cap(s) have room", 2, null);
        var eager = new GateDecision(GateCheck.FrequencyCap, true, "2 cap(s) have room");
        Assert.Equal(eager, lazy);
        Assert.True(eager == lazy);
        Assert.Equal(eager.GetHashCode(), lazy.GetHashCode());
        Assert.NotEqual(eager, new GateDecision(GateCheck.FrequencyCap, false, "2 cap(s) have room"));
        var (check, passed, detail) = lazy;
        Assert.Equal((GateCheck.FrequencyCap, true, "2 cap(s) have room"), (check, passed, detail));
        Assert.Equal("", default(GateDecision).Detail);
    }

    [Fact]
    public async Task Decisions_round_trip_through_json_with_their_text()
    {
        using var h = new Harness();
        var outcome = await h.Send(Harness.Contact(), "k1");
        var json = JsonSerializer.Serialize(outcome.Decisions);
        var back = JsonSerializer.Deserialize<List<GateDecision>>(json)!;
        Assert.Equal(outcome.Decisions, back);
    }

    [Fact]
    public async Task A_channel_without_strategies_is_called_directly_and_still_fails_over()
    {
        using var h = new Harness(o =>
        {
            var r = o.Channels["sms"].Resilience;
            (r.MaxRetryAttempts, r.CircuitBreakerEnabled, r.AttemptTimeout) = (0, false, TimeSpan.Zero);
            o.Channels["sms"].FailoverTo = "backup";
        });
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(Harness.Contact(), "a")).Status);

        h.Sms.FailNext(1, DeliveryFailureReason.RateLimited);
        var limited = await h.Send(Harness.Contact(), "b");
        Assert.Equal((DeliveryStatus.Failed, DeliveryFailureReason.RateLimited), (limited.Status, limited.Result!.Value.FailureReason));
        Assert.Equal(2, h.Sms.Sends.Count); // no retry

        h.Sms.FailNext(1, DeliveryFailureReason.ProviderError);
        var failedOver = await h.Send(Harness.Contact(), "c");
        Assert.Equal((DeliveryStatus.Sent, "backup", true), (failedOver.Status, failedOver.Channel, failedOver.FailedOver));
    }

    [Fact]
    public async Task A_cancelled_send_on_a_channel_without_strategies_throws_and_releases_the_key()
    {
        using var h = new Harness(o =>
        {
            var r = o.Channels["sms"].Resilience;
            (r.MaxRetryAttempts, r.CircuitBreakerEnabled, r.AttemptTimeout) = (0, false, TimeSpan.Zero);
        });
        h.Sms.DelayEachSend(Timeout.InfiniteTimeSpan);
        using var cts = new CancellationTokenSource();
        var contact = Harness.Contact();
        var request = new DeliveryRequest { IdempotencyKey = "k", Contact = contact, Channel = "sms", Template = Harness.Template, Variables = new Dictionary<string, string> { ["link"] = "https://e.x/r" } };
        var pending = h.Pipeline.DeliverAsync(request, cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        h.Sms.DelayEachSend(TimeSpan.Zero);
        Assert.Equal(DeliveryStatus.Sent, (await h.Pipeline.DeliverAsync(request, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task The_do_not_contact_list_counts_its_listings()
    {
        var list = new InMemoryDoNotContactList();
        Assert.False(await list.IsListedAsync("c1", "sms", CancellationToken.None));
        list.Add("c1", "sms");
        list.Add("c1", "sms");
        Assert.True(await list.IsListedAsync("c1", "sms", CancellationToken.None));
        Assert.False(await list.IsListedAsync("c1", "email", CancellationToken.None));
        list.Remove("c1", "sms");
        Assert.False(await list.IsListedAsync("c1", "sms", CancellationToken.None));
        list.Remove("c1", "sms");
        list.Add("c1");
        Assert.True(await list.IsListedAsync("c1", "email", CancellationToken.None));
    }
}
