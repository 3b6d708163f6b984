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
    private readonly ConcurrentQueue<(Instant At, string Channel, string Id)> _order = new();
    private readonly ConcurrentDictionary<string, string> _channels = new(StringComparer.Ordinal);
    private readonly Lock _prune = new();
    private long _newestTicks = long.MinValue;
    private int _count; // sends held: kept here because ConcurrentDictionary.Count takes every lock

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
    }

    /// <summary>How long a send is kept.</summary>
    public Duration Retention { get; }

    /// <summary>The most sends held; the oldest are dropped first past it.</summary>
    public int Capacity { get; }

    /// <summary>The sends held now (for tests and diagnostics).</summary>
    public int Count => Volatile.Read(ref _count);

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
        while (true)
        {
            if (_messages.TryAdd(key, sent))
            {
                Interlocked.Increment(ref _count);
                break;
            }

            if (_messages.TryGetValue(key, out var current) && _messages.TryUpdate(key, sent, current))
            {
                break; // recorded again: the newer send replaces the older; the count is unchanged
            }
        }

        _order.Enqueue((sent.At, interned, providerMessageId));
        var ticks = sent.At.ToUnixTimeTicks();
        long newest;
        while ((newest = Interlocked.Read(ref _newestTicks)) < ticks && Interlocked.CompareExchange(ref _newestTicks, ticks, newest) != newest)
        {
        }

        Prune();
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

    /// <summary>
    /// Drops sends older than the retention, and the oldest sends while more than <see cref="Capacity"/> are held
    /// (oldest first; a send recorded again later is kept by its newer entry).
    /// </summary>
    private void Prune()
    {
        if (Volatile.Read(ref _count) <= Capacity && (!_order.TryPeek(out var first) || first.At >= Cutoff()))
        {
            return;
        }

        if (!_prune.TryEnter())
        {
            return; // another thread is pruning
        }

        try
        {
            var cutoff = Cutoff();
            while (_order.TryPeek(out var head))
            {
                var expired = head.At < cutoff;
                if (!expired && Volatile.Read(ref _count) <= Capacity)
                {
                    break;
                }

                if (!_order.TryDequeue(out head))
                {
                    break;
                }

                // Remove the entry this queue item recorded: not a newer send recorded again under the same id.
                var key = (head.Channel, head.Id);
                if (_messages.TryGetValue(key, out var current) && (expired ? current.At < cutoff : current.At == head.At)
                    && _messages.TryRemove(new KeyValuePair<(string, string), Sent>(key, current)))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }
        finally
        {
            _prune.Exit();
        }
    }

    /// <summary>One send, inline in the dictionary's node: the contact as its GUID (or, for an id that is not one, its text).</summary>
    private readonly record struct Sent(string? ContactText, Guid Contact, string IdempotencyKey, Instant At);
}
