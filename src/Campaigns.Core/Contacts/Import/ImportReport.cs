using NodaTime;

namespace Campaigns.Contacts;

/// <summary>Whether an issue flagged a kept row or rejected it.</summary>
public enum ImportIssueKind
{
    /// <summary>The row was kept; the value was not used and is recorded as a <see cref="DataQualityFlag"/> on the contact.</summary>
    Flag = 0,

    /// <summary>Nothing of the row was stored.</summary>
    Rejection = 1,
}

/// <summary>One problem of one row.</summary>
/// <param name="Row">The row number: in a CSV the header is row 1 and the first data row is row 2 (as a spreadsheet numbers them when no cell spans lines); in programmatic rows the first row is 1.</param>
/// <param name="Column">The column at fault, or empty when the problem is the whole row.</param>
/// <param name="Value">The value at fault (the raw record for malformed CSV).</param>
/// <param name="Code">A stable code: <c>invalid-phone</c>, <c>invalid-email</c>, <c>invalid-attribute</c>, <c>invalid-time-zone</c>, <c>identity-conflict</c>, <c>no-identity</c>, <c>missing-column</c>, <c>malformed-row</c> (bad CSV quoting: the row is read as well as possible and flagged; one the reader had to skip is rejected).</param>
/// <param name="Reason">A sentence naming the column and value.</param>
/// <param name="Kind">Flag or rejection.</param>
public sealed record ImportIssue(long Row, string Column, string Value, string Code, string Reason, ImportIssueKind Kind);

/// <summary>How far an import is: counts so far. Every row is counted in exactly one of the four outcomes.</summary>
/// <param name="RowsRead">Rows read so far.</param>
/// <param name="Created">Rows that created a contact, without issues.</param>
/// <param name="Merged">Rows merged into an existing contact, without issues.</param>
/// <param name="Flagged">Rows kept (creating or merging) with at least one flagged value.</param>
/// <param name="Rejected">Rows of which nothing was stored.</param>
public readonly record struct ImportProgress(long RowsRead, long Created, long Merged, long Flagged, long Rejected);

/// <summary>The outcome of an import. The counts add up: <see cref="RowsRead"/> = <see cref="Created"/> + <see cref="Merged"/> + <see cref="Flagged"/> + <see cref="Rejected"/>.</summary>
public sealed record ImportReport
{
    /// <summary>Rows read (the CSV header not counted).</summary>
    public long RowsRead { get; init; }

    /// <summary>Rows that created a contact, without issues.</summary>
    public long Created { get; init; }

    /// <summary>Rows merged into an existing contact (an earlier row or a contact stored before), without issues.</summary>
    public long Merged { get; init; }

    /// <summary>Rows kept with at least one flagged value (they created or merged a contact; see <see cref="ContactsCreated"/>).</summary>
    public long Flagged { get; init; }

    /// <summary>Rows of which nothing was stored.</summary>
    public long Rejected { get; init; }

    /// <summary>Contacts created by the import, flagged rows included.</summary>
    public long ContactsCreated { get; init; }

    /// <summary>The issues, in row order, at most <see cref="ContactImportMapping.MaxIssues"/>.</summary>
    public IReadOnlyList<ImportIssue> Issues { get; init; } = [];

    /// <summary>Issues found beyond <see cref="ContactImportMapping.MaxIssues"/>, counted but not kept.</summary>
    public long IssuesOmitted { get; init; }

    /// <summary>How long the import took, by the injected clock.</summary>
    public Duration Elapsed { get; init; }

    /// <summary>The counts as a progress value.</summary>
    public ImportProgress Progress => new(RowsRead, Created, Merged, Flagged, Rejected);
}

/// <summary>Thrown when an import cannot start: a bad mapping or a required column missing from the CSV header. No row was read or stored.</summary>
public sealed class ContactImportException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="column">The column at fault.</param>
    /// <param name="message">What is wrong.</param>
    public ContactImportException(string column, string message)
        : base(message)
    {
        Column = column;
    }

    /// <summary>The column at fault.</summary>
    public string Column { get; }
}
