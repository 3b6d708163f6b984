using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using NodaTime;
using NodaTime.Serialization.SystemTextJson;

namespace Campaigns.Serialization;

/// <summary>
/// The System.Text.Json settings every Campaigns definition uses (F-1.10): camelCase names,
/// enums as camelCase strings, NodaTime values in their ISO forms (instants as <c>2026-05-01T02:00:00Z</c>,
/// periods as <c>P1D</c>, local times as <c>08:00:00</c>), nulls omitted, non-ASCII text (e.g. Chinese) written as is,
/// field value <c>type</c> discriminators accepted anywhere in their object; on reading, comments and trailing commas
/// are allowed, while unknown members, duplicate members and nulls in non-nullable members are rejected.
/// See <see cref="DefinitionJson"/> for versioned documents.
/// </summary>
public static class CampaignsJson
{
    /// <summary>A frozen, shared instance of the options. Thread-safe.</summary>
    public static JsonSerializerOptions Options { get; } = CreateFrozenOptions();

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
            AllowOutOfOrderMetadataProperties = true,
            AllowDuplicateProperties = false,
            Encoder = JavaScriptEncoder.Create(UnicodeRanges.All),
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.ConfigureForNodaTime(DateTimeZoneProviders.Tzdb);
        return options;
    }

    private static JsonSerializerOptions CreateFrozenOptions()
    {
        var options = CreateOptions();
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
