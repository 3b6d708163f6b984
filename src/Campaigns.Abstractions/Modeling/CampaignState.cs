namespace Campaigns.Modeling;

/// <summary>
/// The lifecycle states of a campaign (F-1.3):
/// Draft → PendingApproval → Approved → Scheduled → Running ⇄ Paused → Completed → Archived,
/// plus Cancelled from any state that is not closed. A rejected approval returns to Draft.
/// </summary>
public enum CampaignState
{
    /// <summary>Being prepared; editable.</summary>
    Draft = 0,

    /// <summary>Submitted; waiting for the next level of the approval chain.</summary>
    PendingApproval = 1,

    /// <summary>Every approval level has approved.</summary>
    Approved = 2,

    /// <summary>Published with a date; registration is open.</summary>
    Scheduled = 3,

    /// <summary>In progress.</summary>
    Running = 4,

    /// <summary>Temporarily stopped; can resume.</summary>
    Paused = 5,

    /// <summary>Finished; results are final.</summary>
    Completed = 6,

    /// <summary>Stopped before completion.</summary>
    Cancelled = 7,

    /// <summary>Filed away; read-only.</summary>
    Archived = 8,
}

/// <summary>The actions that move a campaign between <see cref="CampaignState"/>s.</summary>
public enum CampaignAction
{
    /// <summary>Draft → PendingApproval (or straight to Approved when the chain has no levels).</summary>
    Submit = 0,

    /// <summary>Approve the current level; the last level moves PendingApproval → Approved.</summary>
    Approve = 1,

    /// <summary>PendingApproval → Draft, with a comment saying why.</summary>
    Reject = 2,

    /// <summary>Approved → Scheduled.</summary>
    Schedule = 3,

    /// <summary>Scheduled → Running.</summary>
    Start = 4,

    /// <summary>Running → Paused.</summary>
    Pause = 5,

    /// <summary>Paused → Running.</summary>
    Resume = 6,

    /// <summary>Running or Paused → Completed.</summary>
    Complete = 7,

    /// <summary>Any state that is not closed → Cancelled.</summary>
    Cancel = 8,

    /// <summary>Completed or Cancelled → Archived.</summary>
    Archive = 9,
}
