using System.Collections.Concurrent;
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
/// Each send is held compactly (the contact's GUID, the idempotency key and the time inline in the dictionary's node, the channel name
/// interned); the <see cref="ProviderMessage"/> is built when found. Thread-safe.
/// </summary>
public sealed class InMemoryProviderMessageIndex : IProviderMessageIndex
{
    private readonly ConcurrentDictionary<(string Channel, string Id), Sent> _messages = new();
    private readonly ConcurrentDictionary<string, string> _channels = new(StringComparer.Ordinal);

    // The sends in the order recorded: a ring buffer (grown by doubling up to the capacity) under _order's lock; the
    // oldest item is dropped when it is full or past the retention. A send recorded again has two items: the older
    // one removes nothing (its entry was replaced).
    private readonly Lock _order = new();
    private Recorded[] _ring;
    private int _head;
    private int _queued;
    private long _newestTicks = long.MinValue;

    /// <summary>The default <see cref="Capacity"/>: 1,000,000 sends (about 150 MB).</summary>
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
        _ring = new Recorded[Math.Min(16, capacity)];
    }

    /// <summary>How long a send is kept.</summary>
    public Duration Retention { get; }

    /// <summary>The most sends held; the oldest are dropped first past it.</summary>
    public int Capacity { get; }

    /// <summary>The sends held now (for tests and diagnostics).</summary>
    public int Count => _messages.Count;

    /// <inheritdoc />
    public ValueTask RecordAsync(string providerMessageId, ProviderMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(message.ContactId);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var sent = ContactId.TryParse(message.ContactId, null, out var id) && string.Equals(id.ToString(), message.ContactId, StringComparison.Ordinal)
            ? new Sent(null, id.Value, message.IdempotencyKey, message.SentAt) // the id's own text: kept as its 16 bytes
            : new Sent(message.ContactId, Guid.Empty, message.IdempotencyKey, message.SentAt);
        Record(providerMessageId, message.Channel, sent);
        return ValueTask.CompletedTask;
    }

    /// <summary>Records a send without a <see cref="ProviderMessage"/> object or contact id text (the pipeline's path).</summary>
    internal void Record(string providerMessageId, ContactId contactId, string channel, string idempotencyKey, Instant sentAt) =>
        Record(providerMessageId, channel, new Sent(null, contactId.Value, idempotencyKey, sentAt));

    private void Record(string providerMessageId, string channel, Sent sent)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(providerMessageId);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(sent.IdempotencyKey, "message.IdempotencyKey");
        if (!_channels.TryGetValue(channel, out var interned))
        {
            interned = _channels.GetOrAdd(channel, channel);
        }

        var key = (interned, providerMessageId);
        var ticks = sent.At.ToUnixTimeTicks();
        lock (_order)
        {
            if (ticks > _newestTicks)
            {
                Volatile.Write(ref _newestTicks, ticks);
            }

            if (_queued == _ring.Length)
            {
                if (_ring.Length < Capacity)
                {
                    Grow();
                }
                else
                {
                    DropOldest(expired: false, default);
                }
            }

            _messages[key] = sent;
            _ring[(_head + _queued) % _ring.Length] = new Recorded(sent.At, interned, providerMessageId);
            _queued++;

            // Past the retention, measured from the newest send.
            var cutoff = Cutoff();
            while (_queued > 0 && _ring[_head].At < cutoff)
            {
                DropOldest(expired: true, cutoff);
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

        if (!_messages.TryGetValue((channel, providerMessageId), out var sent) || sent.At < Cutoff())
        {
            return new((ProviderMessage?)null);
        }

        return new(new ProviderMessage(sent.ContactText ?? new ContactId(sent.Contact).ToString(), _channels.TryGetValue(channel, out var interned) ? interned : channel, sent.IdempotencyKey, sent.At));
    }

    private Instant Cutoff()
    {
        var newest = Interlocked.Read(ref _newestTicks);
        return newest == long.MinValue ? Instant.MinValue : Instant.FromUnixTimeTicks(newest) - Retention;
    }

    /// <summary>Doubles the ring (up to the capacity), oldest first. Under the lock.</summary>
    private void Grow()
    {
        var grown = new Recorded[(int)Math.Min((long)_ring.Length * 2, Capacity)];
        for (var i = 0; i < _queued; i++)
        {
            grown[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = grown;
        _head = 0;
    }

    /// <summary>
    /// Drops the oldest item and the send it recorded — unless that send was recorded again since (a newer entry under the
    /// same id), or, for <paramref name="expired"/>, is not past <paramref name="cutoff"/>. Under the lock.
    /// </summary>
    private void DropOldest(bool expired, Instant cutoff)
    {
        var oldest = _ring[_head];
        _ring[_head] = default;
        _head = (_head + 1) % _ring.Length;
        _queued--;
        var key = (oldest.Channel, oldest.Id);
        if (_messages.TryGetValue(key, out var current) && (expired ? current.At < cutoff : current.At == oldest.At))
        {
            _messages.TryRemove(new KeyValuePair<(string, string), Sent>(key, current));
        }
    }

    /// <summary>One item of the order ring: when, and the key of the send recorded.</summary>
    private readonly record struct Recorded(Instant At, string Channel, string Id);

    /// <summary>One send, inline in the dictionary's node: the contact as its GUID (or, for an id that is not one, its text).</summary>
    private readonly record struct Sent(string? ContactText, Guid Contact, string IdempotencyKey, Instant At);
}
