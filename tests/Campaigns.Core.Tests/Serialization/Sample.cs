using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Serialization;

/// <summary>Fixed definitions the serialization tests start from.</summary>
internal static class Sample
{
    public static readonly CampaignId CampaignId = new(Guid.Parse("6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e"));

    public static Campaign Campaign() => new()
    {
        Id = CampaignId,
        Name = "2026 Q2 上海制造业沙龙",
        TypeId = "offline-seminar",
        ApprovalChain = new ApprovalChain { Levels = [new ApprovalLevel("manager-review", "marketing-manager")] },
        Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai", StartsAt = Instant.FromUtc(2026, 5, 1, 2, 0) },
        RegistrationForm = new RegistrationFormTemplate
        {
            Id = "offline-basic",
            Name = "线下活动报名",
            Fields =
            [
                new FieldDefinition { Key = "name", Label = "姓名", Type = FieldType.Text, Required = true },
                new FieldDefinition { Key = "industry", Label = "行业", Type = FieldType.SingleChoice, Options = [new FieldOption("manufacturing", "制造业")] },
            ],
        },
        Sops =
        [
            new SopDefinition
            {
                Key = "reminder",
                Name = "T-1 提醒",
                Anchor = SopAnchor.EventDay,
                Offset = Period.FromDays(-1),
                LocalTime = new LocalTime(8, 0),
                Channels = ["sms", "wechat-template"],
            },
        ],
        Goals = [new SmartGoal { Metric = "qualified-leads", Target = 500, Deadline = new LocalDate(2026, 6, 30) }],
        CustomFields = new Dictionary<string, FieldValue>
        {
            ["industry"] = new TextValue("制造业"),
            ["kickoff"] = new DateValue(new LocalDate(2026, 4, 20)),
            ["catering"] = new BooleanValue(true),
            ["segments"] = new ChoicesValue(["vip", "new"]),
        },
        CreatedBy = "u-1",
        CreatedAt = Instant.FromUtc(2026, 3, 1, 9, 0),
    };

    public static Participant Participant() => new()
    {
        Id = new ParticipantId(Guid.Parse("0b6f3a52-8f5e-4c59-a3e4-5b0f7a1c2d3e")),
        CampaignId = CampaignId,
        Name = "张伟",
        Email = "zhang.wei@example.com",
        Status = RegistrationStatus.Registered,
        LeadPool = LeadPoolRoute.BusinessPool("A"),
        FormValues = new Dictionary<string, FieldValue> { ["company"] = new TextValue("上海机床厂") },
        Activities = [new ParticipantActivity(ParticipantActivityKind.WatchedLive, Instant.FromUtc(2026, 5, 1, 3, 0), Duration.FromMinutes(90))],
    };
}
