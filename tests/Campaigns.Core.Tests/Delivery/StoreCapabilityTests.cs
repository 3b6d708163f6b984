using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Tests.Delivery;

/// <summary>
/// The optional store capabilities the pipeline uses to save round trips (<see cref="IGateReadingIdempotencyStore"/>,
/// <see cref="IBookkeepingIdempotencyStore"/>): used only when the store says it covers the registered stores, and then
/// its answers stand in for the separate reads and writes.
/// </summary>
public class StoreCapabilityTests
{
    [Fact]
    public async Task A_store_covering_the_gates_answers_them_with_the_claim()
    {
        var store = new CapableStore { CoversGates = true, Listed = true };
        using var h = new Harness(idempotency: store);

        // The registered do-not-contact list is empty: the suppression comes from the claim's answer.
        var outcome = await h.Send(Harness.Contact(), "k1", task: "t");

        Assert.Equal(DeliveryStatus.Suppressed, outcome.Status);
        Assert.Equal(GateCheck.DoNotContact, outcome.SuppressedBy);
        var read = Assert.Single(store.GateReads);
        Assert.Equal(("t", "sms"), (read.TaskId, read.ConsentKey));
        Assert.Empty(h.Sms.Messages);

        store.Listed = false;
        store.Paused = true;
        Assert.Equal(DeliveryStatus.Paused, (await h.Send(Harness.Contact(), "k2", task: "t")).Status);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync("k2", Harness.T0, Duration.FromMinutes(1), default)).Status); // released
        Assert.Empty(h.Sms.Messages);
    }

    [Fact]
    public async Task A_store_that_does_not_cover_the_gates_is_asked_only_for_the_claim()
    {
        var store = new CapableStore { CoversGates = false, Listed = true, Paused = true };
        using var h = new Harness(idempotency: store);

        Assert.Equal(DeliveryStatus.Sent, (await h.Send(Harness.Contact(), "k1", task: "t")).Status);
        Assert.Empty(store.GateReads);
        Assert.Single(h.Sms.Messages);
    }

    [Fact]
    public async Task A_store_covering_the_bookkeeping_writes_index_entry_completion_and_count_in_one_call()
    {
        var store = new CapableStore { CoversBookkeeping = true };
        using var h = new Harness(idempotency: store);
        store.Records = h.Records;
        var contact = Harness.Contact();

        var outcome = await h.Send(contact, "k1", task: "t");

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        var call = Assert.Single(store.Bookkeeping);
        Assert.Equal(("k1", "t"), (call.Key, call.TaskId));
        Assert.Equal(outcome.Result!.Value.ProviderMessageId, call.Index!.Value.ProviderMessageId);
        Assert.Equal(new ProviderMessage(contact.Id.ToString(), "sms", "k1", Harness.T0), call.Index.Value.Message);
        Assert.Equal(1, (await h.Records.GetAsync("t", default))!.Sent); // counted once, by the store
        Assert.Equal(IdempotencyClaimStatus.Completed, (await store.TryClaimAsync("k1", Harness.T0, Duration.FromMinutes(1), default)).Status);

        // A suppressed send completes through it too, with no index entry; a replay writes nothing.
        h.DoNotContact.Add(contact.Id.ToString());
        Assert.Equal(DeliveryStatus.Suppressed, (await h.Send(contact, "k2", task: "t")).Status);
        Assert.Null(store.Bookkeeping[1].Index);
        Assert.True((await h.Send(contact, "k1", task: "t")).IsReplay);
        Assert.Equal(2, store.Bookkeeping.Count);
    }

    [Fact]
    public async Task A_store_that_does_not_cover_the_bookkeeping_is_asked_only_to_complete()
    {
        var store = new CapableStore { CoversBookkeeping = false };
        using var h = new Harness(idempotency: store);

        Assert.Equal(DeliveryStatus.Sent, (await h.Send(Harness.Contact(), "k1", task: "t")).Status);
        Assert.Empty(store.Bookkeeping);
        Assert.Equal(1, (await h.Records.GetAsync("t", default))!.Sent);
    }

    private sealed class CapableStore : IGateReadingIdempotencyStore, IBookkeepingIdempotencyStore
    {
        private readonly InMemoryIdempotencyStore _inner = new();

        public bool CoversGates { get; init; }

        public bool CoversBookkeeping { get; init; }

        public bool Paused { get; set; }

        public bool Listed { get; set; }

        public IExecutionRecords? Records { get; set; }

        public List<GateReads> GateReads { get; } = [];

        public List<(string Key, string? TaskId, ProviderMessageEntry? Index)> Bookkeeping { get; } = [];

        public bool ReadsGatesOf(IExecutionRecords records, IDoNotContactList doNotContact) => CoversGates;

        public bool WritesBookkeepingOf(IExecutionRecords records, IProviderMessageIndex messageIndex) => CoversBookkeeping;

        public async ValueTask<GatedIdempotencyClaim> TryClaimWithGatesAsync(string key, Instant now, Duration lease, GateReads gates, CancellationToken cancellationToken)
        {
            GateReads.Add(gates);
            return new(await _inner.TryClaimAsync(key, now, lease, cancellationToken), Paused, Listed);
        }

        public async ValueTask<ExecutionRecord?> CompleteSendAsync(string key, DeliveryOutcome outcome, string? taskId, ProviderMessageEntry? index, CancellationToken cancellationToken)
        {
            Bookkeeping.Add((key, taskId, index));
            await _inner.CompleteAsync(key, outcome, cancellationToken);
            return taskId is null ? null : await Records!.RecordAsync(taskId, outcome, cancellationToken);
        }

        public ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken) => _inner.TryClaimAsync(key, now, lease, cancellationToken);

        public ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken) => _inner.CompleteAsync(key, outcome, cancellationToken);

        public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken) => _inner.ReleaseAsync(key, cancellationToken);
    }
}
