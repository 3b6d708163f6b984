using System.Runtime.CompilerServices;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// A thread-safe in-memory <see cref="IEventStore"/>: the default when no durable store is registered. Contents are
/// lost when the process ends. Each contact's events are kept sorted by <see cref="BehaviourEvent.OccurredAt"/> then
/// event id, so an event that arrives late is inserted in its place (binary search) rather than appended.
/// </summary>
/// <remarks>
/// One lock guards the id index and the contact index; each contact's list also has its own lock, taken inside the
/// first by writers, so the engines can read one contact's events in place (<see cref="Read"/>) without a copy and
/// without holding up writers of other contacts.
/// </remarks>
public sealed class InMemoryEventStore : IEventStore, IEventLogReader
{
    private static readonly Comparer<BehaviourEvent> Order = Comparer<BehaviourEvent>.Create(static (a, b) =>
    {
        var byTime = a.OccurredAt.CompareTo(b.OccurredAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.EventId, b.EventId);
    });

    private readonly Lock _gate = new();
    private readonly Dictionary<string, BehaviourEvent> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<ContactId, ContactLog> _byContact = [];

    /// <inheritdoc />
    public ValueTask<bool> AppendAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ArgumentException.ThrowIfNullOrWhiteSpace(behaviourEvent.EventId, nameof(behaviourEvent));
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_byId.TryAdd(behaviourEvent.EventId, behaviourEvent))
            {
                return ValueTask.FromResult(false);
            }

            if (!_byContact.TryGetValue(behaviourEvent.ContactId, out var log))
            {
                log = new ContactLog();
                _byContact.Add(behaviourEvent.ContactId, log);
            }

            lock (log.Gate)
            {
                var list = log.Events;
                if (list.Count == 0 || Order.Compare(list[^1], behaviourEvent) <= 0)
                {
                    list.Add(behaviourEvent);
                }
                else
                {
                    var index = list.BinarySearch(behaviourEvent, Order);
                    list.Insert(index < 0 ? ~index : index, behaviourEvent);
                }
            }

            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<BehaviourEvent?> GetAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return ValueTask.FromResult(_byId.GetValueOrDefault(eventId));
        }
    }

    /// <summary>
    /// Calls <paramref name="read"/> with the contact's events in store order, in place (no copy) under the contact's
    /// lock: no event is added to the contact meanwhile. <paramref name="read"/> must not keep the list nor call into this
    /// store (writers take the store's lock, then the contact's). Synchronous, for the engines' hot path.
    /// </summary>
    /// <typeparam name="TState">What <paramref name="read"/> needs (a static lambda with a state allocates nothing).</typeparam>
    /// <typeparam name="TResult">What it returns.</typeparam>
    /// <param name="contactId">The contact.</param>
    /// <param name="state">Passed to <paramref name="read"/>.</param>
    /// <param name="read">Reads the events.</param>
    /// <returns>What <paramref name="read"/> returned.</returns>
    internal TResult Read<TState, TResult>(ContactId contactId, TState state, Func<TState, IReadOnlyList<BehaviourEvent>, TResult> read)
    {
        ContactLog? log;
        lock (_gate)
        {
            _byContact.TryGetValue(contactId, out log);
        }

        if (log is null)
        {
            return read(state, []);
        }

        lock (log.Gate)
        {
            return read(state, log.Events);
        }
    }

    /// <inheritdoc />
    /// <remarks>Takes a snapshot of the matching events when the enumeration starts.</remarks>
    public async IAsyncEnumerable<BehaviourEvent> ListAsync(
        ContactId contactId,
        Instant? since = null,
        Instant? until = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BehaviourEvent[] snapshot;
        lock (_gate)
        {
            snapshot = _byContact.TryGetValue(contactId, out var log)
                ? [.. log.Events.Where(e => (since is null || e.OccurredAt >= since) && (until is null || e.OccurredAt < until))]
                : [];
        }

        foreach (var e in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return e;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Reads a snapshot taken when the stream starts; events appended later are not included.</remarks>
    public async IAsyncEnumerable<BehaviourEvent> ReadAllAsync(Instant? since = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BehaviourEvent[] all;
        lock (_gate)
        {
            all = [.. _byId.Values];
        }

        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var e in all)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (since is not { } s || e.OccurredAt >= s)
            {
                yield return e;
            }
        }
    }

    /// <summary>One contact's events, sorted, with the lock that writers take (inside the store's) and in-place readers take alone.</summary>
    private sealed class ContactLog
    {
        public Lock Gate { get; } = new();

        public List<BehaviourEvent> Events { get; } = [];
    }
}
