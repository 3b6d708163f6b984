using System.Text;
using System.Text.Json.Nodes;
using Campaigns.Modeling;
using Campaigns.Serialization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Campaigns.Tests.Serialization;

/// <summary>F-1.10: every definition kind survives serialize → deserialize → serialize unchanged.</summary>
public sealed class DefinitionJsonRoundTripTests
{
    private const int Cases = 200;

    [Property(Arbitrary = [typeof(DefinitionArbitraries)], MaxTest = Cases)]
    public void Campaign_round_trips(Campaign campaign)
    {
        var json = DefinitionJson.Serialize(campaign);
        var back = DefinitionJson.Deserialize<Campaign>(json);

        Assert.Equal(json, DefinitionJson.Serialize(back));
        Assert.Equal(campaign.Id, back.Id);
        Assert.Equal(campaign.Name, back.Name);
        Assert.Equal(campaign.Topic, back.Topic);
        Assert.Equal(campaign.TypeId, back.TypeId);
        Assert.Equal(campaign.State, back.State);
        Assert.Equal(campaign.Schedule, back.Schedule);
        Assert.Equal(campaign.CreatedAt, back.CreatedAt);
        Assert.Equal(campaign.Version, back.Version);
        Assert.Equal(campaign.ApprovalChain.Levels, back.ApprovalChain.Levels);
        Assert.Equal(campaign.ProcessSteps, back.ProcessSteps);
        Assert.Equal(campaign.Goals, back.Goals);
        Assert.Equal(campaign.History, back.History);
        Assert.Equal(campaign.Budget?.Lines ?? [], back.Budget?.Lines ?? []);
        Assert.Equal(campaign.Sops.Select(s => (s.Key, s.Offset, s.LocalTime)), back.Sops.Select(s => (s.Key, s.Offset, s.LocalTime)));
        AssertSameFieldValues(campaign.CustomFields, back.CustomFields);
    }

    [Property(Arbitrary = [typeof(DefinitionArbitraries)], MaxTest = Cases)]
    public void Participant_round_trips_through_bytes_and_streams(Participant participant)
    {
        var bytes = DefinitionJson.SerializeToUtf8Bytes(participant);
        var fromBytes = DefinitionJson.Deserialize<Participant>(bytes);
        using var stream = new MemoryStream();
        DefinitionJson.Serialize(stream, fromBytes);
        stream.Position = 0;
        var fromStream = DefinitionJson.Deserialize<Participant>(stream);

        Assert.Equal(Encoding.UTF8.GetString(bytes), DefinitionJson.Serialize(fromStream));
        Assert.Equal(participant.Id, fromStream.Id);
        Assert.Equal(participant.CampaignId, fromStream.CampaignId);
        Assert.Equal(participant.Email, fromStream.Email);
        Assert.Equal(participant.Status, fromStream.Status);
        Assert.Equal(participant.LeadPool, fromStream.LeadPool);
        Assert.Equal(participant.Activities, fromStream.Activities);
        AssertSameFieldValues(participant.FormValues, fromStream.FormValues);
    }

    [Property(Arbitrary = [typeof(DefinitionArbitraries)], MaxTest = Cases)]
    public void Campaign_type_round_trips(CampaignTypeDefinition type)
    {
        var json = DefinitionJson.Serialize(type);
        var back = DefinitionJson.Deserialize<CampaignTypeDefinition>(json);

        Assert.Equal(json, DefinitionJson.Serialize(back));
        Assert.Equal(type.Id, back.Id);
        Assert.Equal(type.Category, back.Category);
        Assert.Equal(type.Examples, back.Examples);
        Assert.Equal(type.Template.RegistrationFormId, back.Template.RegistrationFormId);
        Assert.Equal(type.Template.Goals.Select(g => (g.Metric, g.Target, g.DeadlineAfterEnd)), back.Template.Goals.Select(g => (g.Metric, g.Target, g.DeadlineAfterEnd)));
        Assert.Equal(type.Template.Sops.Select(s => s.Offset), back.Template.Sops.Select(s => s.Offset));
        Assert.Equal(type.Template.ApprovalChain.Levels, back.Template.ApprovalChain.Levels);
    }

