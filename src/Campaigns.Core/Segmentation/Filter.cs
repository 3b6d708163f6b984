using System.Text.Json.Serialization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// The one predicate model of the SDK (F-5.1): segment filters, tag-rule and scoring-rule conditions and journey
/// branches all use it. An immutable tree; serialized to JSON with a <c>kind</c> discriminator, and to a readable
/// text form by the filter parser/printer.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(AndFilter), "and")]
[JsonDerivedType(typeof(OrFilter), "or")]
[JsonDerivedType(typeof(NotFilter), "not")]
[JsonDerivedType(typeof(AttributeFilter), "attribute")]
[JsonDerivedType(typeof(DateFilter), "date")]
[JsonDerivedType(typeof(TagFilter), "tags")]
[JsonDerivedType(typeof(TagGroupFilter), "tagGroup")]
[JsonDerivedType(typeof(BehaviourFilter), "behaviour")]
[JsonDerivedType(typeof(ScoreFilter), "score")]
[JsonDerivedType(typeof(GradeFilter), "grade")]
[JsonDerivedType(typeof(StageFilter), "stage")]
[JsonDerivedType(typeof(ConsentFilter), "consent")]
[JsonDerivedType(typeof(SegmentFilter), "segment")]
public abstract record Filter
{
    private protected Filter()
    {
    }
}

/// <summary>All operands hold. An empty list holds for everyone.</summary>
/// <param name="Operands">The operands.</param>
public sealed record AndFilter(IReadOnlyList<Filter> Operands) : Filter;

/// <summary>At least one operand holds. An empty list holds for no one.</summary>
/// <param name="Operands">The operands.</param>
public sealed record OrFilter(IReadOnlyList<Filter> Operands) : Filter;

/// <summary>The operand does not hold.</summary>
/// <param name="Operand">The operand.</param>
public sealed record NotFilter(Filter Operand) : Filter;

/// <summary>Comparison operators of attribute, property, count and score filters.</summary>
public enum CompareOperator
{
    /// <summary><c>=</c>: one value.</summary>
    Equal = 0,

    /// <summary><c>!=</c> (≠): one value. A contact without the attribute matches.</summary>
    NotEqual = 1,

    /// <summary><c>&lt;</c>: one value.</summary>
    LessThan = 2,

    /// <summary><c>&lt;=</c>: one value.</summary>
    LessOrEqual = 3,

    /// <summary><c>&gt;</c>: one value.</summary>
    GreaterThan = 4,

    /// <summary><c>&gt;=</c>: one value.</summary>
    GreaterOrEqual = 5,

    /// <summary><c>in (a, b, …)</c>: one or more values.</summary>
    In = 6,

    /// <summary><c>not in (a, b, …)</c>: one or more values. A contact without the attribute matches.</summary>
    NotIn = 7,

    /// <summary><c>contains</c>: text contains the value (ordinal), or a string list contains the element.</summary>
    Contains = 8,

    /// <summary><c>starts with</c>: text starts with the value (ordinal).</summary>
    StartsWith = 9,

    /// <summary><c>between a and b</c>: two values, both bounds inclusive.</summary>
    Between = 10,

    /// <summary><c>exists</c>: the contact has a value. No values.</summary>
    Exists = 11,

    /// <summary><c>is empty</c>: the contact has no value (or empty text/list, or a value of the wrong type). No values.</summary>
    IsEmpty = 12,
}

/// <summary>
/// Compares a contact attribute (declared in the attribute schema) or a built-in field with values.
/// Values are typed like the attribute; see <see cref="CompareOperator"/> for the number of values each operator takes.
/// </summary>
/// <param name="Field">The attribute name.</param>
/// <param name="Operator">The operator.</param>
/// <param name="Values">The values.</param>
public sealed record AttributeFilter(string Field, CompareOperator Operator, IReadOnlyList<FieldValue> Values) : Filter;

/// <summary>Relative and absolute date operators.</summary>
public enum DateOperator
{
    /// <summary><c>within 7d</c>: an instant is in [now − window, now]; a date is between the local dates of now − window and now (inclusive).</summary>
    Within = 0,

    /// <summary><c>before 30d</c>: an instant is earlier than now − window; a date is before the local date of now − window.</summary>
    Before = 1,

    /// <summary><c>on or after 2026-01-01</c>: the date (for instants, their local date in the evaluator's/index's zone) is on or after the date.</summary>
    OnOrAfter = 2,

    /// <summary><c>on or before 2026-01-01</c>: the date is on or before the date.</summary>
    OnOrBefore = 3,
}

/// <summary>
/// A date attribute (or built-in date field) relative to now or to a date. <see cref="Window"/> is set for
/// <see cref="DateOperator.Within"/>/<see cref="DateOperator.Before"/>, <see cref="Date"/> otherwise.
/// A contact without a value never matches.
/// </summary>
/// <param name="Field">The date attribute.</param>
/// <param name="Operator">The operator.</param>
/// <param name="Window">The relative window.</param>
/// <param name="Date">The absolute date.</param>
public sealed record DateFilter(string Field, DateOperator Operator, Window? Window = null, LocalDate? Date = null) : Filter;

