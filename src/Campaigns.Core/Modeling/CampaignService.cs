using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Modeling;

/// <summary>
/// Creates campaigns from templates and walks them through their lifecycle (F-1.2, F-1.3), persisting
/// each change through <see cref="ICampaignStore"/>. Thread-safe. Each call reads, changes and writes one
/// campaign; when another writer got there first, <see cref="ConcurrencyException"/> is thrown and nothing is written.
/// </summary>
public interface ICampaignService
{
    /// <summary>Creates a Draft campaign from a catalogue type's template and stores it.</summary>
    /// <param name="request">What to create.</param>
    /// <param name="creator">Who creates it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored campaign (version 1).</returns>
    /// <exception cref="EntityNotFoundException">Unknown type.</exception>
    /// <exception cref="CampaignValidationException">Invalid name, schedule, budget or goals.</exception>
    /// <exception cref="FieldValidationException">Invalid custom field values.</exception>
    Task<Campaign> CreateFromTemplateAsync(CreateCampaignRequest request, Actor creator, CancellationToken cancellationToken = default);

    /// <summary>Gets a campaign.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    Task<Campaign> GetAsync(CampaignId id, CancellationToken cancellationToken = default);

    /// <summary>Applies a lifecycle action (see <see cref="CampaignLifecycle.Apply"/>) and stores the result.</summary>
    /// <param name="id">The campaign.</param>
    /// <param name="action">The action.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="comment">A comment; required to reject.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="InvalidCampaignTransitionException">Not allowed in the current state.</exception>
    /// <exception cref="ApprovalNotPermittedException">The actor may not take this approval action.</exception>
    /// <exception cref="CampaignValidationException">Submit or Approve: an <see cref="ICampaignApprovalCheck"/> reported findings (all listed); nothing was written.</exception>
    /// <exception cref="ConcurrencyException">The campaign changed meanwhile; nothing was written.</exception>
    Task<Campaign> ApplyAsync(CampaignId id, CampaignAction action, Actor actor, string? comment = null, CancellationToken cancellationToken = default);

    /// <summary>Replaces the custom field values; allowed while the campaign is not closed. Values are validated against the campaign's definitions.</summary>
    /// <param name="id">The campaign.</param>
    /// <param name="values">The new values by key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="FieldValidationException">A value is invalid; nothing was written.</exception>
    /// <exception cref="InvalidOperationException">The campaign is closed.</exception>
    Task<Campaign> SetCustomFieldsAsync(CampaignId id, IReadOnlyDictionary<string, FieldValue> values, CancellationToken cancellationToken = default);

    /// <summary>Replaces the budget (e.g. to record actual costs); allowed until the campaign is archived.</summary>
    /// <param name="id">The campaign.</param>
    /// <param name="budget">The budget.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CampaignValidationException">The budget is invalid; nothing was written.</exception>
    /// <exception cref="InvalidOperationException">The campaign is archived.</exception>
    Task<Campaign> SetBudgetAsync(CampaignId id, Budget budget, CancellationToken cancellationToken = default);

    /// <summary>Computes goal attainment from supplied figures on today's date in the campaign's time zone.</summary>
    /// <param name="id">The campaign.</param>
    /// <param name="figures">Actual values by metric.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<IReadOnlyList<GoalAttainment>> EvaluateGoalsAsync(CampaignId id, IReadOnlyDictionary<string, decimal> figures, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="ICampaignService"/>.</summary>
internal sealed class CampaignService(ICampaignCatalogue catalogue, ICampaignStore store, IClock clock, IEnumerable<ICampaignApprovalCheck> approvalChecks) : ICampaignService
{
    private readonly ICampaignApprovalCheck[] _approvalChecks = [.. approvalChecks];

    public async Task<Campaign> CreateFromTemplateAsync(CreateCampaignRequest request, Actor creator, CancellationToken cancellationToken = default)
    {
        var campaign = CampaignFactory.Create(catalogue, request, creator, clock.GetCurrentInstant());
        return await store.AddAsync(campaign, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Campaign> GetAsync(CampaignId id, CancellationToken cancellationToken = default) =>
        await store.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException("campaign", id.ToString());

    public async Task<Campaign> ApplyAsync(CampaignId id, CampaignAction action, Actor actor, string? comment = null, CancellationToken cancellationToken = default)
    {
        var campaign = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var changed = CampaignLifecycle.Apply(campaign, action, actor, clock.GetCurrentInstant(), comment);
        if (action is CampaignAction.Submit or CampaignAction.Approve && _approvalChecks.Length > 0)
        {
            var findings = new List<string>();
            foreach (var check in _approvalChecks)
            {
                findings.AddRange(await check.CheckAsync(campaign, action, cancellationToken).ConfigureAwait(false));
            }

            if (findings.Count > 0)
            {
                throw new CampaignValidationException(findings);
            }
        }

        return await store.UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Campaign> SetCustomFieldsAsync(CampaignId id, IReadOnlyDictionary<string, FieldValue> values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var campaign = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (CampaignLifecycle.IsClosed(campaign.State))
        {
            throw new InvalidOperationException($"Campaign {id} is {campaign.State}; its custom fields can no longer change.");
        }

        FieldValidator.ThrowIfInvalid(campaign.CustomFieldDefinitions, values);
        var changed = campaign with { CustomFields = new Dictionary<string, FieldValue>(values, StringComparer.Ordinal) };
        return await store.UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Campaign> SetBudgetAsync(CampaignId id, Budget budget, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var errors = BudgetCalculator.Validate(budget);
        if (errors.Count > 0)
        {
            throw new CampaignValidationException(errors);
        }

        var campaign = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (campaign.State == CampaignState.Archived)
        {
            throw new InvalidOperationException($"Campaign {id} is archived; its budget can no longer change.");
        }

        return await store.UpdateAsync(campaign with { Budget = budget }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<GoalAttainment>> EvaluateGoalsAsync(CampaignId id, IReadOnlyDictionary<string, decimal> figures, CancellationToken cancellationToken = default)
    {
        var campaign = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var zone = DateTimeZoneProviders.Tzdb[campaign.Schedule.TimeZoneId];
        var today = clock.GetCurrentInstant().InZone(zone).Date;
        return GoalCalculator.Evaluate(campaign.Goals, figures, today);
    }
}
