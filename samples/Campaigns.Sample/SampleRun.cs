using System.Globalization;
using Campaigns.Modeling;
using Campaigns.Serialization;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Sample;

/// <summary>The sample's main job, written as a host application would use the SDK.</summary>
internal sealed class SampleRun(ICampaignCatalogue catalogue, ICampaignService campaigns, IParticipantService participants, IClock clock)
{
    private static readonly Actor Operator = new("olivia", "operator");
    private static readonly Actor Manager = new("mark", "marketing-manager");
    private static readonly Actor Admin = new("ada", "admin");
    private static readonly DateTimeZone Shanghai = DateTimeZoneProviders.Tzdb["Asia/Shanghai"];
    private static readonly ZonedDateTimePattern When = ZonedDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd HH:mm x", DateTimeZoneProviders.Tzdb);
    private static readonly string[] Industries = ["manufacturing", "internet", "finance", "retail", "healthcare", "education"];

    /// <summary>The offline seminar created by <see cref="RunAsync"/>.</summary>
    public CampaignId SeminarId { get; private set; }

    public async Task<int> RunAsync(int generatedRegistrations, TextWriter output)
    {
        var o = output;
        o.WriteLine("== Catalogue");
        foreach (var group in catalogue.Types.GroupBy(t => t.Category))
        {
            o.WriteLine($"  {group.Key,-20} {string.Join(", ", group.Select(t => $"{t.Name} ({t.Id})"))}");
        }

        o.WriteLine($"  {catalogue.Forms.Count} registration form templates");

        // Two campaigns, a month from now, in Shanghai time.
        var today = clock.GetCurrentInstant().InZone(Shanghai).Date;
        var seminarDay = today.PlusDays(30);
        var seminar = await campaigns.CreateFromTemplateAsync(
            new CreateCampaignRequest
            {
                TypeId = "offline-seminar",
                Name = "上海制造业数字化客户沙龙",
                Topic = "数字化工厂",
                Schedule = new CampaignSchedule
                {
                    TimeZoneId = "Asia/Shanghai",
                    StartsAt = At(seminarDay, 14, 0),
                    EndsAt = At(seminarDay, 17, 30),
                    Location = "上海浦东",
                },
                CustomFields = new Dictionary<string, FieldValue>
                {
                    ["organizer-mode"] = new ChoiceValue("hosted"),
                    ["participant-group"] = new ChoicesValue(["customers", "partners"]),
                },
                Budget = new Budget
                {
                    Currency = "CNY",
                    Total = 60_000,
                    Lines =
                    [
                        new CostLine { Key = "venue", Item = "会场租赁", Planned = 25_000 },
                        new CostLine { Key = "sms", Item = "短信通知", Channel = "sms", Planned = 1_500 },
                        new CostLine { Key = "gifts", Item = "伴手礼", Planned = 8_000 },
                    ],
                },
            },
            Operator).ConfigureAwait(false);
        SeminarId = seminar.Id;

        var liveDay = today.PlusDays(21);
        var live = await campaigns.CreateFromTemplateAsync(
            new CreateCampaignRequest
            {
                TypeId = "live-stream",
                Name = "工业互联网专题直播",
                Topic = "工业互联网",
                Schedule = new CampaignSchedule
                {
                    TimeZoneId = "Asia/Shanghai",
                    StartsAt = At(liveDay, 19, 30),
                    LiveStartsAt = At(liveDay, 19, 30),
                    EndsAt = At(liveDay, 21, 0),
                    Location = "online",
                },
            },
            Operator).ConfigureAwait(false);

        o.WriteLine();
        o.WriteLine("== Created from templates");
        foreach (var c in new[] { seminar, live })
        {
            o.WriteLine($"  {c.Name} [{c.TypeId}] {c.State}: {c.ProcessSteps.Count} process steps, form '{c.RegistrationForm?.Id}', {c.Sops.Count} SOPs, {c.TagRules.Count} tag rules, {c.Goals.Count} goals, approval: {string.Join(" → ", c.ApprovalChain.Levels.Select(l => l.Role))}");
        }

        o.WriteLine();
        o.WriteLine("== Approval");
        await ExpectAsync(o, "start a draft", () => campaigns.StartAsync(seminar.Id, Operator)).ConfigureAwait(false);
        await campaigns.SubmitAsync(seminar.Id, Operator, "物料与会场已确认").ConfigureAwait(false);
        await ExpectAsync(o, "admin approves before the manager", () => campaigns.ApproveAsync(seminar.Id, Admin)).ConfigureAwait(false);
        await campaigns.RejectAsync(seminar.Id, Manager, "预算超出,请削减伴手礼").ConfigureAwait(false);
        await campaigns.SetBudgetAsync(seminar.Id, seminar.Budget! with { Lines = [.. seminar.Budget!.Lines.Select(l => l.Key == "gifts" ? l with { Planned = 4_000 } : l)] }).ConfigureAwait(false);
        foreach (var id in new[] { seminar.Id, live.Id })
        {
            await campaigns.SubmitAsync(id, Operator).ConfigureAwait(false);
            await campaigns.ApproveAsync(id, Manager, "同意").ConfigureAwait(false);
            await campaigns.ApproveAsync(id, Admin, "发布").ConfigureAwait(false);
            var scheduled = await campaigns.ScheduleAsync(id, Operator).ConfigureAwait(false);
            o.WriteLine($"  {scheduled.Name}: {string.Join(" | ", scheduled.History.Select(Describe))}");
        }

        o.WriteLine();
        o.WriteLine("== Invitations and registrations");
        var invited = await participants.InviteAsync(
            seminar.Id,
            [new Invitee("王芳", Phone: "13900001111"), new Invitee("赵强", Email: "zhao.qiang@example.cn", Phone: "13900002222")],
            Operator).ConfigureAwait(false);
        o.WriteLine($"  invited {invited.Count} chosen contacts to {seminar.Name}");

        var bad = new[]
        {
            Form("王芳", "13900001111", "wang.fang@example", "华东机械", "manufacturing", "采购经理"),
            Form("", "12ab", null, "某公司", "mining", "工程师"),
            Form("李雷", "13800138000", null, "", "finance", null),
        };
        var accepted = new List<Participant>();
        foreach (var submission in bad)
        {
            await RegisterAsync(o, seminar.Id, submission, accepted).ConfigureAwait(false);
        }

        await RegisterAsync(o, seminar.Id, Form("王芳", "139-0000-1111", "wang.fang@example.cn", "华东机械", "manufacturing", "采购经理"), accepted).ConfigureAwait(false);
        await RegisterAsync(o, seminar.Id, Form("王芳", "13900001111", null, "华东机械", "manufacturing", "采购经理"), accepted).ConfigureAwait(false);
        for (var i = 0; i < generatedRegistrations; i++)
        {
            var target = i % 2 == 0 ? seminar.Id : live.Id;
            var submission = Form(
                $"客户{i:00}",
                $"1370000{i:0000}",
                $"customer{i}@example.cn",
                $"企业{i % 7}",
                Industries[i % Industries.Length],
                i % 3 == 0 ? "总监" : "经理");
            if (target == live.Id)
            {
                submission.Remove("title");
            }

            await RegisterAsync(o, target, submission, accepted, quiet: true).ConfigureAwait(false);
        }

        o.WriteLine($"  accepted {accepted.Count} registrations in all");

        o.WriteLine();
        o.WriteLine("== Registration approval, check-in, live views, downloads, surveys");
        var pendingSeminar = accepted.Where(p => p.CampaignId == seminar.Id && p.Status == RegistrationStatus.PendingApproval).ToList();
        for (var i = 0; i < pendingSeminar.Count; i++)
        {
            if (i == pendingSeminar.Count - 1)
            {
                await participants.RejectRegistrationAsync(pendingSeminar[i].Id, Operator, "同行,不予通过").ConfigureAwait(false);
            }
            else
            {
                await participants.ApproveRegistrationAsync(pendingSeminar[i].Id, Operator).ConfigureAwait(false);
            }
        }

        await campaigns.StartAsync(seminar.Id, Operator).ConfigureAwait(false);
        await campaigns.StartAsync(live.Id, Operator).ConfigureAwait(false);
        var k = 0;
        foreach (var p in await participants.ListAsync(seminar.Id).ConfigureAwait(false))
        {
            if (p.Status == RegistrationStatus.Registered && k++ % 4 != 3)
            {
                await participants.CheckInAsync(p.Id).ConfigureAwait(false);
                await participants.RecordSurveyAnswerAsync(p.Id, "satisfaction-2026").ConfigureAwait(false);
            }
        }

        k = 0;
        foreach (var p in await participants.ListAsync(live.Id).ConfigureAwait(false))
        {
            if (p.Status == RegistrationStatus.Registered && k++ % 3 != 2)
            {
                await participants.RecordLiveViewAsync(p.Id, Duration.FromMinutes(10 + (k * 7 % 60))).ConfigureAwait(false);
                await participants.RecordDownloadAsync(p.Id, "工业互联网白皮书.pdf").ConfigureAwait(false);
            }
        }

        o.WriteLine();
        o.WriteLine("== Summary");
        foreach (var id in new[] { seminar.Id, live.Id })
        {
            var campaign = await campaigns.GetAsync(id).ConfigureAwait(false);
            var summary = await participants.GetSummaryAsync(id).ConfigureAwait(false);
            o.WriteLine($"  {campaign.Name} — {campaign.State}, starts {When.Format(campaign.Schedule.StartsAt!.Value.InZone(Shanghai))} at {campaign.Schedule.Location}");
            o.WriteLine($"    participants {summary.Total}: {string.Join(", ", summary.ByStatus.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value}"))}");
            o.WriteLine($"    checked in {summary.CheckedIn}, watched live {summary.WatchedLive} ({summary.TotalLiveViewDuration.TotalMinutes:0} min in all), downloaded {summary.Downloaded}, surveys {summary.AnsweredSurvey}");
            o.WriteLine($"    leads routed to {campaign.RegistrationForm!.LeadPool}");
            var registered = summary.ByStatus[RegistrationStatus.Registered];
            var figures = new Dictionary<string, decimal>
            {
                ["registrations"] = registered,
                ["check-in-rate"] = registered == 0 ? 0 : Math.Round(100m * summary.CheckedIn / registered, 1),
                ["live-watch-rate"] = registered == 0 ? 0 : Math.Round(100m * summary.WatchedLive / registered, 1),
            };
            foreach (var goal in await campaigns.EvaluateGoalsAsync(id, figures).ConfigureAwait(false))
            {
                var actual = goal.Actual?.ToString(CultureInfo.InvariantCulture) ?? "n/a";
                o.WriteLine($"    goal {goal.Goal.Metric,-16} target {goal.Goal.Target,5} {goal.Goal.Unit,-7} by {goal.Goal.Deadline:uuuu-MM-dd}: actual {actual,6} ({goal.Ratio:P0}) {goal.Status}");
            }

