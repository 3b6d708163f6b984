using Campaigns.Modeling;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Tests.Modeling;

public class GoalAndBudgetTests
{
    private static readonly SmartGoal Leads = new()
    {
        Metric = "qualified-leads",
        Target = 500,
        Deadline = new LocalDate(2026, 6, 30),
        Description = "500 qualified leads from webinars in Q2",
    };

    private static readonly SmartGoal Conversion = new()
    {
        Metric = "conversion-rate",
        Target = 10,
        Unit = GoalUnit.Percent,
        Deadline = new LocalDate(2026, 6, 30),
    };

    [Theory]
    [InlineData(250, "2026-06-01", 0.5, GoalStatus.InProgress)]
    [InlineData(500, "2026-06-01", 1.0, GoalStatus.Achieved)]
    [InlineData(650, "2026-07-15", 1.3, GoalStatus.Achieved)]
    [InlineData(499, "2026-06-30", 0.998, GoalStatus.InProgress)]
    [InlineData(499, "2026-07-01", 0.998, GoalStatus.Missed)]
    public void Attainment_compares_actual_with_target_and_deadline(int actual, string today, double ratio, GoalStatus status)
    {
        var result = Assert.Single(GoalCalculator.Evaluate([Leads], new Dictionary<string, decimal> { ["qualified-leads"] = actual }, LocalDatePattern.Iso.Parse(today).GetValueOrThrow()));
        Assert.Equal((decimal)ratio, result.Ratio);
        Assert.Equal(status, result.Status);
        Assert.Equal(actual, result.Actual);
    }

    [Fact]
    public void A_goal_without_a_figure_has_no_actual_and_ratio_zero()
    {
        var results = GoalCalculator.Evaluate([Leads, Conversion], new Dictionary<string, decimal> { ["conversion-rate"] = 12.5m }, new LocalDate(2026, 7, 1));
        Assert.Equal((null, 0m, GoalStatus.Missed), (results[0].Actual, results[0].Ratio, results[0].Status));
        Assert.Equal((12.5m, 1.25m, GoalStatus.Achieved), (results[1].Actual, results[1].Ratio, results[1].Status));
    }

    [Fact]
    public void Goal_validation_names_the_goal_and_field()
    {
        var errors = GoalCalculator.Validate([Leads with { Target = 0 }, Conversion with { Target = 120 }, Leads with { Metric = " " }]);
        Assert.Equal(["goals[0].target: 0 is not greater than zero.", "goals[1].target: 120 % is more than 100 %.", "goals[2].metric: a goal needs a metric name."], errors);
        Assert.Throws<ArgumentException>(() => GoalCalculator.Evaluate([Leads with { Target = -1 }], new Dictionary<string, decimal>(), new LocalDate(2026, 1, 1)));
    }

    private static readonly Budget Salon = new()
    {
        Currency = "CNY",
        Total = 50_000,
        Lines =
        [
            new CostLine { Key = "venue", Item = "会场租赁", Planned = 20_000, Actual = 22_000 },
            new CostLine { Key = "sms", Item = "短信通知", Channel = "sms", Planned = 2_000, Actual = 1_500 },
            new CostLine { Key = "sms-2", Item = "短信提醒", Channel = "sms", Planned = 1_000, Actual = 800 },
            new CostLine { Key = "ads", Item = "朋友圈广告", Channel = "wechat", Planned = 10_000, Actual = 0 },
        ],
    };

    [Fact]
    public void Budget_summary_sums_lines_and_channels()
    {
        var s = BudgetCalculator.Summarize(Salon);
        Assert.Equal((33_000m, 24_300m, 25_700m, false), (s.Planned, s.Actual, s.Remaining, s.OverPlanned));
        Assert.Equal((3_000m, 2_300m), s.ByChannel["sms"]);
        Assert.Equal((20_000m, 22_000m), s.ByChannel[string.Empty]);
        Assert.True(BudgetCalculator.Summarize(Salon with { Total = 30_000 }).OverPlanned);
    }

    [Fact]
    public void Budget_validation_names_each_bad_field()
    {
        var bad = Salon with
        {
            Currency = "rmb",
            Total = -1,
            Lines = [new CostLine { Key = "a", Item = "x", Planned = -5 }, new CostLine { Key = "a", Item = "y", Actual = -2 }],
        };
        Assert.Equal(
            [
                "budget.currency: 'rmb' is not an ISO 4217 code such as CNY or USD.",
                "budget.total: -1 is negative.",
                "budget.lines[0].planned: -5 is negative.",
                "budget.lines[1].key: 'a' is blank or used twice.",
                "budget.lines[1].actual: -2 is negative.",
            ],
            BudgetCalculator.Validate(bad));
        Assert.Empty(BudgetCalculator.Validate(Salon));
    }
}
