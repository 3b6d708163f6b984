using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
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

/// <summary>What the delivery pipeline's first gates need to know about a send, read with its claim (see <see cref="IGateReadingIdempotencyStore"/>).</summary>
/// <param name="TaskId">The delivery task whose pause state is read (<see cref="ExecutionRecord.IsPaused"/>), or null for none.</param>
/// <param name="ContactId">The contact looked up on the do-not-contact list.</param>
/// <param name="ConsentKey">The channel's consent key the listing is checked for (a listing for every channel counts too).</param>
public readonly record struct GateReads(string? TaskId, string ContactId, string ConsentKey);

/// <summary>The answer to <see cref="IGateReadingIdempotencyStore.TryClaimWithGatesAsync"/>: the claim and what the gates read with it.</summary>
/// <param name="Claim">The claim, exactly as <see cref="IIdempotencyStore.TryClaimAsync"/> would answer it.</param>
/// <param name="TaskPaused">Whether the task's execution record was paused when the claim was taken (false without a task or record).</param>
/// <param name="DoNotContact">Whether the contact was on the do-not-contact list for the consent key (or every channel) then.</param>
public readonly record struct GatedIdempotencyClaim(IdempotencyClaim Claim, bool TaskPaused, bool DoNotContact);

/// <summary>
/// An optional capability of an <see cref="IIdempotencyStore"/> that keeps the execution records and the do-not-contact
/// list in the same database: the claim of a send and the reads of its first gates (is the task paused, is the contact
/// listed) are answered together in one round trip, instead of three. The delivery pipeline uses it only when
/// <see cref="ReadsGatesOf"/> says the registered records and list are the ones it reads; otherwise it asks each store.
/// The gates see the same state either way (read at the moment of the claim instead of a moment after it).
/// Implementations are thread-safe.
/// </summary>
public interface IGateReadingIdempotencyStore : IIdempotencyStore
{
    /// <summary>Whether <see cref="TryClaimWithGatesAsync"/> reads exactly these stores (the same tables of the same database).</summary>
    /// <param name="records">The execution records the pipeline uses.</param>
    /// <param name="doNotContact">The do-not-contact list the pipeline uses.</param>
    /// <returns>True when the combined claim may replace the separate reads.</returns>
    bool ReadsGatesOf(IExecutionRecords records, IDoNotContactList doNotContact);

    /// <summary>Claims a key as <see cref="IIdempotencyStore.TryClaimAsync"/> does and reads the gates' state in the same round trip.</summary>
    /// <param name="key">The key (ordinal).</param>
    /// <param name="now">The current instant.</param>
    /// <param name="lease">How long the claim holds without completion.</param>
    /// <param name="gates">What to read.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The claim and the gates' state.</returns>
    ValueTask<GatedIdempotencyClaim> TryClaimWithGatesAsync(string key, Instant now, Duration lease, GateReads gates, CancellationToken cancellationToken);
}

/// <summary>A provider message to enter into the <see cref="IProviderMessageIndex"/> with a completed send.</summary>
/// <param name="ProviderMessageId">The provider's id of the message.</param>
/// <param name="Message">What the index keeps.</param>
public readonly record struct ProviderMessageEntry(string ProviderMessageId, ProviderMessage Message);

/// <summary>
/// The bookkeeping of a completed send, as <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/> takes it: the
/// key's completion with the outcome, the task's count and the provider message's index entry.
/// </summary>
/// <param name="Key">The claimed idempotency key.</param>
/// <param name="Outcome">The send's outcome.</param>
/// <param name="TaskId">The delivery task whose record counts the outcome, or null.</param>
/// <param name="Index">The provider message to index, or null.</param>
public sealed record SendBookkeeping(string Key, DeliveryOutcome Outcome, string? TaskId, ProviderMessageEntry? Index);

