using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tags;

/// <summary>
/// The tag system of seed 002 (F-3.1) as example data: four models, one per dimension — basic attributes (基础属性),
/// behaviour (行为特征), needs and preferences (需求偏好), value tier (价值层级) — with their groups, example tags, update
/// frequencies and owners from the seed's tag table, the quantified rule "近30天咨询产品≥2次", and the naming templates
/// <see cref="TagNameTemplate.InterestedProduct"/> and <see cref="TagNameTemplate.Registration"/> (seed 000). Rule tags
/// are written in the filter language over <see cref="ExampleSegments.Schema"/>; tags without a condition are manual.
/// Load them into a catalog with <see cref="AddTo"/> or <see cref="CreateCatalog"/>, like <see cref="ExampleSegments"/>.
/// The members are immutable and thread-safe.
/// </summary>
public static class ExampleTagModels
{
    /// <summary>The four models, in dimension order.</summary>
    /// <param name="context">The context the conditions are parsed against; one over <see cref="ExampleSegments.Schema"/> when null.</param>
    /// <exception cref="FilterException">The context lacks a field the conditions use.</exception>
    public static IReadOnlyList<TagModel> Models(FilterContext? context = null)
    {
        var c = context ?? new FilterContext(ExampleSegments.Schema);
        TagDefinition Rule(string id, string name, string condition, string description, TagUpdateFrequency frequency, string owner) =>
            new() { Id = id, Name = name, Condition = FilterParser.Parse(condition, c), Description = description, UpdateFrequency = frequency, Owner = owner };
        TagDefinition Manual(string id, string name, string description, TagUpdateFrequency frequency, string owner, Duration? validity = null) =>
            new() { Id = id, Name = name, Description = description, UpdateFrequency = frequency, Owner = owner, Validity = validity };

        const TagUpdateFrequency Realtime = TagUpdateFrequency.Realtime;
        return
        [
            new TagModel
            {
                Id = "basic", Name = "基础属性", Dimension = TagDimension.BasicAttributes,
                Groups =
                [
                    new TagGroupDefinition
                    {
                        Id = "industry", Name = "所属行业",
                        Tags =
                        [
                            Rule("industry-manufacturing", "制造业", "industry = \"manufacturing\"", "客户所属行业: 制造业", Realtime, "customer-specialist"),
                            Rule("industry-retail", "零售业", "industry = \"retail\"", "客户所属行业: 零售业", Realtime, "customer-specialist"),
                            Rule("industry-unclassified", "待分类", "industry = \"unclassified\"", "缺失行业的客户暂标记为待分类 (导入默认值)", Realtime, "customer-specialist"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "region", Name = "地区",
                        Tags =
                        [
                            Rule("region-east", "华东", "region = \"east\"", "华东地区", Realtime, "customer-specialist"),
                            Rule("region-south", "华南", "region = \"south\"", "华南地区", Realtime, "customer-specialist"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "company-size", Name = "企业规模",
                        Tags =
                        [
                            Rule("size-50-100", "50-100人", "company_size >= 50 and company_size < 100", "员工 50 至 99 人", Realtime, "customer-specialist"),
                            Rule("size-100-500", "100-500人", "company_size >= 100 and company_size <= 500", "员工 100 至 500 人", Realtime, "customer-specialist"),
                        ],
                    },
                ],
            },
            new TagModel
            {
                Id = "behaviour", Name = "行为特征", Dimension = TagDimension.Behaviour,
                Groups =
                [
                    new TagGroupDefinition
                    {
                        Id = "recent-visit", Name = "最近访问时间",
                        Tags =
                        [
                            Rule("visit-7d", "7天内访问", "last_visit within 7d", "客户最后访问官网的时间在 7 天内", TagUpdateFrequency.Daily, "system"),
                            Rule("visit-30d", "30天内访问", "last_visit within 30d", "客户最后访问官网的时间在 30 天内", TagUpdateFrequency.Daily, "system"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "content-viewed", Name = "浏览内容",
                        Tags =
                        [
                            Rule("viewed-product", "浏览产品详情页", "visited(\"product\") >= 1 within 30d", "30 天内浏览过产品详情页", Realtime, "system"),
                            Rule("viewed-solution", "浏览解决方案页", "visited(\"solution\") >= 1 within 30d", "30 天内浏览过解决方案页", Realtime, "system"),
                            Rule("consulted-product-2x30d", "近30天咨询产品≥2次", "visited(\"product\") >= 2 within 30d", "量化标准: 近 30 天咨询 (浏览) 产品 ≥ 2 次", Realtime, "system"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "interaction", Name = "互动行为",
                        Tags =
                        [
                            Rule("opened-email", "打开邮件", "count(email_open) >= 1 within 30d", "30 天内打开过邮件", Realtime, "system"),
                            Rule("clicked", "点击", "count(email_click) >= 1 within 30d", "30 天内点击过邮件链接", Realtime, "system"),
                        ],
                    },
                ],
            },
            new TagModel
            {
                Id = "needs", Name = "需求偏好", Dimension = TagDimension.NeedsPreferences,
                Groups =
                [
                    new TagGroupDefinition
                    {
                        Id = "product-interest", Name = "关注产品",
                        Tags =
                        [
                            Manual("interested-product", TagNameTemplate.InterestedProduct, "客户咨询或购买过的产品 (销售反馈), 如 意向产品: A产品", TagUpdateFrequency.Weekly, "sales"),
                            Manual("product-a", "A产品", "关注 A 产品", TagUpdateFrequency.Weekly, "sales"),
                            Manual("product-b", "B产品", "关注 B 产品", TagUpdateFrequency.Weekly, "sales"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "budget", Name = "预算范围",
                        Tags =
                        [
                            Rule("budget-under-10", "10万以下", "budget < 10", "年度预算 10 万元以下 (budget 以万元计)", Realtime, "sales"),
                            Rule("budget-10-50", "10-50万", "budget between 10 and 50", "年度预算 10 至 50 万元", Realtime, "sales"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "registration", Name = "活动报名",
                        Tags =
                        [
                            Manual("registered", TagNameTemplate.Registration, "活动报名 (日期+地点+主题), 如 报名: 2026-06-18+上海+新品发布会", Realtime, "marketing", Duration.FromDays(180)),
                        ],
                    },
                ],
            },
            new TagModel
            {
                Id = "value", Name = "价值层级", Dimension = TagDimension.ValueTier,
                Groups =
                [
                    new TagGroupDefinition
                    {
                        Id = "customer-value", Name = "客户价值",
                        Tags =
                        [
                            Rule("value-high", "高价值", "total_score >= 60", "总分 ≥ 60", TagUpdateFrequency.Monthly, "data-analyst"),
                            Rule("value-medium", "中价值", "total_score >= 20 and total_score < 60", "总分 20 至 60", TagUpdateFrequency.Monthly, "data-analyst"),
                            Rule("value-low", "低价值", "total_score < 20", "总分 < 20", TagUpdateFrequency.Monthly, "data-analyst"),
                        ],
                    },
                    new TagGroupDefinition
                    {
                        Id = "lifecycle", Name = "生命周期阶段",
                        Tags =
                        [
                            Rule("lifecycle-new", "新客户", "stage in (new, mql, sql, opportunity)", "尚未成交的线索与商机", Realtime, "system"),
                            Rule("lifecycle-existing", "老客户", "stage = customer", "已成交客户", Realtime, "system"),
                            Rule("lifecycle-churned", "流失客户", "stage = churned", "流失客户", Realtime, "system"),
                        ],
                    },
                ],
            },
        ];
    }

    /// <summary>Adds (or replaces) the four models in <paramref name="catalog"/>, parsed against its context.</summary>
    /// <param name="catalog">The catalog, e.g. the registered <see cref="ITagCatalog"/>.</param>
    /// <exception cref="FilterException">The catalog's schema lacks a field the conditions use (industry, region, company_size, budget, last_visit).</exception>
    public static void AddTo(ITagCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        foreach (var model in Models(catalog.Context))
        {
            catalog.SetModel(model);
        }
    }

    /// <summary>A new catalog with the four models over <paramref name="context"/> (the example schema when null).</summary>
    /// <param name="context">The context, or null for one over <see cref="ExampleSegments.Schema"/>.</param>
    public static TagCatalog CreateCatalog(FilterContext? context = null)
    {
        var catalog = new TagCatalog(context ?? new FilterContext(ExampleSegments.Schema));
        AddTo(catalog);
        return catalog;
    }
}
