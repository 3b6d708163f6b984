using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>Answers whether a contact is a member of a segment, for <see cref="SegmentFilter"/>s.</summary>
public interface ISegmentMembership
{
    /// <summary>Whether the contact is currently a member of the segment.</summary>
    /// <param name="segmentId">The segment's id.</param>
    /// <param name="contactId">The contact's id.</param>
    bool IsMember(string segmentId, ContactId contactId);
}

/// <summary>
/// Evaluates a filter against one contact, its behaviour events and an instant (F-5.1). The reference semantics of
/// the filter language: tag rules, scoring rules and journey branches use it directly, and the segment engine is
/// tested against it. Immutable and thread-safe; allocation-free except for <see cref="BuiltInFields.OwnerId"/>.
/// </summary>
/// <remarks>
/// The semantics below are the one semantics of the filter language; <see cref="SegmentIndex"/> (the bitmap engine)
/// follows them exactly and is tested against this class (docs/segmentation.md, "Semantics").
/// <list type="bullet">
/// <item><b>Missing values.</b> An attribute is missing when the contact has no value for it, its value is empty
/// text or an empty list, or (when the evaluator has a schema) its value is not of the attribute's declared type.
/// <c>!=</c> and <c>not in</c> match a missing value and <c>is empty</c> matches only a missing value; every other
/// operator (including <c>=</c>, <c>in</c>, <c>contains</c>, ranges and date operators) does not match it. Attribute
/// defaults of the schema are not applied here (stores apply them when contacts are written).</item>
/// <item><b>Text</b> compares ordinally (case-sensitive, culture-free); text and choice values compare as text.
/// <c>contains</c> is a substring test on text and an element test on string lists; <c>starts with</c> applies to
/// text. Operators a type does not take (see the operator table; e.g. <c>=</c> on a string list, <c>&lt;</c> on text)
/// are rejected by validation and by the engine; the evaluator's answer for them is unspecified.</item>
/// <item><b>Numbers and dates</b> compare by value; <c>between</c> includes both bounds.</item>
/// <item><b>Dates.</b> One calendar decides what day it is: the local date in <see cref="DefaultZone"/> (UTC by default;
/// the contact's own time zone is not used). On an instant (<see cref="BuiltInFields.CreatedAt"/>): <c>within w</c> is
/// <c>now − w ≤ t ≤ now</c>, <c>before w</c> is <c>t &lt; now − w</c>, and <c>on or after</c> / <c>on or before</c>
/// compare the instant's local date. A date attribute is a calendar date: <c>within w</c> matches the dates from the
/// local date of <c>now − w</c> to today, inclusive; <c>before w</c> the dates before the local date of <c>now − w</c>;
/// <c>on or after</c> / <c>on or before</c> compare dates, inclusive.</item>
/// <item><b>Tags</b> count only while current: no <see cref="ContactTag.ExpiresAt"/> or <c>ExpiresAt &gt; now</c>.</item>
/// <item><b>Behaviour</b> counts the events of the kind that belong to the contact, satisfy every property condition and
/// occurred in <c>[now − window, now]</c> (or at or before now, when there is no window: future-dated events count
/// once they have happened); the order of the list does not matter, events are not deduplicated. Property values
/// compare as numbers when both sides are numbers (invariant culture), ordinally as text otherwise, with the same
/// missing-value rules as attributes.</item>
/// <item><b>Scores.</b> A contact without scores has 0 behaviour, 0 fit and no grade; a grade filter never matches a
/// contact without a grade.</item>
/// <item><b>Consent</b> matches when the contact's (latest) record for the channel is granted.</item>
/// <item><b>Segments.</b> <see cref="SegmentFilter"/> asks the <see cref="ISegmentMembership"/> passed to
/// <see cref="Matches"/>; without one, it evaluates the referenced definition from the resolver given to the constructor.</item>
/// </list>
/// </remarks>
public sealed class FilterEvaluator
{
    private const int MaxSegmentDepth = 64;
    private readonly ISegmentResolver? definitions;
    private readonly Dictionary<string, AttributeType>? types;

