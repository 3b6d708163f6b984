using System.Globalization;
using System.Text.RegularExpressions;
using Campaigns.Modeling;

namespace Campaigns.Modeling;

/// <summary>One problem with one field value.</summary>
/// <param name="FieldKey">The key of the field at fault.</param>
/// <param name="Code">A stable code: <c>required</c>, <c>type</c>, <c>option</c>, <c>max-length</c>, <c>range</c>, <c>format</c>, <c>unknown-field</c>.</param>
/// <param name="Message">A sentence naming the field and what was wrong.</param>
public sealed record FieldError(string FieldKey, string Code, string Message);

/// <summary>Thrown when field values do not satisfy their definitions. <see cref="Errors"/> names every field at fault.</summary>
public sealed class FieldValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errors">The errors; at least one.</param>
    public FieldValidationException(IReadOnlyList<FieldError> errors)
        : base(BuildMessage(errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<FieldError> Errors { get; }

    private static string BuildMessage(IReadOnlyList<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return "Invalid field values: " + string.Join("; ", errors.Select(e => e.Message));
    }
}

/// <summary>Validates typed field values against their definitions (F-1.6, F-1.7). Stateless and thread-safe.</summary>
public static partial class FieldValidator
{
    /// <summary>
    /// Checks <paramref name="values"/> against <paramref name="definitions"/>: required fields present,
    /// each value of the field's type, choices among the options, text within max length, numbers in range,
    /// e-mail and phone well formed, and no value for an undeclared field.
    /// </summary>
    /// <param name="definitions">The field definitions.</param>
    /// <param name="values">The values by field key.</param>
    /// <returns>Every problem found, in definition order (then unknown keys in key order); empty when valid.</returns>
    public static IReadOnlyList<FieldError> Validate(IReadOnlyList<FieldDefinition> definitions, IReadOnlyDictionary<string, FieldValue> values)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentNullException.ThrowIfNull(values);
        var errors = new List<FieldError>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            known.Add(definition.Key);
            values.TryGetValue(definition.Key, out var value);
            ValidateOne(definition, value, errors);
        }

        foreach (var key in values.Keys.Where(k => !known.Contains(k)).Order(StringComparer.Ordinal))
        {
            errors.Add(new FieldError(key, "unknown-field", $"Field '{key}' is not defined."));
        }

        return errors;
    }

    /// <summary>Validates and throws <see cref="FieldValidationException"/> when anything is wrong.</summary>
    /// <param name="definitions">The field definitions.</param>
    /// <param name="values">The values by field key.</param>
    /// <exception cref="FieldValidationException">At least one value is invalid.</exception>
    public static void ThrowIfInvalid(IReadOnlyList<FieldDefinition> definitions, IReadOnlyDictionary<string, FieldValue> values)
    {
        var errors = Validate(definitions, values);
        if (errors.Count > 0)
        {
            throw new FieldValidationException(errors);
        }
    }

    /// <summary>Whether <paramref name="email"/> looks like an e-mail address (one '@', a dotted domain, no spaces).</summary>
    /// <param name="email">The text.</param>
    public static bool IsEmail(string email) => email is not null && EmailPattern().IsMatch(email);

    /// <summary>Whether <paramref name="phone"/> is a phone number: optional '+', then 6–15 digits once spaces, dashes and parentheses are removed.</summary>
    /// <param name="phone">The text.</param>
    public static bool IsPhone(string phone) => phone is not null && PhonePattern().IsMatch(NormalizePhone(phone));

    /// <summary>Normalizes an e-mail address: trimmed, lower-case (invariant).</summary>
    /// <param name="email">The address.</param>
    public static string NormalizeEmail(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        return email.Trim().ToLowerInvariant();
    }

    /// <summary>Normalizes a phone number: removes spaces, dashes, dots and parentheses.</summary>
    /// <param name="phone">The number.</param>
    public static string NormalizePhone(string phone)
    {
        ArgumentNullException.ThrowIfNull(phone);
        return SeparatorPattern().Replace(phone.Trim(), string.Empty);
    }

    private static void ValidateOne(FieldDefinition d, FieldValue? value, List<FieldError> errors)
    {
        if (value is null || IsEmpty(value))
        {
            if (d.Required)
            {
                errors.Add(new FieldError(d.Key, "required", $"Field '{d.Key}' ({d.Label}) is required."));
            }

            return;
        }

        switch (d.Type, value)
        {
            case (FieldType.Text, TextValue t):
                if (d.MaxLength is { } max && t.Value.Length > max)
                {
                    errors.Add(new FieldError(d.Key, "max-length", $"Field '{d.Key}' is {t.Value.Length} characters long; at most {max} are allowed."));
                }

                break;
            case (FieldType.Email, TextValue t):
                if (!IsEmail(t.Value.Trim()))
                {
                    errors.Add(new FieldError(d.Key, "format", $"Field '{d.Key}': '{t.Value}' is not an e-mail address."));
                }

                break;
            case (FieldType.Phone, TextValue t):
                if (!IsPhone(t.Value))
                {
                    errors.Add(new FieldError(d.Key, "format", $"Field '{d.Key}': '{t.Value}' is not a phone number (expected 6–15 digits, optionally with a leading +)."));
                }

                break;
            case (FieldType.Number, NumberValue n):
                if ((d.Min is { } min && n.Value < min) || (d.Max is { } mx && n.Value > mx))
                {
                    errors.Add(new FieldError(d.Key, "range", $"Field '{d.Key}': {n.Value.ToString(CultureInfo.InvariantCulture)} is outside {Range(d)}."));
                }

                break;
            case (FieldType.Date, DateValue):
            case (FieldType.Boolean, BooleanValue):
                break;
            case (FieldType.SingleChoice, ChoiceValue c):
                CheckOption(d, c.Value, errors);
                break;
            case (FieldType.MultiChoice, ChoicesValue cs):
                foreach (var c in cs.Values)
                {
                    CheckOption(d, c, errors);
                }

                break;
            default:
                errors.Add(new FieldError(d.Key, "type", $"Field '{d.Key}' is of type {d.Type} but was given a {Describe(value)} value."));
                break;
        }
    }

    private static bool IsEmpty(FieldValue value) => value switch
    {
        TextValue t => string.IsNullOrWhiteSpace(t.Value),
        ChoiceValue c => string.IsNullOrWhiteSpace(c.Value),
        ChoicesValue cs => cs.Values.Count == 0,
        _ => false,
    };

    private static void CheckOption(FieldDefinition d, string value, List<FieldError> errors)
    {
        if (!d.Options.Any(o => string.Equals(o.Value, value, StringComparison.Ordinal)))
        {
            errors.Add(new FieldError(d.Key, "option", $"Field '{d.Key}': '{value}' is not one of its options ({string.Join(", ", d.Options.Select(o => o.Value))})."));
        }
    }

    private static string Range(FieldDefinition d) =>
        $"[{d.Min?.ToString(CultureInfo.InvariantCulture) ?? "-∞"}, {d.Max?.ToString(CultureInfo.InvariantCulture) ?? "+∞"}]";

    private static string Describe(FieldValue value) => value switch
    {
        TextValue => "text",
        NumberValue => "number",
        DateValue => "date",
        ChoiceValue => "single choice",
        ChoicesValue => "multi choice",
        BooleanValue => "boolean",
        _ => value.GetType().Name,
    };

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$", RegexOptions.CultureInvariant)]
    private static partial Regex EmailPattern();

    [GeneratedRegex(@"^\+?[0-9]{6,15}$", RegexOptions.CultureInvariant)]
    private static partial Regex PhonePattern();

    [GeneratedRegex(@"[\s\-\.\(\)]", RegexOptions.CultureInvariant)]
    private static partial Regex SeparatorPattern();
}
