using Campaigns.Contacts;

namespace Campaigns.Segmentation;

/// <summary>
/// The layered audiences of seed 004 (F-5.4) as example definitions in the text form: high value (高價(jià)值用戶),
/// potential conversion (潛在轉(zhuǎn)化用戶), churn risk (流失風(fēng)險(xiǎn)用戶) and dormant sign-ups (沉睡用戶: registered over
/// 90 days ago, never ordered), over the example <see cref="Schema"/>. Layers exclude the layers above them.
/// </summary>
public static class ExampleSegments
{
    /// <summary>The id of the high-value audience.</summary>
    public const string HighValueId = "high-value";

    /// <summary>The id of the potential-conversion audience.</summary>
    public const string PotentialId = "potential";

    /// <summary>The id of the churn-risk audience.</summary>
    public const string ChurnRiskId = "churn-risk";

    /// <summary>The id of the dormant sign-ups audience.</summary>
    public const string DormantId = "dormant";

    /// <summary>High value: good fit (grade A or B), engaged, bought at least twice in a year, large budget.</summary>
    public const string HighValue = """grade in (A, B) and total_score >= 60 and count(purchase) >= 2 within 365d and budget >= 50""";

    /// <summary>Potential conversion: not yet high value, a lead, showing intent in the last 30 days, not marked churned.</summary>
    public const string Potential =
        """not in_segment(high-value) and stage in (new, mql, sql) and (visited("product") >= 2 within 30d or did(form_submit where form = "demo-request") within 30d or score >= 20) and not has_tag("churned")""";

    /// <summary>Churn risk: a customer or opportunity that has not bought in 90 days and has not visited in 30 (or never), not high value.</summary>
    public const string ChurnRisk =
        """stage in (opportunity, customer) and never(purchase) within 90d and (last_visit before 30d or last_visit is empty) and not in_segment(high-value)""";

    /// <summary>Dormant sign-ups: registered over 90 days ago and never ordered, reachable by SMS.</summary>
    public const string Dormant = """created_at before 90d and never(purchase) and consent(sms) and not in_segment(churn-risk)""";

    /// <summary>The example attribute schema the definitions use (the schema of the sample and the benchmarks).</summary>
    public static AttributeSchema Schema { get; } = new()
    {
        Attributes =
        [
            new() { Name = "industry", Type = AttributeType.String, Description = "Industry, e.g. manufacturing." },
            new() { Name = "region", Type = AttributeType.String, Description = "Sales region, e.g. east." },
            new() { Name = "company_size", Type = AttributeType.Integer, Description = "Employees." },
            new() { Name = "budget", Type = AttributeType.Decimal, Description = "Annual budget in 10k CNY." },
            new() { Name = "last_visit", Type = AttributeType.Date, Description = "Date of the last website visit." },
            new() { Name = "product_views_30d", Type = AttributeType.Integer, Description = "Product page views in the last 30 days." },
            new() { Name = "interests", Type = AttributeType.StringList, Description = "Declared interests." },
            new() { Name = "vip", Type = AttributeType.Bool, Description = "Marked VIP by sales." },
        ],
    };

    /// <summary>A catalog with the four example definitions, validated against <paramref name="context"/> (the example schema when null).</summary>
    /// <param name="context">The context, or null for one over <see cref="Schema"/>.</param>
    /// <exception cref="FilterException">The context does not have the fields the definitions use.</exception>
    public static SegmentCatalog CreateCatalog(FilterContext? context = null)
    {
        var catalog = new SegmentCatalog(context ?? new FilterContext(Schema));
        catalog.Define(HighValueId, "High value (高價(jià)值用戶)", HighValue, "Good fit, engaged and buying: exclusive service and e-mail.");
        catalog.Define(PotentialId, "Potential conversion (潛在轉(zhuǎn)化用戶)", Potential, "Leads showing intent: SMS and app push.");
        catalog.Define(ChurnRiskId, "Churn risk (流失風(fēng)險(xiǎn)用戶)", ChurnRisk, "Customers going quiet: win-back gift and order history.");
        catalog.Define(DormantId, "Dormant sign-ups (沉睡用戶)", Dormant, "Registered over 90 days ago without an order: come-back coupon.");
        return catalog;
    }
}
