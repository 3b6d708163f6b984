using System.Globalization;
using System.Text.Json;

namespace Campaigns.Tests;

public class IdentifierTests
{
    [Fact]
    public void CampaignId_rejects_the_empty_guid()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CampaignId(Guid.Empty));
        Assert.Equal("value", ex.ParamName);
    }

    [Fact]
    public void CampaignId_parses_what_it_prints()
    {
        var id = CampaignId.New();
        Assert.Equal(id, CampaignId.Parse(id.ToString(), CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-guid")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    public void CampaignId_parse_failure_names_the_input(string text)
    {
        Assert.False(CampaignId.TryParse(text, CultureInfo.InvariantCulture, out _));
        var ex = Assert.Throws<FormatException>(() => CampaignId.Parse(text, CultureInfo.InvariantCulture));
        Assert.Contains($"'{text}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ids_serialize_as_plain_guid_strings()
    {
        var id = new ParticipantId(Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
        var json = JsonSerializer.Serialize(id);
        Assert.Equal("\"6f9619ff-8b86-d011-b42d-00c04fc964ff\"", json);
        Assert.Equal(id, JsonSerializer.Deserialize<ParticipantId>(json));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CampaignId>("\"nope\""));
    }

    [Fact]
    public void Actor_requires_id_and_role()
    {
        Assert.Throws<ArgumentException>(() => new Actor(" ", "operator"));
        Assert.Throws<ArgumentException>(() => new Actor("u1", ""));
        Assert.Equal("u1 (operator)", new Actor("u1", "operator").ToString());
    }

    [Fact]
    public void ConcurrencyException_names_both_versions()
    {
        var ex = new ConcurrencyException("campaign", "c1", 3, 4);
        Assert.Contains("version 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("version 4", ex.Message, StringComparison.Ordinal);
        Assert.Equal(4, ex.ActualVersion);
    }
}
