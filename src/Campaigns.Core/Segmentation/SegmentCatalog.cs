using System.Collections.Frozen;
using System.Globalization;

namespace Campaigns.Segmentation;

/// <summary>
/// A set of segment definitions that reference each other safely: every definition validates against the context,
/// every <c>in_segment(...)</c> names a defined segment, and no segment reaches itself through references (F-5.1).
/// Reads are lock-free and see a consistent snapshot; writes are serialized. Thread-safe.
/// </summary>
public sealed class SegmentCatalog : ISegmentResolver
{
    private readonly Lock gate = new();
    private FrozenDictionary<string, SegmentDefinition> definitions = FrozenDictionary<string, SegmentDefinition>.Empty;

    /// <summary>Creates an empty catalog.</summary>
    /// <param name="context">What definitions are validated against; its <see cref="FilterContext.Segments"/> is replaced by this catalog.</param>
    public SegmentCatalog(FilterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Context = context with { Segments = this };
    }

    /// <summary>The context definitions are validated against, with this catalog as its segment resolver.</summary>
    public FilterContext Context { get; }

    /// <summary>The definitions, in no particular order.</summary>
    public IReadOnlyCollection<SegmentDefinition> Definitions => definitions.Values;

    /// <summary>Creates a catalog from definitions that may reference each other in any order.</summary>
    /// <param name="context">What definitions are validated against.</param>
    /// <param name="definitions">The definitions; ids are unique.</param>
    /// <exception cref="FilterException">A definition does not validate, references an unknown segment or is part of a cycle; paths start with <c>$['segment-id']</c>.</exception>
    /// <exception cref="ArgumentException">Two definitions have the same id.</exception>
    public static SegmentCatalog Create(FilterContext context, IEnumerable<SegmentDefinition> definitions)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        var catalog = new SegmentCatalog(context);
        var all = new Dictionary<string, SegmentDefinition>(StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            ArgumentNullException.ThrowIfNull(definition);
            if (!all.TryAdd(definition.Id, definition))
            {
                throw new ArgumentException($"The segment id '{definition.Id}' is defined twice.", nameof(definitions));
            }
        }

        catalog.definitions = all.ToFrozenDictionary(StringComparer.Ordinal);
        var errors = new List<FilterError>();
        foreach (var definition in all.Values)
        {
            foreach (var error in FilterValidator.Validate(definition.Filter, catalog.Context, definition.Id))
            {
                errors.Add(Prefix(error, definition.Id));
            }
        }

        if (errors.Count > 0)
        {
            throw new FilterException(errors);
        }

        return catalog;
    }

    /// <inheritdoc />
    public SegmentDefinition? Find(string segmentId) =>
        definitions.TryGetValue(segmentId, out var definition) ? definition : null;

    /// <summary>Adds or replaces a definition after validating it (references known, no cycle through it).</summary>
    /// <param name="definition">The definition.</param>
    /// <exception cref="FilterException">The definition does not validate.</exception>
    public void Set(SegmentDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentException.ThrowIfNullOrWhiteSpace(definition.Id);
        lock (gate)
        {
            var next = new Dictionary<string, SegmentDefinition>(definitions, StringComparer.Ordinal) { [definition.Id] = definition };
            var view = new SnapshotResolver(next);
            FilterValidator.ThrowIfInvalid(definition.Filter, Context with { Segments = view }, definition.Id);
            definitions = next.ToFrozenDictionary(StringComparer.Ordinal);
        }
    }

    /// <summary>Parses a text filter (validated against this catalog) and adds or replaces the definition.</summary>
    /// <param name="id">The segment id.</param>
    /// <param name="name">What people see.</param>
    /// <param name="filterText">The filter's text form.</param>
    /// <param name="description">What the audience is for, or null.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="FilterException">The text is not a valid filter; errors carry line and column.</exception>
    public SegmentDefinition Define(string id, string name, string filterText, string? description = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        // Parsing gives errors with line and column; Set validates again against the catalog as it is when it writes.
        var definition = new SegmentDefinition { Id = id, Name = name, Filter = FilterParser.Parse(filterText, Context, id), Description = description };
        Set(definition);
        return definition;
    }

    /// <summary>Removes a definition that no other definition references.</summary>
    /// <param name="segmentId">The segment id.</param>
    /// <returns>Whether it was there.</returns>
    /// <exception cref="InvalidOperationException">Another definition references it.</exception>
    public bool Remove(string segmentId)
    {
        lock (gate)
        {
            if (!definitions.ContainsKey(segmentId))
            {
                return false;
            }

            var referrers = ReferencedBy(segmentId);
            if (referrers.Count > 0)
            {
                throw new InvalidOperationException($"Segment '{segmentId}' is referenced by {string.Join(", ", referrers.Select(r => "'" + r + "'"))}; remove or change those first.");
            }

            var next = new Dictionary<string, SegmentDefinition>(definitions, StringComparer.Ordinal);
            next.Remove(segmentId);
            definitions = next.ToFrozenDictionary(StringComparer.Ordinal);
            return true;
        }
    }

    /// <summary>The ids of the segments whose filters reference <paramref name="segmentId"/> directly, ordered.</summary>
    /// <param name="segmentId">The segment id.</param>
    public IReadOnlyList<string> ReferencedBy(string segmentId)
    {
        var result = new List<string>();
        var references = new List<string>();
        foreach (var definition in definitions.Values)
        {
            references.Clear();
            FilterValidator.CollectSegmentReferences(definition.Filter, references);
            if (references.Contains(segmentId, StringComparer.Ordinal))
            {
                result.Add(definition.Id);
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>The definitions ordered so that each comes after every segment it references (ties by id), for evaluating in one pass.</summary>
    public IReadOnlyList<SegmentDefinition> InDependencyOrder()
    {
        var snapshot = definitions;
        var ordered = new List<SegmentDefinition>(snapshot.Count);
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in snapshot.Keys.Order(StringComparer.Ordinal))
        {
            Visit(id);
        }

        return ordered;

        void Visit(string id)
        {
            if (!snapshot.TryGetValue(id, out var definition) || !done.Add(id))
            {
                return;
            }

            var references = new List<string>();
            FilterValidator.CollectSegmentReferences(definition.Filter, references);
            references.Sort(StringComparer.Ordinal);
            foreach (var reference in references)
            {
                Visit(reference);
            }

            ordered.Add(definition);
        }
    }

    private static FilterError Prefix(FilterError error, string segmentId) =>
        error with
        {
            Path = "$['" + segmentId + "'].filter" + error.Path[1..],
            Message = string.Create(CultureInfo.InvariantCulture, $"segment '{segmentId}': {error.Message}"),
        };

    private sealed class SnapshotResolver(Dictionary<string, SegmentDefinition> definitions) : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) => definitions.GetValueOrDefault(segmentId);
    }
}
