namespace Campaigns.Channels.Webhook;

/// <summary>
/// Settings of one webhook channel instance, bound from configuration (by convention <c>Campaigns:Channels:Webhook</c>)
/// or set in code. Validated when the host starts; a bad setting fails the start with a message naming it.
/// </summary>
public sealed class WebhookChannelOptions
{
    /// <summary>The absolute http(s) URL every message is POSTed to. Required.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>
    /// The signing secrets, each <c>whsec_</c> followed by base64 of 24–64 random bytes. At least one. During a rotation list
    /// the new and the old secret: every request then carries one signature per secret, space-separated, and the receiver
    /// accepts any. Never logged.
    /// </summary>
    public IList<string> Secrets { get; } = [];

    /// <summary>How long one request may take, 1 s – 5 min (default 10 s); when it expires the result is <c>Failed(Timeout, retryable: true)</c>.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The <c>type</c> field of the JSON payload (default <c>campaigns.message</c>).</summary>
    public string EventType { get; set; } = "campaigns.message";

    /// <summary>
    /// Whether the receiver drops a request whose <c>webhook-id</c> it has seen (default false). The <c>webhook-id</c>
    /// header carries the send's idempotency key, so a receiver that deduplicates on it (as the Standard Webhooks
    /// specification advises) makes the channel honour idempotency keys: set this to true only when it does, and the
    /// channel then declares <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/>, so a send left in doubt by a
    /// crashed host is sent again safely instead of being reported as unknown.
    /// </summary>
    public bool ReceiverDeduplicates { get; set; }
}
