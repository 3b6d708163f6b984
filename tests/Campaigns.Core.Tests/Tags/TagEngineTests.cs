using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Campaigns.Serialization;
using Campaigns.Tags;
using Campaigns.Tests.Scoring;
using NodaTime;

namespace Campaigns.Tests.Tags;

public class TagEngineTests
{
    private static readonly Filter ConsultedTwiceIn30Days =
        new BehaviourFilter(EventKinds.PageView, [new PropertyCondition("page_kind", CompareOperator.Equal, ["product"])], CompareOperator.GreaterOrEqual, [2], Window.Days(30));

    private static TagModel Behaviour(Filter? condition = null, string name = "近30天咨询产品≥2次") => new()
    {
        Id = "behaviour",
        Name = "行为特征",
        Dimension = TagDimension.Behaviour,
        Groups =
        [
            new TagGroupDefinition
            {
                Id = "interest",
                Name = "浏览内容",
                Tags =
                [
                    new TagDefinition { Id = "consulted-product", Name = name, Condition = condition ?? ConsultedTwiceIn30Days, Owner = "system", UpdateFrequency = TagUpdateFrequency.Realtime },
                    new TagDefinition { Id = "follow-up", Name = "需跟进", Owner = "sales", UpdateFrequency = TagUpdateFrequency.Weekly },
                ],
            },
        ],
    };

