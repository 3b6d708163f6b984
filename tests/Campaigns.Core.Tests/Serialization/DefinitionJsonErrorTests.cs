using System.Text.Json;
using System.Text.Json.Nodes;
using Campaigns.Modeling;
using Campaigns.Serialization;
using NodaTime;

namespace Campaigns.Tests.Serialization;

/// <summary>F-1.10: an unknown version or a malformed document gives an error with the JSON path from the document root.</summary>
public sealed class DefinitionJsonErrorTests
{
    private static readonly string Valid = DefinitionJson.Serialize(Sample.Campaign());

    public static TheoryData<string, string, string, string> CampaignFaults => new()
    {
        // Envelope
        { "unknown schema version", Root(d => d["schemaVersion"] = 7), "$.schemaVersion", "schema version 7 is not supported for kind 'campaign'; supported: 1" },
        { "schema version zero", Root(d => d["schemaVersion"] = 0), "$.schemaVersion", "schema version 0 is not supported for kind 'campaign'; supported: 1" },
        { "missing schema version", Root(d => d.Remove("schemaVersion")), "$", "the document has no \"schemaVersion\"; expected an integer schema version (supported for kind 'campaign': 1)" },
        { "schema version as a string", Root(d => d["schemaVersion"] = "1"), "$.schemaVersion", "found the string \"1\"; expected an integer schema version" },
        { "fractional schema version", Root(d => d["schemaVersion"] = 1.5), "$.schemaVersion", "found the number 1.5; expected an integer schema version" },
        { "kind of another type", Root(d => d["kind"] = "participant"), "$.kind", "found kind 'participant', a Participant; expected 'campaign' to read a Campaign" },
        { "unknown kind", Root(d => d["kind"] = "widget"), "$.kind", "found kind 'widget', which is not a definition kind; expected 'campaign'" },
        { "kind not a string", Root(d => d["kind"] = 1), "$.kind", "found the number 1; expected the string \"campaign\"" },
        { "missing kind", Root(d => d.Remove("kind")), "$", "the document has no \"kind\"; expected \"kind\":\"campaign\"" },
        { "missing definition", Root(d => d.Remove("definition")), "$", "the document has no \"definition\"; expected an object (Campaign)" },
        { "null definition", Root(d => d["definition"] = null), "$.definition", "null is not allowed here; expected an object (Campaign)" },
        { "unknown envelope member", Root(d => d["extra"] = 1), "$.extra", "'extra' is not a member of the definition document; expected one of: schemaVersion, kind, definition" },
        { "duplicate envelope member", Valid.Replace("\"kind\":", "\"schemaVersion\":1,\"kind\":", StringComparison.Ordinal), "$.schemaVersion", "the member \"schemaVersion\" is given twice; expected it once" },
        { "not an object", "[1,2]", "$", "found an array; expected a definition document, an object such as {\"schemaVersion\":1,\"kind\":\"campaign\",\"definition\":{…}}" },

        // Malformed JSON
        { "empty input", string.Empty, "$", "malformed JSON: The input does not contain any JSON tokens" },
        { "missing comma", Valid.Replace(",\"typeId\"", " \"typeId\"", StringComparison.Ordinal), "$.definition.name", "malformed JSON: '\"' is invalid after a value" },
        { "unterminated document", Valid[..^1], "$.definition", "malformed JSON: Expected depth to be zero at the end of the JSON payload" },
        { "trailing garbage", Valid + " x", "$", "malformed JSON: 'x' is invalid after a single JSON value" },
        { "unquoted value", Valid.Replace("\"state\":\"draft\"", "\"state\":draft", StringComparison.Ordinal), "$.definition.state", "malformed JSON: 'd' is an invalid start of a value" },

        // Wrong value types
        { "number for a string", Def(d => d["name"] = 5), "$.definition.name", "found the number 5; expected a string" },
        { "string for a boolean", Def(d => d["approvalChain"]!["allowSubmitterToApprove"] = "yes"), "$.definition.approvalChain.allowSubmitterToApprove", "found the string \"yes\"; expected true or false" },
        { "object for a list", Def(d => d["processSteps"] = new JsonObject()), "$.definition.processSteps", "found an object; expected an array" },
        { "string for an object", Def(d => d["schedule"] = "soon"), "$.definition.schedule", "found the string \"soon\"; expected an object (CampaignSchedule)" },
        { "empty campaign id", Def(d => d["id"] = "00000000-0000-0000-0000-000000000000"), "$.definition.id", "expected a non-empty GUID string" },
        { "number for a campaign id", Def(d => d["id"] = 42), "$.definition.id", "found the number 42; expected a non-empty GUID string" },

        // Unknown, duplicate and missing members
        { "duplicate member", Valid.Replace("\"typeId\":", "\"name\":\"again\",\"typeId\":", StringComparison.Ordinal), "$.definition.name", "Duplicate property 'name' encountered" },
        { "unknown member", Def(d => d["venue"] = "hall 1"), "$.definition.venue", "'venue' is not a member of Campaign; expected one of: id, name, topic, typeId" },
        { "unknown nested member", Def(d => d["schedule"]!["venue"] = "hall 1"), "$.definition.schedule.venue", "'venue' is not a member of CampaignSchedule" },
        { "unknown member in a field value", Def(d => d["customFields"]!["industry"]!["label"] = "x"), "$.definition.customFields.industry.label", "'label' is not a member of TextValue; expected one of: value" },
        { "missing required member", Def(d => d.Remove("name")), "$.definition", "missing required member 'name' of Campaign" },
        { "missing required members", Def(d => { d.Remove("name"); d.Remove("createdBy"); }), "$.definition", "missing required members 'name', 'createdBy' of Campaign" },
        { "missing nested required member", Def(d => d["schedule"]!.AsObject().Remove("timeZoneId")), "$.definition.schedule", "missing required member 'timeZoneId' of CampaignSchedule" },
        { "missing constructor parameter", Def(d => d["approvalChain"]!["levels"]![0]!.AsObject().Remove("role")), "$.definition.approvalChain.levels[0]", "missing required member 'role' of ApprovalLevel" },
        { "field value without its value", Def(d => d["customFields"]!["industry"]!.AsObject().Remove("value")), "$.definition.customFields.industry", "missing required member 'value' of TextValue" },

        // Nulls
        { "null for a required string", Def(d => d["name"] = null), "$.definition.name", "null is not allowed here; expected a string" },
        { "null for a list", Def(d => d["processSteps"] = null), "$.definition.processSteps", "null is not allowed here; expected an array" },
        { "null list element", Def(d => d["sops"]![0]!["channels"]!.AsArray().Add(null)), "$.definition.sops[0].channels[2]", "null is not allowed here; expected a string" },
        { "null object in a list", Def(d => d["approvalChain"]!["levels"]!.AsArray().Add(null)), "$.definition.approvalChain.levels[1]", "null is not allowed here; expected an object (ApprovalLevel)" },
        { "null map value", Def(d => d["customFields"]!["industry"] = null), "$.definition.customFields.industry", "null is not allowed here; expected an object with \"type\" one of \"text\", \"number\", \"date\", \"choice\", \"choices\", \"bool\"" },
        { "null constructor parameter", Def(d => d["approvalChain"]!["levels"]![0]!["role"] = null), "$.definition.approvalChain.levels[0].role", "null is not allowed here; expected a string" },

        // NodaTime values
        { "invalid instant", Def(d => d["schedule"]!["startsAt"] = "2026-13-01T00:00:00Z"), "$.definition.schedule.startsAt", "found the string \"2026-13-01T00:00:00Z\"; expected an instant in UTC such as \"2026-05-01T02:00:00Z\" (The month 13 is out of range in year 2026)" },
        { "instant with an offset", Def(d => d["schedule"]!["startsAt"] = "2026-05-01T10:00:00+08:00"), "$.definition.schedule.startsAt", "expected an instant in UTC such as \"2026-05-01T02:00:00Z\"" },
        { "instant as a number", Def(d => d["createdAt"] = 1_777_600_000), "$.definition.createdAt", "found the number 1777600000; expected an instant in UTC" },
        { "period with a leading minus", Def(d => d["sops"]![0]!["offset"] = "-P1D"), "$.definition.sops[0].offset", "found the string \"-P1D\"; expected an ISO-8601 period such as \"P1D\", \"PT2H\" or \"P-1D\"" },
        { "local time without seconds", Def(d => d["sops"]![0]!["localTime"] = "8:00"), "$.definition.sops[0].localTime", "found the string \"8:00\"; expected a time of day such as \"08:00:00\"" },
        { "invalid date in a field value", Def(d => d["customFields"]!["kickoff"]!["value"] = "2026-02-30"), "$.definition.customFields.kickoff.value", "found the string \"2026-02-30\"; expected a date such as \"2026-05-01\" (The day 30 is out of range in month 2 of year 2026)" },
        { "invalid date in a goal", Def(d => d["goals"]![0]!["deadline"] = "30/06/2026"), "$.definition.goals[0].deadline", "expected a date such as \"2026-05-01\"" },

        // Enums
        { "unknown enum name", Def(d => d["state"] = "launched"), "$.definition.state", "found the string \"launched\"; expected one of \"draft\", \"pendingApproval\", \"approved\"" },
        { "enum as an integer", Def(d => d["state"] = 3), "$.definition.state", "found the number 3; expected one of \"draft\"" },
        { "unknown enum in a list", Def(d => d["sops"]![0]!["interactions"] = new JsonArray("checkedIn", "danced")), "$.definition.sops[0].interactions[1]", "found the string \"danced\"; expected one of \"invited\", \"registered\"" },

        // Field value discriminators
        { "unknown field value type", Def(d => d["customFields"]!["industry"]!["type"] = "color"), "$.definition.customFields.industry.type", "found the string \"color\" as the FieldValue \"type\"; expected one of \"text\", \"number\", \"date\", \"choice\", \"choices\", \"bool\"" },
        { "field value type not a string", Def(d => d["customFields"]!["industry"]!["type"] = 1), "$.definition.customFields.industry.type", "found the number 1 as the FieldValue \"type\"" },
        { "field value without type", Def(d => d["customFields"]!["industry"]!.AsObject().Remove("type")), "$.definition.customFields.industry", "the FieldValue has no \"type\"; expected \"type\" one of \"text\", \"number\"" },
        { "field value of the wrong type", Def(d => d["customFields"]!["catering"]!["value"] = "yes"), "$.definition.customFields.catering.value", "found the string \"yes\"; expected true or false" },
        { "key that needs brackets", Def(d => d["customFields"]!["a b"] = new JsonObject { ["type"] = "number", ["value"] = "many" }), "$.definition.customFields['a b'].value", "found the string \"many\"; expected a number" },
    };

