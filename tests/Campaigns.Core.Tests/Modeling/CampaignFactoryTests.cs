using System.Text.Json;
using Campaigns.Modeling;
using Campaigns.Serialization;
using FsCheck.Xunit;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Modeling;

public class CampaignFactoryTests
{
    private const string Shanghai = "Asia/Shanghai";

    private static readonly CampaignCatalogue Catalogue = new([("built-in", CampaignCatalogue.ReadBuiltIn())]);
    private static readonly Actor Operator = new("op-1", "operator");
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 1, 2, 0);

    // Ends 2026-06-12T17:30Z, which is 2026-06-13 01:30 in Shanghai (UTC+8): the local end date is a day after the UTC one.
    private static readonly Instant Start = Instant.FromUtc(2026, 6, 12, 6, 0);
    private static readonly Instant End = Instant.FromUtc(2026, 6, 12, 17, 30);
    private static readonly LocalDate LocalEndDate = new(2026, 6, 13);

    public static TheoryData<string> BuiltInTypeIds()
    {
        var data = new TheoryData<string>();
        foreach (var type in Catalogue.Types)
        {
            data.Add(type.Id);
        }

        return data;
    }

    private static CampaignSchedule Schedule(string zone = Shanghai) => new()
    {
        TimeZoneId = zone,
        StartsAt = Start,
        EndsAt = End,
        LiveStartsAt = Start + Duration.FromMinutes(30),
        Location = "上海国际会议中心",
    };

    private static CreateCampaignRequest Request(string typeId = "offline-seminar") => new()
    {
        TypeId = typeId,
        Name = "2026 Q2 上海制造业沙龙",
        Topic = "智能制造",
        Schedule = Schedule(),
    };

    /// <summary>A valid value for each custom field definition, picked from the definition itself.</summary>
    private static Dictionary<string, FieldValue> ValidValues(IReadOnlyList<FieldDefinition> definitions)
    {
        var values = new Dictionary<string, FieldValue>(StringComparer.Ordinal);
        foreach (var d in definitions)
        {
            values[d.Key] = d.Type switch
            {
                FieldType.SingleChoice => new ChoiceValue(d.Options[^1].Value),
                FieldType.MultiChoice => new ChoicesValue([d.Options[0].Value, d.Options[^1].Value]),
                FieldType.Number => new NumberValue(d.Min ?? 1m),
                FieldType.Boolean => new BooleanValue(true),
                FieldType.Date => new DateValue(LocalEndDate),
                FieldType.Email => new TextValue("someone@example.com"),
                FieldType.Phone => new TextValue("+8613800000000"),
                _ => new TextValue("x"),
            };
        }

        return values;
    }

    private static CampaignValidationException Invalid(CreateCampaignRequest request) =>
        Assert.Throws<CampaignValidationException>(() => CampaignFactory.Create(Catalogue, request, Operator, Now));

    [Theory]
    [MemberData(nameof(BuiltInTypeIds))]
    public void Creating_from_every_built_in_template_prefills_a_draft(string typeId)
    {
        var type = Catalogue.GetCampaignType(typeId);
        var template = type.Template;
        var values = ValidValues(template.CustomFields);
        var request = Request(typeId) with { CustomFields = values };

        var campaign = CampaignFactory.Create(Catalogue, request, Operator, Now);

        Assert.Equal(CampaignState.Draft, campaign.State);
        Assert.Equal(0, campaign.Version);
        Assert.Equal(0, campaign.ApprovalLevelIndex);
        Assert.Empty(campaign.History);
        Assert.Equal(typeId, campaign.TypeId);
        Assert.Equal(request.Name, campaign.Name);
        Assert.Equal(request.Topic, campaign.Topic);
        Assert.Equal(request.Schedule, campaign.Schedule);
        Assert.Equal(Operator.Id, campaign.CreatedBy);
        Assert.Equal(Now, campaign.CreatedAt);
        Assert.NotEqual(Guid.Empty, campaign.Id.Value);

        Assert.NotEmpty(campaign.ProcessSteps);
        Assert.Equal(template.ProcessSteps, campaign.ProcessSteps);
        Assert.NotNull(campaign.RegistrationForm);
        Assert.Equal(Catalogue.GetForm(template.RegistrationFormId!), campaign.RegistrationForm);
        Assert.Equal(template.MicroPages, campaign.MicroPages);
        Assert.NotEmpty(campaign.Sops);
        Assert.Equal(template.Sops, campaign.Sops);
        Assert.Equal(template.TagRules, campaign.TagRules);
        Assert.Equal(template.CustomFields, campaign.CustomFieldDefinitions);
        Assert.Equal(values.OrderBy(kv => kv.Key, StringComparer.Ordinal), campaign.CustomFields.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        Assert.Equal(template.ApprovalChain, campaign.ApprovalChain);
        Assert.NotEmpty(campaign.ApprovalChain.Levels);

        // Goals are dated from the local end date in the schedule's zone, not the UTC date.
        Assert.NotEqual(LocalEndDate, End.InUtc().Date);
        Assert.Equal(LocalEndDate, End.InZone(DateTimeZoneProviders.Tzdb[Shanghai]).Date);
        Assert.Equal(template.Goals.Count, campaign.Goals.Count);
        Assert.NotEmpty(campaign.Goals);
        for (var i = 0; i < template.Goals.Count; i++)
        {
            var expected = template.Goals[i];
            var goal = campaign.Goals[i];
            Assert.Equal(expected.Metric, goal.Metric);
            Assert.Equal(expected.Target, goal.Target);
            Assert.Equal(expected.Unit, goal.Unit);
            Assert.Equal(expected.Description, goal.Description);
            Assert.Equal(LocalEndDate.Plus(expected.DeadlineAfterEnd), goal.Deadline);
        }
    }

    [Theory]
    [MemberData(nameof(BuiltInTypeIds))]
    public void A_campaign_from_every_template_round_trips_through_json(string typeId)
    {
        var template = Catalogue.GetCampaignType(typeId).Template;
        var campaign = CampaignFactory.Create(Catalogue, Request(typeId) with { CustomFields = ValidValues(template.CustomFields) }, Operator, Now);

        var json = JsonSerializer.Serialize(campaign, CampaignsJson.Options);
        var back = JsonSerializer.Deserialize<Campaign>(json, CampaignsJson.Options);

        Assert.NotNull(back);
        Assert.Equal(json, JsonSerializer.Serialize(back, CampaignsJson.Options));
        Assert.Equal(campaign.Goals, back.Goals);
        Assert.Equal(campaign.Schedule, back.Schedule);
    }

    [Fact]
    public void Offline_seminar_goal_deadlines_are_counted_from_the_shanghai_end_date()
    {
        var campaign = CampaignFactory.Create(Catalogue, Request("offline-seminar"), Operator, Now);

        var leads = campaign.Goals.Single(g => g.Metric == "qualified-leads");
        Assert.Equal(Period.FromDays(30), Catalogue.GetCampaignType("offline-seminar").Template.Goals.Single(g => g.Metric == "qualified-leads").DeadlineAfterEnd);
        Assert.Equal(new LocalDate(2026, 7, 13), leads.Deadline);
        Assert.Equal(new LocalDate(2026, 6, 13), campaign.Goals.Single(g => g.Metric == "registrations").Deadline);
    }

    [Fact]
    public void Without_an_end_goals_are_dated_from_the_start_in_the_campaign_zone()
    {
        // 2026-06-30T20:00Z is already 2026-07-01 in Shanghai.
        var request = Request("live-stream") with
        {
            Schedule = new CampaignSchedule { TimeZoneId = Shanghai, StartsAt = Instant.FromUtc(2026, 6, 30, 20, 0) },
        };

        var campaign = CampaignFactory.Create(Catalogue, request, Operator, Now);

        var template = Catalogue.GetCampaignType("live-stream").Template;
        Assert.Equal(template.Goals.Select(g => new LocalDate(2026, 7, 1).Plus(g.DeadlineAfterEnd)), campaign.Goals.Select(g => g.Deadline));
    }

    [Property(MaxTest = 200)]
    public bool Goal_deadlines_follow_the_local_end_date_in_any_zone(int minutes, byte zonePick)
    {
        string[] zones = ["Asia/Shanghai", "America/Los_Angeles", "Pacific/Auckland", "Europe/London", "UTC"];
        var zoneId = zones[zonePick % zones.Length];
        var end = Instant.FromUtc(2026, 1, 1, 0, 0) + Duration.FromMinutes(Math.Abs(minutes % (366 * 24 * 60)));
        var request = Request("exhibition") with
        {
            Schedule = new CampaignSchedule { TimeZoneId = zoneId, StartsAt = end - Duration.FromHours(8), EndsAt = end },
        };

        var campaign = CampaignFactory.Create(Catalogue, request, Operator, Now);

        var localEnd = end.InZone(DateTimeZoneProviders.Tzdb[zoneId]).Date;
        var templateGoals = Catalogue.GetCampaignType("exhibition").Template.Goals;
        return campaign.Goals.Select(g => g.Deadline).SequenceEqual(templateGoals.Select(g => localEnd.Plus(g.DeadlineAfterEnd)));
    }

    [Fact]
    public void Request_goals_replace_the_template_goals()
    {
        SmartGoal[] goals =
        [
            new() { Metric = "qualified-leads", Target = 500, Unit = GoalUnit.Count, Deadline = new LocalDate(2026, 6, 30), Description = "Q2 网络研讨会 500 条合格线索" },
            new() { Metric = "conversion-rate", Target = 10, Unit = GoalUnit.Percent, Deadline = new LocalDate(2026, 6, 30) },
        ];

        var campaign = CampaignFactory.Create(Catalogue, Request("live-stream") with { Goals = goals }, Operator, Now);

        Assert.Equal(goals, campaign.Goals);
        Assert.NotEmpty(Catalogue.GetCampaignType("live-stream").Template.Goals);
    }

    [Fact]
    public void Empty_request_goals_mean_no_goals()
    {
        var campaign = CampaignFactory.Create(Catalogue, Request() with { Goals = [] }, Operator, Now);
        Assert.Empty(campaign.Goals);
    }

    [Fact]
    public void The_registration_form_is_a_snapshot_unaffected_by_later_catalogue_changes()
    {
        var builtIn = CampaignCatalogue.ReadBuiltIn();
        var campaign = CampaignFactory.Create(Catalogue, Request("offline-seminar"), Operator, Now);
        var original = builtIn.Forms.Single(f => f.Id == "offline-seminar-standard");
        var changed = new CampaignCatalogue(
        [
            ("built-in", builtIn),
            ("host", new CatalogueDocument { SchemaVersion = 1, Forms = [original with { Name = "改版报名表", RequiresApproval = false }] }),
        ]);

        var later = CampaignFactory.Create(changed, Request("offline-seminar"), Operator, Now);

        Assert.NotNull(campaign.RegistrationForm);
        Assert.True(campaign.RegistrationForm.RequiresApproval);
        Assert.Equal("offline-seminar-standard", campaign.RegistrationForm.Id);
        Assert.NotNull(later.RegistrationForm);
        Assert.False(later.RegistrationForm.RequiresApproval);
        Assert.Equal("改版报名表", later.RegistrationForm.Name);
    }

    [Fact]
    public void The_given_id_is_used_and_the_name_is_trimmed()
    {
        var id = CampaignId.New();
        var campaign = CampaignFactory.Create(Catalogue, Request() with { Name = "  答谢会  " }, Operator, Now, id);
        Assert.Equal(id, campaign.Id);
        Assert.Equal("答谢会", campaign.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void A_blank_name_is_rejected(string? name)
    {
        var ex = Invalid(Request() with { Name = name! });
        Assert.Contains(ex.Errors, e => e.StartsWith("name:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_name_longer_than_the_limit_is_rejected_and_the_limit_itself_is_accepted()
    {
        var ex = Invalid(Request() with { Name = new string('会', CampaignFactory.MaxNameLength + 1) });
        Assert.Equal("name:", Assert.Single(ex.Errors)[..5]);

        var ok = CampaignFactory.Create(Catalogue, Request() with { Name = new string('会', CampaignFactory.MaxNameLength) }, Operator, Now);
        Assert.Equal(CampaignFactory.MaxNameLength, ok.Name.Length);
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("")]
    [InlineData("CST")]
    public void An_unknown_time_zone_is_rejected(string zone)
    {
        var ex = Invalid(Request() with { Schedule = Schedule(zone) });
        Assert.StartsWith("schedule.timeZoneId:", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-60)]
    public void An_end_not_after_the_start_is_rejected(int endMinutesAfterStart)
    {
        var schedule = Schedule() with { EndsAt = Start + Duration.FromMinutes(endMinutesAfterStart), LiveStartsAt = null };
        var ex = Invalid(Request() with { Schedule = schedule });
        Assert.StartsWith("schedule.endsAt:", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_live_start_outside_the_campaign_is_rejected()
    {
        var ex = Invalid(Request("live-stream") with { Schedule = Schedule() with { LiveStartsAt = End } });
        Assert.StartsWith("schedule.liveStartsAt:", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_budget_is_rejected_naming_each_field()
    {
        var budget = new Budget
        {
            Currency = "rmb",
            Total = -1m,
            Lines = [new CostLine { Key = "venue", Item = "场地", Planned = -5m }, new CostLine { Key = "venue", Item = "茶歇" }],
        };

        var ex = Invalid(Request() with { Budget = budget });

        Assert.Contains(ex.Errors, e => e.StartsWith("budget.currency:", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("budget.total:", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("budget.lines[0].planned:", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("budget.lines[1].key:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_valid_budget_is_kept()
    {
        var budget = new Budget { Currency = "CNY", Total = 20000m, Lines = [new CostLine { Key = "sms", Item = "短信通知", Channel = "sms", Planned = 500m }] };
        var campaign = CampaignFactory.Create(Catalogue, Request() with { Budget = budget }, Operator, Now);
        Assert.Same(budget, campaign.Budget);
    }

    [Fact]
    public void Invalid_request_goals_are_rejected()
    {
        SmartGoal[] goals =
        [
            new() { Metric = "qualified-leads", Target = 0, Deadline = new LocalDate(2026, 6, 30) },
            new() { Metric = "conversion-rate", Target = 150, Unit = GoalUnit.Percent, Deadline = new LocalDate(2026, 6, 30) },
        ];

        var ex = Invalid(Request() with { Goals = goals });

        Assert.Contains(ex.Errors, e => e.StartsWith("goals[0].target:", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("goals[1].target:", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_fault_is_reported_at_once()
    {
        var request = Request() with
        {
            Name = " ",
            Schedule = new CampaignSchedule { TimeZoneId = "Nowhere/Else", StartsAt = End, EndsAt = Start },
            Budget = new Budget { Currency = "CN", Total = 1m },
        };

        var ex = Invalid(request);

        var fields = ex.Errors.Select(e => e[..e.IndexOf(':', StringComparison.Ordinal)]).ToHashSet();
        Assert.True(fields.SetEquals(["name", "schedule.timeZoneId", "schedule.endsAt", "budget.currency"]), string.Join(" | ", ex.Errors));
    }

    [Fact]
    public void An_invalid_custom_field_value_names_the_key()
    {
        var request = Request() with { CustomFields = new Dictionary<string, FieldValue> { ["organizer-mode"] = new ChoiceValue("sponsor") } };

        var ex = Assert.Throws<FieldValidationException>(() => CampaignFactory.Create(Catalogue, request, Operator, Now));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("organizer-mode", error.FieldKey);
        Assert.Equal("option", error.Code);
        Assert.Contains("sponsor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Custom_field_values_of_the_wrong_type_or_undeclared_keys_are_rejected()
    {
        var request = Request("co-hosted-event") with
        {
            CustomFields = new Dictionary<string, FieldValue>
            {
                ["participant-group"] = new TextValue("customers"),
                ["budget-owner"] = new TextValue("张三"),
            },
        };

        var ex = Assert.Throws<FieldValidationException>(() => CampaignFactory.Create(Catalogue, request, Operator, Now));

        Assert.Equal([("participant-group", "type"), ("budget-owner", "unknown-field")], ex.Errors.Select(e => (e.FieldKey, e.Code)));
    }

    [Fact]
    public void Choices_of_the_participant_group_must_all_be_options()
    {
        var request = Request() with
        {
            CustomFields = new Dictionary<string, FieldValue> { ["participant-group"] = new ChoicesValue(["customers", "investors"]) },
        };

        var ex = Assert.Throws<FieldValidationException>(() => CampaignFactory.Create(Catalogue, request, Operator, Now));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("participant-group", error.FieldKey);
        Assert.Contains("investors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_type_is_not_found()
    {
        var ex = Assert.Throws<EntityNotFoundException>(() => CampaignFactory.Create(Catalogue, Request("webinar-2000"), Operator, Now));
        Assert.Equal("webinar-2000", ex.Key);
        Assert.Equal("campaign type", ex.EntityKind);
    }

    [Fact]
    public async Task The_service_stores_the_campaign_at_version_1_stamped_by_the_clock()
    {
        // 16:30Z is already the next day in Shanghai; with no dates set, goals are dated from "now" in the campaign zone.
        var clock = new FakeClock(Instant.FromUtc(2026, 5, 1, 16, 30));
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddCampaigns();
        using var provider = services.BuildServiceProvider();
        var service = provider.GetRequiredService<ICampaignService>();
        var request = Request("internal-meeting") with { Schedule = new CampaignSchedule { TimeZoneId = Shanghai } };

        var stored = await service.CreateFromTemplateAsync(request, Operator);

        Assert.Equal(1, stored.Version);
        Assert.Equal(CampaignState.Draft, stored.State);
        Assert.Equal(clock.GetCurrentInstant(), stored.CreatedAt);
        var template = Catalogue.GetCampaignType("internal-meeting").Template;
        Assert.Equal(template.Goals.Select(g => new LocalDate(2026, 5, 2).Plus(g.DeadlineAfterEnd)), stored.Goals.Select(g => g.Deadline));
        Assert.Equal(stored, await service.GetAsync(stored.Id));
    }
}
