using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Campaigns.Modeling;
using Campaigns.Serialization;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Tests.Modeling;

public partial class CatalogueTests
{
    private static readonly string[] ExternalTypes = ["offline-seminar", "live-stream", "large-launch", "co-hosted-event", "exhibition"];
    private static readonly string[] OnlineTypes = ["website-promotion", "email-promotion", "sms-promotion", "content-promotion", "brand-promotion"];
    private static readonly string[] ExternalProcess =
        ["launch-approval", "material-preparation", "venue-preparation", "creation-and-promotion", "notification-and-support", "summary-and-remarketing"];

    private static CatalogueDocument BuiltIn() => CampaignCatalogue.ReadBuiltIn();

    private static CampaignCatalogue BuiltInCatalogue() => new([("built-in", BuiltIn())]);

    private static CatalogueDocument Read(string json) =>
        CampaignCatalogue.ReadDocument(new MemoryStream(Encoding.UTF8.GetBytes(json)), "test.json");

    private static CatalogueException ReadFails(string json) => Assert.Throws<CatalogueException>(() => Read(json));

    private static CatalogueException BuildFails(CatalogueDocument document, string source = "host.json") =>
        Assert.Throws<CatalogueException>(() => new CampaignCatalogue([("built-in", BuiltIn()), (source, document)]));

    [Fact]
    public void Built_in_catalogue_loads_and_merges_without_errors()
    {
        var document = BuiltIn();
        var catalogue = new CampaignCatalogue([("built-in", document)]);

        Assert.Equal(CatalogueDocument.CurrentSchemaVersion, document.SchemaVersion);
        Assert.Equal(document.Types.Select(t => t.Id), catalogue.Types.Select(t => t.Id));
        Assert.Equal(document.Forms.Select(f => f.Id), catalogue.Forms.Select(f => f.Id));
        Assert.Equal(12, catalogue.Types.Count);
        Assert.All(catalogue.Types, t => Assert.Same(t, catalogue.GetCampaignType(t.Id)));
    }

    [Fact]
    public void Every_row_of_the_seed_table_is_a_type_with_its_category_and_sub_kind()
    {
        var catalogue = BuiltInCatalogue();

        var expected = new HashSet<(string, CampaignCategory, string)>
        {
            ("internal-meeting", CampaignCategory.BrandHostedInternal, "training"),
            ("annual-meeting", CampaignCategory.BrandHostedInternal, "annual-meeting"),
            ("offline-seminar", CampaignCategory.BrandHostedExternal, "offline-seminar"),
            ("live-stream", CampaignCategory.BrandHostedExternal, "live-stream"),
            ("large-launch", CampaignCategory.BrandHostedExternal, "large-launch"),
            ("co-hosted-event", CampaignCategory.CoHosted, "co-hosted-event"),
            ("exhibition", CampaignCategory.Participated, "exhibition"),
            ("website-promotion", CampaignCategory.OnlinePromotion, "website"),
            ("email-promotion", CampaignCategory.OnlinePromotion, "email"),
            ("sms-promotion", CampaignCategory.OnlinePromotion, "sms"),
            ("content-promotion", CampaignCategory.OnlinePromotion, "content"),
            ("brand-promotion", CampaignCategory.OnlinePromotion, "brand"),
        };
        Assert.True(expected.SetEquals(catalogue.Types.Select(t => (t.Id, t.Category, t.SubKind))));
        Assert.Equal(Enum.GetValues<CampaignCategory>().ToHashSet(), catalogue.Types.Select(t => t.Category).ToHashSet());
        Assert.All(catalogue.Types, t => Assert.Matches(KebabCase(), t.Id));
    }

