using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using NodaTime;

namespace Campaigns.Serialization;

/// <summary>Where a JSON path leads in a document and in the serializer's contract of the definition type.</summary>
/// <param name="Target">The contract of the value the path names, or null when the path leaves the contract.</param>
/// <param name="Parent">The contract of the object or collection holding that value, or null.</param>
/// <param name="Found">The value in the document (null for a JSON null).</param>
/// <param name="FoundExists">Whether the document has a value at the path.</param>
internal sealed record PathResolution(JsonTypeInfo? Target, JsonTypeInfo? Parent, JsonNode? Found, bool FoundExists);

/// <summary>
/// Answers questions about definition types through their System.Text.Json contracts: what a path names, what a
/// value should look like, which members are required, where a null hides. Stateless and thread-safe.
/// </summary>
internal static class DefinitionShape
{
    /// <summary>Follows <paramref name="segments"/> from <paramref name="root"/> through the contracts and the document.</summary>
    public static PathResolution Resolve(JsonTypeInfo root, IReadOnlyList<JsonPathSegment> segments, JsonNode? document, bool documentKnown)
    {
        JsonTypeInfo? current = root;
        JsonTypeInfo? parent = null;
        var node = document;
        var exists = documentKnown;
        foreach (var segment in segments)
        {
            parent = current is null ? null : Concrete(current, node);
            current = parent is null ? null : Step(parent, segment);
            (node, exists) = exists ? Child(node, segment) : (null, false);
        }

        return new PathResolution(current, parent, node, exists);
    }

    /// <summary>For a polymorphic contract, the contract of the derived type the document's discriminator names.</summary>
    public static JsonTypeInfo Concrete(JsonTypeInfo info, JsonNode? node)
    {
        if (info.PolymorphismOptions is { } polymorphism
            && node is JsonObject obj
            && obj.TryGetPropertyValue(polymorphism.TypeDiscriminatorPropertyName, out var discriminator)
            && discriminator is JsonValue value
            && value.TryGetValue<string>(out var id))
        {
            var derived = polymorphism.DerivedTypes.FirstOrDefault(d => d.TypeDiscriminator is string s && s == id);
            if (derived.DerivedType is not null)
            {
                return info.Options.GetTypeInfo(derived.DerivedType);
            }
        }

        return info;
    }

    /// <summary>The member of an object contract called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static JsonPropertyInfo? FindMember(JsonTypeInfo info, string name) =>
        info.Kind == JsonTypeInfoKind.Object
            ? info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            : null;

    /// <summary>Whether a document must give the member: a <c>required</c> member or a constructor parameter without a default.</summary>
    public static bool IsRequired(JsonPropertyInfo member) =>
        member.IsRequired
        || (member.Options.RespectRequiredConstructorParameters
            && member.AssociatedParameter is { HasDefaultValue: false, IsMemberInitializer: false });

