using System.Collections.Concurrent;
using Campaigns.Channels;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>How a claim on an idempotency key turned out.</summary>
public enum IdempotencyClaimStatus
{
    /// <summary>The caller holds the key now and must complete or release it.</summary>
    Claimed = 0,

    /// <summary>The key was completed earlier; <see cref="IdempotencyClaim.Outcome"/> is the recorded outcome.</summary>
    Completed = 1,

    /// <summary>Another caller holds the key (its lease has not expired).</summary>
    InProgress = 2,

    /// <summary>
    /// The caller holds the key now (as with <see cref="Claimed"/>), taken over from an earlier claim whose lease expired
    /// with neither an outcome nor a release: that attempt is <b>in doubt</b> — its host may have died after the
    /// provider accepted the message and before the outcome was recorded. The pipeline resolves it per channel
    /// capability before sending (see <see cref="InDoubtPolicy"/>).
    /// </summary>
    TakenOver = 3,
}

/// <summary>The answer to <see cref="IIdempotencyStore.TryClaimAsync"/>.</summary>
/// <param name="Status">Claimed, taken over from an expired claim (in doubt), completed or in progress.</param>
/// <param name="Outcome">For <see cref="IdempotencyClaimStatus.Completed"/>: the recorded outcome.</param>
public readonly record struct IdempotencyClaim(IdempotencyClaimStatus Status, DeliveryOutcome? Outcome);

/// <summary>
/// Remembers which sends were done, by idempotency key, so the same send is never done twice (F-6.5). Storage-neutral:
/// the in-memory store is the default; a durable store comes with the storage package. Implementations are thread-safe
/// and atomic per key.
/// </summary>
public interface IIdempotencyStore
{
    /// <summary>Claims a key: at most one caller holds an uncompleted key at a time; a lease that expires frees it (a crashed sender).</summary>
    /// <param name="key">The key (ordinal).</param>
    /// <param name="now">The current instant.</param>
    /// <param name="lease">How long the claim holds without completion.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>
    /// Claimed; taken over (<see cref="IdempotencyClaimStatus.TakenOver"/>) when an earlier claim's lease expired without
    /// completion or release; the recorded outcome; or in progress.
    /// </returns>
    ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken);

    /// <summary>Records the outcome of a claimed key; later claims return it.</summary>
    /// <param name="key">The key.</param>
    /// <param name="outcome">The outcome.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken);

    /// <summary>Gives a claimed key back without an outcome (deferred, paused, transient failure, cancelled), so a later invocation may send.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when released.</returns>
    ValueTask ReleaseAsync(string key, CancellationToken cancellationToken);
}

/// <summary>
/// An <see cref="IIdempotencyStore"/> in memory (lost on restart). Thread-safe. A completed key keeps its outcome for
/// as long as the store lives (the contract: a completed key is never sent again), so memory grows by one entry per
/// completed send — about 300 bytes with the outcome for a plain sent message (the key string, a dictionary node, the
/// outcome, its compact gate decisions and the provider's id); a host that sends millions of messages should use a durable
/// store (the SQLite or PostgreSQL package).
/// </summary>
public sealed class InMemoryIdempotencyStore : IIdempotencyStore
{
    // A key's value is its state: a Lease (claimed, not completed), or, completed, a CompletedSend (a plain accepted
    // send, the common case: what the outcome is rebuilt from) or else the DeliveryOutcome itself. All are references,
    // so completing a key updates its dictionary node in place (no second node). Claims made at one instant share one
    // Lease object.
    private readonly ConcurrentDictionary<string, object> _entries = new(StringComparer.Ordinal);
    private Lease? _lastLease;

