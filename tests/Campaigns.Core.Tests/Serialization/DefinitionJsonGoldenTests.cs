using System.Text.Json;
using System.Text.Json.Nodes;
using Campaigns.Modeling;
using Campaigns.Serialization;
using NodaTime;

namespace Campaigns.Tests.Serialization;

/// <summary>
/// The wire format is what docs/serialization.md says: camelCase members, enums as camelCase strings, instants as
/// <c>2026-05-01T02:00:00Z</c>, periods as <c>P-1D</c>, local times as <c>08:00:00</c>, field values with a <c>type</c>.
/// </summary>
public sealed class DefinitionJsonGoldenTests
{
    // Hand-written, in the canonical member order and with every member the writer emits, so it doubles as the
    // expected output. The comment is allowed when reading.
    private const string Golden = """
        {
          // A campaign as it would sit in a file.
          "schemaVersion": 1,
          "kind": "campaign",
          "definition": {
            "id": "6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e",
            "name": "2026 Q2 上海制造业沙龙",
            "topic": "智能制造",
            "typeId": "offline-seminar",
            "state": "pendingApproval",
            "approvalLevelIndex": 1,
            "approvalChain": {
              "submitterRole": "operator",
              "levels": [
                { "name": "manager-review", "role": "marketing-manager" },
                { "name": "publish", "role": "admin" }
              ],
              "allowSubmitterToApprove": false
            },
            "schedule": {
              "timeZoneId": "Asia/Shanghai",
              "startsAt": "2026-05-01T02:00:00Z",
              "endsAt": "2026-05-01T08:30:00Z",
              "location": "上海国际会议中心"
            },
            "processSteps": [ { "key": "approval", "name": "立项审批", "description": "市场总监审批" } ],
            "registrationForm": {
              "id": "offline-basic",
              "name": "线下活动报名",
              "fields": [
                { "key": "name", "label": "姓名", "type": "text", "required": true, "options": [], "maxLength": 50, "mapsTo": "name" },
                { "key": "industry", "label": "行业", "type": "singleChoice", "required": false, "options": [ { "value": "manufacturing", "label": "制造业" } ] }
              ],
              "targetObject": "lead",
              "leadPool": { "kind": "businessPool", "poolName": "A" },
              "requiresApproval": true,
              "suitableFor": [ "offline-seminar" ]
            },
            "microPages": [
              { "key": "detail", "kind": "detailWithRegistration", "title": "活动详情", "blocks": [ "header-image", "register-button" ], "formId": "offline-basic", "membersSkipForm": false }
            ],
            "sops": [
              {
                "key": "reminder-t-1",
                "name": "T-1 提醒",
                "audience": "customer",
                "anchor": "eventDay",
                "offset": "P-1D",
                "localTime": "08:00:00",
                "channels": [ "sms", "wechat-template" ],
                "interactions": [],
                "content": "{name}，明天见 <b>&</b>"
              },
              { "key": "thanks", "name": "感谢", "audience": "sales", "anchor": "eventEnd", "offset": "PT2H", "channels": [ "wecom" ], "interactions": [ "checkedIn", "watchedLive" ] }
            ],
            "tagRules": [ { "group": "报名活动", "nameTemplate": "报名: {date}+{location}+{topic}", "required": true, "appliedOn": "registered" } ],
            "goals": [ { "metric": "qualified-leads", "target": 500, "unit": "count", "deadline": "2026-06-30", "description": "500 个合格线索" } ],
            "budget": { "currency": "CNY", "total": 80000.00, "lines": [ { "key": "venue", "item": "场地租赁", "channel": "offline", "planned": 30000, "actual": 28500.50 } ] },
            "customFieldDefinitions": [ { "key": "organizer", "label": "主办方式", "type": "singleChoice", "required": true, "options": [ { "value": "hosted", "label": "我司主办" } ] } ],
            "customFields": {
              "organizer": { "type": "choice", "value": "hosted" },
              "segments": { "type": "choices", "values": [ "vip", "new" ] },
              "headcount": { "type": "number", "value": 120 },
              "kickoff": { "type": "date", "value": "2026-04-20" },
              "catering": { "type": "bool", "value": true },
              "note": { "type": "text", "value": "需要同传" }
            },
            "history": [
              { "action": "submit", "from": "draft", "to": "pendingApproval", "actorId": "u-1", "actorRole": "operator", "at": "2026-03-01T09:15:30.5Z" },
              { "action": "approve", "from": "pendingApproval", "to": "pendingApproval", "actorId": "u-2", "actorRole": "marketing-manager", "at": "2026-03-02T01:00:00Z", "comment": "同意", "approvalLevel": "manager-review" }
            ],
            "createdBy": "u-1",
            "createdAt": "2026-03-01T09:00:00Z",
            "version": 3
          }
        }
        """;