    [Property(Arbitrary = [typeof(DefinitionArbitraries)], MaxTest = Cases)]
    public void Form_round_trips(RegistrationFormTemplate form)
    {
        var json = DefinitionJson.Serialize(form);
        var back = DefinitionJson.Deserialize<RegistrationFormTemplate>(json);

        Assert.Equal(json, DefinitionJson.Serialize(back));
        Assert.Equal(form.Id, back.Id);
        Assert.Equal(form.LeadPool, back.LeadPool);
        Assert.Equal(form.TargetObject, back.TargetObject);
        Assert.Equal(form.Fields.Select(f => (f.Key, f.Type, f.MaxLength, f.Min, f.Max)), back.Fields.Select(f => (f.Key, f.Type, f.MaxLength, f.Min, f.Max)));
        Assert.Equal(form.Fields.SelectMany(f => f.Options), back.Fields.SelectMany(f => f.Options));
    }

    /// <summary>
    /// Robustness: a valid document with one value replaced, one member removed or one unknown member added is either
    /// read, or rejected with a <see cref="DefinitionJsonException"/> whose path is the changed place or encloses it.
    /// </summary>
    [Property(MaxTest = Cases)]
    public Property A_damaged_document_fails_only_with_a_located_DefinitionJsonException()
    {
        var damaged =
            from campaign in DefinitionGen.Campaign
            from choice in Gen.Choose(0, int.MaxValue)
            from damage in Gen.Choose(0, 2)
            from replacement in Gen.Elements<Func<JsonNode?>>(
                () => null, () => 5, () => "x", () => true, () => new JsonObject(), () => new JsonArray(), () => "2026-13-01T00:00:00Z", () => -1.5)
            select (campaign, choice, damage, replacement);

        return Prop.ForAll(damaged.ToArbitrary(), input =>
        {
            var document = JsonNode.Parse(DefinitionJson.Serialize(input.campaign))!;
            var places = new List<Place>();
            Collect(document, JsonPathText.Root, places);
            var place = places[input.choice % places.Count];
            var path = place.Path;
            switch (input.damage)
            {
                case 0 when place.Parent is JsonObject obj:
                    obj[place.Name!] = input.replacement();
                    break;
                case 0 when place.Parent is JsonArray array:
                    array[place.Index] = input.replacement();
                    break;
                case 1 when place.Parent is JsonObject obj:
                    obj.Remove(place.Name!);
                    break;
                default:
                    var (holder, holderPath) = place.Node is JsonObject node ? (node, place.Path) : (place.Parent as JsonObject, place.ParentPath);
                    if (holder is null)
                    {
                        return;
                    }

                    holder["zzUnknown"] = 1;
                    path = JsonPathText.Member(holderPath, "zzUnknown");
                    break;
            }

            try
            {
                DefinitionJson.Deserialize<Campaign>(document.ToJsonString());
            }
            catch (DefinitionJsonException ex)
            {
                Assert.NotNull(ex.Path);
                Assert.NotNull(ex.LineNumber);
                Assert.True(
                    path.StartsWith(ex.Path, StringComparison.Ordinal) || ex.Path.StartsWith(path, StringComparison.Ordinal),
                    $"changed {path}, error at {ex.Path}: {ex.Message}");
            }
        });
    }

    private static void Collect(JsonNode? node, string path, List<Place> places)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj)
                {
                    var childPath = JsonPathText.Member(path, name);
                    places.Add(new Place(obj, name, -1, child, childPath, path));
                    Collect(child, childPath, places);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var childPath = JsonPathText.Item(path, i);
                    places.Add(new Place(array, null, i, array[i], childPath, path));
                    Collect(array[i], childPath, places);
                }

                break;
        }
    }

    private sealed record Place(JsonNode Parent, string? Name, int Index, JsonNode? Node, string Path, string ParentPath);

    private static void AssertSameFieldValues(IReadOnlyDictionary<string, FieldValue> expected, IReadOnlyDictionary<string, FieldValue> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in expected)
        {
            if (value is ChoicesValue choices)
            {
                Assert.Equal(choices.Values, Assert.IsType<ChoicesValue>(actual[key]).Values);
            }
            else
            {
                Assert.Equal(value, actual[key]);
            }
        }
    }
}