    [Fact]
    public void Names_examples_frequency_and_traits_follow_the_seed()
    {
        var catalogue = BuiltInCatalogue();
        string Name(string id) => catalogue.GetCampaignType(id).Name;

        Assert.Equal("年会", Name("annual-meeting"));
        Assert.Equal("线下会议", Name("offline-seminar"));
        Assert.Equal("直播", Name("live-stream"));
        Assert.Equal("品牌协办", Name("co-hosted-event"));
        Assert.Equal("品牌参与", Name("exhibition"));
        Assert.Equal(
            ["官网营销", "邮件营销", "短信营销", "内容营销", "品牌宣传"],
            OnlineTypes.Select(Name));

        Assert.Equal(["客户交流会", "专家研讨会", "主题沙龙", "专项培训会议", "体验会", "答谢会"], catalogue.GetCampaignType("offline-seminar").Examples);
        Assert.Equal(["新品发布会", "周年庆", "大型促销会"], catalogue.GetCampaignType("large-launch").Examples);
        Assert.Equal(["专项培训", "主题交流"], catalogue.GetCampaignType("live-stream").Examples);
        Assert.Equal(["行业交流会", "专家研讨会"], catalogue.GetCampaignType("co-hosted-event").Examples);
        Assert.Equal(["展览会", "行业交流会", "颁奖典礼"], catalogue.GetCampaignType("exhibition").Examples);
        Assert.Contains("内部启动会", catalogue.GetCampaignType("internal-meeting").Examples);

        var low = catalogue.Types.Where(t => t.Frequency == CampaignFrequency.Low).Select(t => t.Id).ToHashSet();
        Assert.True(low.SetEquals(["annual-meeting", "co-hosted-event", "exhibition"]));

        Assert.Contains("纯内部人员参与", catalogue.GetCampaignType("internal-meeting").AudienceTraits);
        Assert.Contains("定向邀约客户参会", catalogue.GetCampaignType("offline-seminar").AudienceTraits);
        Assert.Contains("邀约大量客户参与", catalogue.GetCampaignType("large-launch").AudienceTraits);
        Assert.Contains("品牌宣传+拓新", catalogue.GetCampaignType("exhibition").AudienceTraits);
        Assert.All(OnlineTypes, id => Assert.Contains("纯线上", catalogue.GetCampaignType(id).AudienceTraits));
        Assert.All(catalogue.Types, t =>
        {
            Assert.NotEmpty(t.Examples);
            Assert.NotEmpty(t.AudienceTraits);
            Assert.NotEmpty(t.TemplateContent);
        });
    }

    [Fact]
    public void Process_steps_and_template_content_follow_the_seed()
    {
        var catalogue = BuiltInCatalogue();
        IEnumerable<string> Steps(string id) => catalogue.GetCampaignType(id).Template.ProcessSteps.Select(s => s.Key);

        Assert.Equal(["advance-notice", "registration", "check-in", "attendance-statistics"], Steps("internal-meeting"));
        Assert.Equal(["提前通知", "报名", "签到", "统计参与情况"], catalogue.GetCampaignType("internal-meeting").Template.ProcessSteps.Select(s => s.Name));
        Assert.Contains("headcount", Steps("annual-meeting"));
        Assert.Contains("invite-guests", Steps("annual-meeting"));
        Assert.Equal(ExternalProcess, Steps("offline-seminar"));
        Assert.Contains("live-preparation", Steps("live-stream"));
        Assert.DoesNotContain("venue-preparation", Steps("live-stream"));
        Assert.Contains("live-preparation", Steps("large-launch"));
        Assert.Contains("venue-preparation", Steps("large-launch"));
        Assert.Contains("targeted-invitation", Steps("co-hosted-event"));

        // The seed leaves the participated row's process empty: it reuses the brand-hosted external one.
        Assert.Equal(catalogue.GetCampaignType("offline-seminar").Template.ProcessSteps, catalogue.GetCampaignType("exhibition").Template.ProcessSteps);
        Assert.All(OnlineTypes, id => Assert.Equal(["create-campaign", "produce-content", "launch-promotion"], Steps(id)));
        Assert.All(OnlineTypes, id => Assert.Equal(["标准推广流程"], catalogue.GetCampaignType(id).TemplateContent));

        Assert.All(catalogue.Types, t =>
        {
            var keys = t.Template.ProcessSteps.Select(s => s.Key).ToList();
            Assert.NotEmpty(keys);
            Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
            Assert.All(keys, k => Assert.Matches(KebabCase(), k));
            Assert.All(t.Template.ProcessSteps, s => Assert.Matches(HasCjk(), s.Name));
        });

        Assert.Contains("会场准备清单", catalogue.GetCampaignType("offline-seminar").TemplateContent);
        Assert.Contains("直播准备清单", catalogue.GetCampaignType("live-stream").TemplateContent);
        Assert.Contains("座位安排表", catalogue.GetCampaignType("annual-meeting").TemplateContent);
        Assert.Contains("简易报名页模板", catalogue.GetCampaignType("internal-meeting").TemplateContent);
        Assert.All(ExternalTypes, id => Assert.Contains("活动sop模板", catalogue.GetCampaignType(id).TemplateContent));
        Assert.All(ExternalTypes, id => Assert.Contains("活动再营销标准流程", catalogue.GetCampaignType(id).TemplateContent));
    }

