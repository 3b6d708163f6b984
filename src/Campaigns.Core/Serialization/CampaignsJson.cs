using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using NodaTime;
using NodaTime.Serialization.SystemTextJson;

namespace Campaigns.Serialization;

/// <summary>
/// The System.Text.Json settings every Campaigns definition uses (F-1.10): camelCase names,
/// enums as camelCase strings, NodaTime values in their ISO forms (instants as <c>2026-05-01T02:00:00Z</c>,
/// periods as <c>P1D</c>, local times as <c>08:00:00</c>), nulls omitted, non-ASCII text (e.g. Chinese) written as is,
/// field value <c>type</c> discriminators accepted anywhere in their object; on reading, comments and trailing commas
/// are allowed, while unknown members, duplicate members and nulls in non-nullable members are rejected. A missing
/// member bound to a nullable constructor parameter reads as null (nulls are left out on writing, so every value
/// written reads back); a missing non-nullable constructor parameter is rejected.
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
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { NullableParametersOptional } },
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.ConfigureForNodaTime(DateTimeZoneProviders.Tzdb);
        return options;
    }

    /// <summary>
    /// Makes a member bound to a nullable constructor parameter optional on reading: nulls are left out on writing
    /// (<see cref="JsonIgnoreCondition.WhenWritingNull"/>), and <see cref="JsonSerializerOptions.RespectRequiredConstructorParameters"/>
    /// would otherwise refuse the document without it (e.g. <c>ContactScores</c> with a null grade could not be read back).
    /// </summary>
    private static void NullableParametersOptional(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in type.Properties)
        {
            if (property.IsRequired && property.AssociatedParameter is { IsNullable: true } && !IsRequiredMember(property))
            {
                property.IsRequired = false;
            }
        }
    }

    private static bool IsRequiredMember(JsonPropertyInfo property) =>
        property.AttributeProvider?.IsDefined(typeof(System.Runtime.CompilerServices.RequiredMemberAttribute), inherit: false) == true;

    private static JsonSerializerOptions CreateFrozenOptions()
    {
        var options = CreateOptions();
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
