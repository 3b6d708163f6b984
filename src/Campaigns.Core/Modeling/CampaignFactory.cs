using NodaTime;

namespace Campaigns.Modeling;

/// <summary>What is needed to create a campaign from a catalogue type's template (F-1.2).</summary>
public sealed record CreateCampaignRequest
{
    /// <summary>The catalogue type id, e.g. <c>offline-seminar</c>.</summary>
    public required string TypeId { get; init; }

    /// <summary>The campaign's name; not blank, at most 200 characters.</summary>
    public required string Name { get; init; }

    /// <summary>The topic, used by naming templates.</summary>
    public string? Topic { get; init; }

    /// <summary>When and where. Its time zone must be an IANA id known to NodaTime's tzdb.</summary>
    public required CampaignSchedule Schedule { get; init; }

    /// <summary>Values for the type's custom fields, validated against them.</summary>
    public IReadOnlyDictionary<string, FieldValue> CustomFields { get; init; } = new Dictionary<string, FieldValue>();

    /// <summary>The budget, or null.</summary>
    public Budget? Budget { get; init; }

    /// <summary>Goals replacing the template's, or null to take the template's goals.</summary>
    public IReadOnlyList<SmartGoal>? Goals { get; init; }
}

/// <summary>Thrown when a campaign definition is invalid. <see cref="Errors"/> names each field at fault.</summary>
public sealed class CampaignValidationException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errors">Each error, as "path: problem".</param>
    public CampaignValidationException(IReadOnlyList<string> errors)
        : base("Invalid campaign: " + string.Join("; ", errors))
    {
        Errors = errors;
    }

    /// <summary>Each error, as "path: problem".</summary>
    public IReadOnlyList<string> Errors { get; }
}

/// <summary>
/// Creates campaigns from catalogue templates (F-1.2): copies process steps, the registration form,
/// micro-pages, SOPs, tag rules, custom field definitions and the approval chain, and turns goal templates
/// into dated SMART goals. Pure and thread-safe.
/// </summary>
public static class CampaignFactory
{
    /// <summary>The longest campaign name accepted.</summary>
    public const int MaxNameLength = 200;

    /// <summary>Creates a Draft campaign (version 0) from a type's template.</summary>
    /// <param name="catalogue">The catalogue holding the type and its form.</param>
    /// <param name="request">What to create.</param>
    /// <param name="creator">Who creates it.</param>
    /// <param name="now">The current instant.</param>
    /// <param name="id">The id to use, or null for a new one.</param>
    /// <exception cref="EntityNotFoundException">The type (or its form) is not in the catalogue.</exception>
    /// <exception cref="CampaignValidationException">The name, schedule, budget or goals are invalid.</exception>
    /// <exception cref="FieldValidationException">A custom field value is invalid.</exception>
    public static Campaign Create(ICampaignCatalogue catalogue, CreateCampaignRequest request, Actor creator, Instant now, CampaignId? id = null)
    {
        ArgumentNullException.ThrowIfNull(catalogue);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(creator);
        var type = catalogue.GetCampaignType(request.TypeId);
        var template = type.Template;

        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            errors.Add("name: a campaign needs a name.");
        }
        else if (request.Name.Length > MaxNameLength)
        {
            errors.Add($"name: {request.Name.Length} characters; at most {MaxNameLength} are allowed.");
        }

        var zone = ValidateSchedule(request.Schedule, errors);
        if (request.Budget is not null)
        {
            errors.AddRange(BudgetCalculator.Validate(request.Budget));
        }

        IReadOnlyList<SmartGoal> goals = request.Goals ?? [];
        if (request.Goals is null && zone is not null)
        {
            var anchor = (request.Schedule.EndsAt ?? request.Schedule.StartsAt ?? now).InZone(zone).Date;
            goals = [.. template.Goals.Select(g => new SmartGoal
            {
                Metric = g.Metric,
                Target = g.Target,
                Unit = g.Unit,
                Deadline = anchor.Plus(g.DeadlineAfterEnd),
                Description = g.Description,
            })];
        }

        errors.AddRange(GoalCalculator.Validate(goals));
        if (errors.Count > 0)
        {
            throw new CampaignValidationException(errors);
        }

        FieldValidator.ThrowIfInvalid(template.CustomFields, request.CustomFields);
        var form = template.RegistrationFormId is null ? null : catalogue.GetForm(template.RegistrationFormId);
        return new Campaign
        {
            Id = id ?? CampaignId.New(),
            Name = request.Name.Trim(),
            Topic = request.Topic,
            TypeId = type.Id,
            State = CampaignState.Draft,
            ApprovalChain = template.ApprovalChain,
            Schedule = request.Schedule,
            ProcessSteps = template.ProcessSteps,
            RegistrationForm = form,
            MicroPages = template.MicroPages,
            Sops = template.Sops,
            TagRules = template.TagRules,
            Goals = goals,
            Budget = request.Budget,
            CustomFieldDefinitions = template.CustomFields,
            CustomFields = new Dictionary<string, FieldValue>(request.CustomFields, StringComparer.Ordinal),
            CreatedBy = creator.Id,
            CreatedAt = now,
        };
    }

    /// <summary>Validates a schedule: a known IANA time zone, end after start, live start within the campaign.</summary>
    /// <param name="schedule">The schedule.</param>
    /// <param name="errors">Receives "path: problem" errors.</param>
    /// <returns>The time zone, or null when the id is unknown.</returns>
    internal static DateTimeZone? ValidateSchedule(CampaignSchedule schedule, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var zone = schedule.TimeZoneId is null ? null : DateTimeZoneProviders.Tzdb.GetZoneOrNull(schedule.TimeZoneId);
        if (zone is null)
        {
            errors.Add($"schedule.timeZoneId: '{schedule.TimeZoneId}' is not an IANA time zone id known to tzdb (e.g. Asia/Shanghai).");
        }

        if (schedule.StartsAt is { } start && schedule.EndsAt is { } end && end <= start)
        {
            errors.Add($"schedule.endsAt: {end} is not after schedule.startsAt {start}.");
        }

        if (schedule.LiveStartsAt is { } live
            && ((schedule.StartsAt is { } s && live < s) || (schedule.EndsAt is { } e && live >= e)))
        {
            errors.Add($"schedule.liveStartsAt: {live} is outside the campaign's start and end.");
        }

        return zone;
    }
}
