using System.Globalization;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>
/// A direct change of a contact's behaviour score (a journey's <c>changeScore</c> step, an operator's correction) as a
/// behaviour event of kind <see cref="EventKind"/> with the points in the <see cref="PointsProperty"/> property. Because it
/// is an event, it is idempotent by its id: ingesting the same id twice is a duplicate and counts once, and a rescore
/// from the event history keeps it. The scoring engine books it in the ledger under <see cref="RuleId"/>; it decays
/// with the model's half-life like any behaviour points and is not capped. Pure and thread-safe.
/// </summary>
public static class ScoreAdjustment
{
    /// <summary>The event kind: <c>score.adjusted</c>.</summary>
    public const string EventKind = "score.adjusted";

    /// <summary>The property holding the points (invariant decimal, may be negative): <c>points</c>.</summary>
    public const string PointsProperty = "points";

    /// <summary>The ledger rule id adjustments are booked under: <c>adjustment</c>.</summary>
    public const string RuleId = "adjustment";

    /// <summary>Creates the adjustment event.</summary>
    /// <param name="eventId">Its id; the idempotency key (a journey uses its step key).</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="points">The points to add (negative to remove).</param>
    /// <param name="at">When.</param>
    /// <param name="source">Who or what made it (e.g. <c>journey:welcome-flow/score</c>), stored in the <c>source</c> property.</param>
    public static BehaviourEvent Create(string eventId, ContactId contactId, decimal points, Instant at, string? source = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventId);
        var properties = new Dictionary<string, string>(StringComparer.Ordinal) { [PointsProperty] = points.ToString(CultureInfo.InvariantCulture) };
        if (source is not null)
        {
            properties["source"] = source;
        }

        return new BehaviourEvent { EventId = eventId, ContactId = contactId, Kind = EventKind, OccurredAt = at, Properties = properties };
    }

    /// <summary>The ledger entry of an adjustment event, or null when the event is not one (or its points do not parse).</summary>
    /// <param name="behaviourEvent">The event.</param>
    public static ScoreLedgerEntry? EntryOf(BehaviourEvent behaviourEvent)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        return string.Equals(behaviourEvent.Kind, EventKind, StringComparison.Ordinal)
            && behaviourEvent.Properties.TryGetValue(PointsProperty, out var text)
            && decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var points)
                ? new ScoreLedgerEntry(RuleId, behaviourEvent.EventId, behaviourEvent.OccurredAt, points)
                : null;
    }
}
