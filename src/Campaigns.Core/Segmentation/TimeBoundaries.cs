using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// The instants after <c>now</c> at which a filter's result on one contact can change by the passing of time alone (no
/// new event or contact change): events entering or leaving behaviour windows, relative dates on <c>created_at</c>,
/// local midnights for relative dates on date attributes, tag expiries. Between two consecutive candidates the result
/// is constant, so evaluating at the candidates finds exactly when it flips.
/// </summary>
internal static class TimeBoundaries
{
    /// <summary>Adds the candidates of <paramref name="filter"/> later than <paramref name="now"/> to <paramref name="into"/>.</summary>
    public static void Collect(Filter filter, Contact contact, IReadOnlyList<BehaviourEvent> events, Instant now, DateTimeZone zone, SortedSet<Instant> into)
    {
        switch (filter)
        {
            case AndFilter allOf:
                foreach (var operand in allOf.Operands)
                {
                    Collect(operand, contact, events, now, zone, into);
                }

                break;
            case OrFilter anyOf:
                foreach (var operand in anyOf.Operands)
                {
                    Collect(operand, contact, events, now, zone, into);
                }

                break;
            case NotFilter negation:
                Collect(negation.Operand, contact, events, now, zone, into);
                break;
            case BehaviourFilter behaviour:
                for (var i = 0; i < events.Count; i++)
                {
                    var e = events[i];
                    if (!string.Equals(e.Kind, behaviour.EventKind, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    Add(into, now, e.OccurredAt);
                    if (behaviour.Window is { } window)
                    {
                        // The event counts while now <= occurredAt + window; it has left one nanosecond later.
                        Add(into, now, e.OccurredAt + window.Duration + Duration.Epsilon);
                    }
                }

                break;
            case DateFilter { Operator: DateOperator.Within or DateOperator.Before, Window: { } w } date:
                if (date.Field == BuiltInFields.CreatedAt)
                {
                    Add(into, now, contact.CreatedAt);
                    Add(into, now, contact.CreatedAt + w.Duration + Duration.Epsilon);
                }
                else if (contact.Attributes.TryGetValue(date.Field, out var value) && value is DateValue { Value: var day })
                {
                    // A date d is within from its first instant until now − w reaches the next day; before from then on.
                    Add(into, now, day.AtStartOfDayInZone(zone).ToInstant());
                    Add(into, now, day.PlusDays(1).AtStartOfDayInZone(zone).ToInstant() + w.Duration);
                }

                break;
            case TagFilter or TagGroupFilter:
                foreach (var tag in contact.Tags)
                {
                    if (tag.ExpiresAt is { } expires)
                    {
                        Add(into, now, expires);
                    }
                }

                break;
        }
    }

    private static void Add(SortedSet<Instant> into, Instant now, Instant candidate)
    {
        if (candidate > now)
        {
            into.Add(candidate);
        }
    }
}

/// <summary>
/// A thread-safe schedule of contacts to re-evaluate at given instants (a priority queue with one live entry per
/// contact; replaced entries are skipped lazily).
/// </summary>
internal sealed class ContactSchedule
{
    private readonly Lock _gate = new();
    private readonly PriorityQueue<ContactId, Instant> _queue = new();
    private readonly Dictionary<ContactId, Instant> _due = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _due.Count;
            }
        }
    }

    public Instant? Next
    {
        get
        {
            lock (_gate)
            {
                while (_queue.TryPeek(out var id, out var at))
                {
                    if (_due.TryGetValue(id, out var live) && live == at)
                    {
                        return at;
                    }

                    _queue.Dequeue();
                }

                return null;
            }
        }
    }

    /// <summary>Sets (or with null clears) when the contact is due.</summary>
    public void Set(ContactId id, Instant? at)
    {
        lock (_gate)
        {
            if (at is { } due)
            {
                if (_due.TryGetValue(id, out var existing) && existing == due)
                {
                    return;
                }

                _due[id] = due;
                _queue.Enqueue(id, due);
            }
            else
            {
                _due.Remove(id);
            }
        }
    }

    /// <summary>Brings the contact's instant forward to <paramref name="at"/> when that is earlier (or none is set); null changes nothing.</summary>
    public void Advance(ContactId id, Instant? at)
    {
        if (at is not { } due)
        {
            return;
        }

        lock (_gate)
        {
            if (_due.TryGetValue(id, out var existing) && existing <= due)
            {
                return;
            }

            _due[id] = due;
            _queue.Enqueue(id, due);
        }
    }

    /// <summary>Takes every contact due at or before <paramref name="now"/>, earliest first.</summary>
    public List<(ContactId Id, Instant Due)> TakeDue(Instant now)
    {
        var taken = new List<(ContactId, Instant)>();
        lock (_gate)
        {
            while (_queue.TryPeek(out var id, out var at) && at <= now)
            {
                _queue.Dequeue();
                if (_due.TryGetValue(id, out var live) && live == at)
                {
                    _due.Remove(id);
                    taken.Add((id, at));
                }
            }
        }

        return taken;
    }
}

/// <summary>
/// Forwards contact changes to an engine resolved on first use, so that an engine can depend on the contact service
/// whose notifier calls it (no construction cycle). On ingest it contributes the engine's change to the event's one
/// contact write when the engine is an <see cref="IContactChangeContributor"/> (and writes through the engine otherwise).
/// </summary>
internal sealed class LazyContactListener<TEngine>(IServiceProvider services) : IContactChangeListener, IContactChangeContributor
    where TEngine : class, IContactChangeListener
{
    private TEngine? _engine;

    private TEngine Engine => _engine ??= (TEngine)(services.GetService(typeof(TEngine)) ?? throw new InvalidOperationException($"{typeof(TEngine).Name} is not registered."));

    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken) => Engine.OnContactChangedAsync(change, cancellationToken);

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) => Engine.OnEventIngestedAsync(behaviourEvent, cancellationToken);

    public ValueTask ContributeAsync(BehaviourEvent behaviourEvent, PendingContactUpdate update, CancellationToken cancellationToken) =>
        Engine is IContactChangeContributor contributor
            ? contributor.ContributeAsync(behaviourEvent, update, cancellationToken)
            : Engine.OnEventIngestedAsync(behaviourEvent, cancellationToken);
}
