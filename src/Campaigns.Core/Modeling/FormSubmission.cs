using System.Collections.Frozen;
using System.Globalization;
using NodaTime.Text;

namespace Campaigns.Modeling;

/// <summary>The outcome of parsing a raw form submission: the typed values and every problem found.</summary>
/// <param name="Values">
/// The typed values by field key (ordinal keys). Holds every value that parsed, even when <see cref="Errors"/> is not
/// empty; blank inputs are left out.
/// </param>
/// <param name="Errors">Every problem found, in field definition order, then unknown keys in ordinal key order; empty when valid.</param>
public sealed record FormParseResult(IReadOnlyDictionary<string, FieldValue> Values, IReadOnlyList<FieldError> Errors)
{
    /// <summary>Whether the submission is valid (no errors).</summary>
    public bool IsValid => Errors.Count == 0;
}

/// <summary>
/// Parses a raw form submission — field key → text, as a web form posts it — into typed <see cref="FieldValue"/>s
/// against field definitions (F-1.7), then validates them with <see cref="FieldValidator.Validate"/>.
/// Stateless and thread-safe.
/// </summary>
/// <remarks>
/// <para>Per <see cref="FieldType"/>, after trimming surrounding white space:</para>
/// <list type="bullet">
/// <item><description><see cref="FieldType.Text"/>: kept as <see cref="TextValue"/>.</description></item>
/// <item><description><see cref="FieldType.Number"/>: invariant culture, optional leading sign and '.' decimal point; no thousands separators or exponents (<c>1,5</c> is an error, not 15).</description></item>
/// <item><description><see cref="FieldType.Date"/>: ISO <c>yyyy-MM-dd</c>.</description></item>
/// <item><description><see cref="FieldType.Boolean"/>: <c>true</c>/<c>false</c>, <c>yes</c>/<c>no</c>, <c>1</c>/<c>0</c>, <c>on</c>/<c>off</c> (an HTML checkbox posts <c>on</c>), case-insensitive, and <c>是</c>/<c>否</c>.</description></item>
/// <item><description><see cref="FieldType.SingleChoice"/>: the option's <see cref="FieldOption.Value"/>.</description></item>
/// <item><description><see cref="FieldType.MultiChoice"/>: option values separated by ',' or '|'; blanks and repeats dropped, order kept.</description></item>
/// <item><description><see cref="FieldType.Email"/> and <see cref="FieldType.Phone"/>: <see cref="TextValue"/>s normalized with <see cref="FieldValidator.NormalizeEmail"/> / <see cref="FieldValidator.NormalizePhone"/>.</description></item>
/// </list>
/// <para>
/// A null or blank input counts as not given (a <c>required</c> error when the field is required). Text that does
/// not parse gives a <c>type</c> error naming the field and the text; a key with no definition gives an
/// <c>unknown-field</c> error. Keys are compared ordinally (case-sensitive).
/// </para>
/// </remarks>
public static class FormSubmission
{
    private static readonly FrozenDictionary<string, bool> BooleanWords = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase)
    {
        ["true"] = true,
        ["false"] = false,
        ["yes"] = true,
        ["no"] = false,
        ["1"] = true,
        ["0"] = false,
        ["on"] = true,
        ["off"] = false,
        ["是"] = true,
        ["否"] = false,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private const NumberStyles NumberStyle = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint;

    /// <summary>Parses and validates a submission against a registration form's fields.</summary>
    /// <param name="form">The form.</param>
    /// <param name="submission">The raw values by field key.</param>
    /// <returns>The typed values and every error found.</returns>
    public static FormParseResult Parse(RegistrationFormTemplate form, IReadOnlyDictionary<string, string?> submission)
    {
        ArgumentNullException.ThrowIfNull(form);
        return Parse(form.Fields, submission);
    }

    /// <summary>Parses and validates a submission against field definitions (a form's or a campaign's custom fields).</summary>
    /// <param name="fields">The field definitions.</param>
    /// <param name="submission">The raw values by field key.</param>
    /// <returns>The typed values and every error found.</returns>
    public static FormParseResult Parse(IReadOnlyList<FieldDefinition> fields, IReadOnlyDictionary<string, string?> submission)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(submission);

        var values = new Dictionary<string, FieldValue>(StringComparer.Ordinal);
        var typeErrors = new Dictionary<string, FieldError>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            if (!submission.TryGetValue(field.Key, out var raw) || string.IsNullOrWhiteSpace(raw))
            {
                continue;
            }

            if (TryParse(field, raw.Trim(), out var value, out var error))
            {
                values[field.Key] = value;
            }
            else
            {
                typeErrors.TryAdd(field.Key, error);
            }
        }

        // Values that parsed are checked against their definitions; a field whose text did not parse already has
        // its "type" error, so the "required" error the validator would add for the missing value is dropped.
        var validation = FieldValidator.Validate(fields, values);
        var errors = new List<FieldError>(typeErrors.Count + validation.Count);
        foreach (var field in fields)
        {
            if (typeErrors.TryGetValue(field.Key, out var typeError))
            {
                errors.Add(typeError);
                typeErrors.Remove(field.Key);
            }
            else
            {
                errors.AddRange(validation.Where(e => string.Equals(e.FieldKey, field.Key, StringComparison.Ordinal)));
            }
        }

        var known = fields.Select(f => f.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in submission.Keys.Where(k => !known.Contains(k)).Order(StringComparer.Ordinal))
        {
            errors.Add(new FieldError(key, "unknown-field", $"Field '{key}' is not on the form."));
        }

        return new FormParseResult(values, errors);
    }

    private static bool TryParse(FieldDefinition field, string text, out FieldValue value, out FieldError error)
    {
        value = null!;
        error = null!;
        switch (field.Type)
        {
            case FieldType.Text:
                value = new TextValue(text);
                return true;

            case FieldType.Email:
                value = new TextValue(FieldValidator.NormalizeEmail(text));
                return true;

            case FieldType.Phone:
                value = new TextValue(FieldValidator.NormalizePhone(text));
                return true;

            case FieldType.SingleChoice:
                value = new ChoiceValue(text);
                return true;

            case FieldType.MultiChoice:
                value = new ChoicesValue(text
                    .Split([',', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Distinct(StringComparer.Ordinal)
                    .ToArray());
                return true;

            case FieldType.Number:
                if (decimal.TryParse(text, NumberStyle, CultureInfo.InvariantCulture, out var number))
                {
                    value = new NumberValue(number);
                    return true;
                }

                error = TypeError(field, text, "a number; expected digits with an optional sign and '.' decimal point, e.g. 12.5");
                return false;

            case FieldType.Date:
                var date = LocalDatePattern.Iso.Parse(text);
                if (date.Success)
                {
                    value = new DateValue(date.Value);
                    return true;
                }

                error = TypeError(field, text, "a date; expected yyyy-MM-dd, e.g. 2026-05-20");
                return false;

            case FieldType.Boolean:
                if (BooleanWords.TryGetValue(text, out var flag))
                {
                    value = new BooleanValue(flag);
                    return true;
                }

                error = TypeError(field, text, "yes or no; expected true/false, yes/no, 1/0, on/off or 是/否");
                return false;

            default:
                error = new FieldError(field.Key, "type", $"Field '{field.Key}' ({field.Label}) has type {field.Type}, which a form cannot parse.");
                return false;
        }
    }

    private static FieldError TypeError(FieldDefinition field, string text, string expected) =>
        new(field.Key, "type", $"Field '{field.Key}' ({field.Label}): '{text}' is not {expected}.");
}
