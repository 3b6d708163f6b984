using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;
using Campaigns.Modeling;
using NodaTime.Text;

namespace Campaigns.Contacts;

/// <summary>
/// Checks contact attribute values against an <see cref="AttributeSchema"/> and reads attribute values from text
/// (imports, configuration). Every error is a <see cref="FieldError"/> whose key is <c>attributes.NAME</c> and whose
/// message names the attribute and the value. Stateless and thread-safe.
/// </summary>
public static partial class ContactAttributes
{
    private static readonly string[] TrueTexts = ["true", "yes", "y", "1", "是", "对", "有"];
    private static readonly string[] FalseTexts = ["false", "no", "n", "0", "否", "不", "无"];

    /// <summary>
    /// Checks values against the schema: each attribute declared, each value of the declared type (an
    /// <see cref="AttributeType.Integer"/> without a fraction, an <see cref="AttributeType.Enum"/> among its allowed
    /// values).
    /// </summary>
    /// <param name="schema">The schema.</param>
    /// <param name="attributes">The values by attribute name.</param>
    /// <returns>Every problem found, in attribute-name order; empty when valid.</returns>
    public static IReadOnlyList<FieldError> Validate(AttributeSchema schema, IReadOnlyDictionary<string, FieldValue> attributes)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(attributes);
        var errors = new List<FieldError>();
        foreach (var (name, value) in attributes.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var definition = schema.Find(name);
            if (definition is null)
            {
                errors.Add(new FieldError(Key(name), "unknown-attribute", $"Attribute '{name}' (value {Show(value)}) is not declared in the attribute schema."));
            }
            else if (Check(definition, value) is { } error)
            {
                errors.Add(error);
            }
        }

