using System.Runtime.CompilerServices;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// A thread-safe in-memory <see cref="IEventStore"/>: the default when no durable store is registered. Contents are
/// lost when the process ends. Each contact's events are kept sorted by <see cref="BehaviourEvent.OccurredAt"/> then
/// event id, so an event that arrives late is inserted in its place (binary search) rather than appended.
/// </summary>
public sealed class InMemoryEventStore : IEventStore, IEventLogReader
{
    private static readonly Comparer<BehaviourEvent> Order = Comparer<BehaviourEvent>.Create(static (a, b) =>
    {
        var byTime = a.OccurredAt.CompareTo(b.OccurredAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.EventId, b.EventId);
    });

    private readonly Lock _gate = new();
    private readonly Dictionary<string, BehaviourEvent> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<ContactId, List<BehaviourEvent>> _byContact = [];

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

            if (!_byContact.TryGetValue(behaviourEvent.ContactId, out var list))
            {
                list = [];
                _byContact.Add(behaviourEvent.ContactId, list);
            }

            if (list.Count == 0 || Order.Compare(list[^1], behaviourEvent) <= 0)
            {
                list.Add(behaviourEvent);
            }
            else
            {
                var index = list.BinarySearch(behaviourEvent, Order);
                list.Insert(index < 0 ? ~index : index, behaviourEvent);
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

    /// <summary>A copy of the contact's events in store order, only those of <paramref name="kinds"/> when given; synchronous, for the engines' hot path.</summary>
    internal List<BehaviourEvent> Snapshot(ContactId contactId, IReadOnlySet<string>? kinds)
    {
        lock (_gate)
        {
            if (!_byContact.TryGetValue(contactId, out var list))
            {
                return [];
            }

            var copy = new List<BehaviourEvent>(list.Count);
            foreach (var e in list)
            {
                if (kinds is null || kinds.Contains(e.Kind))
                {
                    copy.Add(e);
                }
            }

            return copy;
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
            snapshot = _byContact.TryGetValue(contactId, out var list)
                ? [.. list.Where(e => (since is null || e.OccurredAt >= since) && (until is null || e.OccurredAt < until))]
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
}
