using Campaigns.Channels;
using Campaigns.Delivery;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>The contract of <see cref="IIdempotencyStore"/>: claim, in progress, lease expiry, complete (the outcome is kept), release, one winner of concurrent claims.</summary>
public abstract class IdempotencyStoreContract : StoreContract<IIdempotencyStore>
{
    private static readonly Duration Lease = Duration.FromMinutes(1);

    /// <summary>A sent outcome for a key.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The outcome.</returns>
    protected static DeliveryOutcome SentOutcome(string key) => new()
    {
        IdempotencyKey = key,
        Status = DeliveryStatus.Sent,
        Channel = "email",
        At = T0,
        Result = DeliveryResult.Accepted("provider-42"),
        Decisions = [new GateDecision(GateCheck.Consent, true, "granted")],
    };

    /// <summary>The first claim holds the key; a second is told it is in progress until the lease expires.</summary>
    [SkippableFact]
    public async Task A_claim_holds_the_key_until_its_lease_expires()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);

        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("k", T0, Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await other.TryClaimAsync("k", T0 + Duration.FromSeconds(59), Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await other.TryClaimAsync("k", T0 + Duration.FromMinutes(1), Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await store.TryClaimAsync("k", T0 + Duration.FromSeconds(61), Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("other-key", T0, Lease, default)).Status);
    }

    /// <summary>A completed key returns its outcome to every later claim, forever.</summary>
    [SkippableFact]
    public async Task A_completed_key_returns_its_outcome()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.TryClaimAsync("k", T0, Lease, default);
        var outcome = SentOutcome("k");

        await store.CompleteAsync("k", outcome, default);
        await store.ReleaseAsync("k", default); // a release after completion changes nothing

        var claim = await other.TryClaimAsync("k", T0 + Duration.FromDays(400), Lease, default);
        Assert.Equal(IdempotencyClaimStatus.Completed, claim.Status);
        AssertSameDocument(outcome, claim.Outcome);
        Assert.Equal("provider-42", claim.Outcome!.Result!.Value.ProviderMessageId);
    }

    /// <summary>
    /// A claim whose lease expired with neither an outcome nor a release is taken over (<see cref="IdempotencyClaimStatus.TakenOver"/>:
    /// the earlier attempt is in doubt), also by a second instance and again after the taker's own lease expires; a key
    /// released or never claimed is a plain claim; a completed key stays completed.
    /// </summary>
    [SkippableFact]
    public async Task An_expired_uncompleted_claim_is_taken_over_as_in_doubt()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);

        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("crashed", T0, Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await other.TryClaimAsync("crashed", T0 + Duration.FromMinutes(2), Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await store.TryClaimAsync("crashed", T0 + Duration.FromMinutes(2), Lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await store.TryClaimAsync("crashed", T0 + Duration.FromMinutes(4), Lease, default)).Status);
        await store.CompleteAsync("crashed", SentOutcome("crashed"), default);
        Assert.Equal(IdempotencyClaimStatus.Completed, (await other.TryClaimAsync("crashed", T0 + Duration.FromMinutes(10), Lease, default)).Status);

        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("released", T0, Lease, default)).Status);
        await store.ReleaseAsync("released", default);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await other.TryClaimAsync("released", T0 + Duration.FromMinutes(2), Lease, default)).Status);
    }

    /// <summary>A released key can be claimed at once.</summary>
    [SkippableFact]
    public async Task A_released_key_can_be_claimed_again()
    {
        var store = await NewStoreAsync();
        await store.TryClaimAsync("k", T0, Lease, default);
        await store.ReleaseAsync("k", default);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("k", T0, Lease, default)).Status);
        await store.ReleaseAsync("never-claimed", default);
    }

    /// <summary>Of many concurrent claims of one key (two instances), exactly one wins.</summary>
    [SkippableFact]
    public async Task Concurrent_claims_have_exactly_one_winner()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var claims = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
            (await (i % 2 == 0 ? store : other).TryClaimAsync("k", T0, Lease, default)).Status)));
        Assert.Equal(1, claims.Count(s => s == IdempotencyClaimStatus.Claimed));
        Assert.Equal(15, claims.Count(s => s == IdempotencyClaimStatus.InProgress));
    }

    /// <summary>A cancelled token cancels a claim; the key stays free.</summary>
    [SkippableFact]
    public async Task A_cancelled_claim_takes_nothing()
    {
        var store = await NewStoreAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.TryClaimAsync("k", T0, Lease, Cancelled()));
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("k", T0, Lease, default)).Status);
    }
}