    [Fact]
    public void Every_form_reference_of_every_type_resolves()
    {
        var catalogue = BuiltInCatalogue();
        Assert.All(catalogue.Types, t =>
        {
            Assert.NotNull(t.Template.RegistrationFormId);
            var form = catalogue.GetForm(t.Template.RegistrationFormId);
            Assert.Equal(t.Template.RegistrationFormId, form.Id);
            Assert.NotEmpty(t.Template.MicroPages);
            Assert.Equal(t.Template.MicroPages.Count, t.Template.MicroPages.Select(p => p.Key).Distinct(StringComparer.Ordinal).Count());
            foreach (var page in t.Template.MicroPages.Where(p => p.FormId is not null))
            {
                Assert.Equal(page.FormId, catalogue.GetForm(page.FormId!).Id);
            }
        });
    }

    [Fact]
    public void Micro_pages_use_the_four_kinds_as_the_seed_describes()
    {
        var catalogue = BuiltInCatalogue();
        var pages = catalogue.Types.SelectMany(t => t.Template.MicroPages.Select(p => (Type: t, Page: p))).ToList();

        Assert.Equal(Enum.GetValues<MicroPageKind>().ToHashSet(), pages.Select(p => p.Page.Kind).ToHashSet());
        Assert.Contains(catalogue.GetCampaignType("large-launch").Template.MicroPages, p => p.Kind == MicroPageKind.DetailWithRegistration);
        Assert.Contains(catalogue.GetCampaignType("content-promotion").Template.MicroPages, p => p.Kind == MicroPageKind.GatedDownload);
        Assert.All(pages, p =>
        {
            switch (p.Page.Kind)
            {
                case MicroPageKind.GatedDownload:
                    Assert.True(p.Page.MembersSkipForm);
                    Assert.NotNull(p.Page.FormId);
                    break;
                case MicroPageKind.Survey:
                    Assert.Equal("survey", p.Page.SurveyObject);
                    Assert.Null(p.Page.FormId);
                    break;
                default:
                    Assert.NotNull(p.Page.FormId);
                    Assert.False(p.Page.MembersSkipForm);
                    Assert.Null(p.Page.SurveyObject);
                    break;
            }
        });
    }

    [Fact]
    public void Live_stream_form_templates_route_to_the_pools_of_the_seed()
    {
        var catalogue = BuiltInCatalogue();
        var a = catalogue.GetForm("live-marketing-full");
        var b = catalogue.GetForm("live-marketing-simple");
        var c = catalogue.GetForm("live-business-a-full");
        var d = catalogue.GetForm("live-business-c-full");

        Assert.Equal(LeadPoolRoute.MarketingPool, a.LeadPool);
        Assert.Equal(LeadPoolRoute.MarketingPool, b.LeadPool);
        Assert.Equal(LeadPoolRoute.BusinessPool("A"), c.LeadPool);
        Assert.Equal(LeadPoolRoute.BusinessPool("C"), d.LeadPool);

        var full = a.Fields.Select(f => f.Key).ToList();
        Assert.Equal(full, c.Fields.Select(f => f.Key));
        Assert.Equal(full, d.Fields.Select(f => f.Key));
        Assert.True(b.Fields.Count < a.Fields.Count);
        Assert.Subset(full.ToHashSet(), b.Fields.Select(f => f.Key).ToHashSet());
        Assert.All(new[] { a, b, c, d }, f =>
        {
            Assert.Equal("lead", f.TargetObject);
            Assert.Contains("live-stream", f.SuitableFor);
        });
    }

