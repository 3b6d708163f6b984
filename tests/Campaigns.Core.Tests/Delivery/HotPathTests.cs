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
    public async Task A_cancelled_send_on_a_channel_without_strategies_throws_and_releases_the_key_where_a_resend_is_allowed()
    {
        using var h = new Harness(o =>
        {
            o.Channels["sms"].InDoubtPolicy = InDoubtPolicy.AtLeastOnce; // at most once keeps the key claimed (InDoubtAttemptTests)
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

    [Fact]
    public void The_gate_trail_reads_its_decisions_in_the_pipeline_order_then_the_refusal()
    {
        var consent = new Campaigns.Contacts.ConsentRecord(true, "form", NodaTime.Instant.FromUtc(2026, 6, 16, 2, 0));
        var trail = new GateTrail();
        trail.ConsentGranted("email", consent);
        trail.NotOnDoNotContactList();
        trail.CapsHaveRoom(2);
        trail.InsideWindow("inside the send window in Asia/Shanghai");
        trail.Refuse(new GateDecision(GateCheck.Address, false, "no address"));
        GateDecision[] expected =
        [
            new(GateCheck.Consent, true, "consent for 'email' granted at 2026-06-16T02:00:00Z (form)"),
            new(GateCheck.DoNotContact, true, "not on the do-not-contact list"),
            new(GateCheck.FrequencyCap, true, "2 cap(s) have room"),
            new(GateCheck.SendWindow, true, "inside the send window in Asia/Shanghai"),
            new(GateCheck.Address, false, "no address"),
        ];
        Assert.Equal(expected, trail);
        Assert.Equal(5, trail.Count);
        Assert.Equal(expected[4], trail[4]);
        Assert.Throws<ArgumentOutOfRangeException>(() => trail[5]);

        var content = new GateTrail();
        content.ConsentGranted("email", consent);
        content.NotOnDoNotContactList();
        content.ContentPassed(null);
        Assert.Equal(new GateDecision(GateCheck.Content, true, "content passes the rules"), content[2]);
        Assert.Equal(3, content.Count);
    }

    [Fact]
    public async Task A_replayed_outcome_keeps_every_gate_decision()
    {
        using var h = new Harness();
        var contact = Harness.Contact();
        var first = await h.Send(contact, "k1");
        var replay = await h.Send(contact, "k1");
        Assert.True(replay.IsReplay);
        Assert.Equal(first.Decisions, replay.Decisions);
        Assert.Equal(first with { IsReplay = true }, replay);
    }

    [Fact]
    public async Task The_provider_message_index_gives_back_guid_and_other_contact_ids_as_recorded()
    {
        var index = new InMemoryProviderMessageIndex(NodaTime.Duration.FromDays(30));
        var at = NodaTime.Instant.FromUtc(2026, 6, 16, 2, 0) + NodaTime.Duration.FromNanoseconds(123);
        var guid = ContactId.New().ToString();
        var upper = Guid.NewGuid().ToString("D").ToUpperInvariant(); // parses as a GUID, but not its canonical text
        await index.RecordAsync("p1", new ProviderMessage(guid, "email", "k1", at), CancellationToken.None);
        await index.RecordAsync("p2", new ProviderMessage("crm-42", "email", "k2", at), CancellationToken.None);
        await index.RecordAsync("p3", new ProviderMessage(upper, new string("email".AsSpan()), "k3", at), CancellationToken.None);
        Assert.Equal(new ProviderMessage(guid, "email", "k1", at), await index.FindAsync("email", "p1", CancellationToken.None));
        Assert.Equal(new ProviderMessage("crm-42", "email", "k2", at), await index.FindAsync("email", "p2", CancellationToken.None));
        Assert.Equal(new ProviderMessage(upper, "email", "k3", at), await index.FindAsync("email", "p3", CancellationToken.None));
        Assert.Null(await index.FindAsync("sms", "p1", CancellationToken.None));
        Assert.Equal(3, index.Count);
    }

    [Fact]
    public async Task Idempotency_claims_at_one_instant_stay_independent_per_key()
    {
        var store = new InMemoryIdempotencyStore();
        var t0 = NodaTime.Instant.FromUtc(2026, 6, 16, 2, 0);
        var lease = NodaTime.Duration.FromMinutes(1);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("a", t0, lease, CancellationToken.None)).Status);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("b", t0, lease, CancellationToken.None)).Status);
        await store.ReleaseAsync("a", CancellationToken.None);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await store.TryClaimAsync("b", t0, lease, CancellationToken.None)).Status);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("a", t0, lease, CancellationToken.None)).Status);
        var outcome = new DeliveryOutcome { IdempotencyKey = "b", Status = DeliveryStatus.Sent, Channel = "email", At = t0 };
        await store.CompleteAsync("b", outcome, CancellationToken.None);
        await store.ReleaseAsync("b", CancellationToken.None);
        var claim = await store.TryClaimAsync("b", t0 + lease + lease, lease, CancellationToken.None);
        Assert.Equal((IdempotencyClaimStatus.Completed, outcome), (claim.Status, claim.Outcome));
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await store.TryClaimAsync("a", t0 + lease, lease, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_completed_outcome_comes_back_equal_whether_kept_compactly_or_whole()
    {
        var store = new InMemoryIdempotencyStore();
        var t0 = NodaTime.Instant.FromUtc(2026, 6, 16, 2, 0);
        var lease = NodaTime.Duration.FromMinutes(1);
        IReadOnlyList<GateDecision> decisions = [new GateDecision(GateCheck.Consent, true, "granted")];
        var plain = new DeliveryOutcome { IdempotencyKey = "plain", Status = DeliveryStatus.Sent, Channel = "email", At = t0, Decisions = decisions, Result = DeliveryResult.Accepted("p-1") };
        DeliveryOutcome[] outcomes =
        [
            plain,
            plain with { IdempotencyKey = "failed-over", FailedOver = true },
            plain with { IdempotencyKey = "no-provider-id", Result = DeliveryResult.Accepted(null) },
            plain with { IdempotencyKey = "suppressed", Status = DeliveryStatus.Suppressed, Result = null, SuppressedBy = GateCheck.Consent },
            plain with { IdempotencyKey = "other-key-inside" },
        ];
        foreach (var outcome in outcomes)
        {
            var key = outcome.IdempotencyKey == "other-key-inside" ? "k-x" : outcome.IdempotencyKey;
            await store.TryClaimAsync(key, t0, lease, CancellationToken.None);
            await store.CompleteAsync(key, outcome, CancellationToken.None);
            var claim = await store.TryClaimAsync(key, t0 + NodaTime.Duration.FromDays(400), lease, CancellationToken.None);
            Assert.Equal(IdempotencyClaimStatus.Completed, claim.Status);
            Assert.Equal(outcome, claim.Outcome);
            Assert.Same(outcome.Decisions, claim.Outcome!.Decisions);
        }
    }
}