    /// <summary>Creates an evaluator.</summary>
    /// <param name="defaultZone">The zone of the calendar that date attributes and <c>created_at</c> dates are compared in; UTC when null.</param>
    /// <param name="definitions">Segment definitions to evaluate <see cref="SegmentFilter"/>s with when no membership is passed; or null.</param>
    /// <param name="schema">The attribute schema: a value that is not of its attribute's declared type counts as missing.
    /// Null: values are taken as they are (stores validate them against the schema when contacts are written).</param>
    public FilterEvaluator(DateTimeZone? defaultZone = null, ISegmentResolver? definitions = null, AttributeSchema? schema = null)
    {
        DefaultZone = defaultZone ?? DateTimeZone.Utc;
        this.definitions = definitions;
        if (schema is not null)
        {
            types = new Dictionary<string, AttributeType>(StringComparer.Ordinal);
            foreach (var attribute in schema.Attributes)
            {
                types[attribute.Name] = attribute.Type;
            }
        }
    }

    /// <summary>An evaluator with UTC as the default zone and no segment definitions.</summary>
    public static FilterEvaluator Default { get; } = new();

    /// <summary>The zone of the calendar: "today" for date attributes, and the day an instant falls on.</summary>
    public DateTimeZone DefaultZone { get; }

    /// <summary>Whether the contact matches the filter at <paramref name="now"/>.</summary>
    /// <param name="filter">The filter (validated; an invalid filter gives unspecified results, never an exception other than below).</param>
    /// <param name="contact">The contact.</param>
    /// <param name="events">The contact's behaviour events, in any order; events of other contacts are ignored.</param>
    /// <param name="now">The instant of evaluation.</param>
    /// <param name="segments">Membership of other segments, for <see cref="SegmentFilter"/>s; or null.</param>
    /// <exception cref="InvalidOperationException">A <see cref="SegmentFilter"/> cannot be answered: no membership and no definition of the segment, or references nested deeper than 64.</exception>
    public bool Matches(Filter filter, Contact contact, IReadOnlyList<BehaviourEvent> events, Instant now, ISegmentMembership? segments = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(events);
        return Evaluate(filter, contact, events, now, segments, 0);
    }

    /// <summary>
    /// Whether one behaviour event is of <paramref name="eventKind"/> and satisfies every property condition, with the
    /// same semantics as the events a <see cref="BehaviourFilter"/> counts (the contact and the instant are not checked).
    /// Used by scoring rules. Thread-safe and allocation-free.
    /// </summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="eventKind">The kind it must have (ordinal).</param>
    /// <param name="where">The property conditions, all of which must hold.</param>
    public static bool MatchesEvent(BehaviourEvent behaviourEvent, string eventKind, IReadOnlyList<PropertyCondition> where)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ArgumentNullException.ThrowIfNull(where);
        if (!string.Equals(behaviourEvent.Kind, eventKind, StringComparison.Ordinal))
        {
            return false;
        }

        for (var j = 0; j < where.Count; j++)
        {
            if (!MatchesCondition(where[j], behaviourEvent.Properties))
            {
                return false;
            }
        }