/// <summary>How a tag filter matches its tags.</summary>
public enum TagMatch
{
    /// <summary><c>has_tag(a)</c>, <c>has_any_tag(a, b)</c>: at least one.</summary>
    Any = 0,

    /// <summary><c>has_all_tags(a, b)</c>: all.</summary>
    All = 1,

    /// <summary><c>has_no_tag(a, b)</c>: none.</summary>
    None = 2,
}

/// <summary>The contact's current (unexpired) tags compared with a list of tag names.</summary>
/// <param name="Match">Any, all or none.</param>
/// <param name="Tags">The tag names; at least one.</param>
public sealed record TagFilter(TagMatch Match, IReadOnlyList<string> Tags) : Filter;

/// <summary><c>has_tag_in_group(g)</c>: the contact has any current tag of the group.</summary>
/// <param name="Group">The tag group.</param>
public sealed record TagGroupFilter(string Group) : Filter;

/// <summary>A condition on an event property, e.g. <c>page_kind = "product"</c>. Values are compared as text, or as numbers when both sides parse.</summary>
/// <param name="Property">The property name.</param>
/// <param name="Operator">The operator.</param>
/// <param name="Values">The values as text.</param>
public sealed record PropertyCondition(string Property, CompareOperator Operator, IReadOnlyList<string> Values);

/// <summary>
/// Counts the contact's events of a kind (with property conditions) within a window — or ever up to now (future-dated
/// events do not count yet), when the window is null — and compares the count: <c>count(page_view where page_kind = "product") &gt;= 2 within 7d</c>.
/// "Did within 7d" is <c>&gt;= 1 within 7d</c>; "never did" is <c>= 0</c> with no window.
/// Windows are on the events' occurred-at instants.
/// </summary>
/// <param name="EventKind">The event kind.</param>
/// <param name="Where">Property conditions, all of which must hold for an event to count.</param>
/// <param name="Operator">How the count compares: Equal, NotEqual, LessThan, LessOrEqual, GreaterThan, GreaterOrEqual or Between.</param>
/// <param name="Counts">The count(s) compared with: one, or two for Between.</param>
/// <param name="Window">The window, or null for all time.</param>
public sealed record BehaviourFilter(string EventKind, IReadOnlyList<PropertyCondition> Where, CompareOperator Operator, IReadOnlyList<int> Counts, Window? Window = null) : Filter;

/// <summary>Which score a score filter reads.</summary>
public enum ScoreKind
{
    /// <summary>The behaviour score (decayed).</summary>
    Behaviour = 0,

    /// <summary>The fit (profile) score.</summary>
    Fit = 1,

    /// <summary>Behaviour plus fit.</summary>
    Total = 2,
}

/// <summary>Compares a score: <c>score &gt;= 20</c>, <c>fit_score between 10 and 30</c>. A contact without scores has 0.</summary>
/// <param name="Kind">Which score. In JSON it is the <c>score</c> property, because <c>kind</c> is the node discriminator.</param>
/// <param name="Operator">A numeric comparison (Equal … GreaterOrEqual, Between).</param>
/// <param name="Values">The values: one, or two for Between.</param>
public sealed record ScoreFilter([property: JsonPropertyName("score")] ScoreKind Kind, CompareOperator Operator, IReadOnlyList<decimal> Values) : Filter;

/// <summary><c>grade in (A, B)</c>: the contact's fit grade is one of these.</summary>
/// <param name="Grades">The grades.</param>
public sealed record GradeFilter(IReadOnlyList<string> Grades) : Filter;

/// <summary><c>stage in (mql, sql)</c>: the contact's lifecycle stage is one of these.</summary>
/// <param name="Stages">The stages.</param>
public sealed record StageFilter(IReadOnlyList<LifecycleStage> Stages) : Filter;

/// <summary><c>consent("sms")</c>: the contact has granted (and not withdrawn) consent for the channel.</summary>
/// <param name="Channel">The channel name.</param>
public sealed record ConsentFilter(string Channel) : Filter;

/// <summary><c>in_segment("high-value")</c>: the contact is a member of another segment. Cycles are rejected.</summary>
/// <param name="SegmentId">The segment's id.</param>
public sealed record SegmentFilter(string SegmentId) : Filter;

/// <summary>A named audience definition (F-5): an id, a name and a filter.</summary>
public sealed record SegmentDefinition
{
    /// <summary>A stable id, e.g. <c>high-value</c>.</summary>
    public required string Id { get; init; }

    /// <summary>What people see.</summary>
    public required string Name { get; init; }

    /// <summary>The filter.</summary>
    public required Filter Filter { get; init; }

    /// <summary>What the audience is for.</summary>
    public string? Description { get; init; }
}
