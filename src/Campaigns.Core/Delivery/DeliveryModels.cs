using Campaigns.Channels;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>One message to deliver to one contact through one channel. Immutable.</summary>
public sealed record DeliveryRequest
{
    private static readonly Dictionary<string, string> NoValues = new(0, StringComparer.Ordinal);

    /// <summary>
    /// Identifies this send (e.g. <c>journey-7/step-2/contact-42</c>); invoking the pipeline again with the same key
    /// sends at most once and returns the first outcome. At most 200 characters.
    /// </summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>The contact: its consents, time zone and identities (the address is taken from them).</summary>
    public required Contact Contact { get; init; }

    /// <summary>The channel instance name, e.g. <c>email</c>, <c>sms</c>.</summary>
    public required string Channel { get; init; }

    /// <summary>The (approved) template.</summary>
    public required MessageTemplate Template { get; init; }

    /// <summary>The variable values for this contact (e.g. <c>name</c>, <c>product</c>, <c>link</c>).</summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = NoValues;

    /// <summary>The sending task this send belongs to (its execution record), or null.</summary>
    public string? TaskId { get; init; }

    /// <summary>The campaign, when any (carried to the message).</summary>
    public CampaignId? CampaignId { get; init; }

    /// <summary>The address, when not taken from the contact's identities (needed for custom and URL channels).</summary>
    public string? Recipient { get; init; }

    /// <summary>A one-click unsubscribe URL for the message, or null.</summary>
    public Uri? UnsubscribeUrl { get; init; }
}

/// <summary>What the pipeline did with a request.</summary>
public enum DeliveryStatus
{
    /// <summary>The provider accepted the message.</summary>
    Sent = 0,

    /// <summary>Outside the send window: nothing was sent; invoke again at <see cref="DeliveryOutcome.DeferredUntil"/> with the same key.</summary>
    Deferred = 1,

    /// <summary>The gate refused it (no consent, do-not-contact, frequency cap, no address); see <see cref="DeliveryOutcome.SuppressedBy"/>.</summary>
    Suppressed = 2,

    /// <summary>The channel (or the content rules) failed it; see <see cref="DeliveryOutcome.Result"/>.</summary>
    Failed = 3,

    /// <summary>The sending task is paused (an alert fired); nothing was done; invoke again after resuming.</summary>
    Paused = 4,

    /// <summary>Another invocation with the same key is in progress; nothing was done.</summary>
    InProgress = 5,

    /// <summary>
    /// An earlier attempt with this key is in doubt (its host died after claiming the key and before recording an
    /// outcome; the provider may have accepted the message), the channel can neither deduplicate by key nor be asked,
    /// and its <see cref="ChannelDeliveryOptions.InDoubtPolicy"/> is <see cref="InDoubtPolicy.AtMostOnce"/>: the
    /// message was sent once or not at all, and is not sent again. Final (recorded for the key); an alert is raised
    /// (<see cref="IDeliveryAlertObserver.OnInDoubtAsync"/>).
    /// </summary>
    Unknown = 6,
}

/// <summary>A check of the delivery gate, in the order they run.</summary>
public enum GateCheck
{
    /// <summary>The contact consented to the channel (its latest consent record is a grant).</summary>
    Consent = 0,

    /// <summary>The contact is not on the do-not-contact list.</summary>
    DoNotContact = 1,

    /// <summary>Frequency caps, per channel and global, rolling and per calendar day in the contact's zone.</summary>
    FrequencyCap = 2,

    /// <summary>The send window and quiet hours in the contact's zone.</summary>
    SendWindow = 3,

    /// <summary>The contact has an address for the channel.</summary>
    Address = 4,

    /// <summary>The rendered content passes the content rules.</summary>
    Content = 5,
}

/// <summary>One decision of the gate, as a value.</summary>
/// <param name="Check">Which check.</param>
/// <param name="Passed">Whether it passed.</param>
/// <param name="Detail">Why, in a sentence (e.g. <c>consent for 'sms' withdrawn at 2026-05-01T08:00:00Z (unsubscribe link)</c>).</param>
public readonly record struct GateDecision(GateCheck Check, bool Passed, string Detail);

/// <summary>The outcome of one request: what happened, every gate decision, and the channel's result. Immutable.</summary>
public sealed record DeliveryOutcome
{
    /// <summary>The request's key.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>What happened.</summary>
    public required DeliveryStatus Status { get; init; }

    /// <summary>The channel that sent (the secondary after a failover), or the requested one.</summary>
    public required string Channel { get; init; }

    /// <summary>When the pipeline decided (the clock's instant).</summary>
    public required Instant At { get; init; }

    /// <summary>The gate decisions, in order; the last failed one is the reason for suppression or deferral.</summary>
    public IReadOnlyList<GateDecision> Decisions { get; init; } = [];

    /// <summary>The channel's result when a send was tried (or a content failure), else null.</summary>
    public DeliveryResult? Result { get; init; }

    /// <summary>For <see cref="DeliveryStatus.Deferred"/>: the next allowed instant.</summary>
    public Instant? DeferredUntil { get; init; }

    /// <summary>For <see cref="DeliveryStatus.Suppressed"/>: the check that refused.</summary>
    public GateCheck? SuppressedBy { get; init; }

    /// <summary>Whether the message went through the failover (secondary) channel.</summary>
    public bool FailedOver { get; init; }

    /// <summary>Whether this outcome was recorded by an earlier invocation with the same key (nothing was sent now).</summary>
    public bool IsReplay { get; init; }

    /// <summary>The content findings (warnings, or the errors that failed the send).</summary>
    public ContentReport? Content { get; init; }

    /// <summary>When an earlier attempt with this key was in doubt: how the pipeline resolved it; null otherwise.</summary>
    public InDoubtResolution? InDoubt { get; init; }

    /// <inheritdoc />
    public override string ToString() => Status switch
    {
        DeliveryStatus.Deferred => $"Deferred until {DeferredUntil}",
        DeliveryStatus.Suppressed => $"Suppressed by {SuppressedBy}: {Decisions.LastOrDefault(d => !d.Passed).Detail}",
        DeliveryStatus.Sent or DeliveryStatus.Failed => $"{Status} via {Channel}: {Result}",
        DeliveryStatus.Unknown => $"Unknown via {Channel}: an earlier attempt is in doubt; not resent (at most once)",
        _ => Status.ToString(),
    };
}

/// <summary>The delivery pipeline: gate, render, content rules, idempotency, resilience, records, metrics.</summary>
public interface IDeliveryPipeline
{
    /// <summary>
    /// Delivers one request. In order: idempotency (a completed key returns its first outcome), the task's pause flag,
    /// consent, do-not-contact, frequency caps, the send window (outside it the outcome is
    /// <see cref="DeliveryStatus.Deferred"/> with the next allowed instant — nothing is dropped), address, render and
    /// content rules, then the channel through its resilience pipeline (retry, breaker, rate limit, timeout,
    /// failover). Expected failures are outcomes, not exceptions. Thread-safe.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels; throws <see cref="OperationCanceledException"/> and releases the key.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="KeyNotFoundException">No channel has the request's name.</exception>
    ValueTask<DeliveryOutcome> DeliverAsync(DeliveryRequest request, CancellationToken cancellationToken);
}
