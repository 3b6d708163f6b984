using NodaTime;

namespace Campaigns.Channels;

/// <summary>Why a send failed. The numeric values are stable (they may be stored).</summary>
public enum DeliveryFailureReason
{
    /// <summary>The adapter could not classify the failure.</summary>
    Unknown = 0,

    /// <summary>The address is malformed or does not exist (e.g. SMTP 550 on the recipient). Not retryable.</summary>
    InvalidAddress = 1,

    /// <summary>The recipient has unsubscribed or blocked the sender at the provider (e.g. webhook 410). Not retryable; consent should be revoked.</summary>
    Unsubscribed = 2,

    /// <summary>The provider asked to slow down (e.g. HTTP 429); see <see cref="DeliveryResult.RetryAfter"/>. Retryable.</summary>
    RateLimited = 3,

    /// <summary>The content was refused (too long, banned, malformed; HTTP 4xx). Not retryable without a change.</summary>
    ContentRejected = 4,

    /// <summary>The provider failed or could not be reached (HTTP 5xx, SMTP 4xx, dropped connection). Usually retryable.</summary>
    ProviderError = 5,

    /// <summary>
    /// The request may have reached the provider but no answer came: not within the adapter's timeout, or the connection
    /// ended before a valid answer. Retryable; the message may have been delivered, so the send is in doubt (the pipeline
    /// retries it only on a channel that honours idempotency keys or is at-least-once). A failure that certainly sent
    /// nothing (no connection) is a <see cref="ProviderError"/>.
    /// </summary>
    Timeout = 6,

    /// <summary>The provider refused the sender's credentials or configuration (e.g. SMTP 535). Not retryable until fixed.</summary>
    Unauthorized = 7,
}

/// <summary>
/// The outcome of one send, as a value: <see cref="Accepted"/> by the provider (with its message id), or
/// <see cref="Failed(DeliveryFailureReason, bool, string?, Duration?)"/> with a reason and whether a retry may succeed.
/// "Accepted" means the provider took the message; delivery to the person is reported later by a <see cref="DeliveryReceipt"/>.
/// </summary>
/// <remarks>The <c>default</c> value is a non-retryable failure for an <see cref="DeliveryFailureReason.Unknown"/> reason.</remarks>
public readonly record struct DeliveryResult
{
    private DeliveryResult(bool accepted, string? providerMessageId, DeliveryFailureReason reason, bool retryable, string? detail, Duration? retryAfter)
    {
        IsAccepted = accepted;
        ProviderMessageId = providerMessageId;
        FailureReason = reason;
        IsRetryable = retryable;
        Detail = detail;
        RetryAfter = retryAfter;
    }

    /// <summary>Whether the provider accepted the message.</summary>
    public bool IsAccepted { get; }

    /// <summary>The provider's id for the accepted message (for receipts), when it gives one.</summary>
    public string? ProviderMessageId { get; }

    /// <summary>Why the send failed; meaningless when <see cref="IsAccepted"/>.</summary>
    public DeliveryFailureReason FailureReason { get; }

    /// <summary>Whether sending the same message again may succeed; false when accepted.</summary>
    public bool IsRetryable { get; }

    /// <summary>The provider's words (status code and text), for logs; never contains secrets.</summary>
    public string? Detail { get; }

    /// <summary>How long the provider asked to wait before the next try (HTTP Retry-After), when it said.</summary>
    public Duration? RetryAfter { get; }

    /// <summary>The provider accepted the message.</summary>
    /// <param name="providerMessageId">The provider's id for it, when it gives one.</param>
    /// <returns>An accepted result.</returns>
    public static DeliveryResult Accepted(string? providerMessageId) => new(true, providerMessageId, DeliveryFailureReason.Unknown, false, null, null);

    /// <summary>The send failed in an expected way.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="retryable">Whether a retry of the same message may succeed.</param>
    /// <param name="detail">The provider's words, for logs; no secrets.</param>
    /// <param name="retryAfter">How long the provider asked to wait, when it said; not negative.</param>
    /// <returns>A failed result.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retryAfter"/> is negative.</exception>
    public static DeliveryResult Failed(DeliveryFailureReason reason, bool retryable, string? detail = null, Duration? retryAfter = null)
    {
        if (retryAfter < Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retryAfter), retryAfter, "Retry-after cannot be negative.");
        }

        return new(false, null, reason, retryable, detail, retryAfter);
    }

    /// <summary>The provider asked to slow down; retryable.</summary>
    /// <param name="retryAfter">How long it asked to wait, when it said.</param>
    /// <param name="detail">The provider's words.</param>
    /// <returns>A failed, retryable result with <see cref="DeliveryFailureReason.RateLimited"/>.</returns>
    public static DeliveryResult RateLimited(Duration? retryAfter, string? detail = null) =>
        Failed(DeliveryFailureReason.RateLimited, retryable: true, detail, retryAfter);

    /// <inheritdoc />
    public override string ToString() => IsAccepted
        ? $"Accepted({ProviderMessageId})"
        : $"Failed({FailureReason}, retryable: {IsRetryable}{(RetryAfter is { } r ? $", retry after {r}" : "")}{(Detail is null ? "" : $", {Detail}")})";
}
