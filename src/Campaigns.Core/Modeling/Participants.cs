using System.Diagnostics.CodeAnalysis;
using NodaTime;

namespace Campaigns.Modeling;

/// <summary>A person on a targeted invitation list (F-1.8). Needs an e-mail or a phone to identify them.</summary>
/// <param name="Name">The display name, or null.</param>
/// <param name="Email">The e-mail address (normalized on the way in), or null.</param>
/// <param name="Phone">The phone number (normalized on the way in), or null.</param>
/// <param name="ContactId">The host's contact id, when the person is a known contact; or null.</param>
public sealed record Invitee(string? Name = null, string? Email = null, string? Phone = null, string? ContactId = null);

/// <summary>
/// The outcome of a registration (F-1.7): either accepted — the participant, the lead pool the registration lands in and
/// whether it waits for approval — or rejected with every problem found and the submission as given, so a form can be
/// shown again with its errors. A rejected registration stores nothing.
/// </summary>
/// <remarks>
/// <para>Error codes besides those of <see cref="FormSubmission"/> and <see cref="FieldValidator"/>:</para>
/// <list type="bullet">
/// <item><description><c>required</c> on the e-mail (or phone) field: neither an e-mail nor a phone was given, so the person cannot be identified.</description></item>
/// <item><description><c>already-registered</c> on the identifying field: the person has registered already (pending approval or registered). The existing registration is not returned, so a public form does not disclose it.</description></item>
/// <item><description><c>registration-rejected</c> on the identifying field: the person's registration was rejected; an operator must act.</description></item>
/// <item><description><c>identity-conflict</c> on the phone field: the e-mail and the phone belong to two different participants.</description></item>
/// </list>
/// </remarks>
public sealed class RegistrationResult
{
    private RegistrationResult(
        Participant? participant,
        LeadPoolRoute? leadPool,
        bool approvalPending,
        IReadOnlyList<FieldError> errors,
        IReadOnlyDictionary<string, string?> submission)
    {
        Participant = participant;
        LeadPool = leadPool;
        ApprovalPending = approvalPending;
        Errors = errors;
        Submission = submission;
    }

    /// <summary>Whether the registration was accepted; then <see cref="Participant"/> and <see cref="LeadPool"/> are set.</summary>
    [MemberNotNullWhen(true, nameof(Participant), nameof(LeadPool))]
    public bool IsAccepted => Participant is not null;

    /// <summary>The stored participant when accepted; otherwise null.</summary>
    public Participant? Participant { get; }

    /// <summary>The lead pool the registration was routed to (the campaign's form's <see cref="RegistrationFormTemplate.LeadPool"/>) when accepted; otherwise null.</summary>
    public LeadPoolRoute? LeadPool { get; }

    /// <summary>Whether the accepted registration waits for approval (<see cref="RegistrationStatus.PendingApproval"/>).</summary>
    public bool ApprovalPending { get; }

    /// <summary>Every problem found when rejected; empty when accepted.</summary>
    public IReadOnlyList<FieldError> Errors { get; }

    /// <summary>The raw submission as given.</summary>
    public IReadOnlyDictionary<string, string?> Submission { get; }

    /// <summary>An accepted registration.</summary>
    /// <param name="participant">The stored participant.</param>
    /// <param name="leadPool">The lead pool it was routed to.</param>
    /// <param name="approvalPending">Whether it waits for approval.</param>
    /// <param name="submission">The raw submission.</param>
    public static RegistrationResult Accepted(Participant participant, LeadPoolRoute leadPool, bool approvalPending, IReadOnlyDictionary<string, string?> submission)
    {
        ArgumentNullException.ThrowIfNull(participant);
        ArgumentNullException.ThrowIfNull(leadPool);
        ArgumentNullException.ThrowIfNull(submission);
        return new RegistrationResult(participant, leadPool, approvalPending, [], submission);
    }

