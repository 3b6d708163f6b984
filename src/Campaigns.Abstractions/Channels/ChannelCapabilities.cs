namespace Campaigns.Channels;

/// <summary>The kind of address a channel delivers to; it tells a pipeline which contact field to use.</summary>
public enum ChannelAddressKind
{
    /// <summary>An adapter-specific address (a gateway's own id, a recipient carried in a webhook payload).</summary>
    Custom = 0,

    /// <summary>An e-mail address (RFC 5322 addr-spec, e.g. <c>li.lei@example.com</c>).</summary>
    Email = 1,

    /// <summary>A phone number in E.164 form (e.g. <c>+8613800138000</c>).</summary>
    Phone = 2,

    /// <summary>A WeChat official account's OpenID of the follower.</summary>
    WeChatOpenId = 3,

    /// <summary>A WeCom (enterprise WeChat) user id.</summary>
    WeComUserId = 4,

    /// <summary>An absolute http(s) URL.</summary>
    Url = 5,
}

/// <summary>What a channel can carry. Immutable; an adapter returns the same instance for its lifetime.</summary>
public sealed record ChannelCapabilities
{
    /// <summary>The kind of address in <see cref="ChannelMessage.Recipient"/>.</summary>
    public required ChannelAddressKind AddressKind { get; init; }

    /// <summary>
    /// The longest <see cref="ChannelMessage.TextBody"/> the channel accepts, in UTF-16 code units (<see cref="string.Length"/>);
    /// null when there is no limit. A longer body fails with <see cref="DeliveryFailureReason.ContentRejected"/>.
    /// </summary>
    public int? MaxContentLength { get; init; }

    /// <summary>Whether <see cref="ChannelMessage.HtmlBody"/> (rich content) is delivered; when false it is ignored.</summary>
    public bool SupportsRichContent { get; init; }

    /// <summary>Whether the adapter reports <see cref="DeliveryReceipt"/>s to an <see cref="IDeliveryReceiptSink"/>.</summary>
    public bool SupportsDeliveryReceipts { get; init; }

    /// <summary>Whether <see cref="IChannel.SendBatchAsync"/> uses a provider batch API (rather than the one-by-one default).</summary>
    public bool SupportsBatch { get; init; }

    /// <summary>The most messages one <see cref="IChannel.SendBatchAsync"/> call takes; null when there is no limit.</summary>
    public int? MaxBatchSize { get; init; }

    /// <summary>
    /// Whether the provider honours <see cref="ChannelMessage.IdempotencyKey"/>: a second send with the same key is dropped
    /// by the provider (and answered as accepted), so resending after a crash can never deliver twice. Set it only when
    /// the provider documents such deduplication for at least as long as a send can stay in doubt (the pipeline's
    /// idempotency lease plus a host restart). Used to resolve an in-doubt send; see <see cref="IChannelDeliveryLookup"/>.
    /// </summary>
    public bool HonoursIdempotencyKeys { get; init; }
}
