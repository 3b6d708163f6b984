using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Scoring;

/// <summary>The seeds' scoring examples: product page view +5, form submit +10, ≥ 20 = high intent.</summary>
internal static class SeedModels
{
    public static BehaviourRule ProductView { get; } = new()
    {
        Id = "product-page-view",
        Name = "Product page view (访问产品页)",
        EventKind = EventKinds.PageView,
        Where = [new PropertyCondition("page_kind", CompareOperator.Equal, ["product"])],
        Points = 5,
    };

    public static BehaviourRule FormSubmit { get; } = new() { Id = "form-submit", Name = "Form submit (提交表单)", EventKind = EventKinds.FormSubmit, Points = 10 };

    public static ScoreThreshold HighIntent { get; } = new()
    {
        Id = "high-intent",
        Name = "High intent (高意向)",
        Enter = 20,
        Exit = 15,
        Assignment = new AssignmentPolicy { Mode = AssignmentMode.RoundRobin, Assignees = ["sales-1", "sales-2"] },
    };

    public static ScoringModel Seed { get; } = new()
    {
        BehaviourRules = [ProductView, FormSubmit],
        FitRules =
        [
            new FitRule { Id = "manufacturing", Condition = new AttributeFilter("industry", CompareOperator.Equal, [new TextValue("manufacturing")]), Points = 40 },
            new FitRule { Id = "east", Condition = new AttributeFilter("region", CompareOperator.Equal, [new TextValue("华东")]), Points = 25 },
        ],
        Thresholds = [HighIntent],
    };

    public static ScoringModel WithHalfLife(this ScoringModel model, int days) => model with { HalfLife = Duration.FromDays(days) };
}
