using System.Text.Json;
using System.Text.Json.Serialization;
using NodaTime;
using NodaTime.Serialization.SystemTextJson;

namespace Campaigns.Serialization;

/// <summary>
/// The System.Text.Json settings every Campaigns definition uses (F-1.10): camelCase names,
/// enums as camelCase strings, NodaTime values in their ISO forms (instants as <c>2026-05-01T02:00:00Z</c>,
/// periods as <c>P1D</c>, local times as <c>08:00:00</c>), nulls omitted.
/// </summary>
public static class CampaignsJson
{
    /// <summary>A frozen, shared instance of the options. Thread-safe.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Creates a new, mutable copy of the options, for hosts that embed our types in their own documents.</summary>
    public static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            WriteIndented = false,
            AllowTrailingCommas = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.ConfigureForNodaTime(DateTimeZoneProviders.Tzdb);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
