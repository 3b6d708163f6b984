namespace Campaigns.Modeling;

/// <summary>Where a registration's lead lands (F-1.7).</summary>
public enum LeadPoolKind
{
    /// <summary>Straight to sales leads.</summary>
    SalesLeads = 0,

    /// <summary>The marketing lead pool.</summary>
    MarketingPool = 1,

    /// <summary>A named business pool (e.g. business pool A or B).</summary>
    BusinessPool = 2,
}

/// <summary>A lead pool route: the kind and, for business pools, the pool's name.</summary>
/// <param name="Kind">The kind of pool.</param>
/// <param name="PoolName">For <see cref="LeadPoolKind.BusinessPool"/>: the pool's name, e.g. <c>A</c>; otherwise null.</param>
public sealed record LeadPoolRoute(LeadPoolKind Kind, string? PoolName = null)
{
    /// <summary>Straight to sales leads.</summary>
    public static LeadPoolRoute SalesLeads { get; } = new(LeadPoolKind.SalesLeads);

    /// <summary>The marketing pool.</summary>
    public static LeadPoolRoute MarketingPool { get; } = new(LeadPoolKind.MarketingPool);

    /// <summary>A named business pool.</summary>
    /// <param name="name">The pool's name, e.g. <c>A</c>.</param>
    public static LeadPoolRoute BusinessPool(string name) => new(LeadPoolKind.BusinessPool, name);

    /// <inheritdoc />
    public override string ToString() => Kind == LeadPoolKind.BusinessPool ? $"BusinessPool({PoolName})" : Kind.ToString();
}

/// <summary>
/// A registration form template (F-1.7): its fields, which object a submission is stored as,
/// which lead pool it lands in, whether registrations need approval, and which campaign kinds it suits.
/// </summary>
public sealed record RegistrationFormTemplate
{
    /// <summary>A stable id, e.g. <c>live-marketing-full</c>.</summary>
    public required string Id { get; init; }

    /// <summary>What people see.</summary>
    public required string Name { get; init; }

    /// <summary>The fields in display order.</summary>
    public required IReadOnlyList<FieldDefinition> Fields { get; init; }

    /// <summary>The object a submission is stored as: <c>lead</c> (default) or another object's name.</summary>
    public string TargetObject { get; init; } = "lead";

    /// <summary>The lead pool a submission lands in.</summary>
    public LeadPoolRoute LeadPool { get; init; } = LeadPoolRoute.MarketingPool;

    /// <summary>Whether a registration waits for approval before it counts as registered.</summary>
    public bool RequiresApproval { get; init; }

    /// <summary>The campaign sub-kinds the form suits (empty = any).</summary>
    public IReadOnlyList<string> SuitableFor { get; init; } = [];
}

/// <summary>The kinds of landing/micro-page (F-1.9, seed 000 §1.2②).</summary>
public enum MicroPageKind
{
    /// <summary>The default detail + register page generated with a campaign.</summary>
    DetailWithRegistration = 0,

    /// <summary>A custom page with the form shown directly.</summary>
    CustomForm = 1,

    /// <summary>A download page: members download directly, others fill the form first.</summary>
    GatedDownload = 2,

    /// <summary>A survey page whose answers map to a survey object.</summary>
    Survey = 3,
}

/// <summary>A micro-page as data (F-1.9).</summary>
public sealed record MicroPageDefinition
{
    /// <summary>A key unique within the campaign, e.g. <c>detail</c>.</summary>
    public required string Key { get; init; }

    /// <summary>The kind of page.</summary>
    public required MicroPageKind Kind { get; init; }

    /// <summary>The page title.</summary>
    public required string Title { get; init; }

    /// <summary>The blocks the page shows in order, e.g. <c>header-image</c>, <c>name</c>, <c>time</c>, <c>register-button</c>.</summary>
    public IReadOnlyList<string> Blocks { get; init; } = [];

    /// <summary>The registration form shown or linked (forms, gated downloads), or null.</summary>
    public string? FormId { get; init; }

    /// <summary>For gated downloads: whether known members skip the form.</summary>
    public bool MembersSkipForm { get; init; }

    /// <summary>For surveys: the object the answers are stored as, e.g. <c>survey</c>.</summary>
    public string? SurveyObject { get; init; }
}