    [Theory]
    [MemberData(nameof(CampaignFaults))]
    public void A_faulty_campaign_document_names_the_place_and_the_problem(string fault, string json, string path, string problem)
    {
        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Campaign>(json));

        Assert.True(path == ex.Path, $"{fault}: expected path {path}, got {ex.Path}: {ex.Message}");
        Assert.Contains(problem, ex.Problem, StringComparison.Ordinal);
        Assert.Equal("campaign", ex.Kind);
        Assert.NotNull(ex.LineNumber);
        Assert.NotNull(ex.BytePositionInLine);
        Assert.StartsWith("Cannot read the 'campaign' definition document: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"Path: {path} | LineNumber: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_message_reads_as_one_sentence_with_the_position()
    {
        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Campaign>(Root(d => d["schemaVersion"] = 7)));

        Assert.Equal(
            "Cannot read the 'campaign' definition document: schema version 7 is not supported for kind 'campaign'; supported: 1. Path: $.schemaVersion | LineNumber: 0 | BytePositionInLine: 1.",
            ex.Message);
        Assert.IsAssignableFrom<JsonException>(ex);
    }

    [Fact]
    public void Line_and_byte_position_point_at_the_member_in_an_indented_document()
    {
        var node = JsonNode.Parse(Valid)!;
        node["definition"]!["schedule"]!["startsAt"] = "not a time";
        var json = node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        var lines = json.Split('\n');
        var line = Array.FindIndex(lines, l => l.Contains("\"startsAt\"", StringComparison.Ordinal));

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Campaign>(json));

