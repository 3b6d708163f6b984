using System.Text.Json;
using Campaigns.Serialization;

namespace Campaigns.Journeys;

/// <summary>Reads and writes journey definitions as JSON (<see cref="CampaignsJson.Options"/>: camelCase, <c>type</c> discriminators). Thread-safe.</summary>
public static class JourneyJson
{
    private static readonly JsonSerializerOptions Indented = CreateIndented();

    /// <summary>Writes a definition.</summary>
    /// <param name="definition">The definition.</param>
    /// <param name="indented">Whether to indent.</param>
    public static string Serialize(JourneyDefinition definition, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return indented
            ? JsonSerializer.Serialize(definition, Indented)
            : JsonSerializer.Serialize(definition, CampaignsJson.Options);
    }

    /// <summary>Reads a definition (structure only; run <see cref="JourneyValidator"/> before publishing).</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="JsonException">Malformed, or a schema version this SDK does not read (the message says which).</exception>
    public static JourneyDefinition Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var definition = JsonSerializer.Deserialize<JourneyDefinition>(json, CampaignsJson.Options)
            ?? throw new JsonException("A journey definition is a JSON object, not null.");
        if (definition.SchemaVersion is < 1 or > JourneyDefinition.CurrentSchemaVersion)
        {
            throw new JsonException($"The journey '{definition.Id}' has schema version {definition.SchemaVersion}; this SDK reads version 1 to {JourneyDefinition.CurrentSchemaVersion}.");
        }

        return definition;
    }

    private static JsonSerializerOptions CreateIndented()
    {
        var options = new JsonSerializerOptions(CampaignsJson.Options) { WriteIndented = true };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
