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

    /// <summary>
    /// The key is held: another invocation with it is in progress (nothing was done), or this invocation's send is in
    /// doubt — the channel timed out, the provider may have accepted the message, and the channel may not simply send
    /// again (it neither honours idempotency keys nor has <see cref="InDoubtPolicy.AtLeastOnce"/>); then
    /// <see cref="DeliveryOutcome.Result"/> is the timeout and the key stays claimed until its lease expires, when the next
    /// attempt resolves it as in doubt. Invoke again later with the same key.
    /// </summary>
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

/// <summary>
/// One decision of the gate, as a value. The <see cref="Detail"/> sentence of a passed check is formatted only when read
/// (the pipeline makes several decisions per message and most are never looked at); equality compares the check, the
/// verdict and the detail text. Immutable and thread-safe.
/// </summary>
public readonly struct GateDecision : IEquatable<GateDecision>
{
    private readonly string? _detail;
    private readonly object? _state1;
    private readonly object? _state2;
    private readonly Func<object?, object?, string>? _format;

    /// <summary>Creates a decision.</summary>
    /// <param name="check">Which check.</param>
    /// <param name="passed">Whether it passed.</param>
    /// <param name="detail">Why, in a sentence.</param>
    [System.Text.Json.Serialization.JsonConstructor]
    public GateDecision(GateCheck check, bool passed, string detail)
    {
        Check = check;
        Passed = passed;
        _detail = detail;
        _state1 = null;
        _state2 = null;
        _format = null;
    }

    /// <summary>Creates a decision whose detail is formatted from two values when first read (not cached: the struct is copied).</summary>
    private GateDecision(GateCheck check, bool passed, Func<object?, object?, string> format, object? state1, object? state2)
    {
        Check = check;
        Passed = passed;
        _detail = null;
        _format = format;
        _state1 = state1;
        _state2 = state2;
    }

    /// <summary>A decision whose detail is built by <paramref name="format"/> (a static lambda) from two values when <see cref="Detail"/> is read.</summary>
    internal static GateDecision Lazy(GateCheck check, bool passed, Func<object?, object?, string> format, object? state1, object? state2) =>
        new(check, passed, format, state1, state2);

    /// <summary>Which check.</summary>
    public GateCheck Check { get; }

    /// <summary>Whether it passed.</summary>
    public bool Passed { get; }

    /// <summary>Why, in a sentence (e.g. <c>consent for 'sms' withdrawn at 2026-05-01T08:00:00Z (unsubscribe link)</c>).</summary>
    public string Detail => _detail ?? _format?.Invoke(_state1, _state2) ?? "";

    /// <summary>Deconstructs the decision.</summary>
    /// <param name="check">Which check.</param>
    /// <param name="passed">Whether it passed.</param>
    /// <param name="detail">Why.</param>
    public void Deconstruct(out GateCheck check, out bool passed, out string detail)
    {
        check = Check;
        passed = Passed;
        detail = Detail;
    }

    /// <inheritdoc />
    public bool Equals(GateDecision other) => Check == other.Check && Passed == other.Passed && string.Equals(Detail, other.Detail, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GateDecision other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Check, Passed, StringComparer.Ordinal.GetHashCode(Detail));

    /// <inheritdoc />
    public override string ToString() => $"GateDecision {{ Check = {Check}, Passed = {Passed}, Detail = {Detail} }}";

    /// <summary>Whether two decisions are equal.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when check, verdict and detail are equal.</returns>
    public static bool operator ==(GateDecision left, GateDecision right) => left.Equals(right);

    /// <summary>Whether two decisions differ.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when check, verdict or detail differ.</returns>
    public static bool operator !=(GateDecision left, GateDecision right) => !left.Equals(right);
}

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
