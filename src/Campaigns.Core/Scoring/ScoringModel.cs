using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>
/// A lead-scoring model (F-4): behaviour rules, fit rules with grades, decay and thresholds. Plain data: it
/// round-trips through System.Text.Json with <see cref="Serialization.CampaignsJson.Options"/> (durations as
/// <c>D:hh:mm:ss</c>, e.g. <c>7:00:00:00</c>). Validate with <see cref="ScoringModelValidator"/>.
/// </summary>
public sealed record ScoringModel
{
    /// <summary>The behaviour rules: event kind + property conditions → points.</summary>
    public IReadOnlyList<BehaviourRule> BehaviourRules { get; init; } = [];

    /// <summary>The fit (profile) rules: a condition on the contact → points. Kept apart from behaviour (F-4.2).</summary>
    public IReadOnlyList<FitRule> FitRules { get; init; } = [];

    /// <summary>The fit grades, best first: a contact gets the first grade whose <see cref="GradeBand.MinFit"/> its fit reaches, or the last grade when it reaches none. Default A ≥ 60, B ≥ 40, C ≥ 20, D otherwise.</summary>
    public IReadOnlyList<GradeBand> Grades { get; init; } = DefaultGrades;

    /// <summary>
    /// The half-life of behaviour points (F-4.3): points earned by an event count
    /// <c>points × 2^(−age / HalfLife)</c>, age measured from the event's occurred-at instant to the clock's instant.
    /// Null for no decay.
    /// </summary>
    public Duration? HalfLife { get; init; }

    /// <summary>The thresholds (F-4.4), e.g. ≥ 20 = high intent.</summary>
    public IReadOnlyList<ScoreThreshold> Thresholds { get; init; } = [];

    /// <summary>A → D at 60, 40, 20, 0 fit points.</summary>
    public static IReadOnlyList<GradeBand> DefaultGrades { get; } =
        [new("A", 60), new("B", 40), new("C", 20), new("D", 0)];
}

/// <summary>A behaviour scoring rule (F-4.1): each event of <see cref="EventKind"/> satisfying <see cref="Where"/> earns <see cref="Points"/>.</summary>
public sealed record BehaviourRule
{
    /// <summary>A stable id, unique in the model, e.g. <c>product-page-view</c>.</summary>
    public required string Id { get; init; }

    /// <summary>What people see, e.g. "Product page view".</summary>
    public string? Name { get; init; }

    /// <summary>The event kind, e.g. <see cref="EventKinds.PageView"/>; must be known to the filter context.</summary>
    public required string EventKind { get; init; }

    /// <summary>Property conditions (the filter language's <see cref="PropertyCondition"/>), all of which must hold, e.g. <c>page_kind = "product"</c>.</summary>
    public IReadOnlyList<PropertyCondition> Where { get; init; } = [];

    /// <summary>The points per event; negative to subtract (e.g. an unsubscribe −10). Not 0.</summary>
    public required decimal Points { get; init; }

    /// <summary>An optional cap: at most so many points (in absolute value) from this rule per period.</summary>
    public ScoreCap? Cap { get; init; }
}

/// <summary>
/// A cap of a behaviour rule: at most <see cref="MaxPoints"/> points (absolute value) per period. The period is either
/// <see cref="Period"/>, consecutive fixed buckets of that exact duration aligned to the Unix epoch (so a 1-day period
/// is a UTC day), or <see cref="Calendar"/>, a calendar day, ISO week (Monday to Sunday), month or year in the
/// contact's time zone (<see cref="Contact.TimeZoneId"/>, else <see cref="CampaignsOptions.DefaultTimeZone"/>), e.g. "at most
/// 20 points per calendar month". An event belongs to the period of its occurred-at instant, and within a period events
/// earn in occurred-at order (then event id), the one that reaches the cap earning only the rest. Out-of-order arrival
/// gives the same result. Exactly one of <see cref="Period"/> and <see cref="Calendar"/> is set.
/// </summary>
public sealed record ScoreCap
{
    /// <summary>The most points per period; positive.</summary>
    public required decimal MaxPoints { get; init; }

    /// <summary>A fixed period, e.g. one day (UTC-aligned buckets); leave at zero when <see cref="Calendar"/> is set.</summary>
    public Duration Period { get; init; }

    /// <summary>A calendar period in the contact's time zone, or null for the fixed <see cref="Period"/>.</summary>
    public CalendarPeriod? Calendar { get; init; }
}