            if (campaign.Budget is { } budget)
            {
                var b = BudgetCalculator.Summarize(budget);
                o.WriteLine($"    budget {budget.Total:N0} {budget.Currency}: planned {b.Planned:N0}, spent {b.Actual:N0}, over-planned {b.OverPlanned}");
            }
        }

        o.WriteLine();
        o.WriteLine("== Definitions as JSON");
        var stored = await campaigns.GetAsync(seminar.Id).ConfigureAwait(false);
        var json = DefinitionJson.Serialize(stored);
        var reloaded = DefinitionJson.Deserialize<Campaign>(json);
        o.WriteLine($"  {DefinitionJson.GetKind<Campaign>()} v{DefinitionJson.GetSchemaVersion<Campaign>()}: {json.Length:N0} characters; reloaded '{reloaded.Name}' with {reloaded.History.Count} history entries and {reloaded.Sops.Count} SOPs");
        try
        {
            DefinitionJson.Deserialize<Campaign>(json.Replace("\"schemaVersion\":1", "\"schemaVersion\":9", StringComparison.Ordinal));
        }
        catch (DefinitionJsonException ex)
        {
            o.WriteLine($"  a document from the future is refused: {ex.Message}");
        }

        return 0;
    }

    private async Task RegisterAsync(TextWriter o, CampaignId campaignId, Dictionary<string, string?> submission, List<Participant> accepted, bool quiet = false)
    {
        var result = await participants.RegisterAsync(campaignId, submission).ConfigureAwait(false);
        if (result.IsAccepted)
        {
            accepted.Add(result.Participant!);
            if (!quiet)
            {
                o.WriteLine($"  ✓ {result.Participant!.Name} {result.Participant.Phone}: {result.Participant.Status} → {result.LeadPool}");
            }
        }
        else
        {
            o.WriteLine($"  ✗ rejected ({submission.GetValueOrDefault("name")}): {string.Join(" ", result.Errors.Select(e => e.Message))}");
        }
    }

    private static async Task ExpectAsync(TextWriter o, string what, Func<Task> attempt)
    {
        try
        {
            await attempt().ConfigureAwait(false);
            throw new InvalidOperationException($"'{what}' should have been refused.");
        }
        catch (Exception ex) when (ex is InvalidCampaignTransitionException or ApprovalNotPermittedException)
        {
            o.WriteLine($"  refused, as expected ({what}): {ex.Message}");
        }
    }

    private static string Describe(LifecycleEntry e) => $"{e.Action} by {e.ActorId}{(e.Comment is null ? string.Empty : $" “{e.Comment}”")}";

    private static Instant At(LocalDate date, int hour, int minute) => date.At(new LocalTime(hour, minute)).InZoneLeniently(Shanghai).ToInstant();

    private static Dictionary<string, string?> Form(string name, string phone, string? email, string company, string industry, string? title) => new()
    {
        ["name"] = name,
        ["phone"] = phone,
        ["email"] = email,
        ["company"] = company,
        ["industry"] = industry,
        ["title"] = title,
    };
}
