namespace Campaigns.Channels;

/// <summary>What a provider knows about an earlier send, asked by its client reference (the idempotency key).</summary>
public enum ChannelDeliveryLookupStatus
{
    /// <summary>The provider could not tell (not reachable, the lookup timed out, the reference expired from its records).</summary>
    Unknown = 0,

    /// <summary>The provider has no message with this reference: it was never accepted.</summary>
    NotFound = 1,

    /// <summary>The provider accepted a message with this reference.</summary>
    Sent = 2,
}

/// <summary>The answer of <see cref="IChannelDeliveryLookup.LookupAsync"/>. Immutable.</summary>
public readonly record struct ChannelDeliveryLookupResult
{
    private ChannelDeliveryLookupResult(ChannelDeliveryLookupStatus status, string? providerMessageId, string? detail)
    {
        Status = status;
        ProviderMessageId = providerMessageId;
        Detail = detail;
    }

    /// <summary>What the provider knows.</summary>
    public ChannelDeliveryLookupStatus Status { get; }

    /// <summary>For <see cref="ChannelDeliveryLookupStatus.Sent"/>: the provider's id of the message, when it gives one.</summary>
    public string? ProviderMessageId { get; }

    /// <summary>The provider's words, for logs; no secrets.</summary>
    public string? Detail { get; }

    /// <summary>The provider accepted a message with the reference.</summary>
    /// <param name="providerMessageId">Its id at the provider, when it gives one.</param>
    /// <returns>The result.</returns>
    public static ChannelDeliveryLookupResult Sent(string? providerMessageId) => new(ChannelDeliveryLookupStatus.Sent, providerMessageId, null);

    /// <summary>The provider has no message with the reference.</summary>
    /// <returns>The result.</returns>
    public static ChannelDeliveryLookupResult NotFound() => new(ChannelDeliveryLookupStatus.NotFound, null, null);

    /// <summary>The provider could not tell.</summary>
    /// <param name="detail">Why, for logs.</param>
    /// <returns>The result.</returns>
    public static ChannelDeliveryLookupResult Unknown(string? detail = null) => new(ChannelDeliveryLookupStatus.Unknown, null, detail);

    /// <inheritdoc />
    public override string ToString() => Status switch
    {
        ChannelDeliveryLookupStatus.Sent => $"Sent({ProviderMessageId})",
        ChannelDeliveryLookupStatus.NotFound => "NotFound",
        _ => Detail is null ? "Unknown" : $"Unknown({Detail})",
    };
}

/// <summary>
/// An optional interface of an <see cref="IChannel"/> whose provider can be asked whether it accepted a message, by
/// the client reference the adapter sent with it (<see cref="ChannelMessage.IdempotencyKey"/>, e.g. Alibaba Cloud
/// SMS <c>OutId</c>). The delivery pipeline asks it when a send is in doubt (a host died after handing the message to
/// the channel and before recording the outcome): sent → recorded as sent without resending; not found → sent.
/// Implementations are thread-safe.
/// </summary>
public interface IChannelDeliveryLookup
{
    /// <summary>Asks the provider about the message sent with <paramref name="idempotencyKey"/>.</summary>
    /// <param name="idempotencyKey">The key (client reference) the message was sent with.</param>
    /// <param name="cancellationToken">Cancels; throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>Sent (with the provider's id), not found, or unknown. Expected failures (provider down) are <see cref="ChannelDeliveryLookupStatus.Unknown"/>, not exceptions.</returns>
    ValueTask<ChannelDeliveryLookupResult> LookupAsync(string idempotencyKey, CancellationToken cancellationToken);
}
