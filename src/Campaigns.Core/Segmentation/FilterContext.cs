using Campaigns.Contacts;

namespace Campaigns.Segmentation;

/// <summary>Finds segment definitions by id, for validating segment references and evaluating them.</summary>
public interface ISegmentResolver
{
    /// <summary>The definition of a segment, or null when there is none.</summary>
    /// <param name="segmentId">The segment's id (ordinal).</param>
    SegmentDefinition? Find(string segmentId);
}

/// <summary>
/// The built-in fields a filter may name besides the attributes of the schema. Their names, together with the
/// keywords <c>score</c>, <c>fit_score</c>, <c>total_score</c>, <c>grade</c>, <c>stage</c>, <c>true</c>,
/// <c>false</c> and <c>not</c>, are reserved: a schema attribute of the same name cannot be filtered on.
/// </summary>
public static class BuiltInFields
{
    /// <summary>The instant the contact was created (<see cref="Contact.CreatedAt"/>): date operators only (<c>within</c>, <c>before</c>, <c>on or after</c>, <c>on or before</c>).</summary>
    public const string CreatedAt = "created_at";

    /// <summary>The owner's user id (<see cref="Contact.OwnerId"/>): text operators.</summary>
    public const string OwnerId = "owner_id";

    /// <summary>Whether <paramref name="name"/> is a built-in field or a reserved keyword.</summary>
    /// <param name="name">The name.</param>
    public static bool IsReserved(string name) => name is CreatedAt or OwnerId
        || FilterSyntax.IsReservedWord(name);
}

/// <summary>
/// What a filter is validated against (F-5.2): the attribute schema, the segments it may reference, the event kinds
/// it may count and, optionally, the tags and tag groups it may name. Immutable; safe to share between threads when
/// the <see cref="Segments"/> resolver is.
/// </summary>
public sealed record FilterContext
{
    /// <summary>Creates a context for a schema with the well-known event kinds, no segments and any tags.</summary>
    /// <param name="schema">The attribute schema.</param>
    public FilterContext(AttributeSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
    }

    /// <summary>The attribute schema: every attribute a filter may compare.</summary>
    public AttributeSchema Schema { get; init; }

    /// <summary>The segments a filter may reference with <c>in_segment(...)</c>; null when no segment is known (every reference is an error).</summary>
    public ISegmentResolver? Segments { get; init; }

    /// <summary>The event kinds behaviour predicates may count: <see cref="Contacts.EventKinds.All"/> by default; add the host's custom kinds.</summary>
    public IReadOnlyCollection<string> EventKinds { get; init; } = Contacts.EventKinds.All;

    /// <summary>The tags filters may name, or null to accept any tag (tags are often created by campaigns later).</summary>
    public IReadOnlyCollection<string>? Tags { get; init; }

    /// <summary>The tag groups filters may name, or null to accept any group.</summary>
    public IReadOnlyCollection<string>? TagGroups { get; init; }

    /// <summary>Returns a copy that also accepts the given custom event kinds.</summary>
    /// <param name="kinds">The host's event kinds.</param>
    public FilterContext WithEventKinds(params IEnumerable<string> kinds) => this with { EventKinds = [.. EventKinds.Union(kinds, StringComparer.Ordinal)] };
}
