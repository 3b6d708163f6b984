namespace Campaigns.Channels;

/// <summary>
/// A channel adapter: sends one rendered message to one recipient through a provider (an SMTP server, an SMS gateway,
/// a webhook endpoint, ...). Implement it against <c>Campaigns.Abstractions</c> alone and register it with
/// <c>builder.AddChannel&lt;TChannel&gt;(name)</c>; check it with <c>ChannelConformanceTests</c> from <c>Campaigns.Testing</c>.
/// </summary>
/// <remarks>
/// <para>The contract:</para>
/// <list type="bullet">
/// <item>An <b>expected</b> failure (bad address, unsubscribed, rate limited, rejected content, provider down, provider
/// too slow) is returned as <see cref="DeliveryResult.Failed(DeliveryFailureReason, bool, string?, NodaTime.Duration?)"/>,
/// never thrown. Exceptions are for programming errors (a null message: <see cref="ArgumentNullException"/>) and for
/// cancellation.</item>
/// <item><b>Cancellation</b>: when the caller's token is cancelled, <see cref="SendAsync"/> throws
/// <see cref="OperationCanceledException"/> (the caller asked to stop; it is not a delivery outcome). When the
/// adapter's own timeout expires while the caller's token is not cancelled, the result is
/// <c>Failed(Timeout, retryable: true)</c>.</item>
/// <item>The <see cref="ChannelMessage.IdempotencyKey"/> is carried to the provider wherever the protocol has a place
/// for it (an SMTP Message-ID, a webhook id, a provider's client reference), so a provider or receiver can drop
/// a duplicate of a retried send.</item>
/// <item><see cref="Capabilities"/> tell the truth: a message that breaks them (too long, wrong address kind) fails
/// with <see cref="DeliveryFailureReason.ContentRejected"/> or <see cref="DeliveryFailureReason.InvalidAddress"/>
/// before any provider call.</item>
/// </list>
/// <para>Implementations are used concurrently by several senders and must be thread-safe.</para>
/// </remarks>
public interface IChannel
{
    /// <summary>The name this channel instance is registered under (e.g. <c>email</c>, <c>my-sms</c>); unique within a host.</summary>
    string Name { get; }

    /// <summary>What this channel can carry; constant for the lifetime of the instance.</summary>
    ChannelCapabilities Capabilities { get; }

    /// <summary>Sends one message.</summary>
    /// <param name="message">The rendered message.</param>
    /// <param name="cancellationToken">Cancels the send; an adapter then throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>Accepted with the provider's message id, or failed with a reason and whether a retry may succeed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Sends several messages and returns one result per message, in the same order. The default sends them one
    /// after another through <see cref="SendAsync"/>; an adapter whose provider has a batch API overrides it and sets
    /// <see cref="ChannelCapabilities.SupportsBatch"/>.
    /// </summary>
    /// <param name="messages">The messages; at most <see cref="ChannelCapabilities.MaxBatchSize"/> when that is set.</param>
    /// <param name="cancellationToken">Cancels the remaining sends; throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>One result per message, in order.</returns>
    async ValueTask<IReadOnlyList<DeliveryResult>> SendBatchAsync(IReadOnlyList<ChannelMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var results = new DeliveryResult[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            results[i] = await SendAsync(messages[i], cancellationToken).ConfigureAwait(false);
        }

        return results;
    }
}
