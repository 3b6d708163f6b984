namespace Campaigns.Channels;

/// <summary>
/// One rendered message for one recipient, as a channel sends it. Immutable; safe to share between threads.
/// </summary>
public sealed record ChannelMessage
{
    private static readonly Dictionary<string, string> Empty = new(0, StringComparer.Ordinal);

    /// <summary>Creates a message.</summary>
    /// <param name="idempotencyKey">
    /// Identifies this send (e.g. journey step + contact + message); a retry of the same send carries the same key.
    /// Not empty; at most 200 characters.
    /// </param>
    /// <param name="recipient">The address, of the channel's <see cref="ChannelCapabilities.AddressKind"/>. Not empty.</param>
    /// <param name="textBody">The plain-text body (also the SMS or chat text). May be empty, not null.</param>
    /// <exception cref="ArgumentException">A key or recipient is empty or whitespace, or the key is longer than 200 characters.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public ChannelMessage(string idempotencyKey, string recipient, string textBody)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(recipient);
        ArgumentNullException.ThrowIfNull(textBody);
        if (idempotencyKey.Length > MaxIdempotencyKeyLength)
        {
            throw new ArgumentException($"An idempotency key is at most {MaxIdempotencyKeyLength} characters; got {idempotencyKey.Length}.", nameof(idempotencyKey));
        }

        IdempotencyKey = idempotencyKey;
        Recipient = recipient;
        TextBody = textBody;
    }

    /// <summary>The longest idempotency key accepted, in characters (200).</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>Identifies this send; a retry carries the same key. Adapters pass it to the provider where the protocol allows.</summary>
    public string IdempotencyKey { get; }

    /// <summary>The recipient's address, of the channel's <see cref="ChannelCapabilities.AddressKind"/>.</summary>
    public string Recipient { get; }

    /// <summary>The plain-text body.</summary>
    public string TextBody { get; }

    /// <summary>The contact the message is for, when known (for receipts and records); opaque to adapters.</summary>
    public string? ContactId { get; init; }

    /// <summary>The campaign the message belongs to, when any.</summary>
    public CampaignId? CampaignId { get; init; }

    /// <summary>The subject (e-mail subject, card title); null when the channel has none.</summary>
    public string? Subject { get; init; }

    /// <summary>The rich (HTML) body; used only by channels with <see cref="ChannelCapabilities.SupportsRichContent"/>.</summary>
    public string? HtmlBody { get; init; }

    /// <summary>
    /// A one-click unsubscribe URL (absolute https). E-mail adapters turn it into <c>List-Unsubscribe</c> and
    /// <c>List-Unsubscribe-Post</c> headers (RFC 8058); others may carry it in their payload.
    /// </summary>
    public Uri? UnsubscribeUrl { get; init; }

    /// <summary>Protocol headers to add (e.g. e-mail headers); names compared ordinally. Adapters that have no headers ignore them.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = Empty;

    /// <summary>Free data carried along (e.g. journey and step ids); adapters may forward it (a webhook payload does) or ignore it.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = Empty;
}