    [Fact]
    public void Internal_seminar_and_download_forms_are_shaped_for_their_use()
    {
        var catalogue = BuiltInCatalogue();
        var internalForm = catalogue.GetForm("internal-simple");
        Assert.Equal("employee-registration", internalForm.TargetObject);
        Assert.Equal(["name", "phone", "department"], internalForm.Fields.Select(f => f.Key));

        var seminar = catalogue.GetForm("offline-seminar-standard");
        Assert.True(seminar.RequiresApproval);
        Assert.Equal(LeadPoolRoute.SalesLeads, seminar.LeadPool);
        Assert.Equal("company", seminar.Fields.Single(f => f.Key == "company").MapsTo);
        Assert.Equal("industry", seminar.Fields.Single(f => f.Key == "industry").MapsTo);
        Assert.Equal("title", seminar.Fields.Single(f => f.Key == "title").MapsTo);

        var gate = catalogue.GetForm("download-gate");
        Assert.Equal(FieldType.Email, gate.Fields.Single(f => f.Key == "email").Type);
        Assert.Contains(catalogue.Types, t => t.Template.MicroPages.Any(p => p.Kind == MicroPageKind.GatedDownload && p.FormId == gate.Id));

        string[] contactAttributes = ["name", "phone", "email", "company", "industry", "title"];
        Assert.All(catalogue.Forms, form =>
        {
            Assert.Contains(form.Fields, f => f.Required && f.MapsTo == "name");
            Assert.Contains(form.Fields, f => f.Required && f.Type == FieldType.Phone && f.MapsTo == "phone");
            Assert.All(form.Fields.Where(f => f.MapsTo is not null), f => Assert.Contains(f.MapsTo, contactAttributes));
            Assert.All(form.Fields.Where(f => f.Type == FieldType.Text), f => Assert.NotNull(f.MaxLength));
        });
    }