/// <summary>The contract of <see cref="IFrequencyCapStore"/>: windows per channel or global, inclusive start, release, no overshoot under concurrency.</summary>
public abstract class FrequencyCapStoreContract : StoreContract<IFrequencyCapStore>
{
    /// <summary>A window counts sends at or after its start, of its channel (or all); a full window refuses and records nothing.</summary>
    [SkippableFact]
    public async Task Windows_count_sends_from_their_start_per_channel_or_all()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        CapWindow[] windows = [new("sms", T0, 2), new(null, T0 - Duration.FromDays(1), 3)];

        Assert.Null(await store.TryAcquireAsync("c1", "sms", T0, windows, default));
        Assert.Null(await other.TryAcquireAsync("c1", "email", T0 + Duration.FromMinutes(1), windows, default));
        Assert.Null(await store.TryAcquireAsync("c1", "sms", T0 + Duration.FromMinutes(2), windows, default));
        Assert.Equal(windows[0], await other.TryAcquireAsync("c1", "sms", T0 + Duration.FromMinutes(3), windows, default));
        Assert.Equal(windows[1], await store.TryAcquireAsync("c1", "wechat", T0 + Duration.FromMinutes(3), [windows[1]], default));

        // Sends before a window's start do not count in it; another contact is counted apart.
        Assert.Null(await store.TryAcquireAsync("c1", "sms", T0 + Duration.FromMinutes(4), [new("sms", T0 + Duration.FromMinutes(3), 1)], default));
        Assert.Null(await store.TryAcquireAsync("c2", "sms", T0, windows, default));
    }

    /// <summary>A released send no longer counts.</summary>
    [SkippableFact]
    public async Task A_released_send_frees_its_place()
    {
        var store = await NewStoreAsync();
        CapWindow[] windows = [new(null, T0, 1)];
        Assert.Null(await store.TryAcquireAsync("c", "sms", T0, windows, default));
        Assert.NotNull(await store.TryAcquireAsync("c", "sms", T0 + Duration.FromSeconds(1), windows, default));
        await store.ReleaseAsync("c", "sms", T0, default);
        Assert.Null(await store.TryAcquireAsync("c", "sms", T0 + Duration.FromSeconds(2), windows, default));
    }

    /// <summary>Concurrent senders (two instances) never exceed the cap.</summary>
    [SkippableFact]
    public async Task Concurrent_senders_never_exceed_the_cap()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        CapWindow[] windows = [new(null, T0, 3)];
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await (i % 2 == 0 ? store : other).TryAcquireAsync("c", "sms", T0 + Duration.FromSeconds(i), windows, default) is null)));
        Assert.Equal(3, results.Count(r => r));
    }
}

/// <summary>
/// The contract of <see cref="IDoNotContactList"/>: a listing for one channel or for all. The interface only reads;
/// derive and say how to list a contact in <see cref="ListAsync"/>.
/// </summary>
public abstract class DoNotContactListContract : StoreContract<IDoNotContactList>
{
    /// <summary>Lists a contact in the store under test.</summary>
    /// <param name="list">The store.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for every channel.</param>
    /// <returns>Completes when listed.</returns>
    protected abstract ValueTask ListAsync(IDoNotContactList list, string contactId, string? channel);

    /// <summary>A channel listing applies to that channel; an all-channel listing to every channel.</summary>
    [SkippableFact]
    public async Task Listings_apply_to_their_channel_or_to_all()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await ListAsync(store, "c1", "sms");
        await ListAsync(store, "c2", null);

