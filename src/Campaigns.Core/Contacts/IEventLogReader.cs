using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// Optional capability of an <see cref="IEventStore"/>: streams every stored behaviour event, of every contact, in one
/// pass (pages of a few hundred or thousand rows). Used to rebuild in-memory indexes (the segment index) from a durable
/// store at start without one query per contact. Stores that do not implement it are read contact by contact.
/// Implementations are thread-safe; the stream reflects writes committed before each page is read.
/// </summary>
public interface IEventLogReader
{
    /// <summary>Streams every stored event, optionally only those that occurred at or after <paramref name="since"/>.</summary>
    /// <param name="since">The first occurred-at instant to include, or null for all events.</param>
    /// <param name="cancellationToken">Stops the stream between events.</param>
    /// <returns>The events, in no particular order (each exactly once).</returns>
    IAsyncEnumerable<BehaviourEvent> ReadAllAsync(Instant? since = null, CancellationToken cancellationToken = default);
}