    /// <inheritdoc />
    public ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var claim = LeaseUntil(now + lease);
        while (true)
        {
            if (_entries.TryAdd(key, claim))
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Claimed, null));
            }

            if (!_entries.TryGetValue(key, out var existing))
            {
                continue;
            }

            if (existing is DeliveryOutcome outcome)
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Completed, outcome));
            }

            if (existing is CompletedSend sent)
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Completed, sent.ToOutcome(key)));
            }

            if (((Lease)existing).Until > now)
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null));
            }

            if (_entries.TryUpdate(key, claim, existing))
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.TakenOver, null));
            }
        }
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        _entries[key] = CompletedSend.TryCreate(key, outcome) ?? (object)outcome;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryGetValue(key, out var existing) && existing is Lease)
        {
            _entries.TryRemove(new KeyValuePair<string, object>(key, existing));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The lease ending at <paramref name="until"/>: the last one made when it ends then too (a batch claims at one instant).</summary>
    private Lease LeaseUntil(Instant until)
    {
        var last = Volatile.Read(ref _lastLease);
        if (last is not null && last.Until == until)
        {
            return last;
        }

        var lease = new Lease(until);
        Volatile.Write(ref _lastLease, lease);
        return lease;
    }

    /// <summary>
    /// A plain accepted send kept compactly: channel, provider message id, instant and the gate decisions; the outcome
    /// is rebuilt equal to the one completed (same values, the same decisions list) when the key is claimed again.
    /// </summary>
    private sealed class CompletedSend(string channel, string providerMessageId, Instant at, IReadOnlyList<GateDecision> decisions)
    {
        public static CompletedSend? TryCreate(string key, DeliveryOutcome o) =>
            o is { Status: DeliveryStatus.Sent, Result: { IsAccepted: true, ProviderMessageId: { } id } result, DeferredUntil: null, SuppressedBy: null, FailedOver: false, IsReplay: false, Content: null, InDoubt: null }
            && string.Equals(o.IdempotencyKey, key, StringComparison.Ordinal)
            && result == DeliveryResult.Accepted(id)
                ? new CompletedSend(o.Channel, id, o.At, o.Decisions)
                : null;

        public DeliveryOutcome ToOutcome(string key) => new()
        {
            IdempotencyKey = key,
            Status = DeliveryStatus.Sent,
            Channel = channel,
            At = at,
            Decisions = decisions,
            Result = DeliveryResult.Accepted(providerMessageId),
        };
    }

    /// <summary>A claim without an outcome: held until <see cref="Until"/>. Compared by reference.</summary>
    private sealed class Lease(Instant until)
    {
        public Instant Until { get; } = until;
    }
}

/// <summary>One window a frequency cap counts sends in.</summary>
/// <param name="Channel">The channel counted, or null for every channel (a global cap).</param>
/// <param name="From">The first instant counted (inclusive); sends at or after it count.</param>
/// <param name="Limit">The most sends allowed in the window, this one included.</param>
public readonly record struct CapWindow(string? Channel, Instant From, int Limit);

/// <summary>
/// Counts sends per contact for frequency caps. <see cref="TryAcquireAsync"/> checks every window and records the send
/// atomically, so concurrent senders never exceed a cap. Storage-neutral; implementations are thread-safe.
/// </summary>
public interface IFrequencyCapStore
{
    /// <summary>Records a send when every window has room.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel of the send.</param>
    /// <param name="at">The send's instant.</param>
    /// <param name="windows">The windows to check.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Null when recorded; else the first full window (nothing recorded).</returns>
    ValueTask<CapWindow?> TryAcquireAsync(string contactId, string channel, Instant at, IReadOnlyList<CapWindow> windows, CancellationToken cancellationToken);

    /// <summary>Forgets a send recorded by <see cref="TryAcquireAsync"/> (it was deferred or failed).</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel.</param>
    /// <param name="at">The instant it was recorded at.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when forgotten.</returns>
    ValueTask ReleaseAsync(string contactId, string channel, Instant at, CancellationToken cancellationToken);

    /// <summary>
    /// When a full rolling window has room again for a contact (for caps that defer rather than suppress): the instant
    /// the oldest send that must leave the window does. The default answers <paramref name="at"/> + <paramref name="length"/>,
    /// by when every send counted now has left (never too early; a store that knows the send times answers exactly).
    /// </summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="window">The full window, as <see cref="TryAcquireAsync"/> returned it.</param>
    /// <param name="length">The rolling window's length.</param>
    /// <param name="at">The current instant.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The first instant at which one more send fits the window.</returns>
    ValueTask<Instant> NextFreeAsync(string contactId, CapWindow window, Duration length, Instant at, CancellationToken cancellationToken) =>
        new(at + length);
}