    [Fact]
    public void Sop_sets_follow_section_1_3()
    {
        var catalogue = BuiltInCatalogue();
        Assert.All(catalogue.Types, t =>
        {
            var sops = t.Template.Sops;
            Assert.Equal(sops.Count, sops.Select(s => s.Key).Distinct(StringComparer.Ordinal).Count());
            var onRegistration = Assert.Single(sops, s => s.Anchor == SopAnchor.RegistrationSucceeded);
            Assert.Equal(SopAudience.Customer, onRegistration.Audience);
            Assert.All(sops, s =>
            {
                Assert.NotEmpty(s.Channels);
                Assert.NotNull(s.Content);
                var variables = Placeholder().Matches(s.Content).Select(m => m.Groups[1].Value);
                Assert.All(variables, v => Assert.Contains(v, new[] { "name", "campaign", "time", "location", "link" }));
                Assert.Equal(s.Anchor == SopAnchor.Interaction, s.Interactions.Count > 0);
            });
            foreach (var day in sops.Where(s => s.Anchor == SopAnchor.EventDay))
            {
                Assert.Equal(new LocalTime(8, 0), day.LocalTime);
            }

            foreach (var live in sops.Where(s => s.Anchor == SopAnchor.LiveStart))
            {
                Assert.Equal(Period.FromMinutes(-10), live.Offset); // live start − 10 min
                Assert.Null(live.LocalTime);
            }

            foreach (var thanks in sops.Where(s => s.Anchor == SopAnchor.EventEnd))
            {
                Assert.Equal(Period.FromDays(1), thanks.Offset);
            }
        });

        foreach (var id in ExternalTypes)
        {
            var sops = catalogue.GetCampaignType(id).Template.Sops;
            Assert.Equal(["sms", "wechat-template"], sops.Single(s => s.Anchor == SopAnchor.RegistrationSucceeded).Channels);
            var sales = Assert.Single(sops, s => s.Audience == SopAudience.Sales);
            Assert.Equal(SopAnchor.Interaction, sales.Anchor);
            Assert.Equal(["wecom"], sales.Channels);
            Assert.Equal(
                [ParticipantActivityKind.Registered, ParticipantActivityKind.CheckedIn, ParticipantActivityKind.WatchedLive, ParticipantActivityKind.Downloaded],
                sales.Interactions);
            Assert.Contains(sops, s => s.Anchor == SopAnchor.EventEnd);
        }

        var live = catalogue.Types.Where(t => t.Template.Sops.Any(s => s.Anchor == SopAnchor.LiveStart)).Select(t => t.Id).ToHashSet();
        Assert.True(live.SetEquals(["live-stream", "large-launch"]));
        var eventDay = catalogue.Types.Where(t => t.Template.Sops.Any(s => s.Anchor == SopAnchor.EventDay)).Select(t => t.Id).ToHashSet();
        Assert.True(eventDay.SetEquals(["internal-meeting", "annual-meeting", "offline-seminar", "large-launch", "co-hosted-event", "exhibition"]));
        Assert.All(OnlineTypes, id => Assert.DoesNotContain(catalogue.GetCampaignType(id).Template.Sops, s => s.Anchor is SopAnchor.EventDay or SopAnchor.LiveStart));
    }

    [Fact]
    public void Tag_rules_custom_fields_and_approval_chains_follow_the_seed()
    {
        var catalogue = BuiltInCatalogue();
        string[] fullChain = ["manager-review", "admin-publish"];
        Assert.All(catalogue.Types, t =>
        {
            var template = t.Template;
            var required = Assert.Single(template.TagRules, r => r.Required);
            Assert.Equal("campaign-registration", required.Group);
            Assert.Equal("报名活动: {date}+{location}+{topic}", required.NameTemplate);
            Assert.All(template.TagRules.Where(r => !r.Required), r => Assert.Equal("关注产品: {product}", r.NameTemplate));

            var mode = template.CustomFields.Single(f => f.Key == "organizer-mode");
            Assert.Equal(FieldType.SingleChoice, mode.Type);
            Assert.Equal(["hosted", "co-hosted", "exhibiting", "attending"], mode.Options.Select(o => o.Value));
            Assert.Equal(["我司主办", "协办", "参展", "参与"], mode.Options.Select(o => o.Label));
            var group = template.CustomFields.Single(f => f.Key == "participant-group");
            Assert.Equal(FieldType.MultiChoice, group.Type);
            Assert.Equal(["internal", "customers", "partners", "ecosystem", "other-external"], group.Options.Select(o => o.Value));
            Assert.Equal(["内部", "客户", "代理商", "生态同行", "其它外部人员"], group.Options.Select(o => o.Label));

            Assert.Equal("operator", template.ApprovalChain.SubmitterRole);
            Assert.False(template.ApprovalChain.AllowSubmitterToApprove);
            var levels = template.ApprovalChain.Levels;
            if (t.Category is CampaignCategory.BrandHostedInternal or CampaignCategory.OnlinePromotion)
            {
                Assert.Equal(new ApprovalLevel("manager-review", "marketing-manager"), Assert.Single(levels));
            }
            else
            {
                Assert.Equal(fullChain, levels.Select(l => l.Name));
                Assert.Equal(["marketing-manager", "admin"], levels.Select(l => l.Role));
            }
        });
        Assert.All(ExternalTypes, id => Assert.Contains(catalogue.GetCampaignType(id).Template.TagRules, r => r.Group == "interested-product"));
    }