        Assert.True(await other.IsListedAsync("c1", "sms", default));
        Assert.False(await other.IsListedAsync("c1", "email", default));
        Assert.True(await other.IsListedAsync("c2", "sms", default));
        Assert.True(await other.IsListedAsync("c2", "wechat", default));
        Assert.False(await other.IsListedAsync("c3", "sms", default));
    }
}

/// <summary>The contract of <see cref="IExecutionRecords"/>: counts by outcome, deferred then sent, replays not counted, the alert raised once, pause and resume, restart.</summary>
public abstract class ExecutionRecordsContract : StoreContract<IExecutionRecords>
{
    private static DeliveryOutcome Outcome(string key, DeliveryStatus status, int second, GateCheck? suppressedBy = null, DeliveryFailureReason? reason = null, bool replay = false) => new()
    {
        IdempotencyKey = key,
        Status = status,
        Channel = "sms",
        At = T0 + Duration.FromSeconds(second),
        SuppressedBy = suppressedBy,
        Result = reason is { } r ? DeliveryResult.Failed(r, retryable: false) : status == DeliveryStatus.Sent ? DeliveryResult.Accepted("m") : null,
        IsReplay = replay,
    };

    /// <summary>Outcomes are counted by status and reason; a deferred message later sent moves to sent; replays, paused and in-progress are not counted.</summary>
    [SkippableFact]
    public async Task Outcomes_are_counted()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var started = await store.StartAsync("t", 10, T0, default);
        Assert.Equal(new { T = "t", N = 10, S = 0L }, new { T = started.TaskId, N = started.TargetCount, S = started.Sent });

        await store.RecordAsync("t", Outcome("a", DeliveryStatus.Sent, 1), default);
        await other.RecordAsync("t", Outcome("b", DeliveryStatus.Deferred, 2), default);
        await store.RecordAsync("t", Outcome("b", DeliveryStatus.Deferred, 3), default);
        await store.RecordAsync("t", Outcome("c", DeliveryStatus.Deferred, 3), default);
        await other.RecordAsync("t", Outcome("b", DeliveryStatus.Sent, 4), default);
        await store.RecordAsync("t", Outcome("d", DeliveryStatus.Suppressed, 5, suppressedBy: GateCheck.DoNotContact), default);
        await store.RecordAsync("t", Outcome("e", DeliveryStatus.Failed, 6, reason: DeliveryFailureReason.InvalidAddress), default);
        await store.RecordAsync("t", Outcome("f", DeliveryStatus.Failed, 7, reason: DeliveryFailureReason.InvalidAddress), default);
        await store.RecordAsync("t", Outcome("a", DeliveryStatus.Sent, 8, replay: true), default);
        await store.RecordAsync("t", Outcome("g", DeliveryStatus.Paused, 9), default);
        var last = await store.RecordAsync("t", Outcome("h", DeliveryStatus.InProgress, 10), default);

