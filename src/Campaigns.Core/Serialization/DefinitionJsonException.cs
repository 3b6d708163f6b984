using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Campaigns.Serialization;

/// <summary>
/// Thrown by <see cref="DefinitionJson"/> when a definition document cannot be read: malformed JSON, a missing or
/// unsupported <c>schemaVersion</c>, the wrong <c>kind</c>, a value of the wrong type, an unknown or missing member,
/// a null where none is allowed, an invalid NodaTime or enum value, or an unknown field value <c>type</c>.
/// <see cref="JsonException.Path"/> locates the fault from the document root (e.g. <c>$.definition.schedule.startsAt</c>),
/// and <see cref="Problem"/> says what was found and what was expected.
/// </summary>
/// <remarks>
/// <see cref="JsonException.LineNumber"/> and <see cref="JsonException.BytePositionInLine"/> are zero-based, counted in
/// UTF-8 bytes of the document as given (after a UTF-8 byte order mark, if any), as in <see cref="JsonException"/>.
/// They point at the member name (or the array element) that <see cref="JsonException.Path"/> names, or at the offending
/// character of malformed JSON. They are null when the fault was found after a schema migration rewrote the document.
/// </remarks>
public sealed class DefinitionJsonException : JsonException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">The kind of definition being read, e.g. <c>campaign</c>.</param>
    /// <param name="path">The JSON path of the fault from the document root, e.g. <c>$.definition.name</c>.</param>
    /// <param name="problem">What was found and what was expected, as a phrase without a final period.</param>
    /// <param name="lineNumber">The zero-based line of the fault, or null when unknown.</param>
    /// <param name="bytePositionInLine">The zero-based UTF-8 byte offset of the fault within its line, or null when unknown.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public DefinitionJsonException(string kind, string path, string problem, long? lineNumber, long? bytePositionInLine, Exception? innerException = null)
        : base(FormatMessage(kind, path, problem, lineNumber, bytePositionInLine), path, lineNumber, bytePositionInLine, innerException)
    {
        Kind = kind;
        Problem = problem;
    }

    /// <summary>The kind of definition being read, e.g. <c>campaign</c>.</summary>
    public string Kind { get; }

    /// <summary>What was found and what was expected, e.g. <c>schema version 7 is not supported for kind 'campaign'; supported: 1</c>.</summary>
    public string Problem { get; }

    private static string FormatMessage(string kind, string path, string problem, long? lineNumber, long? bytePositionInLine)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(problem);
        var message = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Cannot read the '{kind}' definition document: {problem.TrimEnd('.')}. Path: {path}");
        if (lineNumber is not null)
        {
            message.Append(CultureInfo.InvariantCulture, $" | LineNumber: {lineNumber} | BytePositionInLine: {bytePositionInLine ?? 0}");
        }

        return message.Append('.').ToString();
    }
}
