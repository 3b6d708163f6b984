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
/// (<c>Campaigns:Delivery:ProviderMessageRetention</c>, default 30 days), measured from the newest send recorded.
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

    /// <summary>Creates an index.</summary>
    /// <param name="retention">How long a send is kept; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retention"/> is not positive.</exception>
    public InMemoryProviderMessageIndex(Duration retention)
    {
        if (retention <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), retention, "The retention of the provider message index must be positive.");
        }

        Retention = retention;
    }

    /// <summary>How long a send is kept.</summary>
    public Duration Retention { get; }

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

        _messages[(interned, providerMessageId)] = sent;
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

    /// <summary>Drops sends older than the retention (oldest first; a send recorded again later is kept by its newer entry).</summary>
    private void Prune()
    {
        if (!_order.TryPeek(out var head) || head.At >= Cutoff() || !_prune.TryEnter())
        {
            return;
        }

        try
        {
            var cutoff = Cutoff();
            while (_order.TryPeek(out head) && head.At < cutoff && _order.TryDequeue(out head))
            {
                var key = (head.Channel, head.Id);
                if (_messages.TryGetValue(key, out var current) && current.At < cutoff)
                {
                    _messages.TryRemove(new KeyValuePair<(string, string), Sent>(key, current));
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
