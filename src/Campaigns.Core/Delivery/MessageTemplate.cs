using System.Net;
using System.Text;

namespace Campaigns.Delivery;

/// <summary>How a rendered part is escaped: per channel and per part of the message.</summary>
public enum ContentKind
{
    /// <summary>Plain text (SMS, chat, an e-mail text body): values are inserted as they are.</summary>
    Text = 0,

    /// <summary>An HTML body: values are HTML-encoded (<c>&lt;</c> → <c>&amp;lt;</c>); the template's own markup is kept.</summary>
    Html = 1,

    /// <summary>A one-line subject: values have line breaks replaced by spaces.</summary>
    Subject = 2,
}

/// <summary>
/// One piece of message text with variables: <c>{name}</c>, <c>{product}</c>, <c>{link}</c>, with an inline default
/// after a bar (<c>{name|朋友}</c>). <c>{{</c> and <c>}}</c> stand for literal braces. A variable name is ASCII letters,
/// digits, <c>_</c>, <c>-</c> and <c>.</c>, starting with a letter or <c>_</c>. Immutable and thread-safe; parse once and
/// render many times.
/// </summary>
public sealed class TemplateText
{
    private const int MaxCachedParts = 1024;

    // One array of rendered parts per thread, reused across renders.
    [ThreadStatic]
    private static string?[]? t_parts;

    private readonly Segment[] _segments;

    private TemplateText(string source, Segment[] segments)
    {
        Source = source;
        _segments = segments;
        Variables = segments.Where(s => s.IsVariable).Select(s => s.Text).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The text as written.</summary>
    public string Source { get; }

    /// <summary>The names of the variables used, in order of first use, without duplicates.</summary>
    public IReadOnlyList<string> Variables { get; }

    /// <summary>Parses a template text.</summary>
    /// <param name="source">The text, e.g. <c>{name|朋友}您好，{product}发布会报名成功：{link}</c>.</param>
    /// <returns>The parsed text.</returns>
    /// <exception cref="FormatException">A brace is not closed or a variable name is not valid; the message gives the position (0-based UTF-16 index).</exception>
    public static TemplateText Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var segments = new List<Segment>();
        var literal = new StringBuilder();
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            if (c == '{' && i + 1 < source.Length && source[i + 1] == '{')
            {
                literal.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < source.Length && source[i + 1] == '}')
            {
                literal.Append('}');
                i++;
            }
            else if (c == '}')
            {
                throw new FormatException($"Template: a '}}' at position {i} has no opening '{{'; write '}}}}' for a literal brace.");
            }
            else if (c == '{')
            {
                var end = source.IndexOf('}', i + 1);
                if (end < 0)
                {
                    throw new FormatException($"Template: the '{{' at position {i} is not closed; write '{{{{' for a literal brace.");
                }

                var body = source.AsSpan(i + 1, end - i - 1);
                var bar = body.IndexOf('|');
                var name = (bar < 0 ? body : body[..bar]).Trim().ToString();
                if (!IsValidName(name))
                {
                    throw new FormatException($"Template: '{{{body}}}' at position {i} is not a variable; a name is ASCII letters, digits, '_', '-', '.', e.g. {{name}} or {{name|朋友}}.");
                }

                if (literal.Length > 0)
                {
                    segments.Add(new Segment(literal.ToString(), false, null));
                    literal.Clear();
                }

                segments.Add(new Segment(name, true, bar < 0 ? null : body[(bar + 1)..].ToString()));
                i = end;
            }
            else
            {
                literal.Append(c);
            }
        }

        if (literal.Length > 0)
        {
            segments.Add(new Segment(literal.ToString(), false, null));
        }

        return new TemplateText(source, [.. segments]);
    }

    /// <summary>
    /// The variables that would have no value: neither in <paramref name="available"/>, nor with an inline default,
    /// nor in <paramref name="defaults"/>. Used at approval time.
    /// </summary>
    /// <param name="available">The names that will have values at send time (ordinal).</param>
    /// <param name="defaults">Template-level defaults by name, or null.</param>
    /// <returns>The missing names, in order of first use.</returns>
    public IReadOnlyList<string> FindUnsatisfied(IEnumerable<string> available, IReadOnlyDictionary<string, string>? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(available);
        var have = available as ISet<string> ?? new HashSet<string>(available, StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var s in _segments)
        {
            if (s.IsVariable && s.Default is null && !have.Contains(s.Text) && defaults?.ContainsKey(s.Text) != true && !missing.Contains(s.Text))
            {
                missing.Add(s.Text);
            }
        }

        return missing;
    }

    /// <summary>
    /// Renders the text. A variable takes its value from <paramref name="values"/>; when absent (or null), the inline
    /// default, then <paramref name="defaults"/>. Values (and defaults) are escaped for <paramref name="kind"/>; the
    /// template's literal text is not.
    /// </summary>
    /// <param name="values">Values by variable name (ordinal).</param>
    /// <param name="kind">How to escape values.</param>
    /// <param name="defaults">Template-level defaults, or null.</param>
    /// <param name="missing">Receives the names that had no value (rendered as empty); may be null.</param>
    /// <returns>The rendered text.</returns>
    public string Render(IReadOnlyDictionary<string, string> values, ContentKind kind, IReadOnlyDictionary<string, string>? defaults = null, ICollection<string>? missing = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (_segments.Length == 1 && !_segments[0].IsVariable)
        {
            return _segments[0].Text;
        }

        // Look every part up once, then copy them into a string of the exact length (no builder, no second copy).
        // The parts array is reused per thread; taken while in use, so a dictionary that renders on its own is safe.
        var parts = t_parts is { } cached && cached.Length >= _segments.Length ? cached : new string?[Math.Max(_segments.Length, 16)];
        t_parts = null;
        var length = 0;
        for (var i = 0; i < _segments.Length; i++)
        {
            var s = _segments[i];
            string? part;
            if (!s.IsVariable)
            {
                part = s.Text;
            }
            else if ((values.TryGetValue(s.Text, out var value) && value is not null) || (value = s.Default) is not null || (defaults is not null && defaults.TryGetValue(s.Text, out value)))
            {
                part = Escape(value, kind);
            }
            else
            {
                missing?.Add(s.Text);
                part = null;
            }

            parts[i] = part;
            length = checked(length + (part?.Length ?? 0));
        }

        var rendered = string.Create(length, (parts, _segments.Length), static (span, state) =>
        {
            var position = 0;
            for (var i = 0; i < state.Item2; i++)
            {
                if (state.parts[i] is { } part)
                {
                    part.CopyTo(span[position..]);
                    position += part.Length;
                }
            }
        });
        Array.Clear(parts, 0, _segments.Length); // hold no values between renders
        if (parts.Length <= MaxCachedParts)
        {
            t_parts = parts;
        }

        return rendered;
    }

    /// <inheritdoc />
    public override string ToString() => Source;

    /// <summary>Escapes a value for a kind of content.</summary>
    /// <param name="value">The value.</param>
    /// <param name="kind">The kind.</param>
    /// <returns>The escaped value.</returns>
    public static string Escape(string value, ContentKind kind) => kind switch
    {
        ContentKind.Html => WebUtility.HtmlEncode(value),
        ContentKind.Subject => value.Contains('\r', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal)
            ? value.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\r', ' ').Replace('\n', ' ')
            : value,
        _ => value,
    };

    private static bool IsValidName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    private readonly record struct Segment(string Text, bool IsVariable, string? Default);
}

