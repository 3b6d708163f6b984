using NodaTime;

namespace Campaigns.Modeling;

/// <summary>
/// What a new campaign of a type is pre-filled with (F-1.2): process steps, registration form,
/// micro-pages, SOP set, tag rules, KPI goals, custom fields and the approval chain.
/// </summary>
public sealed record CampaignTemplate
{
    /// <summary>The standard process steps in order.</summary>
    public IReadOnlyList<ProcessStep> ProcessSteps { get; init; } = [];

    /// <summary>The id of the registration form template in the catalogue, or null when the type takes no registrations.</summary>
    public string? RegistrationFormId { get; init; }

    /// <summary>The micro-pages created with the campaign (F-1.9).</summary>
    public IReadOnlyList<MicroPageDefinition> MicroPages { get; init; } = [];

    /// <summary>The SOP set (F-6.1) as data; the scheduler turns it into timed sends.</summary>
    public IReadOnlyList<SopDefinition> Sops { get; init; } = [];

    /// <summary>The tag rules (F-3.2) attached to participants.</summary>
    public IReadOnlyList<TagRuleTemplate> TagRules { get; init; } = [];

    /// <summary>The KPI goals, with deadlines relative to the campaign end.</summary>
    public IReadOnlyList<GoalTemplate> Goals { get; init; } = [];

    /// <summary>The custom fields a campaign of this type carries (F-1.6).</summary>
    public IReadOnlyList<FieldDefinition> CustomFields { get; init; } = [];

    /// <summary>The approval chain copied onto each campaign.</summary>
    public ApprovalChain ApprovalChain { get; init; } = ApprovalChain.None;
}

/// <summary>Who an SOP message is for.</summary>
public enum SopAudience
{
    /// <summary>The participant (customer).</summary>
    Customer = 0,

    /// <summary>The salesperson who owns the participant.</summary>
    Sales = 1,
}

/// <summary>The campaign moment an SOP step is relative to.</summary>
public enum SopAnchor
{
    /// <summary>When a registration succeeds.</summary>
    RegistrationSucceeded = 0,

    /// <summary>The calendar day the campaign starts, at <see cref="SopDefinition.LocalTime"/> in the campaign's time zone.</summary>
    EventDay = 1,

    /// <summary>The campaign's start instant.</summary>
    EventStart = 2,

    /// <summary>The live stream's start instant.</summary>
    LiveStart = 3,

    /// <summary>The campaign's end instant.</summary>
    EventEnd = 4,

    /// <summary>When a participant interacts (see <see cref="SopDefinition.Interactions"/>).</summary>
    Interaction = 5,
}

/// <summary>
/// One SOP step as data (F-6.1): what to send, to whom, through which channels, relative to which moment.
/// The scheduler (a later package feature) turns it into timed sends.
/// </summary>
public sealed record SopDefinition
{
    /// <summary>A stable key, e.g. <c>registration-success</c>.</summary>
    public required string Key { get; init; }

    /// <summary>What people see.</summary>
    public required string Name { get; init; }

    /// <summary>Customer-facing or sales-facing.</summary>
    public SopAudience Audience { get; init; }

    /// <summary>The moment the step is relative to.</summary>
    public SopAnchor Anchor { get; init; }

    /// <summary>The offset from the anchor (negative = before), e.g. <c>P-1D</c> for T-1 day (ISO-8601 with the sign on each unit; <c>-P1D</c> is not accepted).</summary>
    public Period Offset { get; init; } = Period.Zero;

    /// <summary>For day-based anchors: the local time of day in the campaign's time zone, e.g. 08:00.</summary>
    public LocalTime? LocalTime { get; init; }

    /// <summary>The channel names to send through, e.g. <c>sms</c>, <c>wechat-template</c>, <c>wecom</c>.</summary>
    public IReadOnlyList<string> Channels { get; init; } = [];

    /// <summary>For <see cref="SopAnchor.Interaction"/>: the participant activities that trigger it.</summary>
    public IReadOnlyList<ParticipantActivityKind> Interactions { get; init; } = [];

    /// <summary>The message template with variables such as <c>{name}</c>, <c>{campaign}</c>, <c>{link}</c>.</summary>
    public string? Content { get; init; }
}

/// <summary>
/// A tag rule a campaign attaches to its participants (F-3.2), e.g. group <c>报名活动</c> with the naming
/// template <c>报名: {date}+{location}+{topic}</c>.
/// </summary>
public sealed record TagRuleTemplate
{
    /// <summary>The tag group, e.g. <c>campaign-registration</c>.</summary>
    public required string Group { get; init; }

    /// <summary>The naming template with placeholders in braces.</summary>
    public required string NameTemplate { get; init; }

    /// <summary>Whether the seed calls the tag required (必备) or optional (选增).</summary>
    public bool Required { get; init; }

    /// <summary>When the tag is applied, e.g. on registration.</summary>
    public ParticipantActivityKind AppliedOn { get; init; } = ParticipantActivityKind.Registered;
}

/// <summary>The unit of a goal's target.</summary>
public enum GoalUnit
{
    /// <summary>A count, e.g. 500 leads.</summary>
    Count = 0,

    /// <summary>A percentage 0–100, e.g. 10 (%) conversion.</summary>
    Percent = 1,

    /// <summary>An amount of money in the campaign budget's currency.</summary>
    Money = 2,
}

/// <summary>A KPI goal in a template: the deadline is given relative to the campaign's end date.</summary>
public sealed record GoalTemplate
{
    /// <summary>The metric, e.g. <c>qualified-leads</c>, <c>registrations</c>, <c>check-in-rate</c>.</summary>
    public required string Metric { get; init; }

    /// <summary>The target value in <see cref="Unit"/>.</summary>
    public required decimal Target { get; init; }

    /// <summary>The unit.</summary>
    public GoalUnit Unit { get; init; }

    /// <summary>The deadline relative to the campaign's end date (local), e.g. <c>P7D</c>.</summary>
    public Period DeadlineAfterEnd { get; init; } = Period.Zero;

    /// <summary>A readable statement of the goal.</summary>
    public string? Description { get; init; }
}