    [Fact]
    public void Goal_templates_are_valid_smart_goals_once_dated()
    {
        var catalogue = BuiltInCatalogue();
        var end = new LocalDate(2026, 6, 30);
        Assert.All(catalogue.Types, t =>
        {
            Assert.NotEmpty(t.Template.Goals);
            var goals = t.Template.Goals.Select(g => new SmartGoal { Metric = g.Metric, Target = g.Target, Unit = g.Unit, Deadline = end.Plus(g.DeadlineAfterEnd) }).ToList();
            Assert.Empty(GoalCalculator.Validate(goals));
            Assert.All(goals, g => Assert.True(g.Deadline >= end));
            Assert.All(t.Template.Goals, g => Assert.Matches(KebabCase(), g.Metric));
            Assert.All(t.Template.Goals, g => Assert.False(string.IsNullOrWhiteSpace(g.Description)));
        });
        Assert.All(ExternalTypes, id => Assert.Contains(catalogue.GetCampaignType(id).Template.Goals, g => g.Metric == "qualified-leads"));
        Assert.Contains(catalogue.GetCampaignType("offline-seminar").Template.Goals, g => g.Metric == "check-in-rate" && g.Unit == GoalUnit.Percent);
    }

    [Fact]
    public void Built_in_document_round_trips_through_json()
    {
        var json = JsonSerializer.Serialize(BuiltIn(), CampaignsJson.Options);
        var again = JsonSerializer.Serialize(Read(json), CampaignsJson.Options);
        Assert.Equal(json, again);
        Assert.Contains("\"08:00:00\"", json, StringComparison.Ordinal);
        Assert.Contains("\"category\":\"brandHostedExternal\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_document_overrides_a_built_in_type_in_place_and_adds_its_own()
    {
        var builtIn = BuiltIn();
        var seminar = builtIn.Types.Single(t => t.Id == "offline-seminar");
        var index = builtIn.Types.ToList().IndexOf(seminar);
        var ownForm = new RegistrationFormTemplate
        {
            Id = "partner-webinar-form",
            Name = "代理商直播报名表",
            Fields = [new FieldDefinition { Key = "name", Label = "姓名", Type = FieldType.Text, Required = true, MaxLength = 50, MapsTo = "name" }],
            LeadPool = LeadPoolRoute.BusinessPool("B"),
        };
        var host = new CatalogueDocument
        {
            SchemaVersion = 1,
            Forms = [ownForm],
            Types =
            [
                seminar with { Name = "客户沙龙", Template = seminar.Template with { RegistrationFormId = "live-marketing-simple" } },
                new CampaignTypeDefinition
                {
                    Id = "partner-webinar",
                    Name = "代理商直播",
                    Category = CampaignCategory.BrandHostedExternal,
                    SubKind = "live-stream",
                    Template = new CampaignTemplate { RegistrationFormId = "partner-webinar-form" },
                },
            ],
        };

        // Through JSON, as a host file would arrive.
        var hostFromJson = Read(JsonSerializer.Serialize(host, CampaignsJson.Options));
        var catalogue = new CampaignCatalogue([("built-in", builtIn), ("host.json", hostFromJson)]);

        Assert.Equal(builtIn.Types.Count + 1, catalogue.Types.Count);
        Assert.Equal("offline-seminar", catalogue.Types[index].Id);
        Assert.Equal("客户沙龙", catalogue.GetCampaignType("offline-seminar").Name);
        Assert.Equal("live-marketing-simple", catalogue.GetCampaignType("offline-seminar").Template.RegistrationFormId);
        Assert.Equal("partner-webinar", catalogue.Types[^1].Id);
        Assert.Equal(LeadPoolRoute.BusinessPool("B"), catalogue.GetForm("partner-webinar-form").LeadPool);
        Assert.Equal(builtIn.Forms.Count + 1, catalogue.Forms.Count);
        Assert.Equal("线下会议", seminar.Name);
    }

    [Fact]
    public void A_host_document_may_override_a_built_in_form_by_id()
    {
        var builtIn = BuiltIn();
        var original = builtIn.Forms.Single(f => f.Id == "offline-seminar-standard");
        var host = new CatalogueDocument { SchemaVersion = 1, Forms = [original with { RequiresApproval = false, LeadPool = LeadPoolRoute.BusinessPool("A") }] };

        var catalogue = new CampaignCatalogue([("built-in", builtIn), ("host", host)]);

        Assert.False(catalogue.GetForm("offline-seminar-standard").RequiresApproval);
        Assert.Equal(builtIn.Forms.Count, catalogue.Forms.Count);
        Assert.True(original.RequiresApproval);
    }

    [Fact]
    public void AddCampaigns_serves_the_built_in_catalogue_merged_with_host_documents()
    {
        var extra = new CatalogueDocument
        {
            SchemaVersion = 1,
            Types = [BuiltIn().Types.Single(t => t.Id == "sms-promotion") with { Id = "wechat-promotion", Name = "公众号营销", SubKind = "wechat" }],
        };
        var services = new ServiceCollection();
        services.AddCampaigns().AddCatalogue(extra, "host");
        using var provider = services.BuildServiceProvider();

        var catalogue = provider.GetRequiredService<ICampaignCatalogue>();

        Assert.Equal("公众号营销", catalogue.GetCampaignType("wechat-promotion").Name);
        Assert.Equal("年会", catalogue.GetCampaignType("annual-meeting").Name);
        Assert.Equal(13, catalogue.Types.Count);
    }

    [Fact]
    public void Unknown_type_or_form_is_not_found()
    {
        var catalogue = BuiltInCatalogue();
        Assert.Equal("webinar-x", Assert.Throws<EntityNotFoundException>(() => catalogue.GetCampaignType("webinar-x")).Key);
        Assert.Equal("form-x", Assert.Throws<EntityNotFoundException>(() => catalogue.GetForm("form-x")).Key);
    }

    [Fact]
    public void Schema_version_2_is_rejected_at_its_path()
    {
        var ex = ReadFails("""{"schemaVersion": 2, "types": [], "forms": []}""");
        Assert.Equal("$.schemaVersion", ex.Path);
        Assert.Equal("test.json", ex.Source);
        Assert.Contains("2", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_schema_version_is_rejected()
    {
        var ex = ReadFails("""{"types": []}""");
        Assert.IsType<JsonException>(ex.InnerException);
        Assert.Contains("schemaVersion", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"schemaVersion": 1, "types": [{"id": "x", """, "$.types[0]")]
    [InlineData("""{"schemaVersion": 1, "typos": []}""", "$.typos")]
    [InlineData("""{"schemaVersion": "one"}""", "$.schemaVersion")]
    [InlineData("""{"schemaVersion": 1, "forms": [{"id": "f", "name": "n", "fields": [], "leadPool": {"kind": "poolB"}}]}""", "$.forms[0].leadPool.kind")]
    [InlineData("""{"schemaVersion": 1, "types": [{"id": "t", "name": "n", "category": "coHosted", "subKind": "s", "frequency": "sometimes", "template": {}}]}""", "$.types[0].frequency")]
    [InlineData("""{"schemaVersion": 1, "types": [{"id": "t", "name": "n", "category": "coHosted", "subKind": "s", "template": {"sops": [{"key": "k", "name": "n", "offset": "one day"}]}}]}""", "$.types[0].template.sops[0].offset")]
    public void Json_faults_carry_the_path_of_the_json_exception(string json, string expectedPathStart)
    {
        var ex = ReadFails(json);

        var inner = Assert.IsAssignableFrom<JsonException>(ex.InnerException);
        Assert.Equal(inner.Path ?? "$", ex.Path);
        Assert.StartsWith(expectedPathStart, ex.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_type_id_is_rejected_at_the_second_occurrence()
    {
        var seminar = BuiltIn().Types.Single(t => t.Id == "offline-seminar");
        var ex = BuildFails(new CatalogueDocument { SchemaVersion = 1, Types = [seminar, seminar with { Name = "又一个" }] });
        Assert.Equal("$.types[1].id", ex.Path);
        Assert.Equal("host.json", ex.Source);
    }

    [Fact]
    public void A_duplicate_id_across_documents_is_an_override_not_an_error()
    {
        var builtIn = BuiltIn();
        var catalogue = new CampaignCatalogue([("a", builtIn), ("b", builtIn)]);
        Assert.Equal(builtIn.Types.Count, catalogue.Types.Count);
    }

    [Fact]
    public void An_unknown_registration_form_is_rejected_with_the_types_path()
    {
        var type = BuiltIn().Types.Single(t => t.Id == "live-stream");
        var orphan = type with { Id = "orphan", Template = type.Template with { RegistrationFormId = "no-such-form" } };

        var ex = BuildFails(new CatalogueDocument { SchemaVersion = 1, Types = [orphan] });

        Assert.Equal("$.types[?(@.id=='orphan')].template.registrationFormId", ex.Path);
        Assert.Equal("host.json", ex.Source);
        Assert.Contains("no-such-form", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_micro_page_form_is_rejected_with_the_pages_path()
    {
        var type = BuiltIn().Types.Single(t => t.Id == "live-stream");
        var page = new MicroPageDefinition { Key = "dl", Kind = MicroPageKind.GatedDownload, Title = "白皮书下载", FormId = "missing-gate" };
        var orphan = type with { Id = "orphan", Template = type.Template with { MicroPages = [page] } };

        var ex = BuildFails(new CatalogueDocument { SchemaVersion = 1, Types = [orphan] });

        Assert.Equal("$.types[?(@.id=='orphan')].template.microPages[0].formId", ex.Path);
        Assert.Contains("missing-gate", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_choice_form_field_without_options_is_rejected()
    {
        var form = BuiltIn().Forms.Single(f => f.Id == "offline-seminar-standard");
        var broken = form with { Fields = [.. form.Fields.Select(f => f.Key == "industry" ? f with { Options = [] } : f)] };
        var industryIndex = form.Fields.ToList().FindIndex(f => f.Key == "industry");

        var ex = BuildFails(new CatalogueDocument { SchemaVersion = 1, Forms = [broken] });

        Assert.Equal($"$.forms[0].fields[{industryIndex}].options", ex.Path);
    }

    [Fact]
    public void A_choice_custom_field_without_options_is_rejected()
    {
        var type = BuiltIn().Types.Single(t => t.Id == "exhibition");
        var broken = type with
        {
            Template = type.Template with { CustomFields = [new FieldDefinition { Key = "booth-size", Label = "展位规格", Type = FieldType.MultiChoice }] },
        };

        var ex = BuildFails(new CatalogueDocument { SchemaVersion = 1, Types = [broken] });

        Assert.Equal("$.types[0].template.customFields[0].options", ex.Path);
    }

    [Fact]
    public void A_business_pool_without_a_name_is_rejected()
    {
        var ex = ReadThenBuildFails("""
            {"schemaVersion": 1, "forms": [
              {"id": "ok", "name": "n", "fields": [], "leadPool": {"kind": "businessPool", "poolName": "A"}},
              {"id": "pool", "name": "n", "fields": [], "leadPool": {"kind": "businessPool"}}
            ]}
            """);
        Assert.Equal("$.forms[1].leadPool.poolName", ex.Path);
    }

    [Fact]
    public void A_bad_field_key_is_rejected()
    {
        var ex = ReadThenBuildFails("""
            {"schemaVersion": 1, "forms": [
              {"id": "f", "name": "n", "fields": [{"key": "公司", "label": "公司", "type": "text"}]}
            ]}
            """);
        Assert.Equal("$.forms[0].fields[0].key", ex.Path);
    }

    private static CatalogueException ReadThenBuildFails(string json) => BuildFails(Read(json));

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex KebabCase();

    [GeneratedRegex(@"\p{IsCJKUnifiedIdeographs}", RegexOptions.CultureInvariant)]
    private static partial Regex HasCjk();

    [GeneratedRegex(@"\{([A-Za-z]+)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();
}