/// <summary>
/// A message template for one channel: a text body, and for e-mail a subject and an HTML body, each with variables
/// (see <see cref="TemplateText"/>), plus template-level <see cref="Defaults"/>. Immutable and thread-safe.
/// </summary>
/// <remarks>
/// A variable's value comes from the send's values, else its inline default (<c>{name|朋友}</c>), else
/// <see cref="Defaults"/>. A template whose variables cannot all be satisfied is refused at approval
/// (<see cref="ContentChecker"/>), naming each variable; at send time a still-missing value fails the send with
/// <see cref="Campaigns.Channels.DeliveryFailureReason.ContentRejected"/>.
/// </remarks>
public sealed record MessageTemplate
{
    private static readonly Dictionary<string, string> NoDefaults = new(0, StringComparer.Ordinal);

    /// <summary>Creates a template from texts (parsed here).</summary>
    /// <param name="text">The plain-text body (the SMS text).</param>
    /// <param name="subject">The subject (e-mail), or null.</param>
    /// <param name="html">The HTML body (e-mail), or null.</param>
    /// <exception cref="FormatException">A text is not a valid template.</exception>
    public MessageTemplate(string text, string? subject = null, string? html = null)
    {
        Text = TemplateText.Parse(text);
        Subject = subject is null ? null : TemplateText.Parse(subject);
        Html = html is null ? null : TemplateText.Parse(html);
    }

    /// <summary>A name for messages and records, e.g. <c>registration-success-sms</c>; optional.</summary>
    public string? Id { get; init; }

    /// <summary>The plain-text body.</summary>
    public TemplateText Text { get; }

    /// <summary>The subject, or null.</summary>
    public TemplateText? Subject { get; }

    /// <summary>The HTML body, or null.</summary>
    public TemplateText? Html { get; }

    /// <summary>Defaults by variable name, used after the send's values and inline defaults.</summary>
    public IReadOnlyDictionary<string, string> Defaults { get; init; } = NoDefaults;

    /// <summary>Every variable used by any part, in order of first use.</summary>
    public IReadOnlyList<string> Variables =>
        Parts().SelectMany(p => p.Text.Variables).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The variables that no value, inline default or <see cref="Defaults"/> entry would satisfy.</summary>
    /// <param name="available">The names that will have values at send time.</param>
    /// <returns>The missing names, in order of first use.</returns>
    public IReadOnlyList<string> FindUnsatisfied(IEnumerable<string> available)
    {
        var have = new HashSet<string>(available, StringComparer.Ordinal);
        return Parts().SelectMany(p => p.Text.FindUnsatisfied(have, Defaults)).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Renders every part with the escaping of its kind (text as is, subject on one line, HTML encoded).</summary>
    /// <param name="values">Values by variable name.</param>
    /// <param name="missing">Receives the names that had no value; may be null.</param>
    /// <returns>The rendered parts.</returns>
    public RenderedContent Render(IReadOnlyDictionary<string, string> values, ICollection<string>? missing = null) => new(
        Text.Render(values, ContentKind.Text, Defaults, missing),
        Subject?.Render(values, ContentKind.Subject, Defaults, missing),
        Html?.Render(values, ContentKind.Html, Defaults, missing));

    internal IEnumerable<(string Part, TemplateText Text)> Parts()
    {
        yield return ("text", Text);
        if (Subject is not null)
        {
            yield return ("subject", Subject);
        }

        if (Html is not null)
        {
            yield return ("html", Html);
        }
    }
}

/// <summary>A rendered message: the text body, and the subject and HTML body when the template has them.</summary>
/// <param name="Text">The plain-text body.</param>
/// <param name="Subject">The subject, or null.</param>
/// <param name="Html">The HTML body, or null.</param>
public sealed record RenderedContent(string Text, string? Subject, string? Html);