        var record = await other.GetAsync("t", default);
        AssertSameDocument(last, record);
        Assert.Equal(2, record!.Sent);
        Assert.Equal(1, record.Deferred);
        Assert.Equal(1, record.SuppressedBy[GateCheck.DoNotContact]);
        Assert.Equal(2, record.FailedBy[DeliveryFailureReason.InvalidAddress]);
        Assert.Equal(0.5, record.FailureRate);
        Assert.Equal(T0, record.StartedAt);
        Assert.Equal(T0 + Duration.FromSeconds(7), record.UpdatedAt);
        Assert.Null(await other.GetAsync("unknown", default));
    }

    /// <summary>The alert is raised once (optionally pausing); resuming re-arms it; a task is created on first use.</summary>
    [SkippableFact]
    public async Task The_alert_is_raised_once_and_resume_rearms_it()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);

        Assert.True(await store.TryRaiseAlertAsync("t", T0, pause: true, default));
        Assert.False(await other.TryRaiseAlertAsync("t", T0 + Duration.FromSeconds(1), pause: true, default));
        var record = (await other.GetAsync("t", default))!;
        Assert.True(record.IsPaused);
        Assert.Equal(T0, record.AlertRaisedAt);

        await other.SetPausedAsync("t", false, default);
        record = (await store.GetAsync("t", default))!;
        Assert.False(record.IsPaused);
        Assert.Null(record.AlertRaisedAt);
        Assert.True(await store.TryRaiseAlertAsync("t", T0 + Duration.FromSeconds(2), pause: false, default));
        Assert.False((await store.GetAsync("t", default))!.IsPaused);
        await store.SetPausedAsync("t", true, default);
        Assert.True((await store.GetAsync("t", default))!.IsPaused);
        await store.SetPausedAsync("unknown", true, default);
        Assert.Null(await store.GetAsync("unknown", default));
    }

    /// <summary>Starting a task again restarts its counts.</summary>
    [SkippableFact]
    public async Task Starting_again_restarts_the_counts()
    {
        var store = await NewStoreAsync();
        await store.StartAsync("t", 5, T0, default);
        await store.RecordAsync("t", Outcome("a", DeliveryStatus.Sent, 1), default);
        await store.RecordAsync("t", Outcome("b", DeliveryStatus.Deferred, 1), default);
        var restarted = await store.StartAsync("t", 7, T0 + Duration.FromHours(1), default);
        Assert.Equal((0L, 0L, 7, T0 + Duration.FromHours(1)), (restarted.Sent, restarted.Deferred, restarted.TargetCount, restarted.StartedAt));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await store.StartAsync("t", -1, T0, default));
    }

    /// <summary>
    /// In-doubt sends recorded as <see cref="DeliveryStatus.Unknown"/> are counted apart from sent and failed (not in the
    /// failure rate), by both instances, also when concurrent; a deferred message later unknown leaves deferred; replays
    /// are not counted; starting again resets the count.
    /// </summary>
    [SkippableFact]
    public async Task Unknown_outcomes_are_counted_apart()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.StartAsync("t", 30, T0, default);
        await store.RecordAsync("t", Outcome("a", DeliveryStatus.Sent, 1), default);
        await store.RecordAsync("t", Outcome("b", DeliveryStatus.Deferred, 2), default);
        await other.RecordAsync("t", Outcome("b", DeliveryStatus.Unknown, 3), default);
        await store.RecordAsync("t", Outcome("c", DeliveryStatus.Unknown, 4), default);
        await store.RecordAsync("t", Outcome("c", DeliveryStatus.Unknown, 5, replay: true), default);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await (i % 2 == 0 ? store : other).RecordAsync("t", Outcome($"u{i}", DeliveryStatus.Unknown, 10 + i), default))));

        var record = (await other.GetAsync("t", default))!;
        Assert.Equal((22L, 1L, 0L, 0L, 0.0), (record.Unknown, record.Sent, record.Deferred, record.Failed, record.FailureRate));
        Assert.Equal(22L, (await store.GetAsync("t", default))!.Unknown);
        Assert.Equal(0L, (await store.StartAsync("t", 5, T0 + Duration.FromHours(1), default)).Unknown);
        Assert.Equal(1L, (await other.RecordAsync("fresh", Outcome("x", DeliveryStatus.Unknown, 1), default)).Unknown);
    }

    /// <summary>Concurrent outcomes (two instances) are all counted.</summary>
    [SkippableFact]
    public async Task Concurrent_outcomes_are_all_counted()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.StartAsync("t", 40, T0, default);
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
            await (i % 2 == 0 ? store : other).RecordAsync("t", Outcome($"k{i}", i % 4 == 0 ? DeliveryStatus.Failed : DeliveryStatus.Sent, i, reason: i % 4 == 0 ? DeliveryFailureReason.Timeout : null), default))));
        var record = (await store.GetAsync("t", default))!;
        Assert.Equal(30, record.Sent);
        Assert.Equal(10, record.FailedBy[DeliveryFailureReason.Timeout]);
    }
}