/// <summary>A calendar period of a <see cref="ScoreCap"/>, in the contact's time zone.</summary>
public enum CalendarPeriod
{
    /// <summary>A local calendar day (midnight to midnight).</summary>
    Day = 0,

    /// <summary>An ISO week, Monday to Sunday.</summary>
    Week = 1,

    /// <summary>A calendar month.</summary>
    Month = 2,

    /// <summary>A calendar year.</summary>
    Year = 3,
}

/// <summary>A fit (profile) rule (F-4.2): a contact satisfying <see cref="Condition"/> gets <see cref="Points"/> fit points.</summary>
public sealed record FitRule
{
    /// <summary>A stable id, unique in the model.</summary>
    public required string Id { get; init; }

    /// <summary>What people see.</summary>
    public string? Name { get; init; }

    /// <summary>The condition in the filter language, on the profile only (no behaviour, score or grade predicates).</summary>
    public required Filter Condition { get; init; }

    /// <summary>The points; may be negative.</summary>
    public required decimal Points { get; init; }
}

/// <summary>A fit grade and the fit score from which it applies.</summary>
/// <param name="Grade">The grade, e.g. <c>A</c>.</param>
/// <param name="MinFit">The least fit score of the grade (inclusive).</param>
public sealed record GradeBand(string Grade, decimal MinFit);

/// <summary>
/// A score threshold with hysteresis (F-4.4): a contact enters when the score reaches <see cref="Enter"/> and leaves
/// only when it falls below <see cref="Exit"/>, so a score hovering around the threshold does not flap. Entering
/// raises <see cref="ThresholdCrossed"/>, moves the stage forward to <see cref="MoveToStage"/> and assigns the lead;
/// leaving raises <see cref="ThresholdCrossed"/> only.
/// </summary>
public sealed record ScoreThreshold
{
    /// <summary>A stable id, unique in the model, e.g. <c>high-intent</c>.</summary>
    public required string Id { get; init; }

    /// <summary>What people see, e.g. "High intent".</summary>
    public string? Name { get; init; }

    /// <summary>Which score is compared: behaviour (default) or total.</summary>
    public ScoreKind Score { get; init; } = ScoreKind.Behaviour;

    /// <summary>The score at which a contact enters (inclusive); positive.</summary>
    public required decimal Enter { get; init; }

    /// <summary>The score below which a contact leaves; at most <see cref="Enter"/>. Defaults to <see cref="Enter"/> (no hysteresis) when null.</summary>
    public decimal? Exit { get; init; }

    /// <summary>The stage to move the contact to on entering (only forward, e.g. New → MQL; a later stage is kept); null for none.</summary>
    public LifecycleStage? MoveToStage { get; init; } = LifecycleStage.Mql;

    /// <summary>How to assign the lead on entering; null for no assignment.</summary>
    public AssignmentPolicy? Assignment { get; init; }
}

/// <summary>How leads are assigned to salespeople.</summary>
public enum AssignmentMode
{
    /// <summary>In turn among <see cref="AssignmentPolicy.Assignees"/>.</summary>
    RoundRobin = 0,

    /// <summary>By the contact's region attribute through <see cref="AssignmentPolicy.RegionMap"/>; round robin when the region is missing or unmapped.</summary>
    ByRegion = 1,

    /// <summary>Keep the contact's owner; round robin when it has none.</summary>
    KeepOwner = 2,
}

/// <summary>Lead assignment on entering a threshold (F-4.4).</summary>
public sealed record AssignmentPolicy
{
    /// <summary>The mode.</summary>
    public AssignmentMode Mode { get; init; } = AssignmentMode.RoundRobin;

    /// <summary>The salespeople (user ids) of the round robin; at least one unless the mode is <see cref="AssignmentMode.ByRegion"/> with a full map.</summary>
    public IReadOnlyList<string> Assignees { get; init; } = [];

    /// <summary>The attribute holding the region; <c>region</c> by default. Must be in the schema.</summary>
    public string RegionAttribute { get; init; } = "region";

    /// <summary>Region value → salesperson, for <see cref="AssignmentMode.ByRegion"/> (ordinal).</summary>
    public IReadOnlyDictionary<string, string> RegionMap { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether a contact that already has an owner keeps it (in every mode); true by default.</summary>
    public bool KeepExistingOwner { get; init; } = true;
}
