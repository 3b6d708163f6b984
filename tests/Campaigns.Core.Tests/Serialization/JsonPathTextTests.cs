using Campaigns.Modeling;
using Campaigns.Serialization;

namespace Campaigns.Tests.Serialization;

public sealed class JsonPathTextTests
{
    [Theory]
    [InlineData("$")]
    [InlineData("$.definition")]
    [InlineData("$.definition.sops[2].offset")]
    [InlineData("$.definition.customFields['a b'].value")]
    [InlineData("$.definition.customFields['it's'].value")]
    [InlineData("$.definition.customFields['x.y']['[0]'][3]")]
    [InlineData("$.definition.customFields.报名")]
    public void Paths_in_the_System_Text_Json_form_parse_and_format_back(string path)
    {
        var segments = JsonPathText.TryParse(path);

        Assert.NotNull(segments);
        Assert.Equal(path, JsonPathText.Format(segments));
    }

    [Theory]
    [InlineData("definition.name")]
    [InlineData("$[x]")]
    [InlineData("$['open")]
    [InlineData("$x")]
    public void Other_text_is_not_a_path(string text) => Assert.Null(JsonPathText.TryParse(text));

    [Fact]
    public void Member_names_with_special_characters_use_brackets()
    {
        Assert.Equal("$.a", JsonPathText.Member("$", "a"));
        Assert.Equal("$['a b']", JsonPathText.Member("$", "a b"));
        Assert.Equal("$.a[4]", JsonPathText.Item("$.a", 4));
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("p$q")]
    [InlineData("$ref")]
    [InlineData("报名.日期")]
    public void Member_paths_match_what_System_Text_Json_reports(string key)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { [key] = "not a number" });
        var ex = Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(json));
        Assert.Equal(ex.Path, JsonPathText.Member("$", key));
    }

    [Fact]
    public void The_built_in_catalogue_round_trips_as_documents()
    {
        // Real data: every type and form the library ships (the catalogue may still be empty on this branch).
        var catalogue = CampaignCatalogue.ReadBuiltIn();

        foreach (var type in catalogue.Types)
        {
            var json = DefinitionJson.Serialize(type);
            Assert.Equal(json, DefinitionJson.Serialize(DefinitionJson.Deserialize<CampaignTypeDefinition>(json)));
        }

        foreach (var form in catalogue.Forms)
        {
            var json = DefinitionJson.Serialize(form);
            Assert.Equal(json, DefinitionJson.Serialize(DefinitionJson.Deserialize<RegistrationFormTemplate>(json)));
        }
    }
}