        Assert.Equal("$.definition.schedule.startsAt", ex.Path);
        Assert.Equal(line, ex.LineNumber);
        Assert.Equal(lines[line].IndexOf('"', StringComparison.Ordinal), ex.BytePositionInLine);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public void Malformed_json_points_at_the_offending_character()
    {
        const string Json = "{\n  \"schemaVersion\": 1,\n  \"kind\": \"campaign\",\n  \"definition\": { \"name\": tru }\n}";

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Campaign>(Json));

        Assert.Equal("$.definition.name", ex.Path);
        Assert.Equal(3, ex.LineNumber);
        Assert.StartsWith("malformed JSON: ", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_and_kind_are_checked_before_the_definition()
    {
        // A future document whose definition this library cannot read reports the version, not the definition.
        var json = Root(d =>
        {
            d["schemaVersion"] = 2;
            d["definition"]!["renamedMember"] = true;
        });

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Campaign>(json));

        Assert.Equal("$.schemaVersion", ex.Path);
    }

    [Fact]
    public void A_participant_document_reports_a_bad_duration()
    {
        var json = JsonNode.Parse(DefinitionJson.Serialize(Sample.Participant()))!;
        json["definition"]!["activities"]![0]!["duration"] = "90 minutes";

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Participant>(json.ToJsonString()));