/// <summary>
/// An optional capability of an <see cref="IIdempotencyStore"/> that keeps the execution records and the provider
/// message index in the same database: a finished send's bookkeeping (its index entry, the key's completion and the
/// task's counts) is written in one round trip and one transaction, instead of three round trips and three commits.
/// The delivery pipeline uses it only when <see cref="WritesBookkeepingOf"/> says the registered records and index are
/// the ones it writes; otherwise it calls each store. Implementations are thread-safe.
/// </summary>
public interface IBookkeepingIdempotencyStore : IIdempotencyStore
{
    /// <summary>Whether <see cref="CompleteSendAsync"/> writes exactly these stores (the same tables of the same database).</summary>
    /// <param name="records">The execution records the pipeline uses.</param>
    /// <param name="messageIndex">The provider message index the pipeline uses.</param>
    /// <returns>True when the combined write may replace the separate ones.</returns>
    bool WritesBookkeepingOf(IExecutionRecords records, IProviderMessageIndex messageIndex);

    /// <summary>
    /// Does, atomically and in this order, what <see cref="IProviderMessageIndex.RecordAsync"/> (when
    /// <paramref name="index"/> is given), <see cref="IIdempotencyStore.CompleteAsync"/> and
    /// <see cref="IExecutionRecords.RecordAsync"/> (when <paramref name="taskId"/> is given) would do one after the other.
    /// </summary>
    /// <param name="key">The claimed key.</param>
    /// <param name="outcome">The send's outcome.</param>
    /// <param name="taskId">The delivery task whose record counts the outcome, or null.</param>
    /// <param name="index">The provider message to index, or null.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The task's record after counting the outcome, or null without a task.</returns>
    ValueTask<ExecutionRecord?> CompleteSendAsync(string key, DeliveryOutcome outcome, string? taskId, ProviderMessageEntry? index, CancellationToken cancellationToken);
}

/// <summary>
/// An <see cref="IIdempotencyStore"/> in memory (lost on restart). Thread-safe. A completed key keeps its outcome for
/// as long as the store lives (the contract: a completed key is never sent again), so memory grows by one entry per
/// completed send. Completed keys are held compactly, in 16 shards each with its own lock: an entry is a struct in an
/// array, found through a chained hash table of indexes (exact ordinal comparison of the key, not only its hash); it
/// refers to the key string, the provider's message id and the gate decisions (or, for any outcome other than a plain
/// accepted send, the outcome itself) — no dictionary node or record object per send: about 70 bytes per plain sent
/// message beside those strings and decisions, and fewer objects for the garbage collector to copy.
/// A host that sends millions of messages should still use a durable store (the SQLite or PostgreSQL package).
/// </summary>
public sealed class InMemoryIdempotencyStore : IIdempotencyStore
{
    private const int ShardCount = 16;
    private readonly Shard[] _shards;
    private Lease? _lastLease;

    /// <summary>Creates an empty store.</summary>
    public InMemoryIdempotencyStore()
    {
        _shards = new Shard[ShardCount];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new Shard();
        }
    }

    /// <summary>The completed keys held (for tests and diagnostics).</summary>
    internal int CompletedCount
    {
        get
        {
            var n = 0;
            foreach (var shard in _shards)
            {
                lock (shard.Gate)
                {
                    n += shard.Completed.Count;
                }
            }

            return n;
        }
    }

    /// <inheritdoc />
    public ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var hash = Hash(key);
        var shard = ShardOf(hash);
        lock (shard.Gate)
        {
            if (shard.Completed.TryGet(key, hash, out var outcome))
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Completed, outcome));
            }

            ref var held = ref CollectionsMarshal.GetValueRefOrAddDefault(shard.Leases, key, out var exists);
            if (!exists)
            {
                held = LeaseUntil(now + lease);
                return new(new IdempotencyClaim(IdempotencyClaimStatus.Claimed, null));
            }

            if (held!.Until > now)
            {
                return new(new IdempotencyClaim(IdempotencyClaimStatus.InProgress, null));
            }

            held = LeaseUntil(now + lease);
            return new(new IdempotencyClaim(IdempotencyClaimStatus.TakenOver, null));
        }
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(outcome);
        var hash = Hash(key);
        var shard = ShardOf(hash);
        lock (shard.Gate)
        {
            shard.Completed.Set(key, hash, outcome);
            shard.Leases.Remove(key);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = Hash(key);
        var shard = ShardOf(hash);
        lock (shard.Gate)
        {
            shard.Leases.Remove(key); // a completed key has no lease: releasing it changes nothing
        }

        return ValueTask.CompletedTask;
    }

    private static int Hash(string key) => StringComparer.Ordinal.GetHashCode(key);

    private Shard ShardOf(int hash) => _shards[(int)((uint)hash % ShardCount)];

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

    /// <summary>One shard: its lock, the keys claimed and not completed, and the completed keys.</summary>
    private sealed class Shard
    {
        public Lock Gate { get; } = new();

        public Dictionary<string, Lease> Leases { get; } = new(StringComparer.Ordinal);

        public CompletedSends Completed { get; } = new();
    }

    /// <summary>A claim without an outcome: held until <see cref="Until"/>.</summary>
    private sealed class Lease(Instant until)
    {
        public Instant Until { get; } = until;
    }
}

