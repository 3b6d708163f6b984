using NodaTime;

namespace Campaigns.Modeling;

/// <summary>Computes goal attainment (F-1.4) and budget totals (F-1.5). Stateless and thread-safe.</summary>
public static class GoalCalculator
{
    /// <summary>
    /// Computes each goal's attainment from supplied figures (metric → actual value, e.g. from analytics).
    /// A goal is <see cref="GoalStatus.Achieved"/> when the actual reaches the target, <see cref="GoalStatus.Missed"/>
    /// when <paramref name="today"/> is after the deadline without reaching it, else <see cref="GoalStatus.InProgress"/>.
    /// </summary>
    /// <param name="goals">The goals.</param>
    /// <param name="figures">Actual values by metric name (ordinal comparison).</param>
    /// <param name="today">The evaluation date in the campaign's time zone.</param>
    public static IReadOnlyList<GoalAttainment> Evaluate(IReadOnlyList<SmartGoal> goals, IReadOnlyDictionary<string, decimal> figures, LocalDate today)
    {
        ArgumentNullException.ThrowIfNull(goals);
        ArgumentNullException.ThrowIfNull(figures);
        var result = new List<GoalAttainment>(goals.Count);
        foreach (var goal in goals)
        {
            if (goal.Target <= 0)
            {
                throw new ArgumentException($"Goal '{goal.Metric}' has target {goal.Target}; a target must be greater than zero.", nameof(goals));
            }

            decimal? actual = figures.TryGetValue(goal.Metric, out var a) ? a : null;
            var ratio = actual is { } v ? decimal.Round(v / goal.Target, 4) : 0m;
            var status = actual >= goal.Target
                ? GoalStatus.Achieved
                : today > goal.Deadline ? GoalStatus.Missed : GoalStatus.InProgress;
            result.Add(new GoalAttainment(goal, actual, ratio, status));
        }

        return result;
    }

    /// <summary>Validates goals: metric named, target greater than zero, percent targets at most 100.</summary>
    /// <param name="goals">The goals.</param>
    /// <returns>Errors naming the goal; empty when valid.</returns>
    public static IReadOnlyList<string> Validate(IReadOnlyList<SmartGoal> goals)
    {
        ArgumentNullException.ThrowIfNull(goals);
        var errors = new List<string>();
        for (var i = 0; i < goals.Count; i++)
        {
            var g = goals[i];
            if (string.IsNullOrWhiteSpace(g.Metric))
            {
                errors.Add($"goals[{i}].metric: a goal needs a metric name.");
            }

            if (g.Target <= 0)
            {
                errors.Add($"goals[{i}].target: {g.Target} is not greater than zero.");
            }
            else if (g.Unit == GoalUnit.Percent && g.Target > 100)
            {
                errors.Add($"goals[{i}].target: {g.Target} % is more than 100 %.");
            }
        }

        return errors;
    }
}

/// <summary>Totals of a <see cref="Budget"/>.</summary>
/// <param name="Planned">Sum of planned amounts.</param>
/// <param name="Actual">Sum of actual amounts.</param>
/// <param name="Remaining">Total minus actual (negative when overspent).</param>
/// <param name="OverPlanned">Whether the planned lines exceed the approved total.</param>
/// <param name="ByChannel">Planned and actual per channel; channel-independent lines under the empty string.</param>
public sealed record BudgetSummary(
    decimal Planned,
    decimal Actual,
    decimal Remaining,
    bool OverPlanned,
    IReadOnlyDictionary<string, (decimal Planned, decimal Actual)> ByChannel);

/// <summary>Budget arithmetic and validation (F-1.5). Stateless and thread-safe.</summary>
public static class BudgetCalculator
{
    /// <summary>Sums a budget by line and by channel.</summary>
    /// <param name="budget">The budget.</param>
    public static BudgetSummary Summarize(Budget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var planned = budget.Lines.Sum(l => l.Planned);
        var actual = budget.Lines.Sum(l => l.Actual);
        var byChannel = budget.Lines
            .GroupBy(l => l.Channel ?? string.Empty, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.Sum(l => l.Planned), g.Sum(l => l.Actual)), StringComparer.Ordinal);
        return new BudgetSummary(planned, actual, budget.Total - actual, planned > budget.Total, byChannel);
    }

    /// <summary>Validates a budget: a 3-letter upper-case currency, non-negative amounts, unique line keys.</summary>
    /// <param name="budget">The budget.</param>
    /// <returns>Errors naming the field; empty when valid.</returns>
    public static IReadOnlyList<string> Validate(Budget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var errors = new List<string>();
        if (budget.Currency is not { Length: 3 } c || !c.All(char.IsAsciiLetterUpper))
        {
            errors.Add($"budget.currency: '{budget.Currency}' is not an ISO 4217 code such as CNY or USD.");
        }

        if (budget.Total < 0)
        {
            errors.Add($"budget.total: {budget.Total} is negative.");
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < budget.Lines.Count; i++)
        {
            var line = budget.Lines[i];
            if (string.IsNullOrWhiteSpace(line.Key) || !keys.Add(line.Key))
            {
                errors.Add($"budget.lines[{i}].key: '{line.Key}' is blank or used twice.");
            }

            if (line.Planned < 0)
            {
                errors.Add($"budget.lines[{i}].planned: {line.Planned} is negative.");
            }

            if (line.Actual < 0)
            {
                errors.Add($"budget.lines[{i}].actual: {line.Actual} is negative.");
            }
        }

        return errors;
    }
}
