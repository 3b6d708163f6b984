using NodaTime;

namespace Campaigns.Modeling;

/// <summary>One level of an approval chain, e.g. "manager review" done by the <c>marketing-manager</c> role.</summary>
/// <param name="Name">A short name shown in history, e.g. <c>manager-review</c>.</param>
/// <param name="Role">The role that may approve or reject at this level (compared case-insensitively).</param>
public sealed record ApprovalLevel(string Name, string Role);

/// <summary>
/// The approval chain of a campaign (F-1.3), configured per campaign type and copied onto each campaign:
/// e.g. operator submits → marketing manager approves → admin publishes.
/// </summary>
public sealed record ApprovalChain
{
    /// <summary>The role allowed to submit a draft; null means any role may submit.</summary>
    public string? SubmitterRole { get; init; }

    /// <summary>The levels in order. An empty chain approves on submit.</summary>
    public IReadOnlyList<ApprovalLevel> Levels { get; init; } = [];

    /// <summary>Whether the actor who submitted may also approve a level. Default false (separation of duties).</summary>
    public bool AllowSubmitterToApprove { get; init; }

    /// <summary>A chain without levels: submitting approves at once.</summary>
    public static ApprovalChain None { get; } = new();
}

/// <summary>One entry of a campaign's lifecycle history: who did what, when, and why.</summary>
/// <param name="Action">The action taken.</param>
/// <param name="From">The state before.</param>
/// <param name="To">The state after.</param>
/// <param name="ActorId">Who acted.</param>
/// <param name="ActorRole">The role they acted in.</param>
/// <param name="At">When, as an instant.</param>
/// <param name="Comment">The comment given, if any (required on rejection).</param>
/// <param name="ApprovalLevel">For Approve and Reject: the name of the level acted on.</param>
public sealed record LifecycleEntry(
    CampaignAction Action,
    CampaignState From,
    CampaignState To,
    string ActorId,
    string ActorRole,
    Instant At,
    string? Comment = null,
    string? ApprovalLevel = null);
