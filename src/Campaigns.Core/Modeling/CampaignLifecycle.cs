using System.Collections.Frozen;
using NodaTime;

namespace Campaigns.Modeling;

/// <summary>
/// Thrown when a lifecycle action is not allowed in the campaign's current state. Names the current state,
/// the requested action and the state it would lead to, and the actions that are allowed.
/// </summary>
public sealed class InvalidCampaignTransitionException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="current">Its current state.</param>
    /// <param name="requested">The action asked for.</param>
    /// <param name="allowed">The actions allowed in <paramref name="current"/>.</param>
    public InvalidCampaignTransitionException(CampaignId campaignId, CampaignState current, CampaignAction requested, IReadOnlyList<CampaignAction> allowed)
        : base(BuildMessage(campaignId, current, requested, allowed))
    {
        CampaignId = campaignId;
        Current = current;
        Requested = requested;
        RequestedState = CampaignLifecycle.TargetOf(requested);
        Allowed = allowed;
    }

    /// <summary>The campaign.</summary>
    public CampaignId CampaignId { get; }

    /// <summary>The state the campaign is in.</summary>
    public CampaignState Current { get; }

    /// <summary>The action asked for.</summary>
    public CampaignAction Requested { get; }

    /// <summary>The state the action leads to when allowed (for Approve: Approved at the last level).</summary>
    public CampaignState RequestedState { get; }

    /// <summary>The actions allowed in <see cref="Current"/>.</summary>
    public IReadOnlyList<CampaignAction> Allowed { get; }

    private static string BuildMessage(CampaignId id, CampaignState current, CampaignAction requested, IReadOnlyList<CampaignAction> allowed)
    {
        var options = allowed.Count == 0
            ? "none (the campaign is closed)"
            : string.Join(", ", allowed.Select(a => $"{a} → {CampaignLifecycle.TargetOf(a)}"));
        return $"Campaign {id} cannot {requested} (→ {CampaignLifecycle.TargetOf(requested)}) while {current}. Allowed from {current}: {options}.";
    }
}

/// <summary>Thrown when an actor may not take an approval action: wrong role for the level, or the submitter approving their own submission.</summary>
public sealed class ApprovalNotPermittedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was not permitted and why.</param>
    /// <param name="actor">Who tried.</param>
    /// <param name="requiredRole">The role required, when a role was the reason.</param>
    public ApprovalNotPermittedException(string message, Actor actor, string? requiredRole)
        : base(message)
    {
        Actor = actor;
        RequiredRole = requiredRole;
    }

    /// <summary>Who tried.</summary>
    public Actor Actor { get; }

    /// <summary>The role required, when a role was the reason.</summary>
    public string? RequiredRole { get; }
}

/// <summary>
/// The campaign lifecycle state machine (F-1.3) as pure functions over immutable <see cref="Campaign"/>s.
/// Thread-safe. <see cref="Apply"/> returns the changed campaign with a history entry; stores persist it.
/// </summary>
public static class CampaignLifecycle
{
    private static readonly FrozenDictionary<CampaignState, CampaignAction[]> AllowedByState = new Dictionary<CampaignState, CampaignAction[]>
    {
        [CampaignState.Draft] = [CampaignAction.Submit, CampaignAction.Cancel],
        [CampaignState.PendingApproval] = [CampaignAction.Approve, CampaignAction.Reject, CampaignAction.Cancel],
        [CampaignState.Approved] = [CampaignAction.Schedule, CampaignAction.Cancel],
        [CampaignState.Scheduled] = [CampaignAction.Start, CampaignAction.Cancel],
        [CampaignState.Running] = [CampaignAction.Pause, CampaignAction.Complete, CampaignAction.Cancel],
        [CampaignState.Paused] = [CampaignAction.Resume, CampaignAction.Complete, CampaignAction.Cancel],
        [CampaignState.Completed] = [CampaignAction.Archive],
        [CampaignState.Cancelled] = [CampaignAction.Archive],
        [CampaignState.Archived] = [],
    }.ToFrozenDictionary();

    /// <summary>The actions allowed in a state, in enum order.</summary>
    /// <param name="state">The state.</param>
    public static IReadOnlyList<CampaignAction> AllowedActions(CampaignState state) =>
        AllowedByState.TryGetValue(state, out var allowed) ? allowed : [];

    /// <summary>Whether a state is closed: Completed, Cancelled or Archived (no more work; only archiving).</summary>
    /// <param name="state">The state.</param>
    public static bool IsClosed(CampaignState state) =>
        state is CampaignState.Completed or CampaignState.Cancelled or CampaignState.Archived;