/// <summary>
/// The completed keys of one shard of <see cref="InMemoryIdempotencyStore"/>, compactly; not thread-safe (the shard's
/// lock guards it). Each entry is a struct in one array (hash, the next entry with the same bucket, the key, the
/// provider message id, the channel's number, the instant, the trail's shape) beside one object: for a plain accepted
/// send the contact's <see cref="Campaigns.Contacts.ConsentRecord"/> when its <see cref="GateTrail"/> has a shape shared by the shard (up
/// to <see cref="MaxShapes"/>; the trail itself otherwise), or the whole <see cref="DeliveryOutcome"/> of any other. The key and id strings are the caller's
/// (the provider message index holds the same ones), not copies. Lookups compare the whole key, so two keys with the
/// same hash stay distinct. Entries are never removed.
/// </summary>
internal sealed class CompletedSends
{
    private readonly List<string> _channels = [];
    private int[] _buckets = new int[16]; // 1-based index of the first entry of each bucket; 0 = empty; a power of two long
    private int _shift = 32 - 4; // 32 - log2(_buckets.Length): BucketOf keeps the top bits of the scrambled hash
    private Entry[] _entries = new Entry[16];
    private object?[] _values = new object?[16]; // a plain send's ConsentRecord (shape > 0) or decisions, or the DeliveryOutcome
    private readonly List<GateTrail> _shapes = []; // the trails without consent that plain sends share (channel, zone, checks)
    private int _count;

    /// <summary>The most distinct trail shapes kept per table; a plain send of another shape keeps its whole trail.</summary>
    internal const int MaxShapes = 16;

    public int Count => _count;

    /// <summary>The outcome completed for <paramref name="key"/>, rebuilt equal to it for a plain send.</summary>
    public bool TryGet(string key, int hash, [NotNullWhen(true)] out DeliveryOutcome? outcome)
    {
        var i = Find(key, hash);
        if (i < 0)
        {
            outcome = null;
            return false;
        }

        ref var e = ref _entries[i];
        outcome = _values[i] as DeliveryOutcome ?? new DeliveryOutcome
        {
            IdempotencyKey = key,
            Status = DeliveryStatus.Sent,
            Channel = _channels[e.Channel],
            At = e.At,
            Decisions = e.Shape > 0 ? _shapes[e.Shape - 1].WithConsent((Campaigns.Contacts.ConsentRecord?)_values[i]) : (IReadOnlyList<GateDecision>)_values[i]!,
            Result = DeliveryResult.Accepted(e.Id),
        };
        return true;
    }

    /// <summary>Records (or replaces) the outcome of <paramref name="key"/>.</summary>
    public void Set(string key, int hash, DeliveryOutcome outcome)
    {
        var i = Find(key, hash);
        if (i < 0)
        {
            if (_count == _entries.Length)
            {
                Grow();
            }

            i = _count++;
            ref var added = ref _entries[i];
            added.Hash = hash;
            added.Key = key;
            var bucket = BucketOf(hash);
            added.Next = _buckets[bucket];
            _buckets[bucket] = i + 1;
        }

        ref var e = ref _entries[i];
        if (IsPlainSend(key, outcome, out var providerMessageId))
        {
            e.Id = providerMessageId;
            e.Channel = ChannelNumber(outcome.Channel);
            e.At = outcome.At;
            if (outcome.Decisions is GateTrail { IsPlain: true } trail && ShapeOf(trail) is var shape and > 0)
            {
                // The trail rebuilt from its shared shape and the consent record (kept by the contact anyway) equals it.
                e.Shape = shape;
                _values[i] = trail.Consent;
            }
            else
            {
                e.Shape = 0;
                _values[i] = outcome.Decisions;
            }
        }
        else
        {
            _values[i] = outcome;
        }
    }

