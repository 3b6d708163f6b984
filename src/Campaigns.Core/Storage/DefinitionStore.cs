using System.Text.Json;
using NodaTime;

namespace Campaigns.Storage;

/// <summary>One stored definition (a tag model, a segment, a journey, the scoring model): immutable.</summary>
/// <param name="Kind">What it defines (e.g. <see cref="DefinitionKinds.TagModel"/>).</param>
/// <param name="Id">Its id, unique within the kind.</param>
/// <param name="Document">The definition as JSON text.</param>
/// <param name="Version">Its version: 1 when created, one more on every change.</param>
/// <param name="UpdatedAt">When it was last changed.</param>
public sealed record StoredDefinition(string Kind, string Id, string Document, long Version, Instant UpdatedAt);

/// <summary>The kinds of definition the SDK keeps in the <see cref="IDefinitionStore"/>.</summary>
public static class DefinitionKinds
{
    /// <summary>A tag model (<c>Campaigns.Tags.TagModel</c>), by model id.</summary>
    public const string TagModel = "tag-model";

    /// <summary>A live segment (<c>Campaigns.Segmentation.SegmentDefinition</c>), by segment id.</summary>
    public const string Segment = "segment";

    /// <summary>A published journey and its state (<c>Campaigns.Journeys.JourneyDefinition</c>), by journey id.</summary>
    public const string Journey = "journey";

    /// <summary>The scoring model (<c>Campaigns.Scoring.ScoringModel</c>), one document with id <c>current</c>.</summary>
    public const string ScoringModel = "scoring-model";
}

/// <summary>
/// Keeps definitions as JSON documents by kind and id, with a version per document for optimistic concurrency and a
/// store-wide change stamp that hosts poll to see another instance's changes. Few, small documents written rarely:
/// not a hot path. Implementations are thread-safe.
/// </summary>
public interface IDefinitionStore
{
    /// <summary>A stored definition, or null.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The definition, or null.</returns>
    ValueTask<StoredDefinition?> GetAsync(string kind, string id, CancellationToken cancellationToken = default);

    /// <summary>The definitions of a kind, ordered by id (ordinal).</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The definitions.</returns>
    ValueTask<IReadOnlyList<StoredDefinition>> ListAsync(string kind, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates or replaces a definition. Writing the document already stored changes nothing (same version, same
    /// stamp), so a host that defines the same things at every start does not create new versions.
    /// </summary>
    /// <param name="kind">The kind: non-blank.</param>
    /// <param name="id">The id: non-blank.</param>
    /// <param name="document">The JSON document (validated as JSON only; its meaning is the caller's).</param>
    /// <param name="expectedVersion">Null to write whatever is stored; 0 when it must not exist yet; else the version it must be at.</param>
    /// <param name="at">When (the host's clock).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stored definition.</returns>
    /// <exception cref="ConcurrencyException">The stored version is not <paramref name="expectedVersion"/>; nothing was written.</exception>
    /// <exception cref="ArgumentException">A blank kind or id, or a document that is not JSON.</exception>
    ValueTask<StoredDefinition> PutAsync(string kind, string id, string document, long? expectedVersion, Instant at, CancellationToken cancellationToken = default);

    /// <summary>Deletes a definition.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="id">The id.</param>
    /// <param name="expectedVersion">Null to delete whatever is stored; else the version it must be at.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether there was such a definition.</returns>
    /// <exception cref="ConcurrencyException">It is stored at another version than <paramref name="expectedVersion"/>; nothing was deleted.</exception>
    ValueTask<bool> DeleteAsync(string kind, string id, long? expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>
    /// The change stamp: a number that grows with every write that changed something (put or delete, any kind, any
    /// instance on the same store). One cheap read: poll it and reload the definitions only when it moved.
    /// </summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stamp (0 before any change).</returns>
    ValueTask<long> GetStampAsync(CancellationToken cancellationToken = default);
}

/// <summary>The argument checks every <see cref="IDefinitionStore"/> makes (so that all of them refuse the same input the same way).</summary>
public static class DefinitionStoreArguments
{
    /// <summary>Throws for a blank kind or id, a document that is not JSON, or a negative expected version.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="id">The id.</param>
    /// <param name="document">The document, or null to skip its check (deletes).</param>
    /// <param name="expectedVersion">The expected version.</param>
    /// <exception cref="ArgumentException">One of them is wrong; the message names it.</exception>
    public static void Check(string kind, string id, string? document, long? expectedVersion)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        if (expectedVersion < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(expectedVersion), expectedVersion, "The expected version is 0 (must not exist) or more.");
        }

        if (document is null)
        {
            return;
        }

        try
        {
            using var parsed = JsonDocument.Parse(document);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"The document of {kind} '{id}' is not JSON: {ex.Message}", nameof(document), ex);
        }
    }

    /// <summary>Throws the <see cref="ConcurrencyException"/> of a write expecting <paramref name="expected"/> over <paramref name="actual"/>, when they differ.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="id">The id.</param>
    /// <param name="expected">The expected version, or null (anything goes).</param>
    /// <param name="actual">The stored version, or null when not stored.</param>
    /// <exception cref="ConcurrencyException">They differ.</exception>
    public static void ThrowIfStale(string kind, string id, long? expected, long? actual)
    {
        if (expected is { } e && e != (actual ?? 0))
        {
            throw new ConcurrencyException("definition:" + kind, id, e, actual);
        }
    }
}

/// <summary>The in-memory <see cref="IDefinitionStore"/> (the default; lost on restart). Thread-safe.</summary>
public sealed class InMemoryDefinitionStore : IDefinitionStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Kind, string Id), StoredDefinition> _definitions = [];
    private long _stamp;

    /// <inheritdoc />
    public ValueTask<StoredDefinition?> GetAsync(string kind, string id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return new(_definitions.GetValueOrDefault((kind, id)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<StoredDefinition>> ListAsync(string kind, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return new((IReadOnlyList<StoredDefinition>)[.. _definitions.Values.Where(d => d.Kind == kind).OrderBy(d => d.Id, StringComparer.Ordinal)]);
        }
    }

    /// <inheritdoc />
    public ValueTask<StoredDefinition> PutAsync(string kind, string id, string document, long? expectedVersion, Instant at, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, document, expectedVersion);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var current = _definitions.GetValueOrDefault((kind, id));
            DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current?.Version);
            if (current is not null && string.Equals(current.Document, document, StringComparison.Ordinal))
            {
                return new(current);
            }

            var stored = new StoredDefinition(kind, id, document, (current?.Version ?? 0) + 1, at);
            _definitions[(kind, id)] = stored;
            _stamp++;
            return new(stored);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string kind, string id, long? expectedVersion, CancellationToken cancellationToken = default)
    {
        DefinitionStoreArguments.Check(kind, id, null, expectedVersion);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var current = _definitions.GetValueOrDefault((kind, id));
            if (current is null)
            {
                return new(false);
            }

            DefinitionStoreArguments.ThrowIfStale(kind, id, expectedVersion, current.Version);
            _definitions.Remove((kind, id));
            _stamp++;
            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<long> GetStampAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return new(_stamp);
        }
    }
}
