namespace Campaigns.Modeling;

/// <summary>Named shortcuts for <see cref="ICampaignService.ApplyAsync"/>, one per lifecycle action.</summary>
public static class CampaignServiceExtensions
{
    /// <summary>Draft → PendingApproval (or Approved when the chain is empty).</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who submits.</param>
    /// <param name="comment">Optional comment.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> SubmitAsync(this ICampaignService service, CampaignId id, Actor actor, string? comment = null, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Submit, actor, comment, cancellationToken);

    /// <summary>Approves the pending level; the last level moves the campaign to Approved.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who approves; must hold the level's role.</param>
    /// <param name="comment">Optional comment.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> ApproveAsync(this ICampaignService service, CampaignId id, Actor actor, string? comment = null, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Approve, actor, comment, cancellationToken);

    /// <summary>Rejects the pending level: back to Draft.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who rejects; must hold the level's role.</param>
    /// <param name="comment">Why; required.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> RejectAsync(this ICampaignService service, CampaignId id, Actor actor, string comment, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Reject, actor, comment, cancellationToken);

    /// <summary>Approved → Scheduled.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> ScheduleAsync(this ICampaignService service, CampaignId id, Actor actor, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Schedule, actor, null, cancellationToken);

    /// <summary>Scheduled → Running.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> StartAsync(this ICampaignService service, CampaignId id, Actor actor, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Start, actor, null, cancellationToken);

    /// <summary>Running → Paused.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="comment">Optional reason.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> PauseAsync(this ICampaignService service, CampaignId id, Actor actor, string? comment = null, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Pause, actor, comment, cancellationToken);

    /// <summary>Paused → Running.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> ResumeAsync(this ICampaignService service, CampaignId id, Actor actor, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Resume, actor, null, cancellationToken);

    /// <summary>Running or Paused → Completed.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> CompleteAsync(this ICampaignService service, CampaignId id, Actor actor, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Complete, actor, null, cancellationToken);

    /// <summary>Any state that is not closed → Cancelled.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="comment">Optional reason.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> CancelAsync(this ICampaignService service, CampaignId id, Actor actor, string? comment = null, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Cancel, actor, comment, cancellationToken);

    /// <summary>Completed or Cancelled → Archived.</summary>
    /// <param name="service">The service.</param>
    /// <param name="id">The campaign.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<Campaign> ArchiveAsync(this ICampaignService service, CampaignId id, Actor actor, CancellationToken cancellationToken = default) =>
        Apply(service, id, CampaignAction.Archive, actor, null, cancellationToken);

    private static Task<Campaign> Apply(ICampaignService service, CampaignId id, CampaignAction action, Actor actor, string? comment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        return service.ApplyAsync(id, action, actor, comment, cancellationToken);
    }
}
