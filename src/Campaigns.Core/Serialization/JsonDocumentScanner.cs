using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Campaigns.Serialization;

/// <summary>A top-level member of a definition envelope as the scanner found it.</summary>
/// <param name="Token">The type of the member's value.</param>
/// <param name="Start">The byte offset of the member's name.</param>
/// <param name="Text">For strings the value, for numbers the raw text; otherwise null.</param>
internal sealed record EnvelopeMember(JsonTokenType Token, long Start, string? Text)
{
    /// <summary>The value as an <see cref="int"/>, when it is an integer number in range.</summary>
    public int? Int32Value =>
        Token == JsonTokenType.Number && int.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Describes the value for messages, e.g. <c>the string "1"</c>.</summary>
    public string Describe() => JsonDocumentScanner.DescribeToken(Token, Text);
}

/// <summary>What a scan of a definition document found at its top level.</summary>
internal sealed class EnvelopeHeader
{
    public required JsonTokenType RootToken { get; init; }

    public required long RootStart { get; init; }

    public EnvelopeMember? SchemaVersion { get; init; }

    public EnvelopeMember? Kind { get; init; }

    public EnvelopeMember? Definition { get; init; }

    /// <summary>The name and offset of the first envelope member given twice, or null.</summary>
    public (string Name, long Start)? Duplicate { get; init; }
}

/// <summary>
/// Reads a whole JSON document once with a <see cref="Utf8JsonReader"/> while tracking the JSON path, to find the
/// envelope members and to give malformed JSON a path; and locates the member a path names. Stateless and thread-safe.
/// </summary>
internal static class JsonDocumentScanner
{
    /// <summary>The reader settings matching <see cref="CampaignsJson.Options"/>.</summary>
    public static JsonReaderOptions ReaderOptions { get; } = new()
    {
        AllowTrailingCommas = CampaignsJson.Options.AllowTrailingCommas,
        CommentHandling = CampaignsJson.Options.ReadCommentHandling,
        MaxDepth = CampaignsJson.Options.MaxDepth == 0 ? 64 : CampaignsJson.Options.MaxDepth,
    };

    /// <summary>Scans the document; throws <see cref="DefinitionJsonException"/> for malformed JSON.</summary>
    public static EnvelopeHeader ScanHeader(ReadOnlySpan<byte> utf8Json, string kind)
    {
        var reader = new Utf8JsonReader(utf8Json, ReaderOptions);
        var tracker = new PathTracker();
        JsonTokenType rootToken = JsonTokenType.None;
        long rootStart = 0;
        string? topLevelName = null;
        long topLevelNameStart = 0;
        EnvelopeMember? version = null, kindMember = null, definition = null;
        (string, long)? duplicate = null;
        try
        {
            while (reader.Read())
            {
                if (rootToken == JsonTokenType.None)
                {
                    rootToken = reader.TokenType;
                    rootStart = reader.TokenStartIndex;
                }

                var atTopLevel = tracker.Depth == 1 && reader.CurrentDepth == 1;
                if (atTopLevel && reader.TokenType == JsonTokenType.PropertyName)
                {
                    topLevelName = reader.GetString();
                    topLevelNameStart = reader.TokenStartIndex;
                }
                else if (atTopLevel && topLevelName is not null && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
                {
                    var text = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => null,
                    };
                    var member = new EnvelopeMember(reader.TokenType, topLevelNameStart, text);
                    EnvelopeMember? previous = null;
                    if (IsMember(topLevelName, "schemaVersion"))
                    {
                        (previous, version) = (version, member);
                    }
                    else if (IsMember(topLevelName, "kind"))
                    {
                        (previous, kindMember) = (kindMember, member);
                    }
                    else if (IsMember(topLevelName, "definition"))
                    {
                        (previous, definition) = (definition, member);
                    }

                    if (previous is not null)
                    {
                        duplicate ??= (topLevelName, topLevelNameStart);
                    }

                    topLevelName = null;
                }

                tracker.Advance(ref reader);
            }
        }
        catch (JsonException ex)
        {
            throw new DefinitionJsonException(kind, tracker.CurrentPath(), "malformed JSON: " + StripPosition(ex.Message), ex.LineNumber, ex.BytePositionInLine, ex);
        }

        return new EnvelopeHeader
        {
            RootToken = rootToken,
            RootStart = rootStart,
            SchemaVersion = version,
            Kind = kindMember,
            Definition = definition,
            Duplicate = duplicate,
        };
    }

