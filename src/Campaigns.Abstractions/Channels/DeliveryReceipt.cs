using NodaTime;

namespace Campaigns.Channels;

/// <summary>What happened to a message after the provider accepted it. The numeric values are stable.</summary>
public enum DeliveryReceiptKind
{
    /// <summary>Delivered to the recipient's mailbox, phone or account.</summary>
    Delivered = 0,

    /// <summary>Opened or read.</summary>
    Opened = 1,

    /// <summary>A link in it was clicked (see <see cref="DeliveryReceipt.Url"/>).</summary>
    Clicked = 2,

    /// <summary>Bounced: the address does not take mail (hard bounce) or not now (soft bounce, see <see cref="DeliveryReceipt.IsPermanent"/>).</summary>
    Bounced = 3,

    /// <summary>The recipient marked it as spam or complained.</summary>
    Complained = 4,

    /// <summary>The recipient unsubscribed through the provider; consent for the channel is revoked at once.</summary>
    Unsubscribed = 5,
}

/// <summary>
/// A provider callback turned into a normalized event. Adapters build it from their provider's webhook or report and
/// push it into an <see cref="IDeliveryReceiptSink"/>. Immutable.
/// </summary>
/// <param name="ChannelName">The channel instance the message went through.</param>
/// <param name="Kind">What happened.</param>
/// <param name="OccurredAt">When it happened, as the provider reports it (or when the callback arrived).</param>
public sealed record DeliveryReceipt(string ChannelName, DeliveryReceiptKind Kind, Instant OccurredAt)
{
    /// <summary>The provider's id of the message, as returned in <see cref="DeliveryResult.ProviderMessageId"/>.</summary>
    public string? ProviderMessageId { get; init; }

    /// <summary>The idempotency key of the send, when the provider echoes it back.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The recipient address, when the provider reports it.</summary>
    public string? Recipient { get; init; }

    /// <summary>The contact, when the adapter can tell.</summary>
    public string? ContactId { get; init; }

    /// <summary>For <see cref="DeliveryReceiptKind.Bounced"/>: true for a hard (permanent) bounce.</summary>
    public bool IsPermanent { get; init; }

    /// <summary>For <see cref="DeliveryReceiptKind.Clicked"/>: the link.</summary>
    public Uri? Url { get; init; }

    /// <summary>The provider's words, for logs.</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// Where adapters push <see cref="DeliveryReceipt"/>s. The SDK's implementation turns them into contact events
/// (an unsubscribe or complaint revokes consent at once). Implementations are thread-safe.
/// </summary>
public interface IDeliveryReceiptSink
{
    /// <summary>Takes one receipt.</summary>
    /// <param name="receipt">The receipt.</param>
    /// <param name="cancellationToken">Cancels the hand-over.</param>
    /// <returns>Completes when the receipt is recorded.</returns>
    ValueTask OnReceiptAsync(DeliveryReceipt receipt, CancellationToken cancellationToken);
}
