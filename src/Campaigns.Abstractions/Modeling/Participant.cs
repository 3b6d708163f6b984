using NodaTime;

namespace Campaigns.Modeling;

/// <summary>Where a participant's registration stands (F-1.8).</summary>
public enum RegistrationStatus
{
    /// <summary>Invited (targeted invitation), not registered yet.</summary>
    Invited = 0,

    /// <summary>Submitted the form; waiting for registration approval.</summary>
    PendingApproval = 1,

    /// <summary>Registered (and approved, where the form requires approval).</summary>
    Registered = 2,

    /// <summary>The registration was rejected.</summary>
    Rejected = 3,
}

/// <summary>The things a participant does that a campaign records (F-1.8).</summary>
public enum ParticipantActivityKind
{
    /// <summary>Was invited.</summary>
    Invited = 0,

    /// <summary>Submitted the registration form.</summary>
    Registered = 1,

    /// <summary>The registration was approved.</summary>
    Approved = 2,

    /// <summary>The registration was rejected.</summary>
    Rejected = 3,

    /// <summary>Checked in at the venue.</summary>
    CheckedIn = 4,

    /// <summary>Watched the live stream (with a duration).</summary>
    WatchedLive = 5,

    /// <summary>Downloaded material.</summary>
    Downloaded = 6,

    /// <summary>Answered the survey.</summary>
    AnsweredSurvey = 7,
}

/// <summary>One recorded activity of a participant.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="At">When.</param>
/// <param name="Duration">For <see cref="ParticipantActivityKind.WatchedLive"/>: how long; otherwise null.</param>
/// <param name="Detail">Optional detail: the downloaded item, the rejection reason, the survey id.</param>
/// <param name="ActorId">Who recorded it (an operator) or null when the participant did it.</param>
public sealed record ParticipantActivity(
    ParticipantActivityKind Kind,
    Instant At,
    Duration? Duration = null,
    string? Detail = null,
    string? ActorId = null);

/// <summary>
/// A participant of a campaign: who they are, the form values they gave, where their registration
/// stands, the lead pool it was routed to and everything they did.
/// </summary>
public sealed record Participant
{
    /// <summary>The id.</summary>
    public required ParticipantId Id { get; init; }

    /// <summary>The campaign.</summary>
    public required CampaignId CampaignId { get; init; }

    /// <summary>The host's contact id, when the participant is linked to a contact.</summary>
    public string? ContactId { get; init; }

    /// <summary>The display name.</summary>
    public string? Name { get; init; }

    /// <summary>The normalized e-mail address (trimmed, lower-case), or null.</summary>
    public string? Email { get; init; }

    /// <summary>The normalized phone number (digits with optional leading +), or null.</summary>
    public string? Phone { get; init; }

    /// <summary>Where the registration stands.</summary>
    public RegistrationStatus Status { get; init; }

    /// <summary>The lead pool the registration was routed to; null until registered.</summary>
    public LeadPoolRoute? LeadPool { get; init; }

    /// <summary>The form values by field key.</summary>
    public IReadOnlyDictionary<string, FieldValue> FormValues { get; init; } = new Dictionary<string, FieldValue>();

    /// <summary>Everything recorded, oldest first.</summary>
    public IReadOnlyList<ParticipantActivity> Activities { get; init; } = [];

    /// <summary>The optimistic concurrency version: 0 before it is first stored.</summary>
    public long Version { get; init; }
}
