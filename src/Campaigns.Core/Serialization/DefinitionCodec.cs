using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Campaigns.Serialization;

/// <summary>The wire form of a definition document: <c>{"schemaVersion":1,"kind":"campaign","definition":{…}}</c>.</summary>
/// <typeparam name="T">The definition type.</typeparam>
internal sealed class DefinitionEnvelope<T>
    where T : class
{
    public required int SchemaVersion { get; init; }

    public required string Kind { get; init; }

    public required T Definition { get; init; }
}

/// <summary>
/// Writes and reads versioned definition documents for the kinds of a <see cref="DefinitionRegistry"/>, migrating older
/// versions and turning every fault into a <see cref="DefinitionJsonException"/> with a path from the document root.
/// Immutable and thread-safe.
/// </summary>
internal sealed partial class DefinitionCodec
{
    private const string DefinitionPath = "$.definition";
    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = true };

    public DefinitionCodec(DefinitionRegistry registry, JsonSerializerOptions options)
    {
        Registry = registry;
        Options = options;
    }

    /// <summary>The codec of <see cref="DefinitionJson"/>: the built-in kinds with <see cref="CampaignsJson.Options"/>.</summary>
    public static DefinitionCodec Default { get; } = new(DefinitionRegistry.Default, CampaignsJson.Options);

    public DefinitionRegistry Registry { get; }

    public JsonSerializerOptions Options { get; }

    private static JsonDocumentOptions DocumentOptions => new()
    {
        AllowTrailingCommas = JsonDocumentScanner.ReaderOptions.AllowTrailingCommas,
        CommentHandling = JsonDocumentScanner.ReaderOptions.CommentHandling,
        MaxDepth = JsonDocumentScanner.ReaderOptions.MaxDepth,
    };

    /// <summary>Wraps a definition in its envelope at the current schema version, after checking it holds no forbidden null.</summary>
    public DefinitionEnvelope<T> Wrap<T>(T definition)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(definition);
        var kind = Registry.Get(typeof(T));
        if (DefinitionShape.FindNull(definition, Options.GetTypeInfo(typeof(T)), DefinitionPath) is { } hole)
        {
            throw new ArgumentException(
                $"The {kind.Name} cannot be written: {hole.Path} is null, and a definition holds no null in a list, a map or a non-nullable member.",
                nameof(definition));
        }

        return new DefinitionEnvelope<T> { SchemaVersion = kind.CurrentVersion, Kind = kind.Name, Definition = definition };
    }

    public string Serialize<T>(T definition)
        where T : class => JsonSerializer.Serialize(Wrap(definition), Options);

    public byte[] SerializeToUtf8Bytes<T>(T definition)
        where T : class => JsonSerializer.SerializeToUtf8Bytes(Wrap(definition), Options);

    /// <summary>Reads a document of <typeparamref name="T"/>'s kind, migrating it from an older schema version if needed.</summary>
    public T Deserialize<T>(ReadOnlySpan<byte> utf8Json)
        where T : class
    {
        var kind = Registry.Get(typeof(T));
        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        var header = JsonDocumentScanner.ScanHeader(utf8Json, kind.Name);
        var version = CheckHeader<T>(header, kind, utf8Json);
        var envelopeInfo = Options.GetTypeInfo(typeof(DefinitionEnvelope<T>));
        var definition = version == kind.CurrentVersion
            ? ReadCurrent<T>(utf8Json, kind, envelopeInfo)
            : ReadMigrated<T>(utf8Json, kind, envelopeInfo, version);
        if (DefinitionShape.FindNull(definition, Options.GetTypeInfo(typeof(T)), DefinitionPath) is { } hole)
        {
            var position = version == kind.CurrentVersion ? PositionOf(utf8Json, hole.Path) : null;
            throw new DefinitionJsonException(
                kind.Name,
                hole.Path,
                $"null is not allowed here; expected {DefinitionShape.Expected(hole.Expected)}" + MigratedNote(kind, version),
                position?.LineNumber,
                position?.BytePositionInLine);
        }

        return definition;
    }

    private static string MigratedNote(DefinitionKind kind, int version) =>
        version == kind.CurrentVersion ? string.Empty : $" (in the document as migrated from schema version {version} to {kind.CurrentVersion})";

    private static (long LineNumber, long BytePositionInLine)? PositionOf(ReadOnlySpan<byte> utf8Json, string path) =>
        JsonDocumentScanner.Locate(utf8Json, path) is { } offset ? JsonDocumentScanner.Position(utf8Json, offset) : null;

    private static bool IsDocumentFault(Exception ex) =>
        ex is JsonException or NotSupportedException or FormatException or ArgumentException or OverflowException;

    private static string RootDescription(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "nothing",
    };

    private static (string? Path, long? LineNumber, long? BytePositionInLine) Where(Exception ex)
    {
        if (ex is JsonException json)
        {
            return (json.Path, json.LineNumber, json.BytePositionInLine);
        }

        // NotSupportedException (e.g. a polymorphic value without its discriminator) carries the position only in its message.
        var match = PositionInMessage().Match(ex.Message);
        return match.Success
            ? (match.Groups["path"].Value,
                long.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture),
                long.Parse(match.Groups["byte"].Value, CultureInfo.InvariantCulture))
            : (null, null, null);
    }

    [GeneratedRegex(@"Path: (?<path>\$.*?) \| LineNumber: (?<line>\d+) \| BytePositionInLine: (?<byte>\d+)\.?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex PositionInMessage();

    private int CheckHeader<T>(EnvelopeHeader header, DefinitionKind kind, ReadOnlySpan<byte> utf8Json)
        where T : class
    {
        var supported = $"supported for kind '{kind.Name}': {kind.SupportedVersions}";
        if (header.RootToken != JsonTokenType.StartObject)
        {
            throw Fault(
                kind,
                utf8Json,
                JsonPathText.Root,
                $"found {RootDescription(header.RootToken)}; expected a definition document, an object such as "
                + $"{{\"schemaVersion\":{kind.CurrentVersion},\"kind\":\"{kind.Name}\",\"definition\":{{…}}}}",
                header.RootStart);
        }

        if (header.Duplicate is { } duplicate)
        {
            throw Fault(kind, utf8Json, JsonPathText.Member(JsonPathText.Root, duplicate.Name), $"the member \"{duplicate.Name}\" is given twice; expected it once", duplicate.Start);
        }

        if (header.Kind is not { } kindMember)
        {
            throw Fault(kind, utf8Json, JsonPathText.Root, $"the document has no \"kind\"; expected \"kind\":\"{kind.Name}\"", header.RootStart);
        }

        if (kindMember.Token != JsonTokenType.String)
        {
            throw Fault(kind, utf8Json, "$.kind", $"found {kindMember.Describe()}; expected the string \"{kind.Name}\"", kindMember.Start);
        }

        if (!string.Equals(kindMember.Text, kind.Name, StringComparison.Ordinal))
        {
            var other = Registry.Find(kindMember.Text!);
            throw Fault(
                kind,
                utf8Json,
                "$.kind",
                other is null
                    ? $"found kind '{kindMember.Text}', which is not a definition kind; expected '{kind.Name}' to read a {kind.Type.Name}"
                    : $"found kind '{other.Name}', a {other.Type.Name}; expected '{kind.Name}' to read a {kind.Type.Name}",
                kindMember.Start);
        }

        if (header.SchemaVersion is not { } versionMember)
        {
            throw Fault(kind, utf8Json, JsonPathText.Root, $"the document has no \"schemaVersion\"; expected an integer schema version ({supported})", header.RootStart);
        }

        if (versionMember.Int32Value is not { } version)
        {
            throw Fault(kind, utf8Json, "$.schemaVersion", $"found {versionMember.Describe()}; expected an integer schema version ({supported})", versionMember.Start);
        }

        if (!kind.Supports(version))
        {
            throw Fault(kind, utf8Json, "$.schemaVersion", $"schema version {version} is not supported for kind '{kind.Name}'; supported: {kind.SupportedVersions}", versionMember.Start);
        }

        if (header.Definition is null)
        {
            throw Fault(
                kind,
                utf8Json,
                JsonPathText.Root,
                $"the document has no \"definition\"; expected {DefinitionShape.Expected(Options.GetTypeInfo(typeof(T)))}",
                header.RootStart);
        }

        return version;
    }

    private static DefinitionJsonException Fault(DefinitionKind kind, ReadOnlySpan<byte> utf8Json, string path, string problem, long offset)
    {
        var (line, position) = JsonDocumentScanner.Position(utf8Json, offset);
        return new DefinitionJsonException(kind.Name, path, problem, line, position);
    }

    private static T ReadCurrent<T>(ReadOnlySpan<byte> utf8Json, DefinitionKind kind, JsonTypeInfo envelopeInfo)
        where T : class
    {
        try
        {
            return ((DefinitionEnvelope<T>)JsonSerializer.Deserialize(utf8Json, envelopeInfo)!).Definition;
        }
        catch (Exception ex) when (IsDocumentFault(ex))
        {
            throw Translate(ex, kind, envelopeInfo, ParseOrNull(utf8Json), utf8Json, migratedFrom: null);
        }
    }

    private T ReadMigrated<T>(ReadOnlySpan<byte> utf8Json, DefinitionKind kind, JsonTypeInfo envelopeInfo, int version)
        where T : class
    {
        var root = JsonNode.Parse(utf8Json, NodeOptions, DocumentOptions)!.AsObject();
        var definition = root["definition"];
        root.Remove("definition");
        if (definition is not JsonObject current)
        {
            var position = PositionOf(utf8Json, DefinitionPath);
            throw new DefinitionJsonException(
                kind.Name,
                DefinitionPath,
                $"found {DefinitionShape.Describe(definition)}; expected {DefinitionShape.Expected(Options.GetTypeInfo(typeof(T)))}",
                position?.LineNumber,
                position?.BytePositionInLine);
        }

        for (var from = version; from < kind.CurrentVersion; from++)
        {
            try
            {
                current = kind.Migrations[from - kind.OldestVersion](current)
                    ?? throw new InvalidOperationException("the migration returned null");
            }
            catch (DefinitionJsonException)
            {
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw new DefinitionJsonException(
                    kind.Name,
                    DefinitionPath,
                    $"the migration from schema version {from} to {from + 1} failed: {ex.Message.TrimEnd('.')}",
                    null,
                    null,
                    ex);
            }

            if (current.Parent is not null)
            {
                current = current.DeepClone().AsObject();
            }
        }

        var migrated = new JsonObject(NodeOptions)
        {
            ["schemaVersion"] = kind.CurrentVersion,
            ["kind"] = kind.Name,
            ["definition"] = current,
        };
        try
        {
            return ((DefinitionEnvelope<T>)migrated.Deserialize(envelopeInfo)!).Definition;
        }
        catch (Exception ex) when (IsDocumentFault(ex))
        {
            throw Translate(ex, kind, envelopeInfo, migrated, [], migratedFrom: version);
        }
    }

    private static JsonNode? ParseOrNull(ReadOnlySpan<byte> utf8Json)
    {
        try
        {
            return JsonNode.Parse(utf8Json, NodeOptions, DocumentOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static DefinitionJsonException Translate(
        Exception ex, DefinitionKind kind, JsonTypeInfo envelopeInfo, JsonNode? document, ReadOnlySpan<byte> utf8Json, int? migratedFrom)
    {
        var (path, line, position) = Where(ex);
        path ??= JsonPathText.Root;
        var problem = JsonDocumentScanner.StripPosition(ex.Message);
        if (JsonPathText.TryParse(path) is { } segments)
        {
            try
            {
                var at = DefinitionShape.Resolve(envelopeInfo, segments, document, document is not null);
                (path, problem) = Explain(ex, path, problem, segments, at);
            }
            catch (Exception explainFault) when (explainFault is ArgumentException or InvalidOperationException)
            {
                // A document the node model cannot hold (e.g. duplicate members): keep the serializer's own words.
            }
        }

        if (migratedFrom is not null)
        {
            problem += MigratedNote(kind, migratedFrom.Value);
            line = null;
            position = null;
        }
        else if (PositionOf(utf8Json, path) is { } found)
        {
            (line, position) = found;
        }

        return new DefinitionJsonException(kind.Name, path, problem, line, position, ex);
    }

    private static (string Path, string Problem) Explain(
        Exception ex, string path, string problem, List<JsonPathSegment> segments, PathResolution at)
    {
        // An unknown member: the path ends in a name the holding object's contract does not have.
        if (segments.Count > 0
            && segments[^1].Name is { } name
            && at.Parent is { Kind: JsonTypeInfoKind.Object, PolymorphismOptions: null } parent
            && DefinitionShape.FindMember(parent, name) is null)
        {
            return (path, $"'{name}' is not a member of {DefinitionShape.Label(parent)}; expected one of: {string.Join(", ", parent.Properties.Select(p => p.Name))}");
        }

        // A polymorphic value (a field value) without a discriminator, or with one nobody knows.
        if (at.Target is { PolymorphismOptions: { } polymorphism } target && at.Found is JsonObject value)
        {
            var discriminatorName = polymorphism.TypeDiscriminatorPropertyName;
            if (!value.TryGetPropertyValue(discriminatorName, out var discriminator))
            {
                return (path, $"the {target.Type.Name} has no \"{discriminatorName}\"; expected \"{discriminatorName}\" one of {DefinitionShape.Discriminators(target)}");
            }

            if (DefinitionShape.Concrete(target, value) == target)
            {
                return (JsonPathText.Member(path, discriminatorName),
                    $"found {DefinitionShape.Describe(discriminator)} as the {target.Type.Name} \"{discriminatorName}\"; expected one of {DefinitionShape.Discriminators(target)}");
            }
        }

        if (at.FoundExists && at.Found is null)
        {
            return (path, at.Target is null ? "null is not allowed here" : $"null is not allowed here; expected {DefinitionShape.Expected(at.Target)}");
        }

        if (at.Target is not null && at.Found is JsonObject obj)
        {
            var concrete = DefinitionShape.Concrete(at.Target, obj);
            if (concrete.Kind == JsonTypeInfoKind.Object)
            {
                var missing = concrete.Properties
                    .Where(p => DefinitionShape.IsRequired(p) && !obj.ContainsKey(p.Name))
                    .Select(p => $"'{p.Name}'")
                    .ToList();
                if (missing.Count > 0)
                {
                    return (path, $"missing required member{(missing.Count > 1 ? "s" : string.Empty)} {string.Join(", ", missing)} of {DefinitionShape.Label(concrete)}");
                }

                return (path, problem);
            }
        }

        if (at.Target is not null && at.FoundExists && !(at.Found is JsonArray && at.Target.Kind == JsonTypeInfoKind.Enumerable))
        {
            // NodaTime says precisely what is wrong with a date or time text; System.Text.Json's own format messages add nothing.
            var detail = ex.InnerException is NodaTime.Text.UnparsableValueException nodaTime ? $" ({FirstSentence(nodaTime.Message)})" : string.Empty;
            return (path, $"found {DefinitionShape.Describe(at.Found)}; expected {DefinitionShape.Expected(at.Target)}{detail}");
        }

        return (path, problem);
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Value being parsed:", StringComparison.Ordinal);
        return (cut >= 0 ? message[..cut] : message).TrimEnd().TrimEnd('.');
    }
}
