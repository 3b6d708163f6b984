using Campaigns.Modeling;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Modeling;

public class CampaignServiceTests
{
    private static readonly Actor Operator = new("olivia", "operator");
    private static readonly Actor Manager = new("mark", "marketing-manager");
    private static readonly Actor Admin = new("ada", "admin");
    private readonly FakeClock _clock = new(Instant.FromUtc(2026, 4, 1, 1, 0));
    private readonly ServiceProvider _sp;
    private readonly ICampaignService _service;

    public CampaignServiceTests()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddCampaigns(o => o.IncludeBuiltInCatalogue = false).AddCatalogue(TestCatalogue.Document);
        _sp = services.BuildServiceProvider();
        _service = _sp.GetRequiredService<ICampaignService>();
    }

    private static CreateCampaignRequest Request() => new()
    {
        TypeId = "test-seminar",
        Name = "上海制造业沙龙",
        Topic = "数字化工厂",
        Schedule = new CampaignSchedule
        {
            TimeZoneId = "Asia/Shanghai",
            StartsAt = Instant.FromUtc(2026, 5, 20, 6, 0),
            EndsAt = Instant.FromUtc(2026, 5, 20, 16, 30), // 00:30 on 21 May in Shanghai
            Location = "上海",
        },
        CustomFields = new Dictionary<string, FieldValue> { ["organizer"] = new ChoiceValue("hosted") },
        Budget = new Budget { Currency = "CNY", Total = 30_000 },
    };

    [Fact]
    public async Task Create_from_template_fills_the_campaign_and_stores_it()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        Assert.Equal((CampaignState.Draft, 1L, "olivia", _clock.GetCurrentInstant()), (c.State, c.Version, c.CreatedBy, c.CreatedAt));
        Assert.Equal(["approval", "promotion"], c.ProcessSteps.Select(s => s.Key));
        Assert.Equal("test-form", c.RegistrationForm!.Id);
        Assert.Equal(2, c.ApprovalChain.Levels.Count);
        var goal = Assert.Single(c.Goals);
        Assert.Equal(new LocalDate(2026, 5, 28), goal.Deadline); // local end date 21 May + 7 days
        Assert.Equal(c, await _service.GetAsync(c.Id));
    }

    [Fact]
    public async Task Walks_through_approval_to_running_and_back()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        await _service.SubmitAsync(c.Id, Operator, "ready");
        await _service.ApproveAsync(c.Id, Manager);
        _clock.AdvanceHours(1);
        c = await _service.ApproveAsync(c.Id, Admin, "publish");
        Assert.Equal(CampaignState.Approved, c.State);
        c = await _service.ScheduleAsync(c.Id, Operator);
        c = await _service.StartAsync(c.Id, Operator);
        c = await _service.PauseAsync(c.Id, Operator, "venue issue");
        c = await _service.ResumeAsync(c.Id, Operator);
        c = await _service.CompleteAsync(c.Id, Operator);
        c = await _service.ArchiveAsync(c.Id, Admin);
        Assert.Equal(CampaignState.Archived, c.State);
        Assert.Equal(10, c.Version); // created at 1, nine actions
        Assert.Equal(_clock.GetCurrentInstant(), c.History[^1].At);
    }

    [Fact]
    public async Task Rejection_goes_back_to_draft_with_the_reason()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        await _service.SubmitAsync(c.Id, Operator);
        c = await _service.RejectAsync(c.Id, Manager, "budget too high");
        Assert.Equal(CampaignState.Draft, c.State);
        Assert.Equal("budget too high", c.History[^1].Comment);
        c = await _service.CancelAsync(c.Id, Operator, "postponed");
        Assert.Equal(CampaignState.Cancelled, c.State);
    }

    [Fact]
    public async Task An_illegal_transition_writes_nothing()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        var ex = await Assert.ThrowsAsync<InvalidCampaignTransitionException>(() => _service.StartAsync(c.Id, Operator));
        Assert.Equal((CampaignState.Draft, CampaignAction.Start), (ex.Current, ex.Requested));
        Assert.Equal(1, (await _service.GetAsync(c.Id)).Version);
    }

    [Fact]
    public async Task Stale_write_from_a_second_service_user_is_detected()
    {
        var store = _sp.GetRequiredService<ICampaignStore>();
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        var staleCopy = await store.GetAsync(c.Id);
        await _service.SubmitAsync(c.Id, Operator);
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(staleCopy! with { Name = "lost update" }));
        Assert.Equal("上海制造业沙龙", (await _service.GetAsync(c.Id)).Name);
    }

    [Fact]
    public async Task Custom_fields_and_budget_are_validated_before_writing()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        var fe = await Assert.ThrowsAsync<FieldValidationException>(() => _service.SetCustomFieldsAsync(c.Id, new Dictionary<string, FieldValue> { ["organizer"] = new ChoiceValue("alone") }));
        Assert.Equal("organizer", Assert.Single(fe.Errors).FieldKey);
        var be = await Assert.ThrowsAsync<CampaignValidationException>(() => _service.SetBudgetAsync(c.Id, new Budget { Currency = "CNY", Total = -5 }));
        Assert.Contains("budget.total", be.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await _service.GetAsync(c.Id)).Version);

        c = await _service.SetCustomFieldsAsync(c.Id, new Dictionary<string, FieldValue> { ["organizer"] = new ChoiceValue("co-hosted") });
        Assert.Equal(new ChoiceValue("co-hosted"), c.CustomFields["organizer"]);
        c = await _service.SetBudgetAsync(c.Id, new Budget { Currency = "CNY", Total = 40_000, Lines = [new CostLine { Key = "venue", Item = "会场", Planned = 10_000, Actual = 9_000 }] });
        Assert.Equal(40_000, c.Budget!.Total);
    }

    [Fact]
    public async Task Closed_campaigns_refuse_field_changes()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        await _service.CancelAsync(c.Id, Operator);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _service.SetCustomFieldsAsync(c.Id, new Dictionary<string, FieldValue> { ["organizer"] = new ChoiceValue("hosted") }));
        await _service.ArchiveAsync(c.Id, Admin);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _service.SetBudgetAsync(c.Id, new Budget { Currency = "CNY" }));
    }

    [Fact]
    public async Task Goals_are_evaluated_on_the_local_date()
    {
        var c = await _service.CreateFromTemplateAsync(Request(), Operator);
        _clock.Reset(Instant.FromUtc(2026, 5, 28, 16, 30)); // 29 May 00:30 in Shanghai: one day past the deadline
        var result = Assert.Single(await _service.EvaluateGoalsAsync(c.Id, new Dictionary<string, decimal> { ["registrations"] = 80 }));
        Assert.Equal((GoalStatus.Missed, 0.8m), (result.Status, result.Ratio));
    }

    [Fact]
    public async Task Unknown_campaign_and_type_are_named()
    {
        var id = CampaignId.New();
        var ex = await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.GetAsync(id));
        Assert.Equal(id.ToString(), ex.Key);
        var tex = await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.CreateFromTemplateAsync(Request() with { TypeId = "rocket-launch" }, Operator));
        Assert.Equal(("campaign type", "rocket-launch"), (tex.EntityKind, tex.Key));
    }
}