    [Fact]
    public void A_hand_written_campaign_document_reads_to_the_expected_values()
    {
        var campaign = DefinitionJson.Deserialize<Campaign>(Golden);

        Assert.Equal(Sample.CampaignId, campaign.Id);
        Assert.Equal("2026 Q2 上海制造业沙龙", campaign.Name);
        Assert.Equal(CampaignState.PendingApproval, campaign.State);
        Assert.Equal(1, campaign.ApprovalLevelIndex);
        Assert.Equal([new ApprovalLevel("manager-review", "marketing-manager"), new ApprovalLevel("publish", "admin")], campaign.ApprovalChain.Levels);
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 2, 0), campaign.Schedule.StartsAt);
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 8, 30), campaign.Schedule.EndsAt);
        Assert.Null(campaign.Schedule.LiveStartsAt);
        Assert.Equal(LeadPoolRoute.BusinessPool("A"), campaign.RegistrationForm!.LeadPool);
        Assert.Equal(FieldType.SingleChoice, campaign.RegistrationForm.Fields[1].Type);
        Assert.Equal(MicroPageKind.DetailWithRegistration, campaign.MicroPages[0].Kind);

        var reminder = campaign.Sops[0];
        Assert.Equal(SopAnchor.EventDay, reminder.Anchor);
        Assert.Equal(Period.FromDays(-1), reminder.Offset);
        Assert.Equal(new LocalTime(8, 0), reminder.LocalTime);
        Assert.Equal(["sms", "wechat-template"], reminder.Channels);
        Assert.Equal(Period.FromHours(2), campaign.Sops[1].Offset);
        Assert.Null(campaign.Sops[1].LocalTime);
        Assert.Equal([ParticipantActivityKind.CheckedIn, ParticipantActivityKind.WatchedLive], campaign.Sops[1].Interactions);

        Assert.Equal(new LocalDate(2026, 6, 30), campaign.Goals[0].Deadline);
        Assert.Equal(28500.50m, campaign.Budget!.Lines[0].Actual);
        Assert.Equal(new ChoiceValue("hosted"), campaign.CustomFields["organizer"]);
        Assert.Equal(["vip", "new"], Assert.IsType<ChoicesValue>(campaign.CustomFields["segments"]).Values);
        Assert.Equal(new NumberValue(120), campaign.CustomFields["headcount"]);
        Assert.Equal(new DateValue(new LocalDate(2026, 4, 20)), campaign.CustomFields["kickoff"]);
        Assert.Equal(new BooleanValue(true), campaign.CustomFields["catering"]);
        Assert.Equal(new TextValue("需要同传"), campaign.CustomFields["note"]);
        Assert.Equal(Instant.FromUtc(2026, 3, 1, 9, 15, 30).Plus(Duration.FromMilliseconds(500)), campaign.History[0].At);
        Assert.Equal("manager-review", campaign.History[1].ApprovalLevel);
        Assert.Equal(3, campaign.Version);
    }

    [Fact]
    public void Writing_the_hand_written_document_back_gives_the_same_document()
    {
        var written = DefinitionJson.Serialize(DefinitionJson.Deserialize<Campaign>(Golden));

        var expected = JsonNode.Parse(Golden, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!
            .ToJsonString(CampaignsJson.Options);
        Assert.Equal(expected, written);
        Assert.Contains("\"name\":\"2026 Q2 上海制造业沙龙\"", written, StringComparison.Ordinal);
        Assert.Contains("\\u003Cb\\u003E\\u0026", written, StringComparison.Ordinal);
    }

    [Fact]
    public void A_minimal_campaign_is_written_with_its_defaults_and_without_nulls()
    {
        var campaign = new Campaign
        {
            Id = Sample.CampaignId,
            Name = "沙龙",
            TypeId = "offline-seminar",
            Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai" },
            CreatedBy = "u-1",
            CreatedAt = Instant.FromUtc(2026, 3, 1, 9, 0),
        };

        Assert.Equal(
            """{"schemaVersion":1,"kind":"campaign","definition":{"id":"6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e","name":"沙龙","typeId":"offline-seminar","state":"draft","approvalLevelIndex":0,"approvalChain":{"levels":[],"allowSubmitterToApprove":false},"schedule":{"timeZoneId":"Asia/Shanghai"},"processSteps":[],"microPages":[],"sops":[],"tagRules":[],"goals":[],"customFieldDefinitions":[],"customFields":{},"history":[],"createdBy":"u-1","createdAt":"2026-03-01T09:00:00Z","version":0}}""",
            DefinitionJson.Serialize(campaign));
    }

    [Fact]
    public void A_participant_is_written_in_the_documented_form()
    {
        Assert.Equal(
            """{"schemaVersion":1,"kind":"participant","definition":{"id":"0b6f3a52-8f5e-4c59-a3e4-5b0f7a1c2d3e","campaignId":"6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e","name":"张伟","email":"zhang.wei@example.com","status":"registered","leadPool":{"kind":"businessPool","poolName":"A"},"formValues":{"company":{"type":"text","value":"上海机床厂"}},"activities":[{"kind":"watchedLive","at":"2026-05-01T03:00:00Z","duration":"1:30:00"}],"version":0}}""",
            DefinitionJson.Serialize(Sample.Participant()));
    }
}