    /// <summary>Describes what a value of the contract looks like, e.g. <c>an instant in UTC such as "2026-05-01T02:00:00Z"</c>.</summary>
    public static string Expected(JsonTypeInfo info)
    {
        if (info.PolymorphismOptions is { } polymorphism)
        {
            return $"an object with \"{polymorphism.TypeDiscriminatorPropertyName}\" one of {Discriminators(info)}";
        }

        switch (info.Kind)
        {
            case JsonTypeInfoKind.Enumerable:
                return "an array";
            case JsonTypeInfoKind.Dictionary:
                return "an object of key/value pairs";
            case JsonTypeInfoKind.Object:
                return $"an object ({Label(info)})";
        }

        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type).Select(n => $"\"{JsonNamingPolicy.CamelCase.ConvertName(n)}\""));
        }

        return type switch
        {
            _ when type == typeof(string) => "a string",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "an integer",
            _ when type == typeof(decimal) || type == typeof(double) || type == typeof(float) => "a number",
            _ when type == typeof(Instant) => "an instant in UTC such as \"2026-05-01T02:00:00Z\"",
            _ when type == typeof(LocalDate) => "a date such as \"2026-05-01\"",
            _ when type == typeof(LocalTime) => "a time of day such as \"08:00:00\"",
            _ when type == typeof(Period) => "an ISO-8601 period such as \"P1D\", \"PT2H\" or \"P-1D\"",
            _ when type == typeof(Duration) => "a duration in hours, minutes and seconds such as \"1:30:00\"",
            _ when type == typeof(CampaignId) || type == typeof(ParticipantId) || type == typeof(Guid) =>
                "a non-empty GUID string such as \"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"",
            _ => $"a {type.Name} value",
        };
    }

    /// <summary>The discriminators of a polymorphic contract, quoted, e.g. <c>"text", "number"</c>.</summary>
    public static string Discriminators(JsonTypeInfo info) =>
        string.Join(", ", info.PolymorphismOptions!.DerivedTypes.Select(d => $"\"{d.TypeDiscriminator}\""));

    /// <summary>A short name of the contract's type for messages.</summary>
    public static string Label(JsonTypeInfo info) =>
        info.Type.IsGenericType && info.Type.Name.StartsWith("DefinitionEnvelope", StringComparison.Ordinal)
            ? "the definition document"
            : info.Type.Name;

    /// <summary>Describes a document value for messages: <c>the string "x"</c>, <c>the number 5</c>, <c>null</c>, <c>an object</c>.</summary>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => "the string " + JsonDocumentScanner.Quote(value.GetValue<string>()),
            JsonValueKind.Number => "the number " + value.ToJsonString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => value.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    /// <summary>
    /// Finds the first null that a definition must not hold: in a non-nullable member, a list element or a map value.
    /// Returns its path (from <paramref name="path"/>) and the contract of what belongs there, or null when there is none.
    /// </summary>
    public static (string Path, JsonTypeInfo Expected)? FindNull(object value, JsonTypeInfo info, string path, int depth = 0)
    {
        if (depth > 64)
        {
            return null;
        }

        var options = info.Options;
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                var concrete = info.Type == value.GetType() ? info : options.GetTypeInfo(value.GetType());
                foreach (var member in concrete.Properties)
                {
                    if (member.Get is null)
                    {
                        continue;
                    }

                    var memberPath = JsonPathText.Member(path, member.Name);
                    var memberInfo = options.GetTypeInfo(member.PropertyType);
                    var memberValue = member.Get(value);
                    var found = memberValue is null
                        ? (member.IsGetNullable ? null : (memberPath, memberInfo))
                        : FindNull(memberValue, memberInfo, memberPath, depth + 1);
                    if (found is not null)
                    {
                        return found;
                    }
                }

                return null;

            case JsonTypeInfoKind.Enumerable when value is IEnumerable items:
                var elementInfo = options.GetTypeInfo(info.ElementType!);
                var index = 0;
                foreach (var item in items)
                {
                    var itemPath = JsonPathText.Item(path, index++);
                    var found = item is null ? (itemPath, elementInfo) : FindNull(item, elementInfo, itemPath, depth + 1);
                    if (found is not null)
                    {
                        return found;
                    }
                }

                return null;

            case JsonTypeInfoKind.Dictionary when value is IDictionary map:
                var valueInfo = options.GetTypeInfo(info.ElementType!);
                foreach (DictionaryEntry entry in map)
                {
                    var entryPath = JsonPathText.Member(path, Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty);
                    var found = entry.Value is null ? (entryPath, valueInfo) : FindNull(entry.Value, valueInfo, entryPath, depth + 1);
                    if (found is not null)
                    {
                        return found;
                    }
                }

                return null;

            default:
                return null;
        }
    }

    private static JsonTypeInfo? Step(JsonTypeInfo info, JsonPathSegment segment)
    {
        var options = info.Options;
        return info.Kind switch
        {
            JsonTypeInfoKind.Object when segment.Name is not null =>
                FindMember(info, segment.Name) is { } member ? options.GetTypeInfo(member.PropertyType) : null,
            JsonTypeInfoKind.Enumerable when segment.Name is null => options.GetTypeInfo(info.ElementType!),
            JsonTypeInfoKind.Dictionary when segment.Name is not null => options.GetTypeInfo(info.ElementType!),
            _ => null,
        };
    }

    private static (JsonNode? Node, bool Exists) Child(JsonNode? node, JsonPathSegment segment) => node switch
    {
        JsonObject obj when segment.Name is not null && obj.TryGetPropertyValue(segment.Name, out var child) => (child, true),
        JsonArray array when segment.Name is null && segment.Index < array.Count => (array[segment.Index], true),
        _ => (null, false),
    };
}
