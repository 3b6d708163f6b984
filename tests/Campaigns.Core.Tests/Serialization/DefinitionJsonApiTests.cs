using System.Text;
using Campaigns.Modeling;
using Campaigns.Serialization;

namespace Campaigns.Tests.Serialization;

/// <summary>The surface of <see cref="DefinitionJson"/> around the happy path.</summary>
public sealed class DefinitionJsonApiTests
{
    [Fact]
    public void Kinds_and_versions_are_registered_for_every_definition_document()
    {
        Assert.Equal("campaign", DefinitionJson.GetKind<Campaign>());
        Assert.Equal("campaign-type", DefinitionJson.GetKind<CampaignTypeDefinition>());
        Assert.Equal("form", DefinitionJson.GetKind<RegistrationFormTemplate>());
        Assert.Equal("participant", DefinitionJson.GetKind<Participant>());
        Assert.Equal(1, DefinitionJson.GetSchemaVersion<Campaign>());
        Assert.Equal(1, DefinitionJson.GetSchemaVersion<Participant>());
    }

    [Fact]
    public void A_type_without_a_document_kind_is_not_supported()
    {
        var ex = Assert.Throws<NotSupportedException>(() => DefinitionJson.Serialize(new ApprovalLevel("a", "b")));

        Assert.Contains("Campaign ('campaign')", ex.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => DefinitionJson.Deserialize<ApprovalLevel>("{}"));
    }

    [Fact]
    public void Writing_a_definition_with_a_null_in_a_list_names_its_path()
    {
        var form = new RegistrationFormTemplate { Id = "f", Name = "n", Fields = [null!] };

        var ex = Assert.Throws<ArgumentException>(() => DefinitionJson.Serialize(form));

        Assert.Equal("definition", ex.ParamName);
        Assert.Contains("$.definition.fields[0] is null", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => DefinitionJson.Serialize<Campaign>(null!));
    }

    [Fact]
    public void Writing_a_definition_with_a_null_required_member_names_its_path()
    {
        var campaign = Sample.Campaign() with { Schedule = new CampaignSchedule { TimeZoneId = null! } };

        var ex = Assert.Throws<ArgumentException>(() => DefinitionJson.Serialize(campaign));

        Assert.Contains("$.definition.schedule.timeZoneId is null", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streams_round_trip_asynchronously()
    {
        using var stream = new MemoryStream();
        await DefinitionJson.SerializeAsync(stream, Sample.Campaign());
        stream.Position = 0;

        var back = await DefinitionJson.DeserializeAsync<Campaign>(stream);

        Assert.Equal(DefinitionJson.Serialize(Sample.Campaign()), DefinitionJson.Serialize(back));
        Assert.True(stream.CanRead, "the stream is left open");
    }

    [Fact]
    public void A_byte_order_mark_is_skipped()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(DefinitionJson.SerializeToUtf8Bytes(Sample.Participant())).ToArray();

        Assert.Equal("张伟", DefinitionJson.Deserialize<Participant>(bytes).Name);
        Assert.Equal("张伟", DefinitionJson.Deserialize<Participant>(new MemoryStream(bytes)).Name);
    }

    [Fact]
    public void Hand_written_documents_may_use_comments_trailing_commas_any_member_case_and_a_late_type()
    {
        const string Json = """
            {
              "SchemaVersion": 1, // case does not matter for member names
              "kind": "participant",
              "definition": {
                "id": "0b6f3a52-8f5e-4c59-a3e4-5b0f7a1c2d3e",
                "CampaignId": "6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e",
                "formValues": { "size": { "value": 250, "type": "number" }, },
              },
            }
            """;

        var participant = DefinitionJson.Deserialize<Participant>(Json);

        Assert.Equal(Sample.CampaignId, participant.CampaignId);
        Assert.Equal(new NumberValue(250), participant.FormValues["size"]);
    }

    [Fact]
    public void Non_ascii_text_is_written_as_is_and_html_characters_are_escaped()
    {
        var json = DefinitionJson.Serialize(Sample.Participant() with { Name = "张伟 <b>" });

        Assert.Contains("\"name\":\"张伟 \\u003Cb\\u003E\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shared_options_can_be_copied_and_changed()
    {
        var options = CampaignsJson.CreateOptions();
        options.WriteIndented = true;

        Assert.True(CampaignsJson.Options.IsReadOnly);
        Assert.False(options.IsReadOnly);
    }
}