    /// <summary>The state an action leads to (for Approve, the state after the last level).</summary>
    /// <param name="action">The action.</param>
    public static CampaignState TargetOf(CampaignAction action) => action switch
    {
        CampaignAction.Submit => CampaignState.PendingApproval,
        CampaignAction.Approve => CampaignState.Approved,
        CampaignAction.Reject => CampaignState.Draft,
        CampaignAction.Schedule => CampaignState.Scheduled,
        CampaignAction.Start => CampaignState.Running,
        CampaignAction.Pause => CampaignState.Paused,
        CampaignAction.Resume => CampaignState.Running,
        CampaignAction.Complete => CampaignState.Completed,
        CampaignAction.Cancel => CampaignState.Cancelled,
        CampaignAction.Archive => CampaignState.Archived,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown campaign action."),
    };

    /// <summary>
    /// Applies an action and returns the changed campaign (same <see cref="Campaign.Version"/>; the store bumps it).
    /// </summary>
    /// <param name="campaign">The campaign as read.</param>
    /// <param name="action">The action.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="at">When (from the injected clock).</param>
    /// <param name="comment">A comment; required for <see cref="CampaignAction.Reject"/>.</param>
    /// <exception cref="InvalidCampaignTransitionException">The action is not allowed in the current state.</exception>
    /// <exception cref="ApprovalNotPermittedException">The actor's role does not match the submitter role or the pending level's role, or the submitter tries to approve their own submission.</exception>
    /// <exception cref="ArgumentException">A rejection without a comment.</exception>
    public static Campaign Apply(Campaign campaign, CampaignAction action, Actor actor, Instant at, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(actor);
        var from = campaign.State;
        var allowed = AllowedActions(from);
        if (!allowed.Contains(action))
        {
            throw new InvalidCampaignTransitionException(campaign.Id, from, action, allowed);
        }

        var chain = campaign.ApprovalChain;
        var levelIndex = campaign.ApprovalLevelIndex;
        string? levelName = null;
        CampaignState to;
        switch (action)
        {
            case CampaignAction.Submit:
                if (chain.SubmitterRole is { } submitterRole && !RoleMatches(actor, submitterRole))
                {
                    throw new ApprovalNotPermittedException(
                        $"Campaign {campaign.Id} can only be submitted by role '{submitterRole}'; {actor} cannot submit it.", actor, submitterRole);
                }

                levelIndex = 0;
                to = chain.Levels.Count == 0 ? CampaignState.Approved : CampaignState.PendingApproval;
                break;

            case CampaignAction.Approve:
            case CampaignAction.Reject:
                var level = chain.Levels[levelIndex];
                levelName = level.Name;
                if (!RoleMatches(actor, level.Role))
                {
                    throw new ApprovalNotPermittedException(
                        $"Campaign {campaign.Id} waits for approval level '{level.Name}' ({levelIndex + 1} of {chain.Levels.Count}), which needs role '{level.Role}'; {actor} cannot {action.ToString().ToLowerInvariant()} it.",
                        actor,
                        level.Role);
                }

                if (action == CampaignAction.Approve && !chain.AllowSubmitterToApprove && LastSubmitter(campaign) == actor.Id)
                {
                    throw new ApprovalNotPermittedException(
                        $"Campaign {campaign.Id} was submitted by '{actor.Id}', who may not approve it (separation of duties; set ApprovalChain.AllowSubmitterToApprove to allow).",
                        actor,
                        null);
                }

                if (action == CampaignAction.Reject)
                {
                    if (string.IsNullOrWhiteSpace(comment))
                    {
                        throw new ArgumentException("A rejection needs a comment saying why.", nameof(comment));
                    }

                    levelIndex = 0;
                    to = CampaignState.Draft;
                }
                else if (levelIndex + 1 < chain.Levels.Count)
                {
                    levelIndex++;
                    to = CampaignState.PendingApproval;
                }
                else
                {
                    levelIndex = 0;
                    to = CampaignState.Approved;
                }

                break;

            default:
                levelIndex = 0;
                to = TargetOf(action);
                break;
        }

        var entry = new LifecycleEntry(action, from, to, actor.Id, actor.Role, at, comment, levelName);
        return campaign with
        {
            State = to,
            ApprovalLevelIndex = levelIndex,
            History = [.. campaign.History, entry],
        };
    }

    /// <summary>The approval level the campaign waits for, or null when it is not pending approval.</summary>
    /// <param name="campaign">The campaign.</param>
    public static ApprovalLevel? PendingLevel(Campaign campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        return campaign.State == CampaignState.PendingApproval && campaign.ApprovalLevelIndex < campaign.ApprovalChain.Levels.Count
            ? campaign.ApprovalChain.Levels[campaign.ApprovalLevelIndex]
            : null;
    }

    private static bool RoleMatches(Actor actor, string role) => string.Equals(actor.Role, role, StringComparison.OrdinalIgnoreCase);

    private static string? LastSubmitter(Campaign campaign)
    {
        for (var i = campaign.History.Count - 1; i >= 0; i--)
        {
            if (campaign.History[i].Action == CampaignAction.Submit)
            {
                return campaign.History[i].ActorId;
            }
        }

        return null;
    }
}
