using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Campaigns.Contacts;

/// <summary>
/// A naming rule for tags (F-3.2), such as <c>报名: {date}+{location}+{topic}</c> or <c>意向产品: {product}</c>:
/// literal text with <c>{placeholder}</c>s that are filled in to name a tag. A placeholder name is letters (any
/// script), digits and '_'; <c>{{</c> and <c>}}</c> stand for literal braces. Immutable and thread-safe.
/// </summary>
public sealed class TagNameTemplate
{
    /// <summary>The seed's registration tag: <c>报名: {date}+{location}+{topic}</c>.</summary>
    public const string Registration = "报名: {date}+{location}+{topic}";

    /// <summary>The seed's product-interest tag: <c>意向产品: {product}</c>.</summary>
    public const string InterestedProduct = "意向产品: {product}";

    private readonly (string? Literal, string? Placeholder)[] _parts;

    private TagNameTemplate(string text, (string? Literal, string? Placeholder)[] parts)
    {
        Text = text;
        _parts = parts;
        Placeholders = [.. parts.Where(p => p.Placeholder is not null).Select(p => p.Placeholder!).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The template as written.</summary>
    public string Text { get; }

    /// <summary>The placeholders, each once, in the order they first appear.</summary>
    public IReadOnlyList<string> Placeholders { get; }

    /// <summary>Parses and validates a template.</summary>
    /// <param name="text">The template.</param>
    /// <param name="knownPlaceholders">The placeholders the caller can fill in (ordinal), or null to allow any.</param>
    /// <returns>The template.</returns>
    /// <exception cref="TagTemplateException">A brace is unbalanced, a placeholder is empty or badly named, or a placeholder is not among <paramref name="knownPlaceholders"/>; the message names it and its position.</exception>
    public static TagNameTemplate Parse(string text, IReadOnlyCollection<string>? knownPlaceholders = null) =>
        TryParse(text, knownPlaceholders, out var template, out var error) ? template : throw error;

    /// <summary>Parses and validates a template without throwing.</summary>
    /// <param name="text">The template.</param>
    /// <param name="knownPlaceholders">The placeholders the caller can fill in, or null to allow any.</param>
    /// <param name="template">The template, when valid.</param>
    /// <param name="error">The problem, when not.</param>
    /// <returns>Whether the template is valid.</returns>
    public static bool TryParse(string text, IReadOnlyCollection<string>? knownPlaceholders, [NotNullWhen(true)] out TagNameTemplate? template, [NotNullWhen(false)] out TagTemplateException? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        template = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = new TagTemplateException(text, null, 0, "Tag template is blank.");
            return false;
        }

        var parts = new List<(string?, string?)>();
        var literal = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '}')
            {
                if (i + 1 < text.Length && text[i + 1] == '}')
                {
                    literal.Append('}');
                    i++;
                    continue;
                }

                error = new TagTemplateException(text, null, i, $"Tag template '{text}': '}}' at position {i} closes no placeholder (write '}}}}' for a literal brace).");
                return false;
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                literal.Append('{');
                i++;
                continue;
            }

            var end = text.IndexOf('}', i + 1);
            if (end < 0)
            {
                error = new TagTemplateException(text, null, i, $"Tag template '{text}': the placeholder opened at position {i} is not closed with '}}'.");
                return false;
            }

            var name = text[(i + 1)..end];
            if (name.Length == 0 || !name.All(ch => char.IsLetterOrDigit(ch) || ch == '_'))
            {
                error = new TagTemplateException(text, name, i, $"Tag template '{text}': placeholder '{{{name}}}' at position {i} is not a name of letters, digits and '_'.");
                return false;
            }

            if (knownPlaceholders is not null && !knownPlaceholders.Contains(name, StringComparer.Ordinal))
            {
                error = new TagTemplateException(text, name, i, $"Tag template '{text}': unknown placeholder '{name}' at position {i}; known: {string.Join(", ", knownPlaceholders)}.");
                return false;
            }

            if (literal.Length > 0)
            {
                parts.Add((literal.ToString(), null));
                literal.Clear();
            }

            parts.Add((null, name));
            i = end;
        }

        if (literal.Length > 0)
        {
            parts.Add((literal.ToString(), null));
        }

        template = new TagNameTemplate(text, [.. parts]);
        return true;
    }

    /// <summary>Renders a tag name, e.g. <c>报名: 2026-05-20+上海+数字化工厂</c>. Values are trimmed; the result is trimmed.</summary>
    /// <param name="values">A value for every placeholder, by name (ordinal).</param>
    /// <returns>The tag name.</returns>
    /// <exception cref="TagTemplateException">A placeholder has no value or a blank one; the message names it.</exception>
    public string Render(IReadOnlyDictionary<string, string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new StringBuilder();
        foreach (var (literal, placeholder) in _parts)
        {
            if (placeholder is null)
            {
                result.Append(literal);
                continue;
            }

            if (!values.TryGetValue(placeholder, out var value) || string.IsNullOrWhiteSpace(value))
            {
                throw new TagTemplateException(Text, placeholder, -1, $"Tag template '{Text}': placeholder '{placeholder}' has {(value is null ? "no value" : $"a blank value '{value}'")}.");
            }

            result.Append(value.Trim());
        }

        return result.ToString().Trim();
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>Thrown when a tag naming template is invalid or cannot be rendered; names the template, the placeholder and its position.</summary>
public sealed class TagTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="template">The template text.</param>
    /// <param name="placeholder">The placeholder at fault, or null.</param>
    /// <param name="position">The 0-based position in the template, or -1 when not tied to one.</param>
    /// <param name="message">What is wrong.</param>
    public TagTemplateException(string template, string? placeholder, int position, string message)
        : base(message)
    {
        Template = template;
        Placeholder = placeholder;
        Position = position;
    }

    /// <summary>The template text.</summary>
    public string Template { get; }

    /// <summary>The placeholder at fault, or null.</summary>
    public string? Placeholder { get; }

    /// <summary>The 0-based position in the template, or -1.</summary>
    public int Position { get; }
}