        return errors;
    }

    /// <summary>Checks one value against its definition.</summary>
    /// <param name="definition">The attribute's definition.</param>
    /// <param name="value">The value; null is an error.</param>
    /// <returns>The problem, or null when the value is valid.</returns>
    public static FieldError? Check(AttributeDefinition definition, FieldValue? value)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var name = definition.Name;
        switch (definition.Type, value)
        {
            case (AttributeType.String, TextValue):
            case (AttributeType.Decimal, NumberValue):
            case (AttributeType.Date, DateValue):
            case (AttributeType.Bool, BooleanValue):
            case (AttributeType.StringList, ChoicesValue):
                return null;
            case (AttributeType.Integer, NumberValue n):
                return n.Value == decimal.Truncate(n.Value)
                    ? null
                    : new FieldError(Key(name), "fraction", $"Attribute '{name}' is an integer but was given {Show(value)}, which has a fraction.");
            case (AttributeType.Enum, ChoiceValue c):
                return definition.AllowedValues.Contains(c.Value, StringComparer.Ordinal)
                    ? null
                    : new FieldError(Key(name), "option", $"Attribute '{name}': {Show(value)} is not one of its allowed values ({string.Join(", ", definition.AllowedValues)}).");
            default:
                return new FieldError(Key(name), "type", $"Attribute '{name}' is of type {definition.Type} but was given {Show(value)}.");
        }
    }

    /// <summary>
    /// Reads an attribute value from text, per the attribute's type: strings as is; enums among the allowed values
    /// (ordinal); integers and decimals in invariant culture (<c>12</c>, <c>12.5</c>); dates ISO <c>yyyy-MM-dd</c>;
    /// bools <c>true/false, yes/no, y/n, 1/0, 是/否</c>; string lists separated by <paramref name="listSeparator"/>,
    /// each item trimmed, empty items dropped.
    /// </summary>
    /// <param name="definition">The attribute's definition.</param>
    /// <param name="text">The text; not blank.</param>
    /// <param name="value">The value read.</param>
    /// <param name="error">The problem, when the text cannot be read.</param>
    /// <param name="listSeparator">The separator of string-list items (default <c>;</c>).</param>
    /// <returns>Whether the text was read.</returns>
    public static bool TryParse(
        AttributeDefinition definition,
        string text,
        [NotNullWhen(true)] out FieldValue? value,
        [NotNullWhen(false)] out FieldError? error,
        string listSeparator = ";")
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(text);
        value = null;
        error = null;
        var name = definition.Name;
        var trimmed = text.Trim();
        switch (definition.Type)
        {
            case AttributeType.String:
                value = new TextValue(text);
                break;
            case AttributeType.Enum:
                value = new ChoiceValue(trimmed);
                break;
            case AttributeType.Integer:
            case AttributeType.Decimal:
                if (!decimal.TryParse(trimmed, NumberStyles.Number, CultureInfo.InvariantCulture, out var number))
                {
                    error = new FieldError(Key(name), "type", $"Attribute '{name}': '{text}' is not a number (expected e.g. 12 or 12.5, invariant culture).");
                    return false;
                }

                value = new NumberValue(number);
                break;
            case AttributeType.Date:
                var date = LocalDatePattern.Iso.Parse(trimmed);
                if (!date.Success)
                {
                    error = new FieldError(Key(name), "type", $"Attribute '{name}': '{text}' is not a date (expected yyyy-MM-dd, e.g. 2026-05-20).");
                    return false;
                }

                value = new DateValue(date.Value);
                break;
            case AttributeType.Bool:
                if (TrueTexts.Contains(trimmed, StringComparer.OrdinalIgnoreCase))
                {
                    value = new BooleanValue(true);
                }
                else if (FalseTexts.Contains(trimmed, StringComparer.OrdinalIgnoreCase))
                {
                    value = new BooleanValue(false);
                }
                else
                {
                    error = new FieldError(Key(name), "type", $"Attribute '{name}': '{text}' is not a yes/no value (expected true/false, yes/no, 1/0, 是/否).");
                    return false;
                }

                break;
            case AttributeType.StringList:
                value = new ChoicesValue([.. text.Split(listSeparator, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)]);
                break;
            default:
                error = new FieldError(Key(name), "type", $"Attribute '{name}' has an unknown type {definition.Type}.");
                return false;
        }

        error = Check(definition, value);
        if (error is not null)
        {
            value = null;
            return false;
        }

        return true;
    }

    /// <summary>Whether a value counts as empty: blank text or choice, an empty list.</summary>
    /// <param name="value">The value.</param>
    public static bool IsEmpty(FieldValue? value) => value switch
    {
        null => true,
        TextValue t => string.IsNullOrWhiteSpace(t.Value),
        ChoiceValue c => string.IsNullOrWhiteSpace(c.Value),
        ChoicesValue cs => cs.Values.Count == 0,
        _ => false,
    };

    /// <summary>Shows a value in a message: text quoted, numbers invariant, lists bracketed.</summary>
    /// <param name="value">The value.</param>
    public static string Show(FieldValue? value) => value switch
    {
        null => "no value",
        TextValue t => $"text '{t.Value}'",
        NumberValue n => $"number {n.Value.ToString(CultureInfo.InvariantCulture)}",
        DateValue d => $"date {LocalDatePattern.Iso.Format(d.Value)}",
        ChoiceValue c => $"choice '{c.Value}'",
        ChoicesValue cs => $"list [{string.Join(", ", cs.Values.Select(v => $"'{v}'"))}]",
        BooleanValue b => b.Value ? "yes/no true" : "yes/no false",
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>The effective default of each attribute that has one: the options' text default, else the schema's.</summary>
    internal static Dictionary<string, FieldValue> ResolveDefaults(ContactsOptions options)
    {
        var defaults = new Dictionary<string, FieldValue>(StringComparer.Ordinal);
        foreach (var definition in options.Schema.Attributes)
        {
            if (options.AttributeDefaults.TryGetValue(definition.Name, out var text) && TryParse(definition, text, out var value, out _))
            {
                defaults[definition.Name] = value;
            }
            else if (definition.Default is { } fallback)
            {
                defaults[definition.Name] = fallback;
            }
        }

        return defaults;
    }

    /// <summary>Problems with the schema itself: names, duplicates, enums without values, defaults of the wrong type.</summary>
    internal static List<string> ValidateSchema(AttributeSchema schema)
    {
        var errors = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var definition in schema.Attributes)
        {
            if (definition is null)
            {
                errors.Add("an attribute definition is null.");
                continue;
            }

            if (definition.Name is null || !NamePattern().IsMatch(definition.Name))
            {
                errors.Add($"attribute name '{definition.Name}' is not lower-case letters, digits and '_' starting with a letter.");
            }
            else if (!seen.Add(definition.Name))
            {
                errors.Add($"attribute '{definition.Name}' is declared twice.");
            }

            if (definition.Type == AttributeType.Enum && definition.AllowedValues.Count == 0)
            {
                errors.Add($"attribute '{definition.Name}' is an enum without allowed values.");
            }

            if (definition.Default is { } d && Check(definition, d) is { } error)
            {
                errors.Add($"the default of {error.Message}");
            }
        }

        return errors;
    }

    private static string Key(string name) => "attributes." + name;

    [GeneratedRegex("^[a-z][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