    /// <summary>A rejected registration.</summary>
    /// <param name="errors">Every problem found; at least one.</param>
    /// <param name="submission">The raw submission, handed back to the caller.</param>
    /// <exception cref="ArgumentException"><paramref name="errors"/> is empty.</exception>
    public static RegistrationResult Rejected(IReadOnlyList<FieldError> errors, IReadOnlyDictionary<string, string?> submission)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(submission);
        if (errors.Count == 0)
        {
            throw new ArgumentException("A rejected registration needs at least one error.", nameof(errors));
        }

        return new RegistrationResult(null, null, false, errors, submission);
    }
}

/// <summary>
/// Counts of a campaign's participants (F-1.8): per <see cref="RegistrationStatus"/> and, per
/// <see cref="ParticipantActivityKind"/>, how many distinct participants have at least one such activity.
/// </summary>
public sealed record ParticipantSummary
{
    /// <summary>The campaign.</summary>
    public required CampaignId CampaignId { get; init; }

    /// <summary>How many participants there are.</summary>
    public required int Total { get; init; }

    /// <summary>Participants per current status; every status is present (0 when none).</summary>
    public required IReadOnlyDictionary<RegistrationStatus, int> ByStatus { get; init; }

    /// <summary>Distinct participants with at least one activity of each kind; every kind is present (0 when none).</summary>
    public required IReadOnlyDictionary<ParticipantActivityKind, int> ByActivity { get; init; }

    /// <summary>The live-stream viewing time of all participants together.</summary>
    public required Duration TotalLiveViewDuration { get; init; }

    /// <summary>Participants who were invited.</summary>
    public int Invited => ByActivity[ParticipantActivityKind.Invited];

    /// <summary>Participants who submitted the registration form.</summary>
    public int Registered => ByActivity[ParticipantActivityKind.Registered];

    /// <summary>Participants whose registration was approved.</summary>
    public int Approved => ByActivity[ParticipantActivityKind.Approved];

    /// <summary>Participants whose registration was rejected.</summary>
    public int Rejected => ByActivity[ParticipantActivityKind.Rejected];

    /// <summary>Participants who checked in.</summary>
    public int CheckedIn => ByActivity[ParticipantActivityKind.CheckedIn];

    /// <summary>Participants who watched the live stream.</summary>
    public int WatchedLive => ByActivity[ParticipantActivityKind.WatchedLive];

    /// <summary>Participants who downloaded material.</summary>
    public int Downloaded => ByActivity[ParticipantActivityKind.Downloaded];

    /// <summary>Participants who answered the survey.</summary>
    public int AnsweredSurvey => ByActivity[ParticipantActivityKind.AnsweredSurvey];

    /// <summary>Computes the summary of a campaign's participants.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="participants">Its participants.</param>
    public static ParticipantSummary Compute(CampaignId campaignId, IEnumerable<Participant> participants)
    {
        ArgumentNullException.ThrowIfNull(participants);
        var byStatus = Enum.GetValues<RegistrationStatus>().ToDictionary(s => s, _ => 0);
        var byActivity = Enum.GetValues<ParticipantActivityKind>().ToDictionary(k => k, _ => 0);
        var total = 0;
        var watched = Duration.Zero;
        foreach (var participant in participants)
        {
            total++;
            byStatus[participant.Status] = byStatus.GetValueOrDefault(participant.Status) + 1;
            foreach (var kind in participant.Activities.Select(a => a.Kind).Distinct())
            {
                byActivity[kind] = byActivity.GetValueOrDefault(kind) + 1;
            }

            watched += participant.TotalLiveViewDuration();
        }

        return new ParticipantSummary
        {
            CampaignId = campaignId,
            Total = total,
            ByStatus = byStatus,
            ByActivity = byActivity,
            TotalLiveViewDuration = watched,
        };
    }
}

