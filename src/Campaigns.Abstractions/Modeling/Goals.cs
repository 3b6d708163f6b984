using NodaTime;

namespace Campaigns.Modeling;

/// <summary>
/// A SMART KPI goal of a campaign (F-1.4): a specific metric, a measurable target, a deadline.
/// For example "500 qualified leads from webinars by 2026-06-30".
/// </summary>
public sealed record SmartGoal
{
    /// <summary>The metric, e.g. <c>qualified-leads</c>.</summary>
    public required string Metric { get; init; }

    /// <summary>The target value in <see cref="Unit"/>; greater than zero.</summary>
    public required decimal Target { get; init; }

    /// <summary>The unit.</summary>
    public GoalUnit Unit { get; init; }

    /// <summary>The last day (inclusive, in the campaign's time zone) the target counts for.</summary>
    public required LocalDate Deadline { get; init; }

    /// <summary>A readable statement of the goal.</summary>
    public string? Description { get; init; }
}

/// <summary>Where a goal stands.</summary>
public enum GoalStatus
{
    /// <summary>Target not reached and the deadline not passed.</summary>
    InProgress = 0,

    /// <summary>Target reached (on or before the deadline).</summary>
    Achieved = 1,

    /// <summary>Deadline passed without reaching the target.</summary>
    Missed = 2,
}

/// <summary>A goal's attainment computed from supplied figures.</summary>
/// <param name="Goal">The goal.</param>
/// <param name="Actual">The figure supplied for the goal's metric, or null when none was supplied.</param>
/// <param name="Ratio">Actual / target (1.0 = exactly reached; may exceed 1); 0 when no figure was supplied.</param>
/// <param name="Status">Where the goal stands on the evaluation date.</param>
public sealed record GoalAttainment(SmartGoal Goal, decimal? Actual, decimal Ratio, GoalStatus Status);

/// <summary>The budget of a campaign (F-1.5): a total and cost lines per channel and item, feeding ROI.</summary>
public sealed record Budget
{
    /// <summary>ISO 4217 currency code, e.g. <c>CNY</c>.</summary>
    public required string Currency { get; init; }

    /// <summary>The approved total; zero or more.</summary>
    public decimal Total { get; init; }

    /// <summary>The cost lines.</summary>
    public IReadOnlyList<CostLine> Lines { get; init; } = [];
}

/// <summary>One cost line of a budget.</summary>
public sealed record CostLine
{
    /// <summary>A key unique within the budget, e.g. <c>venue</c>.</summary>
    public required string Key { get; init; }

    /// <summary>What is paid for, e.g. "venue rental".</summary>
    public required string Item { get; init; }

    /// <summary>The channel the cost belongs to (e.g. <c>sms</c>, <c>email</c>), or null for channel-independent costs.</summary>
    public string? Channel { get; init; }

    /// <summary>The planned amount; zero or more.</summary>
    public decimal Planned { get; init; }

    /// <summary>The amount actually spent so far; zero or more.</summary>
    public decimal Actual { get; init; }
}
