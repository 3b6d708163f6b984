using NodaTime;

namespace Campaigns.Delivery;

/// <summary>Who an accepted message went to, as the provider message index remembers it.</summary>
/// <param name="ContactId">The contact.</param>
/// <param name="Channel">The channel that sent it (the secondary after a failover).</param>
/// <param name="IdempotencyKey">The send's idempotency key.</param>
/// <param name="SentAt">When the pipeline sent it.</param>
public sealed record ProviderMessage(string ContactId, string Channel, string IdempotencyKey, Instant SentAt);

/// <summary>
/// Maps a provider's message id back to the send (contact, channel, idempotency key), so a receipt that carries only
/// the provider message id — a bounce, a complaint, a status callback — finds its contact. The delivery pipeline
/// records every accepted send; the SDK's receipt sink looks receipts up. Storage-neutral (durable implementations come
/// with the storage packages); implementations are thread-safe.
/// </summary>
public interface IProviderMessageIndex
{
    /// <summary>Remembers an accepted send.</summary>
    /// <param name="providerMessageId">The provider's id (<see cref="Channels.DeliveryResult.ProviderMessageId"/>).</param>
    /// <param name="message">The send.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    ValueTask RecordAsync(string providerMessageId, ProviderMessage message, CancellationToken cancellationToken);

    /// <summary>Finds the send a channel's provider message id belongs to.</summary>
    /// <param name="channel">The channel the receipt came from.</param>
    /// <param name="providerMessageId">The provider's id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The send, or null when unknown or past retention.</returns>
    ValueTask<ProviderMessage?> FindAsync(string channel, string providerMessageId, CancellationToken cancellationToken);
}