    /// <summary>
    /// Finds the byte offset of what <paramref name="path"/> names in a well-formed document: the member's name for a
    /// member, the element for an array element, the root value for <c>$</c>. Null when the path is not in the document.
    /// </summary>
    public static long? Locate(ReadOnlySpan<byte> utf8Json, string path)
    {
        var target = JsonPathText.TryParse(path);
        if (target is null)
        {
            return null;
        }

        var normalized = JsonPathText.Format(target);
        var reader = new Utf8JsonReader(utf8Json, ReaderOptions);
        var tracker = new PathTracker();
        try
        {
            while (reader.Read())
            {
                if (tracker.Depth == 0 && target.Count == 0)
                {
                    return reader.TokenStartIndex;
                }

                var candidate = reader.TokenType == JsonTokenType.PropertyName
                    || (tracker.InArray && reader.TokenType is not (JsonTokenType.EndArray or JsonTokenType.EndObject));
                tracker.Advance(ref reader, pushContainers: false);
                if (candidate && tracker.Depth == target.Count && tracker.CurrentPath() == normalized)
                {
                    return reader.TokenStartIndex;
                }

                tracker.Push(ref reader);
            }
        }
        catch (JsonException)
        {
            // Not well formed: nothing to locate.
        }

        return null;
    }

    /// <summary>Turns a byte offset into a zero-based line number and byte position in that line.</summary>
    public static (long LineNumber, long BytePositionInLine) Position(ReadOnlySpan<byte> utf8Json, long offset)
    {
        var before = utf8Json[..(int)Math.Clamp(offset, 0, utf8Json.Length)];
        var line = before.Count((byte)'\n');
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return (line, before.Length - lineStart);
    }

    /// <summary>Describes a token for messages: <c>the string "x"</c>, <c>the number 5</c>, <c>true</c>, <c>null</c>, <c>an object</c>.</summary>
    public static string DescribeToken(JsonTokenType token, string? text) => token switch
    {
        JsonTokenType.String => "the string " + Quote(text ?? string.Empty),
        JsonTokenType.Number => "the number " + text,
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => "nothing",
    };

    /// <summary>Quotes a string for a message, shortening long values.</summary>
    public static string Quote(string text)
    {
        const int MaxLength = 60;
        var shown = text.Length > MaxLength ? string.Concat(text.AsSpan(0, MaxLength), "…") : text;
        return JsonSerializer.Serialize(shown, CampaignsJson.Options);
    }

    /// <summary>Removes the " LineNumber: … | BytePositionInLine: …" or " Path: … | LineNumber: …" tail System.Text.Json adds.</summary>
    public static string StripPosition(string message)
    {
        foreach (var marker in (string[])[" Path: ", " LineNumber: "])
        {
            var at = message.LastIndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                message = message[..at];
            }
        }

        return message.TrimEnd().TrimEnd('.');
    }

    private static bool IsMember(string name, string expected) => string.Equals(name, expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>Follows the reader's position as a JSON path.</summary>
    private sealed class PathTracker
    {
        private readonly List<Frame> _frames = [];

        public int Depth => _frames.Count;

        public bool InArray => _frames.Count > 0 && _frames[^1].IsArray;

        /// <summary>Updates the path for the token the reader is on.</summary>
        public void Advance(ref Utf8JsonReader reader, bool pushContainers = true)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    _frames[^1] = _frames[^1] with { Name = reader.GetString() };
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    _frames.RemoveAt(_frames.Count - 1);
                    break;
                default:
                    if (InArray)
                    {
                        _frames[^1] = _frames[^1] with { Index = _frames[^1].Index + 1 };
                    }

                    if (pushContainers)
                    {
                        Push(ref reader);
                    }

                    break;
            }
        }

        /// <summary>Enters the object or array the reader is on, if any.</summary>
        public void Push(ref Utf8JsonReader reader)
        {
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                _frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, -1, null));
            }
        }

        public string CurrentPath()
        {
            var builder = new StringBuilder(JsonPathText.Root);
            foreach (var frame in _frames)
            {
                if (frame.IsArray && frame.Index >= 0)
                {
                    JsonPathText.Append(builder, JsonPathSegment.Item(frame.Index));
                }
                else if (!frame.IsArray && frame.Name is not null)
                {
                    JsonPathText.Append(builder, JsonPathSegment.Member(frame.Name));
                }
            }

            return builder.ToString();
        }

        private readonly record struct Frame(bool IsArray, int Index, string? Name);
    }
}