    /// <summary>
    /// A plain accepted send, the common case, kept as its channel, provider message id, instant and decisions; the
    /// outcome rebuilt from them equals it (same values, the same decisions list).
    /// </summary>
    private static bool IsPlainSend(string key, DeliveryOutcome o, [NotNullWhen(true)] out string? providerMessageId)
    {
        if (o is { Status: DeliveryStatus.Sent, Result: { IsAccepted: true, ProviderMessageId: { } id } result, DeferredUntil: null, SuppressedBy: null, FailedOver: false, IsReplay: false, Content: null, InDoubt: null }
            && string.Equals(o.IdempotencyKey, key, StringComparison.Ordinal)
            && result == DeliveryResult.Accepted(id))
        {
            providerMessageId = id;
            return true;
        }

        providerMessageId = null;
        return false;
    }

    private int Find(string key, int hash)
    {
        for (var i = _buckets[BucketOf(hash)] - 1; i >= 0; i = _entries[i].Next - 1)
        {
            ref var e = ref _entries[i];
            if (e.Hash == hash && string.Equals(e.Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The 1-based number of <paramref name="trail"/>'s shape, added when new; 0 when <see cref="MaxShapes"/> are taken.</summary>
    private int ShapeOf(GateTrail trail)
    {
        for (var i = 0; i < _shapes.Count; i++)
        {
            if (_shapes[i].SameShape(trail))
            {
                return i + 1;
            }
        }

        if (_shapes.Count == MaxShapes)
        {
            return 0;
        }

        _shapes.Add(trail.WithoutConsent());
        return _shapes.Count;
    }

    private int ChannelNumber(string channel)
    {
        for (var i = 0; i < _channels.Count; i++)
        {
            if (string.Equals(_channels[i], channel, StringComparison.Ordinal))
            {
                return i;
            }
        }

        _channels.Add(channel);
        return _channels.Count - 1;
    }

    /// <summary>
    /// The bucket of a hash: the top bits of the hash times 2^32/φ (Fibonacci hashing), so every bit of the hash counts.
    /// Not its low bits: <see cref="InMemoryIdempotencyStore"/> picks the shard from the hash's low four bits, so within one
    /// shard they are all the same and <c>hash % length</c> would use one bucket in 16 (chains 16 times longer).
    /// </summary>
    private int BucketOf(int hash) => (int)(((uint)hash * 0x9E3779B9u) >> _shift);

    /// <summary>The longest bucket chain (for tests: the spread of the buckets).</summary>
    internal int LongestChain()
    {
        var longest = 0;
        foreach (var first in _buckets)
        {
            var length = 0;
            for (var i = first - 1; i >= 0; i = _entries[i].Next - 1)
            {
                length++;
            }

            longest = Math.Max(longest, length);
        }

        return longest;
    }

    /// <summary>Doubles the entries and the buckets, and re-links every entry.</summary>
    private void Grow()
    {
        var size = checked(_entries.Length * 2);
        Array.Resize(ref _entries, size);
        Array.Resize(ref _values, size);
        _buckets = new int[size];
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)size);
        for (var i = 0; i < _count; i++)
        {
            ref var e = ref _entries[i];
            var bucket = BucketOf(e.Hash);
            e.Next = _buckets[bucket];
            _buckets[bucket] = i + 1;
        }
    }

    private struct Entry
    {
        public int Hash;
        public int Next; // 1-based index of the next entry in the bucket; 0 = none
        public string Key;
        public string? Id; // the provider message id of a plain send
        public int Channel;
        public int Shape; // a plain send's trail: 1-based number in _shapes (its value is the consent record), or 0
        public Instant At;
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
