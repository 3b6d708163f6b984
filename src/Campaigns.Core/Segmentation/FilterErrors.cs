using System.Globalization;
using System.Text;

namespace Campaigns.Segmentation;

/// <summary>Stable codes of <see cref="FilterError"/>s.</summary>
public static class FilterErrorCodes
{
    /// <summary>The text has a token where it cannot be: e.g. a missing operator or value, or text after the end.</summary>
    public const string UnexpectedToken = "unexpected-token";

    /// <summary>A '(' without its ')' or a ')' without its '('.</summary>
    public const string UnbalancedParentheses = "unbalanced-parentheses";

    /// <summary>A string without its closing quote, or a character the language does not use.</summary>
    public const string InvalidCharacter = "invalid-character";

    /// <summary>A field that is neither an attribute of the schema nor a built-in field.</summary>
    public const string UnknownField = "unknown-field";

    /// <summary>A value of the wrong type (text compared with a number, a date operator on a number, ...).</summary>
    public const string TypeMismatch = "type-mismatch";

    /// <summary>An operator that does not apply to the field or predicate (e.g. <c>between</c> on text).</summary>
    public const string InvalidOperator = "invalid-operator";

    /// <summary>The wrong number of values or arguments.</summary>
    public const string Arity = "arity";

    /// <summary>A window that is not a whole number of days, hours or minutes (e.g. <c>7x</c>), or a missing window.</summary>
    public const string BadWindow = "bad-window";

    /// <summary>A date that is not an ISO <c>yyyy-MM-dd</c> date, or a missing date.</summary>
    public const string BadDate = "bad-date";

    /// <summary>A value outside what the field allows (an enum value not allowed, a lower bound above the upper, a negative count).</summary>
    public const string BadValue = "bad-value";

    /// <summary>A segment reference to a segment that does not exist.</summary>
    public const string UnknownSegment = "unknown-segment";

    /// <summary>Segments that reference each other in a cycle.</summary>
    public const string SegmentCycle = "segment-cycle";

    /// <summary>An event kind that is not known to the context.</summary>
    public const string UnknownEventKind = "unknown-event-kind";

    /// <summary>A tag or tag group not known to the context (only when the context lists them).</summary>
    public const string UnknownTag = "unknown-tag";

    /// <summary>A lifecycle stage that does not exist.</summary>
    public const string UnknownStage = "unknown-stage";

    /// <summary>A required part of a node is missing or blank (JSON form).</summary>
    public const string Missing = "missing";

    /// <summary>Text that nests parentheses and <c>not</c> more than 25 levels deep.</summary>
    public const string TooDeep = "too-deep";

    /// <summary>JSON that is not well formed or does not have the shape of a filter.</summary>
    public const string InvalidJson = "invalid-json";
}

/// <summary>
/// One problem with a filter: where it is (line/column and offset/length for the text form, a JSON path for both
/// forms), a stable <see cref="Code"/>, what was found and what was expected.
/// </summary>
public sealed record FilterError
{
    /// <summary>A stable code from <see cref="FilterErrorCodes"/>.</summary>
    public required string Code { get; init; }

    /// <summary>The sentence describing the problem, without the position, e.g. <c>unknown field 'industy'; did you mean 'industry'?</c>.</summary>
    public required string Message { get; init; }

    /// <summary>The JSON path of the node (and member) at fault, e.g. <c>$.operands[2].window</c>; for text-form syntax errors, <c>$</c>.</summary>
    public string Path { get; init; } = "$";

    /// <summary>For the text form: the 1-based line; 0 for JSON.</summary>
    public int Line { get; init; }

    /// <summary>For the text form: the 1-based column (in UTF-16 code units); 0 for JSON.</summary>
    public int Column { get; init; }

    /// <summary>For the text form: the 0-based offset of the text at fault; -1 for JSON.</summary>
    public int Offset { get; init; } = -1;

    /// <summary>For the text form: the length of the text at fault (0 at the end of the input).</summary>
    public int Length { get; init; }

    /// <summary>What was found (e.g. <c>'7x'</c>, <c>end of input</c>), or null.</summary>
    public string? Found { get; init; }

    /// <summary>What was expected (e.g. <c>a window such as 7d, 12h, 30m</c>), or null.</summary>
    public string? Expected { get; init; }

    /// <summary>The error with its position: <c>1:34: unknown field ...</c> for text, <c>$.operands[0].field: unknown field ...</c> for JSON.</summary>
    public override string ToString() => Offset >= 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Line}:{Column}: {Message}")
        : $"{Path}: {Message}";
}

/// <summary>
/// Thrown when a filter (text or JSON form) is malformed or does not validate against its <see cref="FilterContext"/>.
/// <see cref="Errors"/> has at least one error; syntax errors stop at the first, validation reports every problem.
/// </summary>
public sealed class FilterException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errors">The errors; at least one.</param>
    public FilterException(IReadOnlyList<FilterError> errors)
        : base(BuildMessage(errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, in the order of their position.</summary>
    public IReadOnlyList<FilterError> Errors { get; }

    /// <summary>The first problem.</summary>
    public FilterError Error => Errors[0];

    private static string BuildMessage(IReadOnlyList<FilterError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0)
        {
            throw new ArgumentException("At least one error is needed.", nameof(errors));
        }

        if (errors.Count == 1)
        {
            return errors[0].ToString();
        }

        var builder = new StringBuilder();
        builder.Append(errors.Count).Append(" problems in the filter:");
        foreach (var error in errors)
        {
            builder.Append('\n').Append(error);
        }

        return builder.ToString();
    }
}
