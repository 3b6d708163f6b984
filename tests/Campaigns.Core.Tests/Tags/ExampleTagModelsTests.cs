using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Campaigns.Tags;
using NodaTime;

namespace Campaigns.Tests.Tags;

/// <summary>Issue 4: the seed 002 tag system shipped as data.</summary>
public sealed class ExampleTagModelsTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 6, 17, 2, 0);

    [Fact]
    public void The_catalog_has_the_four_dimensions_with_their_groups_in_order()
    {
        var catalog = ExampleTagModels.CreateCatalog();
        Assert.Equal(
            [TagDimension.BasicAttributes, TagDimension.Behaviour, TagDimension.NeedsPreferences, TagDimension.ValueTier],
            catalog.Models.Select(m => m.Dimension));
        Assert.Equal(["基础属性", "行为特征", "需求偏好", "价值层级"], catalog.Models.Select(m => m.Name));
        Assert.Equal(["industry", "region", "company-size"], catalog.Models[0].Groups.Select(g => g.Id));
        Assert.Contains(catalog.Models.SelectMany(m => m.Groups), g => g.Name == "关注产品");
        var consulted = catalog.Find("consulted-product-2x30d")!.Value;
        Assert.Equal(("近30天咨询产品≥2次", "content-viewed"), (consulted.Tag.Name, consulted.Group.Id));
        Assert.Equal((TagUpdateFrequency.Monthly, "data-analyst"), (catalog.Find("value-high")!.Value.Tag.UpdateFrequency, catalog.Find("value-high")!.Value.Tag.Owner));
    }

    [Fact]
    public void The_naming_templates_render_and_manual_tags_have_no_condition()
    {
        var catalog = ExampleTagModels.CreateCatalog();
        var product = catalog.Find("interested-product")!.Value.Tag;
        Assert.Null(product.Condition);
        Assert.Equal("意向产品: A产品", TagNameTemplate.Parse(product.Name).Render(new Dictionary<string, string?> { ["product"] = "A产品" }));
        var registered = catalog.Find("registered")!.Value.Tag;
        Assert.Equal(
            "报名: 2026-06-18+上海+新品发布会",
            TagNameTemplate.Parse(registered.Name).Render(new Dictionary<string, string?> { ["date"] = "2026-06-18", ["location"] = "上海", ["topic"] = "新品发布会" }));
        Assert.Equal(Duration.FromDays(180), registered.Validity);
    }

    [Fact]
    public void The_rules_hold_for_the_contacts_they_describe()
    {
        var catalog = ExampleTagModels.CreateCatalog();
        var evaluator = new FilterEvaluator(DateTimeZoneProviders.Tzdb["Asia/Shanghai"], schema: ExampleSegments.Schema);
        var contact = new Contact
        {
            Id = ContactId.New(),
            CreatedAt = Now - Duration.FromDays(100),
            Attributes = new Dictionary<string, FieldValue>
            {
                ["industry"] = new TextValue("manufacturing"),
                ["region"] = new TextValue("east"),
                ["company_size"] = new NumberValue(120),
                ["budget"] = new NumberValue(30),
            },
            Scores = new ContactScores(40, 30, "C", Now),
        };
        var views = Enumerable.Range(0, 2).Select(i => new BehaviourEvent
        {
            EventId = "v" + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ContactId = contact.Id,
            Kind = EventKinds.PageView,
            OccurredAt = Now - Duration.FromDays(3 + i),
            Properties = new Dictionary<string, string> { ["page_kind"] = "product" },
        }).ToList();

        var holding = catalog.Models.SelectMany(m => m.Groups).SelectMany(g => g.Tags)
            .Where(t => t.Condition is { } c && evaluator.Matches(c, contact, views, Now))
            .Select(t => t.Id)
            .ToHashSet();

        Assert.Equal(
            new HashSet<string> { "industry-manufacturing", "region-east", "size-100-500", "viewed-product", "consulted-product-2x30d", "budget-10-50", "value-high", "lifecycle-new" },
            holding);
    }

    [Fact]
    public void The_models_load_into_the_registered_catalog_and_round_trip_through_json()
    {
        var catalog = ExampleTagModels.CreateCatalog();
        foreach (var model in catalog.Models)
        {
            var json = System.Text.Json.JsonSerializer.Serialize(model, Campaigns.Serialization.CampaignsJson.Options);
            var back = System.Text.Json.JsonSerializer.Deserialize<TagModel>(json, Campaigns.Serialization.CampaignsJson.Options)!;
            Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(back, Campaigns.Serialization.CampaignsJson.Options));
        }

        var other = new TagCatalog(new FilterContext(ExampleSegments.Schema));
        ExampleTagModels.AddTo(other);
        ExampleTagModels.AddTo(other); // replaces by id: still four
        Assert.Equal(4, other.Models.Count);
    }
}