/// <summary>
/// An <see cref="IProviderMessageIndex"/> in memory (lost on restart) that keeps each send for a retention period
/// (<c>Campaigns:Delivery:ProviderMessageRetention</c>, default 30 days), measured from the newest send recorded, and
/// at most <see cref="Capacity"/> sends (<c>Campaigns:Delivery:ProviderMessageCapacity</c>, default 1,000,000): past
/// it the oldest sends are dropped first, so memory stays bounded however many messages a host sends within the retention.
/// Sends are held in one ring of structs in the order recorded (grown by doubling up to the capacity), found through a
/// hash table chained newest first, so dropping the oldest send is a step of the ring and no object is made or freed
/// per send: each holds the contact's GUID, the channel name (interned), the provider's id and the idempotency key.
/// The <see cref="ProviderMessage"/> is built when found. Thread-safe (one lock).
/// </summary>
public sealed class InMemoryProviderMessageIndex : IProviderMessageIndex
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _channels = new(StringComparer.Ordinal);

    // Sends by sequence number: the live ones are _oldest .. _next - 1, the one numbered n at _ring[n % _ring.Length].
    // _buckets[h % length] is 1 + the number of the newest send with that bucket; each send links to the next older one
    // (Older), so a chain ends at a number below _oldest: a dropped send needs no unlinking. A send recorded again under
    // the same channel and id supersedes the older one, which stays in the ring until it is dropped.
    private Entry[] _ring;
    private long[] _buckets;
    private long _oldest;
    private long _next;
    private int _superseded; // live sends superseded by a newer one, so Count counts distinct sends
    private long _newestTicks = long.MinValue;

    /// <summary>The default <see cref="Capacity"/>: 1,000,000 sends (about 80 bytes each in the ring and its buckets, plus the provider id and idempotency key strings).</summary>
    public const int DefaultCapacity = 1_000_000;

    /// <summary>Creates an index holding at most <see cref="DefaultCapacity"/> sends.</summary>
    /// <param name="retention">How long a send is kept; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retention"/> is not positive.</exception>
    public InMemoryProviderMessageIndex(Duration retention)
        : this(retention, DefaultCapacity)
    {
    }

    /// <summary>Creates an index.</summary>
    /// <param name="retention">How long a send is kept; positive.</param>
    /// <param name="capacity">The most sends held; past it the oldest are dropped first. Positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retention"/> or <paramref name="capacity"/> is not positive.</exception>
    public InMemoryProviderMessageIndex(Duration retention, int capacity)
    {
        if (retention <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), retention, "The retention of the provider message index must be positive.");
        }

        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity of the provider message index must be positive (Campaigns:Delivery:ProviderMessageCapacity).");
        }

        Retention = retention;
        Capacity = capacity;
        _ring = new Entry[Math.Min(16, capacity)];
        _buckets = new long[_ring.Length];
    }

    /// <summary>How long a send is kept.</summary>
    public Duration Retention { get; }

    /// <summary>The most sends held; the oldest are dropped first past it.</summary>
    public int Capacity { get; }

    /// <summary>The sends held now (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return (int)(_next - _oldest) - _superseded;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask RecordAsync(string providerMessageId, ProviderMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(message.ContactId);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (ContactId.TryParse(message.ContactId, null, out var id) && string.Equals(id.ToString(), message.ContactId, StringComparison.Ordinal))
        {
            Record(providerMessageId, message.Channel, null, id.Value, message.IdempotencyKey, message.SentAt); // the id's own text: kept as its 16 bytes
        }
        else
        {
            Record(providerMessageId, message.Channel, message.ContactId, Guid.Empty, message.IdempotencyKey, message.SentAt);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Records a send without a <see cref="ProviderMessage"/> object or contact id text (the pipeline's path).</summary>
    internal void Record(string providerMessageId, ContactId contactId, string channel, string idempotencyKey, Instant sentAt) =>
        Record(providerMessageId, channel, null, contactId.Value, idempotencyKey, sentAt);

    private void Record(string providerMessageId, string channel, string? contactText, Guid contact, string idempotencyKey, Instant at)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(providerMessageId);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(idempotencyKey, "message.IdempotencyKey");
        var hash = Hash(channel, providerMessageId);
        var ticks = at.ToUnixTimeTicks();
        lock (_lock)
        {
            if (!_channels.TryGetValue(channel, out var interned))
            {
                interned = channel;
                _channels.Add(channel, channel);
            }

            if (ticks > _newestTicks)
            {
                Volatile.Write(ref _newestTicks, ticks);
            }

            var earlier = Find(interned, providerMessageId, hash);
            if (earlier >= 0)
            {
                _ring[earlier % _ring.Length].Superseded = true;
                _superseded++;
            }

            if (_next - _oldest == _ring.Length)
            {
                if (_ring.Length < Capacity)
                {
                    Grow();
                }
                else
                {
                    DropOldest();
                }
            }

            var number = _next++;
            ref var bucket = ref _buckets[(uint)hash % (uint)_buckets.Length];
            _ring[number % _ring.Length] = new Entry(bucket - 1, hash, interned, providerMessageId, contactText, contact, idempotencyKey, at);
            bucket = number + 1;

            // Past the retention, measured from the newest send.
            var cutoff = Cutoff();
            while (_next > _oldest && _ring[_oldest % _ring.Length].At < cutoff)
            {
                DropOldest();
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<ProviderMessage?> FindAsync(string channel, string providerMessageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(providerMessageId);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ProviderMessage?>(cancellationToken);
        }

        Entry sent;
        lock (_lock)
        {
            var found = Find(channel, providerMessageId, Hash(channel, providerMessageId));
            if (found < 0)
            {
                return new((ProviderMessage?)null);
            }

            sent = _ring[found % _ring.Length];
        }

        if (sent.At < Cutoff())
        {
            return new((ProviderMessage?)null);
        }

        return new(new ProviderMessage(sent.ContactText ?? new ContactId(sent.Contact).ToString(), sent.Channel, sent.IdempotencyKey, sent.At));
    }

    private static int Hash(string channel, string providerMessageId) =>
        HashCode.Combine(StringComparer.Ordinal.GetHashCode(channel), StringComparer.Ordinal.GetHashCode(providerMessageId));

    /// <summary>The number of the live, not superseded send of <paramref name="channel"/> and <paramref name="id"/>, or -1. Under the lock.</summary>
    private long Find(string channel, string id, int hash)
    {
        for (var n = _buckets[(uint)hash % (uint)_buckets.Length] - 1; n >= _oldest; n = _ring[n % _ring.Length].Older)
        {
            ref var e = ref _ring[n % _ring.Length];
            if (e.Hash == hash && !e.Superseded && string.Equals(e.Id, id, StringComparison.Ordinal) && string.Equals(e.Channel, channel, StringComparison.Ordinal))
            {
                return n;
            }
        }

        return -1;
    }

    private Instant Cutoff()
    {
        var newest = Interlocked.Read(ref _newestTicks);
        return newest == long.MinValue ? Instant.MinValue : Instant.FromUnixTimeTicks(newest) - Retention;
    }

    /// <summary>Doubles the ring (up to the capacity) and its buckets, and re-links the live sends oldest first. Under the lock.</summary>
    private void Grow()
    {
        var size = (int)Math.Min((long)_ring.Length * 2, Capacity);
        var ring = new Entry[size];
        var buckets = new long[size];
        for (var n = _oldest; n < _next; n++)
        {
            var e = _ring[n % _ring.Length];
            ref var bucket = ref buckets[(uint)e.Hash % (uint)size];
            ring[n % size] = e with { Older = bucket - 1 };
            bucket = n + 1;
        }

        _ring = ring;
        _buckets = buckets;
    }

    /// <summary>Drops the oldest send (its chain link needs no change: chains end below <see cref="_oldest"/>). Under the lock.</summary>
    private void DropOldest()
    {
        ref var oldest = ref _ring[_oldest % _ring.Length];
        if (oldest.Superseded)
        {
            _superseded--;
        }

        oldest = default;
        _oldest++;
    }

    /// <summary>One send: the number of the next older send in its bucket; the contact as its GUID (or, for an id that is not one, its text).</summary>
    private record struct Entry(long Older, int Hash, string Channel, string Id, string? ContactText, Guid Contact, string IdempotencyKey, Instant At)
    {
        public bool Superseded { get; set; }
    }
}