        return true;
    }

    private bool Evaluate(Filter filter, Contact contact, IReadOnlyList<BehaviourEvent> events, Instant now, ISegmentMembership? segments, int depth)
    {
        switch (filter)
        {
            case AndFilter allOf:
                for (var i = 0; i < allOf.Operands.Count; i++)
                {
                    if (!Evaluate(allOf.Operands[i], contact, events, now, segments, depth))
                    {
                        return false;
                    }
                }

                return true;
            case OrFilter anyOf:
                for (var i = 0; i < anyOf.Operands.Count; i++)
                {
                    if (Evaluate(anyOf.Operands[i], contact, events, now, segments, depth))
                    {
                        return true;
                    }
                }

                return false;
            case NotFilter negation:
                return !Evaluate(negation.Operand, contact, events, now, segments, depth);
            case AttributeFilter attribute:
                return MatchesAttribute(attribute, contact);
            case DateFilter date:
                return MatchesDate(date, contact, now);
            case TagFilter tags:
                return MatchesTags(tags, contact.Tags, now);
            case TagGroupFilter group:
                for (var i = 0; i < contact.Tags.Count; i++)
                {
                    var tag = contact.Tags[i];
                    if (IsCurrent(tag, now) && string.Equals(tag.Group, group.Group, StringComparison.Ordinal))
                    {
                        return true;
                    }
                }

                return false;
            case BehaviourFilter behaviour:
                return MatchesBehaviour(behaviour, contact.Id, events, now);
            case ScoreFilter score:
                {
                    var scores = contact.Scores;
                    var value = scores is null ? 0m : score.Kind switch
                    {
                        ScoreKind.Fit => scores.Fit,
                        ScoreKind.Total => scores.Total,
                        _ => scores.Behaviour,
                    };
                    return CompareNumber(value, score.Operator, score.Values);
                }

            case GradeFilter grade:
                return contact.Scores?.Grade is { } contactGrade && ContainsOrdinal(grade.Grades, contactGrade);
            case StageFilter stage:
                for (var i = 0; i < stage.Stages.Count; i++)
                {
                    if (stage.Stages[i] == contact.Stage)
                    {
                        return true;
                    }
                }

                return false;
            case ConsentFilter consent:
                return contact.Consents.TryGetValue(consent.Channel, out var record) && record.Granted;
            case SegmentFilter segment:
                return IsMember(segment.SegmentId, contact, events, now, segments, depth);
            default:
                throw new ArgumentException($"Unsupported filter node {filter.GetType().Name}.", nameof(filter));
        }
    }

    private bool IsMember(string segmentId, Contact contact, IReadOnlyList<BehaviourEvent> events, Instant now, ISegmentMembership? segments, int depth)
    {
        if (segments is not null)
        {
            return segments.IsMember(segmentId, contact.Id);
        }

        if (definitions?.Find(segmentId) is not { } definition)
        {
            throw new InvalidOperationException($"The filter references segment '{segmentId}', but no segment membership was given and no definition of it is known.");
        }

        return depth < MaxSegmentDepth
            ? Evaluate(definition.Filter, contact, events, now, segments, depth + 1)
            : throw new InvalidOperationException($"Segment references are nested deeper than {MaxSegmentDepth} at '{segmentId}'; is there a cycle?");
    }

    private static bool IsCurrent(ContactTag tag, Instant now) => tag.ExpiresAt is not { } expires || expires > now;

    private static bool MatchesTags(TagFilter filter, IReadOnlyList<ContactTag> tags, Instant now)
    {
        if (filter.Match == TagMatch.All)
        {
            for (var i = 0; i < filter.Tags.Count; i++)
            {
                if (!HasCurrentTag(tags, filter.Tags[i], now))
                {
                    return false;
                }
            }

            return true;
        }

        var any = false;
        for (var i = 0; i < tags.Count && !any; i++)
        {
            any = IsCurrent(tags[i], now) && ContainsOrdinal(filter.Tags, tags[i].Tag);
        }

        return filter.Match == TagMatch.None ? !any : any;
    }

    private static bool HasCurrentTag(IReadOnlyList<ContactTag> tags, string name, Instant now)
    {
        for (var i = 0; i < tags.Count; i++)
        {
            if (string.Equals(tags[i].Tag, name, StringComparison.Ordinal) && IsCurrent(tags[i], now))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ContainsOrdinal(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private bool MatchesAttribute(AttributeFilter filter, Contact contact)
    {
        FieldValue? value;
        if (filter.Field == BuiltInFields.OwnerId)
        {
            value = contact.OwnerId is { } owner ? new TextValue(owner) : null;
        }
        else if (contact.Attributes.TryGetValue(filter.Field, out value) && types is not null
            && types.TryGetValue(filter.Field, out var type) && !Fits(type, value))
        {
            value = null; // a value of the wrong type counts as none
        }

        var present = value is not null && !IsEmpty(value);
        var values = filter.Values;
        switch (filter.Operator)
        {
            case CompareOperator.Exists:
                return present;
            case CompareOperator.IsEmpty:
                return !present;
            case CompareOperator.NotEqual:
                return !present || !ValueEquals(value!, values[0]);
            case CompareOperator.NotIn:
                return !present || !AnyEquals(value!, values);
        }

        if (!present)
        {
            return false;
        }

        switch (filter.Operator)
        {
            case CompareOperator.Equal:
                return ValueEquals(value!, values[0]);
            case CompareOperator.In:
                return AnyEquals(value!, values);
            case CompareOperator.Contains:
                {
                    var needle = TextOf(values[0]);
                    if (needle is null)
                    {
                        return false;
                    }

                    if (value is ChoicesValue list)
                    {
                        return ContainsOrdinal(list.Values, needle);
                    }

                    return TextOf(value!) is { } text && text.Contains(needle, StringComparison.Ordinal);
                }

            case CompareOperator.StartsWith:
                return TextOf(value!) is { } haystack && TextOf(values[0]) is { } prefix && haystack.StartsWith(prefix, StringComparison.Ordinal);
            case CompareOperator.Between:
                return Compare(value!, values[0]) is >= 0 && Compare(value!, values[1]) is <= 0;
            default:
                return Compare(value!, values[0]) is { } order && OrderMatches(filter.Operator, order);
        }
    }

    private static bool Fits(AttributeType type, FieldValue value) => type switch
    {
        AttributeType.String or AttributeType.Enum => value is TextValue or ChoiceValue,
        AttributeType.Integer or AttributeType.Decimal => value is NumberValue,
        AttributeType.Date => value is DateValue,
        AttributeType.Bool => value is BooleanValue,
        _ => value is ChoicesValue,
    };

    private static bool OrderMatches(CompareOperator op, int order) => op switch
    {
        CompareOperator.Equal => order == 0,
        CompareOperator.NotEqual => order != 0,
        CompareOperator.LessThan => order < 0,
        CompareOperator.LessOrEqual => order <= 0,
        CompareOperator.GreaterThan => order > 0,
        CompareOperator.GreaterOrEqual => order >= 0,
        _ => false,
    };

    private static bool IsEmpty(FieldValue value) => value switch
    {
        TextValue t => t.Value.Length == 0,
        ChoiceValue c => c.Value.Length == 0,
        ChoicesValue list => list.Values.Count == 0,
        _ => false,
    };

    private static string? TextOf(FieldValue value) => value switch
    {
        TextValue t => t.Value,
        ChoiceValue c => c.Value,
        _ => null,
    };

    private static bool AnyEquals(FieldValue value, IReadOnlyList<FieldValue> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (ValueEquals(value, values[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ValueEquals(FieldValue a, FieldValue b) => (a, b) switch
    {
        (NumberValue x, NumberValue y) => x.Value == y.Value,
        (DateValue x, DateValue y) => x.Value == y.Value,
        (BooleanValue x, BooleanValue y) => x.Value == y.Value,
        _ => TextOf(a) is { } x && TextOf(b) is { } y && string.Equals(x, y, StringComparison.Ordinal),
    };

    private static int? Compare(FieldValue a, FieldValue b) => (a, b) switch
    {
        (NumberValue x, NumberValue y) => x.Value.CompareTo(y.Value),
        (DateValue x, DateValue y) => x.Value.CompareTo(y.Value),
        _ => null,
    };

    private bool MatchesDate(DateFilter filter, Contact contact, Instant now)
    {
        if (filter.Field == BuiltInFields.CreatedAt)
        {
            var at = contact.CreatedAt;
            return filter.Operator switch
            {
                DateOperator.Within => filter.Window is { } w && at >= now - w.Duration && at <= now,
                DateOperator.Before => filter.Window is { } w && at < now - w.Duration,
                DateOperator.OnOrAfter => filter.Date is { } d && at.InZone(DefaultZone).Date >= d,
                DateOperator.OnOrBefore => filter.Date is { } d && at.InZone(DefaultZone).Date <= d,
                _ => false,
            };
        }

        if (!contact.Attributes.TryGetValue(filter.Field, out var value) || value is not DateValue { Value: var date })
        {
            return false;
        }

        switch (filter.Operator)
        {
            case DateOperator.Within when filter.Window is { } window:
                return date >= (now - window.Duration).InZone(DefaultZone).Date && date <= now.InZone(DefaultZone).Date;

            case DateOperator.Before when filter.Window is { } window:
                return date < (now - window.Duration).InZone(DefaultZone).Date;
            case DateOperator.OnOrAfter when filter.Date is { } day:
                return date >= day;
            case DateOperator.OnOrBefore when filter.Date is { } day:
                return date <= day;
            default:
                return false;
        }
    }

    private static bool MatchesBehaviour(BehaviourFilter filter, ContactId contactId, IReadOnlyList<BehaviourEvent> events, Instant now)
    {
        var from = filter.Window is { } window ? now - window.Duration : Instant.MinValue;
        var count = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.OccurredAt > now || e.OccurredAt < from || e.ContactId != contactId
                || !string.Equals(e.Kind, filter.EventKind, StringComparison.Ordinal))
            {
                continue;
            }

            var all = true;
            for (var j = 0; j < filter.Where.Count && all; j++)
            {
                all = MatchesCondition(filter.Where[j], e.Properties);
            }

            if (all)
            {
                count++;
            }
        }

        return CountMatches(filter, count);
    }

    /// <summary>Whether <paramref name="count"/> events satisfy the filter's count comparison (the last step of a behaviour filter).</summary>
    internal static bool CountMatches(BehaviourFilter filter, int count)
    {
        var counts = filter.Counts;
        return filter.Operator == CompareOperator.Between
            ? count >= counts[0] && count <= counts[1]
            : OrderMatches(filter.Operator, count.CompareTo(counts[0]));
    }

    /// <summary>Whether one property condition holds on an event's properties (as counted by a behaviour filter).</summary>
    internal static bool MatchesCondition(PropertyCondition condition, IReadOnlyDictionary<string, string> properties)
    {
        properties.TryGetValue(condition.Property, out var value);
        var present = !string.IsNullOrEmpty(value);
        var values = condition.Values;
        switch (condition.Operator)
        {
            case CompareOperator.Exists:
                return present;
            case CompareOperator.IsEmpty:
                return !present;
            case CompareOperator.NotEqual:
                return !present || ComparePropertyValues(value!, values[0]) != 0;
            case CompareOperator.NotIn:
                return !present || !AnyPropertyEquals(value!, values);
        }

        if (!present)
        {
            return false;
        }

        return condition.Operator switch
        {
            CompareOperator.In => AnyPropertyEquals(value!, values),
            CompareOperator.Contains => value!.Contains(values[0], StringComparison.Ordinal),
            CompareOperator.StartsWith => value!.StartsWith(values[0], StringComparison.Ordinal),
            CompareOperator.Between => ComparePropertyValues(value!, values[0]) >= 0 && ComparePropertyValues(value!, values[1]) <= 0,
            _ => OrderMatches(condition.Operator, ComparePropertyValues(value!, values[0])),
        };
    }

    private static bool AnyPropertyEquals(string value, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (ComparePropertyValues(value, values[i]) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Numerically when both are invariant-culture numbers, ordinally otherwise.</summary>
    private static int ComparePropertyValues(string a, string b)
    {
        const NumberStyles Style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint;
        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return 0; // equal text is equal either way (the common case of an "=" condition that holds)
        }

        if (!CanStartNumber(a) || !CanStartNumber(b))
        {
            return Math.Sign(string.CompareOrdinal(a, b)); // not a number with this style: skip the parse (the common case of text values)
        }

        return decimal.TryParse(a, Style, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, Style, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y)
            : Math.Sign(string.CompareOrdinal(a, b));
    }

    /// <summary>Whether <paramref name="text"/> can be a number in the style above: it must start with a digit, a sign or the decimal point.</summary>
    private static bool CanStartNumber(string text) => text.Length > 0 && (char.IsAsciiDigit(text[0]) || text[0] is '-' or '+' or '.');

    private static bool CompareNumber(decimal value, CompareOperator op, IReadOnlyList<decimal> values) =>
        op == CompareOperator.Between
            ? value >= values[0] && value <= values[1]
            : OrderMatches(op, value.CompareTo(values[0]));
}