        Assert.Equal("$.definition.activities[0].duration", ex.Path);
        Assert.Contains("found the string \"90 minutes\"; expected a duration in hours, minutes and seconds such as \"1:30:00\"", ex.Problem, StringComparison.Ordinal);
        Assert.Equal("participant", ex.Kind);
    }

    [Fact]
    public void A_participant_lead_pool_needs_its_kind()
    {
        var json = JsonNode.Parse(DefinitionJson.Serialize(Sample.Participant()))!;
        json["definition"]!["leadPool"] = new JsonObject { ["poolName"] = "A" };

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<Participant>(json.ToJsonString()));

        Assert.Equal("$.definition.leadPool", ex.Path);
        Assert.Equal("missing required member 'kind' of LeadPoolRoute", ex.Problem);
    }

    [Fact]
    public void A_form_document_reports_an_unknown_field_type()
    {
        var json = JsonNode.Parse(DefinitionJson.Serialize(Sample.Campaign().RegistrationForm!))!;
        json["definition"]!["fields"]![1]!["type"] = "color";

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<RegistrationFormTemplate>(json.ToJsonString()));

        Assert.Equal("$.definition.fields[1].type", ex.Path);
        Assert.Contains("found the string \"color\"; expected one of \"text\", \"number\", \"date\", \"singleChoice\"", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_campaign_type_document_reports_a_bad_template_period()
    {
        var type = new CampaignTypeDefinition
        {
            Id = "webinar",
            Name = "线上直播",
            Category = CampaignCategory.BrandHostedExternal,
            SubKind = "live-stream",
            Template = new CampaignTemplate { Goals = [new GoalTemplate { Metric = "registrations", Target = 300, DeadlineAfterEnd = Period.FromDays(7) }] },
        };
        var json = JsonNode.Parse(DefinitionJson.Serialize(type))!;
        json["definition"]!["template"]!["goals"]![0]!["deadlineAfterEnd"] = "7 days";

        var ex = Assert.Throws<DefinitionJsonException>(() => DefinitionJson.Deserialize<CampaignTypeDefinition>(json.ToJsonString()));

        Assert.Equal("$.definition.template.goals[0].deadlineAfterEnd", ex.Path);
        Assert.Equal("campaign-type", ex.Kind);
    }

    private static string Root(Action<JsonObject> change)
    {
        var root = JsonNode.Parse(Valid)!.AsObject();
        change(root);
        return root.ToJsonString();
    }

    private static string Def(Action<JsonObject> change) => Root(root => change(root["definition"]!.AsObject()));
}
