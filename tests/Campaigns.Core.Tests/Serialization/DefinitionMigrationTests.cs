using System.Text.Json.Nodes;
using Campaigns.Modeling;
using Campaigns.Serialization;

namespace Campaigns.Tests.Serialization;

/// <summary>
/// The migration mechanism, with test-registered schema versions: version 1 of a "campaign" called the name "title";
/// version 2 renamed it; version 3 added nothing but a step that checks the order the steps run in.
/// </summary>
public sealed class DefinitionMigrationTests
{
    private static readonly DefinitionCodec TwoVersions = Codec(RenameTitle);

    [Fact]
    public void The_current_version_is_one_more_than_the_number_of_migrations()
    {
        Assert.Equal(2, TwoVersions.Registry.Get(typeof(Campaign)).CurrentVersion);
        Assert.Contains("\"schemaVersion\":2", TwoVersions.Serialize(Sample.Campaign()), StringComparison.Ordinal);
    }

    [Fact]
    public void An_older_document_is_migrated_before_it_is_read()
    {
        var json = Version1(Sample.Campaign());

        var campaign = TwoVersions.Deserialize<Campaign>(Encode(json));

        Assert.Equal(Sample.Campaign().Name, campaign.Name);
        Assert.Equal(TwoVersions.Serialize(Sample.Campaign()), TwoVersions.Serialize(campaign));
    }

    [Fact]
    public void A_current_document_is_read_without_migration()
    {
        var json = TwoVersions.Serialize(Sample.Campaign());

        Assert.Equal(Sample.Campaign().Name, TwoVersions.Deserialize<Campaign>(Encode(json)).Name);
    }

    [Fact]
    public void Migrations_run_in_order_from_the_document_version()
    {
        var steps = new List<string>();
        var codec = Codec(
            d =>
            {
                steps.Add("1→2");
                return RenameTitle(d);
            },
            d =>
            {
                steps.Add("2→3");
                return d;
            });

        codec.Deserialize<Campaign>(Encode(Version1(Sample.Campaign())));
        Assert.Equal(["1→2", "2→3"], steps);

        steps.Clear();
        codec.Deserialize<Campaign>(Encode(codec.Serialize(Sample.Campaign()).Replace("\"schemaVersion\":3", "\"schemaVersion\":2", StringComparison.Ordinal)));
        Assert.Equal(["2→3"], steps);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(0)]
    public void A_version_outside_the_migration_range_lists_the_supported_ones(int version)
    {
        var json = Version1(Sample.Campaign()).Replace("\"schemaVersion\":1", $"\"schemaVersion\":{version}", StringComparison.Ordinal);

        var ex = Assert.Throws<DefinitionJsonException>(() => TwoVersions.Deserialize<Campaign>(Encode(json)));

        Assert.Equal("$.schemaVersion", ex.Path);
        Assert.Equal($"schema version {version} is not supported for kind 'campaign'; supported: 1, 2", ex.Problem);
    }

    [Fact]
    public void A_fault_found_after_migration_has_the_path_but_no_line()
    {
        var node = JsonNode.Parse(Version1(Sample.Campaign()))!;
        node["definition"]!["schedule"]!["startsAt"] = "tomorrow";

        var ex = Assert.Throws<DefinitionJsonException>(() => TwoVersions.Deserialize<Campaign>(Encode(node.ToJsonString())));

        Assert.Equal("$.definition.schedule.startsAt", ex.Path);
        Assert.Null(ex.LineNumber);
        Assert.EndsWith("(in the document as migrated from schema version 1 to 2)", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_found_after_migration_is_reported()
    {
        var node = JsonNode.Parse(Version1(Sample.Campaign()))!;
        node["definition"]!["sops"]![0]!["channels"]!.AsArray().Add(null);

        var ex = Assert.Throws<DefinitionJsonException>(() => TwoVersions.Deserialize<Campaign>(Encode(node.ToJsonString())));

        Assert.Equal("$.definition.sops[0].channels[2]", ex.Path);
        Assert.Null(ex.LineNumber);
    }

    [Fact]
    public void A_failing_migration_is_reported_at_the_definition()
    {
        var codec = Codec(_ => throw new InvalidOperationException("no title to rename."));

        var ex = Assert.Throws<DefinitionJsonException>(() => codec.Deserialize<Campaign>(Encode(Version1(Sample.Campaign()))));

        Assert.Equal("$.definition", ex.Path);
        Assert.Equal("the migration from schema version 1 to 2 failed: no title to rename", ex.Problem);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
    }

    [Fact]
    public void A_migration_may_return_a_node_it_took_from_elsewhere()
    {
        // Returning a child of the given object (it has a parent) must not break the envelope that is rebuilt around it.
        var codec = Codec(d =>
        {
            var wrapped = new JsonObject { ["inner"] = RenameTitle(d) };
            return wrapped["inner"]!.AsObject();
        });

        Assert.Equal(Sample.Campaign().Name, codec.Deserialize<Campaign>(Encode(Version1(Sample.Campaign()))).Name);
    }

    [Fact]
    public void An_older_document_whose_definition_is_not_an_object_is_rejected()
    {
        var json = """{"schemaVersion":1,"kind":"campaign","definition":[1]}""";

        var ex = Assert.Throws<DefinitionJsonException>(() => TwoVersions.Deserialize<Campaign>(Encode(json)));

        Assert.Equal("$.definition", ex.Path);
        Assert.Equal("found an array; expected an object (Campaign)", ex.Problem);
    }

    [Fact]
    public void Kinds_and_types_are_registered_once()
    {
        var builder = new DefinitionRegistry.Builder().Add<Campaign>("campaign");

        Assert.Throws<ArgumentException>(() => builder.Add<Campaign>("other"));
        Assert.Throws<ArgumentException>(() => builder.Add<Participant>("campaign"));
    }

    private static DefinitionCodec Codec(params Func<JsonObject, JsonObject>[] migrations) =>
        new(new DefinitionRegistry.Builder().Add<Campaign>("campaign", migrations).Build(), CampaignsJson.Options);

    private static JsonObject RenameTitle(JsonObject definition)
    {
        var title = definition["title"] ?? throw new InvalidOperationException("no title");
        definition.Remove("title");
        definition["name"] = title.DeepClone();
        return definition;
    }

    /// <summary>The campaign as a version 1 document: "title" instead of "name".</summary>
    private static string Version1(Campaign campaign)
    {
        var node = JsonNode.Parse(DefinitionJson.Serialize(campaign))!;
        var definition = node["definition"]!.AsObject();
        var name = definition["name"]!.DeepClone();
        definition.Remove("name");
        definition["title"] = name;
        return node.ToJsonString();
    }

    private static byte[] Encode(string json) => System.Text.Encoding.UTF8.GetBytes(json);
}
