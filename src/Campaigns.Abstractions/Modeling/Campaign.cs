using NodaTime;

namespace Campaigns.Modeling;

/// <summary>When and where a campaign happens.</summary>
public sealed record CampaignSchedule
{
    /// <summary>The IANA time zone the campaign's local dates and times are in, e.g. <c>Asia/Shanghai</c>.</summary>
    public required string TimeZoneId { get; init; }

    /// <summary>The start instant, or null when not set yet.</summary>
    public Instant? StartsAt { get; init; }

    /// <summary>The end instant, or null when not set yet; after <see cref="StartsAt"/>.</summary>
    public Instant? EndsAt { get; init; }

    /// <summary>For live streams: when the broadcast starts, or null.</summary>
    public Instant? LiveStartsAt { get; init; }

    /// <summary>The venue or "online".</summary>
    public string? Location { get; init; }
}

/// <summary>
/// A campaign: an immutable snapshot of its definition and lifecycle state. Change it through the
/// campaign service; stores persist it with an optimistic <see cref="Version"/>.
/// </summary>
public sealed record Campaign
{
    /// <summary>The id.</summary>
    public required CampaignId Id { get; init; }

    /// <summary>The campaign's name, e.g. "2026 Q2 Shanghai manufacturing salon".</summary>
    public required string Name { get; init; }

    /// <summary>The topic, used by naming templates (<c>{topic}</c>).</summary>
    public string? Topic { get; init; }

    /// <summary>The catalogue type it was created from.</summary>
    public required string TypeId { get; init; }

    /// <summary>The lifecycle state.</summary>
    public CampaignState State { get; init; }

    /// <summary>While <see cref="CampaignState.PendingApproval"/>: the index of the level waiting to approve.</summary>
    public int ApprovalLevelIndex { get; init; }

    /// <summary>The approval chain in force for this campaign.</summary>
    public ApprovalChain ApprovalChain { get; init; } = ApprovalChain.None;

    /// <summary>When and where.</summary>
    public required CampaignSchedule Schedule { get; init; }

    /// <summary>The process steps.</summary>
    public IReadOnlyList<ProcessStep> ProcessSteps { get; init; } = [];

    /// <summary>The registration form, copied from the catalogue so later catalogue edits do not change a running campaign.</summary>
    public RegistrationFormTemplate? RegistrationForm { get; init; }

    /// <summary>The micro-pages.</summary>
    public IReadOnlyList<MicroPageDefinition> MicroPages { get; init; } = [];

    /// <summary>The SOP set.</summary>
    public IReadOnlyList<SopDefinition> Sops { get; init; } = [];

    /// <summary>The tag rules.</summary>
    public IReadOnlyList<TagRuleTemplate> TagRules { get; init; } = [];

    /// <summary>The SMART goals.</summary>
    public IReadOnlyList<SmartGoal> Goals { get; init; } = [];

    /// <summary>The budget, or null when none is set.</summary>
    public Budget? Budget { get; init; }

    /// <summary>The custom field definitions of this campaign.</summary>
    public IReadOnlyList<FieldDefinition> CustomFieldDefinitions { get; init; } = [];

    /// <summary>The custom field values by field key.</summary>
    public IReadOnlyDictionary<string, FieldValue> CustomFields { get; init; } = new Dictionary<string, FieldValue>();

    /// <summary>Every lifecycle step taken, oldest first.</summary>
    public IReadOnlyList<LifecycleEntry> History { get; init; } = [];

    /// <summary>Who created the campaign.</summary>
    public required string CreatedBy { get; init; }

    /// <summary>When it was created.</summary>
    public required Instant CreatedAt { get; init; }

    /// <summary>The optimistic concurrency version: 0 before it is first stored; each store update adds one.</summary>
    public long Version { get; init; }
}