/// <summary>An <see cref="IFrequencyCapStore"/> in memory; keeps each contact's sends of the last 32 days. Thread-safe.</summary>
public sealed class InMemoryFrequencyCapStore : IFrequencyCapStore
{
    private static readonly Duration Retention = Duration.FromDays(32);
    private readonly ConcurrentDictionary<string, List<(string Channel, Instant At)>> _sends = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<CapWindow?> TryAcquireAsync(string contactId, string channel, Instant at, IReadOnlyList<CapWindow> windows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(windows);
        var sends = _sends.GetOrAdd(contactId, static _ => []);
        lock (sends)
        {
            sends.RemoveAll(s => s.At < at - Retention);
            foreach (var window in windows)
            {
                var count = 0;
                foreach (var s in sends)
                {
                    if (s.At >= window.From && (window.Channel is null || string.Equals(window.Channel, s.Channel, StringComparison.Ordinal)))
                    {
                        count++;
                    }
                }

                if (count + 1 > window.Limit)
                {
                    return new(window);
                }
            }

            sends.Add((channel, at));
        }

        return new((CapWindow?)null);
    }

    /// <inheritdoc />
    public ValueTask<Instant> NextFreeAsync(string contactId, CapWindow window, Duration length, Instant at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactId);
        if (!_sends.TryGetValue(contactId, out var sends))
        {
            return new(at);
        }

        List<Instant> counted;
        lock (sends)
        {
            counted = [.. sends.Where(s => s.At >= window.From && (window.Channel is null || string.Equals(window.Channel, s.Channel, StringComparison.Ordinal))).Select(s => s.At)];
        }

        if (counted.Count < window.Limit)
        {
            return new(at);
        }

        counted.Sort();
        var free = counted[counted.Count - window.Limit] + length; // then at most Limit - 1 sends remain in the window
        return new(free > at ? free : at);
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string contactId, string channel, Instant at, CancellationToken cancellationToken)
    {
        if (_sends.TryGetValue(contactId, out var sends))
        {
            lock (sends)
            {
                var i = sends.FindLastIndex(s => s.At == at && string.Equals(s.Channel, channel, StringComparison.Ordinal));
                if (i >= 0)
                {
                    sends.RemoveAt(i);
                }
            }
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>The do-not-contact list (F-7.4): contacts that must not be messaged, on one channel or all. Thread-safe.</summary>
public interface IDoNotContactList
{
    /// <summary>Whether a contact is listed for a channel (or for every channel).</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel (its consent key, e.g. <c>sms</c>).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>True when the contact must not be messaged.</returns>
    ValueTask<bool> IsListedAsync(string contactId, string channel, CancellationToken cancellationToken);
}

/// <summary>An <see cref="IDoNotContactList"/> in memory. Thread-safe.</summary>
public sealed class InMemoryDoNotContactList : IDoNotContactList
{
    private readonly ConcurrentDictionary<(string Contact, string? Channel), bool> _listed = new();
    private int _count; // listings, so the check on every send skips hashing while the list is empty

    /// <summary>Lists a contact.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for every channel.</param>
    public void Add(string contactId, string? channel = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(contactId);
        if (_listed.TryAdd((contactId, channel), true))
        {
            Interlocked.Increment(ref _count);
        }
    }

    /// <summary>Removes a listing.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="channel">The channel, or null for the every-channel listing.</param>
    public void Remove(string contactId, string? channel = null)
    {
        if (_listed.TryRemove((contactId, channel), out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> IsListedAsync(string contactId, string channel, CancellationToken cancellationToken) =>
        new(Volatile.Read(ref _count) > 0 && (_listed.ContainsKey((contactId, null)) || _listed.ContainsKey((contactId, channel))));
}
