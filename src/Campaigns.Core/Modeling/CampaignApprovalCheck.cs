namespace Campaigns.Modeling;

/// <summary>
/// A check that runs when a campaign is submitted for approval and at every approval level (register any number as
/// singletons). A campaign with findings is not submitted or approved: <see cref="ICampaignService.ApplyAsync"/> throws a
/// <see cref="CampaignValidationException"/> listing every finding and writes nothing. Used, for example, to report
/// SOPs that name a channel the host has not registered (<c>AddSopRunner()</c>), so that such a problem surfaces at
/// approval and never at send time. Implementations must be thread-safe.
/// </summary>
public interface ICampaignApprovalCheck
{
    /// <summary>Checks a campaign about to be submitted or approved.</summary>
    /// <param name="campaign">The campaign, as stored before the action.</param>
    /// <param name="action"><see cref="CampaignAction.Submit"/> or <see cref="CampaignAction.Approve"/>.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Findings as "path: problem" (e.g. <c>sops[live-start].channels: 'wechat-template' is not a registered channel</c>); empty when fine.</returns>
    ValueTask<IReadOnlyList<string>> CheckAsync(Campaign campaign, CampaignAction action, CancellationToken cancellationToken);
}