/// <summary>Helpers over <see cref="Participant"/>. Pure functions; thread-safe.</summary>
public static class ParticipantExtensions
{
    /// <summary>The sum of the participant's <see cref="ParticipantActivityKind.WatchedLive"/> durations; <see cref="Duration.Zero"/> when none.</summary>
    /// <param name="participant">The participant.</param>
    public static Duration TotalLiveViewDuration(this Participant participant)
    {
        ArgumentNullException.ThrowIfNull(participant);
        var total = Duration.Zero;
        foreach (var activity in participant.Activities)
        {
            if (activity.Kind == ParticipantActivityKind.WatchedLive && activity.Duration is { } duration)
            {
                total += duration;
            }
        }

        return total;
    }

    /// <summary>Whether the participant has at least one activity of the given kind.</summary>
    /// <param name="participant">The participant.</param>
    /// <param name="kind">The kind.</param>
    public static bool HasActivity(this Participant participant, ParticipantActivityKind kind)
    {
        ArgumentNullException.ThrowIfNull(participant);
        return participant.Activities.Any(a => a.Kind == kind);
    }
}

/// <summary>
/// Thrown when a participant operation is not allowed in the participant's current <see cref="RegistrationStatus"/>,
/// e.g. checking in someone who is only invited. Names the participant, its status, the operation and what it requires.
/// </summary>
public sealed class ParticipantStateException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="current">Its current status.</param>
    /// <param name="operation">What was asked, e.g. <c>check in</c>.</param>
    /// <param name="required">The statuses the operation requires.</param>
    public ParticipantStateException(ParticipantId participantId, RegistrationStatus current, string operation, IReadOnlyList<RegistrationStatus> required)
        : base(BuildMessage(participantId, current, operation, required))
    {
        ParticipantId = participantId;
        Current = current;
        Operation = operation;
        Required = required;
    }

    /// <summary>The participant.</summary>
    public ParticipantId ParticipantId { get; }

    /// <summary>Its status when the operation was asked for.</summary>
    public RegistrationStatus Current { get; }

    /// <summary>What was asked, e.g. <c>check in</c>.</summary>
    public string Operation { get; }

    /// <summary>The statuses the operation requires.</summary>
    public IReadOnlyList<RegistrationStatus> Required { get; }

    private static string BuildMessage(ParticipantId id, RegistrationStatus current, string operation, IReadOnlyList<RegistrationStatus> required)
    {
        ArgumentNullException.ThrowIfNull(required);
        return $"Participant {id} cannot {operation} while {current}; that requires {string.Join(" or ", required)}.";
    }
}

/// <summary>
/// Thrown when a campaign does not take participants in its current state: invitations need Approved, Scheduled or
/// Running; registration needs Scheduled or Running. Names the campaign, its state and the states allowed.
/// </summary>
public sealed class ParticipationClosedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="state">Its current state.</param>
    /// <param name="operation">What was asked, e.g. <c>register</c>.</param>
    /// <param name="allowed">The states in which the operation is allowed.</param>
    public ParticipationClosedException(CampaignId campaignId, CampaignState state, string operation, IReadOnlyList<CampaignState> allowed)
        : base(BuildMessage(campaignId, state, operation, allowed))
    {
        CampaignId = campaignId;
        State = state;
        Operation = operation;
        Allowed = allowed;
    }

    /// <summary>The campaign.</summary>
    public CampaignId CampaignId { get; }

    /// <summary>Its state when the operation was asked for.</summary>
    public CampaignState State { get; }

    /// <summary>What was asked, e.g. <c>register</c>.</summary>
    public string Operation { get; }

    /// <summary>The states in which the operation is allowed.</summary>
    public IReadOnlyList<CampaignState> Allowed { get; }

    private static string BuildMessage(CampaignId id, CampaignState state, string operation, IReadOnlyList<CampaignState> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return $"Campaign {id} is {state}; '{operation}' is allowed only while it is {string.Join(" or ", allowed)}.";
    }
}