    [Fact]
    public async Task A_windowed_tag_appears_with_the_second_view_and_disappears_the_instant_the_first_leaves_the_window()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Behaviour());
        var contact = await host.CreateAsync();
        var first = host.Clock.GetCurrentInstant();

        await host.ProductViewAsync(contact.Id);
        Assert.Empty((await host.GetAsync(contact.Id)).Tags);

        host.Clock.Advance(Duration.FromDays(3));
        await host.ProductViewAsync(contact.Id);
        var tag = Assert.Single((await host.GetAsync(contact.Id)).Tags);
        Assert.Equal(("近30天咨询产品≥2次", "interest", TagSource.Rule, "tag-rule:consulted-product"), (tag.Tag, tag.Group, tag.Source, tag.AssignedBy));
        var gone = first + Duration.FromDays(30) + Duration.Epsilon;
        Assert.Equal(gone, tag.ExpiresAt);
        Assert.Equal(gone, host.TagEngine.NextDue);

        // Readers see it exactly until the first view leaves the 30-day window.
        var stored = await host.GetAsync(contact.Id);
        Assert.True(FilterEvaluator.Default.Matches(new TagFilter(TagMatch.Any, ["近30天咨询产品≥2次"]), stored, [], gone - Duration.Epsilon));
        Assert.False(FilterEvaluator.Default.Matches(new TagFilter(TagMatch.Any, ["近30天咨询产品≥2次"]), stored, [], gone));

        Assert.Equal(0, await host.TagEngine.AdvanceAsync(gone - Duration.Epsilon));
        host.Clock.Reset(gone);
        Assert.Equal(1, await host.TagEngine.AdvanceAsync(gone));
        Assert.Empty((await host.GetAsync(contact.Id)).Tags);
        Assert.Equal(first + Duration.FromDays(33) + Duration.Epsilon, host.TagEngine.NextDue);
    }

    [Fact]
    public async Task A_new_view_in_the_window_renews_the_tag_to_the_later_instant()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Behaviour());
        var contact = await host.CreateAsync();
        var t0 = host.Clock.GetCurrentInstant();
        await host.ProductViewAsync(contact.Id);
        host.Clock.Advance(Duration.FromMinutes(1));
        await host.ProductViewAsync(contact.Id);
        host.Clock.Advance(Duration.FromDays(10));
        await host.ProductViewAsync(contact.Id);

        var tag = Assert.Single((await host.GetAsync(contact.Id)).Tags);
        Assert.Equal(t0 + Duration.FromMinutes(1), tag.AssignedAt);
        Assert.Equal(t0 + Duration.FromMinutes(1) + Duration.FromDays(30) + Duration.Epsilon, tag.ExpiresAt);
    }

    [Fact]
    public async Task Attribute_rules_follow_attribute_changes_and_render_naming_templates()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(new TagModel
        {
            Id = "needs",
            Name = "需求偏好",
            Dimension = TagDimension.NeedsPreferences,
            Groups =
            [
                new TagGroupDefinition
                {
                    Id = "product",
                    Name = "关注产品",
                    Tags = [new TagDefinition { Id = "interested", Name = "意向产品: {interested_products}", Condition = new AttributeFilter("interested_products", CompareOperator.Exists, []) }],
                },
                new TagGroupDefinition
                {
                    Id = "segment",
                    Name = "行业",
                    Tags = [new TagDefinition { Id = "mfg-east", Name = "华东制造业", Condition = FilterParser.Parse("industry = \"manufacturing\" and region = \"华东\"", host.Tags.Context) }],
                },
            ],
        });
        var contact = await host.CreateAsync(region: "华东");
        await host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?> { ["industry"] = new TextValue("manufacturing"), ["interested_products"] = new ChoicesValue(["A产品"]) });
        Assert.Equal(["意向产品: A产品", "华东制造业"], (await host.GetAsync(contact.Id)).Tags.Select(t => t.Tag).Order(StringComparer.Ordinal).Reverse());

        await host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?> { ["industry"] = new TextValue("retail") });
        Assert.Equal(["意向产品: A产品"], (await host.GetAsync(contact.Id)).Tags.Select(t => t.Tag));
    }

    [Fact]
    public async Task A_contact_keeps_every_campaigns_tag_and_manual_tags_next_to_rule_tags()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Behaviour());
        var contact = await host.CreateAsync();
        var c1 = CampaignId.New();
        var c2 = CampaignId.New();
        await host.Contacts.AddTagAsync(contact.Id, "报名: 2026-05-20+上海+数字化工厂", "system", group: "registration", campaignId: c1, source: TagSource.Campaign);
        await host.Contacts.AddTagAsync(contact.Id, "报名: 2026-06-10+北京+智能制造", "system", group: "registration", campaignId: c2, source: TagSource.Campaign);
        await host.Contacts.AddTagAsync(contact.Id, "需跟进", "sales-1", group: "interest");
        await host.ProductViewAsync(contact.Id);
        await host.ProductViewAsync(contact.Id);
        host.Clock.Advance(Duration.FromDays(60));
        await host.TagEngine.AdvanceAsync(host.Clock.GetCurrentInstant());

        var tags = (await host.GetAsync(contact.Id)).Tags;
        Assert.Equal(3, tags.Count);
        Assert.Equal([c1, c2], tags.Where(t => t.Source == TagSource.Campaign).Select(t => t.CampaignId!.Value));
    }

    [Fact]
    public void Bad_definitions_are_typed_errors_naming_field_and_value_and_change_nothing()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Behaviour());

        var placeholder = Assert.Throws<RuleDefinitionException>(() => host.Tags.SetModel(Behaviour(name: "意向产品: {product}") with { Id = "other" }));
        Assert.Equal("models[1].groups[0].id", placeholder.Field);

        placeholder = Assert.Throws<RuleDefinitionException>(() => host.Tags.SetModel(Behaviour(name: "意向产品: {product}")));
        Assert.Equal(("models[0].groups[0].tags[0].name", "product"), (placeholder.Field, placeholder.Value));

        var kind = Assert.Throws<RuleDefinitionException>(() => host.Tags.SetModel(Behaviour(new BehaviourFilter("webinar_join", [], CompareOperator.GreaterOrEqual, [1]))));
        Assert.StartsWith("models[0].groups[0].tags[0].condition", kind.Field, StringComparison.Ordinal);
        Assert.Contains("webinar_join", kind.Message, StringComparison.Ordinal);

        Assert.Same(ConsultedTwiceIn30Days, host.Tags.Models.Single().Groups[0].Tags[0].Condition);
    }

    [Fact]
    public async Task The_report_lists_unused_and_stale_tags()
    {
        using var host = new ScoringTestHost();
        host.Tags.SetModel(Behaviour(new AttributeFilter("region", CompareOperator.Exists, [])));
        var contact = await host.CreateAsync(region: "华南");
        host.Clock.Advance(Duration.FromDays(100));

        var report = await host.TagEngine.ReportAsync();
        var rule = report.Tags.Single(t => t.TagId == "consulted-product");
        Assert.Equal((1L, false, true), (rule.Contacts, rule.Unused, rule.Stale));
        Assert.Equal(["follow-up"], report.Unused.Select(t => t.TagId));
        Assert.Equal(["consulted-product"], report.Stale.Select(t => t.TagId));
        Assert.NotNull(contact);
    }

    [Fact]
    public void Tag_models_round_trip_through_json()
    {
        var model = Behaviour() with { Groups = [Behaviour().Groups[0] with { Tags = [.. Behaviour().Groups[0].Tags, new TagDefinition { Id = "v", Name = "高价值", Validity = Duration.FromDays(90) }] }] };
        var json = JsonSerializer.Serialize(model, CampaignsJson.Options);
        var back = JsonSerializer.Deserialize<TagModel>(json, CampaignsJson.Options)!;
        Assert.Equal(json, JsonSerializer.Serialize(back, CampaignsJson.Options));
        Assert.Contains("\"dimension\":\"behaviour\"", json, StringComparison.Ordinal);
    }
}
