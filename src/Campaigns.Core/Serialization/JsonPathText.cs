using System.Buffers;
using System.Globalization;
using System.Text;

namespace Campaigns.Serialization;

/// <summary>One step of a JSON path: a member name or an array index.</summary>
internal readonly record struct JsonPathSegment
{
    private JsonPathSegment(string? name, int index)
    {
        Name = name;
        Index = index;
    }

    /// <summary>The member name, or null for an array index.</summary>
    public string? Name { get; }

    /// <summary>The array index, or -1 for a member name.</summary>
    public int Index { get; }

    public static JsonPathSegment Member(string name) => new(name, -1);

    public static JsonPathSegment Item(int index) => new(null, index);
}

/// <summary>
/// Formats and parses JSON paths the way System.Text.Json writes them in <see cref="System.Text.Json.JsonException.Path"/>:
/// <c>$.definition.sops[2].offset</c>, with <c>['a b']</c> for member names holding special characters. Stateless and thread-safe.
/// </summary>
internal static class JsonPathText
{
    // The characters for which System.Text.Json switches to the bracket notation.
    private static readonly SearchValues<char> SpecialCharacters = SearchValues.Create(". '/\"[]()\t\n\r\f\b\\\u0085\u2028\u2029");

    public const string Root = "$";

    public static string Format(IEnumerable<JsonPathSegment> segments)
    {
        var builder = new StringBuilder(Root);
        foreach (var segment in segments)
        {
            Append(builder, segment);
        }

        return builder.ToString();
    }

    public static string Member(string path, string name) => Append(new StringBuilder(path), JsonPathSegment.Member(name)).ToString();

    public static string Item(string path, int index) => Append(new StringBuilder(path), JsonPathSegment.Item(index)).ToString();

    public static StringBuilder Append(StringBuilder builder, JsonPathSegment segment)
    {
        if (segment.Name is null)
        {
            return builder.Append('[').Append(segment.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
        }

        return segment.Name.AsSpan().ContainsAny(SpecialCharacters)
            ? builder.Append("['").Append(segment.Name).Append("']")
            : builder.Append('.').Append(segment.Name);
    }

    /// <summary>Parses a path; null when it is not in the form System.Text.Json writes.</summary>
    public static List<JsonPathSegment>? TryParse(string? path)
    {
        if (path is null || !path.StartsWith('$'))
        {
            return null;
        }

        var segments = new List<JsonPathSegment>();
        var i = 1;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(JsonPathSegment.Member(path[(i + 1)..end]));
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                // The name is not escaped, so the closing "']" is the first one followed by the end or a new segment.
                var end = i + 2;
                while (true)
                {
                    end = path.IndexOf("']", end, StringComparison.Ordinal);
                    if (end < 0)
                    {
                        return null;
                    }

                    if (end + 2 == path.Length || path[end + 2] is '.' or '[')
                    {
                        break;
                    }

                    end++;
                }

                segments.Add(JsonPathSegment.Member(path[(i + 2)..end]));
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i + 1);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    return null;
                }

                segments.Add(JsonPathSegment.Item(index));
                i = end + 1;
            }
            else
            {
                return null;
            }
        }

        return segments;
    }
}
