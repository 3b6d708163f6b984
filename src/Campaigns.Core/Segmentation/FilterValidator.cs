using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Segmentation;

/// <summary>
/// Validates a filter tree against a <see cref="FilterContext"/> (F-5.2): fields exist, values have the field's
/// type, operators apply to the field, arities, windows and dates are present where needed, event kinds, tags and
/// segments are known, and segment references have no cycles. The text parser runs the same checks and reports them
/// with line/column positions; this class reports JSON paths such as <c>$.operands[2].window</c>. Stateless and thread-safe.
/// </summary>
public static class FilterValidator
{
    /// <summary>Every problem of <paramref name="filter"/>, in tree order; empty when it is valid.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="context">What it is validated against.</param>
    /// <param name="segmentId">The id of the segment the filter defines, to reject references to itself and cycles through other segments; null for a free-standing filter.</param>
    public static IReadOnlyList<FilterError> Validate(Filter filter, FilterContext context, string? segmentId = null)
    {
        var errors = new List<FilterError>();
        Validate(filter, context, segmentId, (error, _, _) => errors.Add(error));
        return errors;
    }

    /// <summary>Throws a <see cref="FilterException"/> listing every problem of <paramref name="filter"/>.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="context">What it is validated against.</param>
    /// <param name="segmentId">The id of the segment the filter defines, or null.</param>
    /// <exception cref="FilterException">The filter is not valid.</exception>
    public static void ThrowIfInvalid(Filter filter, FilterContext context, string? segmentId = null)
    {
        var errors = Validate(filter, context, segmentId);
        if (errors.Count > 0)
        {
            throw new FilterException(errors);
        }
    }

    /// <summary>Validates and reports each error with the node and member (e.g. <c>values[1]</c>) at fault.</summary>
    internal static void Validate(Filter filter, FilterContext context, string? segmentId, Action<FilterError, Filter?, string> report)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(context);
        new Walker(context, segmentId, report).Visit(filter, "$");
    }

    internal static string OperatorText(CompareOperator op) => op switch
    {
        CompareOperator.Equal => "=",
        CompareOperator.NotEqual => "!=",
        CompareOperator.LessThan => "<",
        CompareOperator.LessOrEqual => "<=",
        CompareOperator.GreaterThan => ">",
        CompareOperator.GreaterOrEqual => ">=",
        CompareOperator.In => "in",
        CompareOperator.NotIn => "not in",
        CompareOperator.Contains => "contains",
        CompareOperator.StartsWith => "starts with",
        CompareOperator.Between => "between",
        CompareOperator.Exists => "exists",
        CompareOperator.IsEmpty => "is empty",
        _ => op.ToString(),
    };

    internal static string TypeName(AttributeType type) => type switch
    {
        AttributeType.String => "text",
        AttributeType.Enum => "enum",
        AttributeType.Integer => "integer",
        AttributeType.Decimal => "decimal",
        AttributeType.Date => "date",
        AttributeType.Bool => "boolean",
        AttributeType.StringList => "string list",
        _ => type.ToString(),
    };

    internal static string Describe(FieldValue? value) => value switch
    {
        null => "null",
        TextValue t => "text " + FilterSyntax.Quote(t.Value),
        ChoiceValue c => "choice " + FilterSyntax.Quote(c.Value),
        NumberValue n => "number " + FilterText.Format(n.Value),
        DateValue d => "date " + FilterText.Format(d.Value),
        BooleanValue b => b.Value ? "boolean true" : "boolean false",
        ChoicesValue => "a list of choices",
        _ => value.GetType().Name,
    };

    /// <summary>The operators an attribute type accepts.</summary>
    internal static IReadOnlyList<CompareOperator> OperatorsFor(AttributeType type) => type switch
    {
        AttributeType.String => [CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Contains, CompareOperator.StartsWith, CompareOperator.Exists, CompareOperator.IsEmpty],
        AttributeType.Enum => [CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Exists, CompareOperator.IsEmpty],
        AttributeType.Integer or AttributeType.Decimal or AttributeType.Date =>
            [CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.LessOrEqual, CompareOperator.GreaterThan, CompareOperator.GreaterOrEqual, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Between, CompareOperator.Exists, CompareOperator.IsEmpty],
        AttributeType.Bool => [CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.Exists, CompareOperator.IsEmpty],
        AttributeType.StringList => [CompareOperator.Contains, CompareOperator.Exists, CompareOperator.IsEmpty],
        _ => [],
    };

    /// <summary>Operators of counts and scores.</summary>
    internal static bool IsNumericComparison(CompareOperator op) => op is CompareOperator.Equal or CompareOperator.NotEqual
        or CompareOperator.LessThan or CompareOperator.LessOrEqual or CompareOperator.GreaterThan or CompareOperator.GreaterOrEqual or CompareOperator.Between;

    internal static (int Min, int Max) Arity(CompareOperator op) => op switch
    {
        CompareOperator.In or CompareOperator.NotIn => (1, int.MaxValue),
        CompareOperator.Between => (2, 2),
        CompareOperator.Exists or CompareOperator.IsEmpty => (0, 0),
        _ => (1, 1),
    };

    /// <summary>Resolves a field name to its type: a schema attribute, or a built-in field (owner_id as text, created_at as null type).</summary>
    internal static bool TryResolveField(FilterContext context, string name, out AttributeDefinition? definition)
    {
        definition = null;
        if (name == BuiltInFields.CreatedAt)
        {
            return true;
        }

        if (name == BuiltInFields.OwnerId)
        {
            definition = OwnerIdDefinition;
            return true;
        }

        if (FilterSyntax.IsReservedWord(name))
        {
            return false;
        }

        definition = context.Schema.Find(name);
        return definition is not null;
    }

    internal static IEnumerable<string> FieldNames(FilterContext context) =>
        context.Schema.Attributes.Select(a => a.Name).Append(BuiltInFields.CreatedAt).Append(BuiltInFields.OwnerId);

    private static readonly AttributeDefinition OwnerIdDefinition = new() { Name = BuiltInFields.OwnerId, Type = AttributeType.String };

    /// <summary>The ids of the segments a filter references, in tree order.</summary>
    internal static void CollectSegmentReferences(Filter? filter, List<string> into)
    {
        switch (filter)
        {
            case AndFilter all when all.Operands is not null:
                foreach (var operand in all.Operands)
                {
                    CollectSegmentReferences(operand, into);
                }

                break;
            case OrFilter any when any.Operands is not null:
                foreach (var operand in any.Operands)
                {
                    CollectSegmentReferences(operand, into);
                }

                break;
            case NotFilter negation:
                CollectSegmentReferences(negation.Operand, into);
                break;
            case SegmentFilter segment when segment.SegmentId is not null:
                into.Add(segment.SegmentId);
                break;
        }
    }

    private sealed class Walker(FilterContext context, string? segmentId, Action<FilterError, Filter?, string> report)
    {
        public void Visit(Filter? filter, string path)
        {
            switch (filter)
            {
                case null:
                    Report(null, path, string.Empty, FilterErrorCodes.Missing, "missing filter", "null", "a filter");
                    break;
                case AndFilter allOf:
                    VisitOperands(allOf, allOf.Operands, path);
                    break;
                case OrFilter anyOf:
                    VisitOperands(anyOf, anyOf.Operands, path);
                    break;
                case NotFilter negation:
                    Visit(negation.Operand, path + ".operand");
                    break;
                case AttributeFilter attribute:
                    VisitAttribute(attribute, path);
                    break;
                case DateFilter date:
                    VisitDate(date, path);
                    break;
                case TagFilter tags:
                    VisitTags(tags, path);
                    break;
                case TagGroupFilter group:
                    if (string.IsNullOrWhiteSpace(group.Group))
                    {
                        Report(group, path, "group", FilterErrorCodes.Missing, "a tag group is needed", "nothing", "a tag group name");
                    }
                    else if (context.TagGroups is { } groups && !groups.Contains(group.Group, StringComparer.Ordinal))
                    {
                        Report(group, path, "group", FilterErrorCodes.UnknownTag, $"unknown tag group '{group.Group}'" + FilterText.DidYouMean(group.Group, groups), "'" + group.Group + "'", "a known tag group");
                    }

                    break;
                case BehaviourFilter behaviour:
                    VisitBehaviour(behaviour, path);
                    break;
                case ScoreFilter score:
                    VisitScore(score, path);
                    break;
                case GradeFilter grade:
                    VisitNames(grade, grade.Grades, path, "grades", "grade");
                    break;
                case StageFilter stage:
                    VisitStages(stage, path);
                    break;
                case ConsentFilter consent:
                    if (string.IsNullOrWhiteSpace(consent.Channel))
                    {
                        Report(consent, path, "channel", FilterErrorCodes.Missing, "a channel is needed", "nothing", "a channel name such as email or sms");
                    }

                    break;
                case SegmentFilter segment:
                    VisitSegment(segment, path);
                    break;
                default:
                    Report(filter, path, string.Empty, FilterErrorCodes.InvalidJson, $"unsupported filter node {filter.GetType().Name}", filter.GetType().Name, "a filter node");
                    break;
            }
        }

        private void Report(Filter? node, string path, string member, string code, string message, string? found, string? expected) =>
            report(new FilterError { Code = code, Message = message, Path = member.Length == 0 ? path : path + "." + member, Found = found, Expected = expected }, node, member);

        private void VisitOperands(Filter node, IReadOnlyList<Filter>? operands, string path)
        {
            if (operands is null)
            {
                Report(node, path, "operands", FilterErrorCodes.Missing, "operands are needed", "null", "a list of filters");
                return;
            }

            for (var i = 0; i < operands.Count; i++)
            {
                Visit(operands[i], path + ".operands[" + i.ToString(CultureInfo.InvariantCulture) + "]");
            }
        }

        private void VisitAttribute(AttributeFilter filter, string path)
        {
            if (string.IsNullOrWhiteSpace(filter.Field))
            {
                Report(filter, path, "field", FilterErrorCodes.Missing, "a field is needed", "nothing", "an attribute name");
                return;
            }

            if (!TryResolveField(context, filter.Field, out var definition))
            {
                Report(filter, path, "field", FilterErrorCodes.UnknownField, $"unknown field '{filter.Field}'" + FilterText.DidYouMean(filter.Field, FieldNames(context)), "'" + filter.Field + "'", "an attribute of the schema");
                return;
            }

            if (definition is null)
            {
                Report(filter, path, "operator", FilterErrorCodes.InvalidOperator, $"'{filter.Field}' is an instant; compare it with within, before, on or after, on or before", OperatorText(filter.Operator), "a date operator");
                return;
            }

            var allowed = OperatorsFor(definition.Type);
            if (!allowed.Contains(filter.Operator))
            {
                var expected = string.Join(", ", allowed.Select(OperatorText));
                Report(filter, path, "operator", FilterErrorCodes.InvalidOperator, $"'{OperatorText(filter.Operator)}' does not apply to {TypeName(definition.Type)} field '{filter.Field}'; expected one of {expected}", "'" + OperatorText(filter.Operator) + "'", expected);
                return;
            }

            if (filter.Values is null)
            {
                Report(filter, path, "values", FilterErrorCodes.Missing, "values are needed", "null", "a list of values");
                return;
            }

            var (min, max) = Arity(filter.Operator);
            if (filter.Values.Count < min || filter.Values.Count > max)
            {
                Report(filter, path, "values", FilterErrorCodes.Arity, $"'{OperatorText(filter.Operator)}' takes {ArityText(min, max)}; found {filter.Values.Count}", filter.Values.Count.ToString(CultureInfo.InvariantCulture), ArityText(min, max));
                return;
            }

            for (var i = 0; i < filter.Values.Count; i++)
            {
                var value = filter.Values[i];
                var member = "values[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                if (!Fits(definition.Type, value))
                {
                    Report(filter, path, member, FilterErrorCodes.TypeMismatch, $"{TypeName(definition.Type)} field '{filter.Field}' compared with {Describe(value)}", Describe(value), "a " + TypeName(definition.Type) + " value");
                }
                else if (definition.Type == AttributeType.Enum && definition.AllowedValues.Count > 0 && !definition.AllowedValues.Contains(TextOf(value), StringComparer.Ordinal))
                {
                    Report(filter, path, member, FilterErrorCodes.BadValue, $"'{TextOf(value)}' is not a value of '{filter.Field}'" + (FilterText.Suggest(TextOf(value), definition.AllowedValues) is { } close ? $"; did you mean '{close}'?" : "; expected one of " + string.Join(", ", definition.AllowedValues)), "'" + TextOf(value) + "'", "one of " + string.Join(", ", definition.AllowedValues));
                }
            }

            if (filter.Operator == CompareOperator.Between && filter.Values.Count == 2 && Compare(filter.Values[0], filter.Values[1]) > 0)
            {
                Report(filter, path, "values", FilterErrorCodes.BadValue, $"between {Show(filter.Values[0])} and {Show(filter.Values[1])} is empty: the lower bound is above the upper", Show(filter.Values[0]), "a lower bound at most the upper bound");
            }
        }

        private void VisitDate(DateFilter filter, string path)
        {
            if (string.IsNullOrWhiteSpace(filter.Field))
            {
                Report(filter, path, "field", FilterErrorCodes.Missing, "a field is needed", "nothing", "a date attribute");
                return;
            }

            var relative = filter.Operator is DateOperator.Within or DateOperator.Before;
            var word = DateOperatorText(filter.Operator);
            if (!TryResolveField(context, filter.Field, out var definition))
            {
                Report(filter, path, "field", FilterErrorCodes.UnknownField, $"unknown field '{filter.Field}'" + FilterText.DidYouMean(filter.Field, FieldNames(context)), "'" + filter.Field + "'", "a date attribute of the schema");
            }
            else if (definition is not null && definition.Type != AttributeType.Date)
            {
                Report(filter, path, "field", FilterErrorCodes.TypeMismatch, $"'{word}' needs a date field; '{filter.Field}' is {TypeName(definition.Type)}", "'" + filter.Field + "'", "a date field");
            }

            if (!Enum.IsDefined(filter.Operator))
            {
                Report(filter, path, "operator", FilterErrorCodes.InvalidOperator, $"unknown date operator {filter.Operator}", filter.Operator.ToString(), "within, before, onOrAfter or onOrBefore");
            }
            else if (relative)
            {
                if (filter.Window is null)
                {
                    Report(filter, path, "window", FilterErrorCodes.BadWindow, $"'{word}' needs a window", "nothing", "a window such as 7d, 12h, 30m");
                }

                if (filter.Date is not null)
                {
                    Report(filter, path, "date", FilterErrorCodes.BadDate, $"'{word}' takes a window, not a date", FilterText.Format(filter.Date.Value), "no date");
                }
            }
            else
            {
                if (filter.Date is null)
                {
                    Report(filter, path, "date", FilterErrorCodes.BadDate, $"'{word}' needs a date", "nothing", "an ISO date such as 2026-01-31");
                }

                if (filter.Window is not null)
                {
                    Report(filter, path, "window", FilterErrorCodes.BadWindow, $"'{word}' takes a date, not a window", filter.Window.Value.ToString(), "no window");
                }
            }
        }

        private void VisitTags(TagFilter filter, string path)
        {
            if (!Enum.IsDefined(filter.Match))
            {
                Report(filter, path, "match", FilterErrorCodes.InvalidOperator, $"unknown tag match {filter.Match}", filter.Match.ToString(), "any, all or none");
            }

            if (filter.Tags is null || filter.Tags.Count == 0)
            {
                Report(filter, path, "tags", FilterErrorCodes.Arity, "at least one tag is needed", "no tags", "one or more tags");
                return;
            }

            for (var i = 0; i < filter.Tags.Count; i++)
            {
                var tag = filter.Tags[i];
                var member = "tags[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                if (string.IsNullOrWhiteSpace(tag))
                {
                    Report(filter, path, member, FilterErrorCodes.Missing, "a tag name cannot be blank", "a blank tag", "a tag name");
                }
                else if (context.Tags is { } known && !known.Contains(tag, StringComparer.Ordinal))
                {
                    Report(filter, path, member, FilterErrorCodes.UnknownTag, $"unknown tag '{tag}'" + FilterText.DidYouMean(tag, known), "'" + tag + "'", "a known tag");
                }
            }
        }

        private void VisitBehaviour(BehaviourFilter filter, string path)
        {
            if (string.IsNullOrWhiteSpace(filter.EventKind))
            {
                Report(filter, path, "eventKind", FilterErrorCodes.Missing, "an event kind is needed", "nothing", "an event kind such as page_view");
            }
            else if (!context.EventKinds.Contains(filter.EventKind, StringComparer.Ordinal))
            {
                Report(filter, path, "eventKind", FilterErrorCodes.UnknownEventKind, $"unknown event kind '{filter.EventKind}'" + FilterText.DidYouMean(filter.EventKind, context.EventKinds), "'" + filter.EventKind + "'", "one of " + string.Join(", ", context.EventKinds));
            }

            if (filter.Where is null)
            {
                Report(filter, path, "where", FilterErrorCodes.Missing, "the property conditions are needed (an empty list for none)", "null", "a list");
            }
            else
            {
                for (var i = 0; i < filter.Where.Count; i++)
                {
                    VisitCondition(filter, filter.Where[i], path, "where[" + i.ToString(CultureInfo.InvariantCulture) + "]");
                }
            }

            if (!IsNumericComparison(filter.Operator))
            {
                Report(filter, path, "operator", FilterErrorCodes.InvalidOperator, $"'{OperatorText(filter.Operator)}' does not apply to a count; expected =, !=, <, <=, >, >= or between", "'" + OperatorText(filter.Operator) + "'", "=, !=, <, <=, >, >= or between");
                return;
            }

            if (filter.Counts is null)
            {
                Report(filter, path, "counts", FilterErrorCodes.Missing, "the counts are needed", "null", "a list of counts");
                return;
            }

            var (min, max) = Arity(filter.Operator);
            if (filter.Counts.Count < min || filter.Counts.Count > max)
            {
                Report(filter, path, "counts", FilterErrorCodes.Arity, $"'{OperatorText(filter.Operator)}' takes {ArityText(min, max)}; found {filter.Counts.Count}", filter.Counts.Count.ToString(CultureInfo.InvariantCulture), ArityText(min, max));
                return;
            }

            for (var i = 0; i < filter.Counts.Count; i++)
            {
                if (filter.Counts[i] < 0)
                {
                    Report(filter, path, "counts[" + i.ToString(CultureInfo.InvariantCulture) + "]", FilterErrorCodes.BadValue, $"a count cannot be negative; found {filter.Counts[i]}", filter.Counts[i].ToString(CultureInfo.InvariantCulture), "a count of 0 or more");
                }
            }

            if (filter.Operator == CompareOperator.Between && filter.Counts[0] > filter.Counts[1])
            {
                Report(filter, path, "counts", FilterErrorCodes.BadValue, $"between {filter.Counts[0]} and {filter.Counts[1]} is empty: the lower bound is above the upper", filter.Counts[0].ToString(CultureInfo.InvariantCulture), "a lower bound at most the upper bound");
            }
        }

        private void VisitCondition(BehaviourFilter filter, PropertyCondition? condition, string path, string member)
        {
            if (condition is null)
            {
                Report(filter, path, member, FilterErrorCodes.Missing, "missing property condition", "null", "a property condition");
                return;
            }

            if (string.IsNullOrWhiteSpace(condition.Property))
            {
                Report(filter, path, member + ".property", FilterErrorCodes.Missing, "a property name is needed", "nothing", "a property name such as page_kind");
            }

            if (!Enum.IsDefined(condition.Operator))
            {
                Report(filter, path, member + ".operator", FilterErrorCodes.InvalidOperator, $"unknown operator {condition.Operator}", condition.Operator.ToString(), "a comparison operator");
                return;
            }

            if (condition.Values is null)
            {
                Report(filter, path, member + ".values", FilterErrorCodes.Missing, "values are needed", "null", "a list of values");
                return;
            }

            var (min, max) = Arity(condition.Operator);
            if (condition.Values.Count < min || condition.Values.Count > max)
            {
                Report(filter, path, member + ".values", FilterErrorCodes.Arity, $"'{OperatorText(condition.Operator)}' takes {ArityText(min, max)}; found {condition.Values.Count}", condition.Values.Count.ToString(CultureInfo.InvariantCulture), ArityText(min, max));
                return;
            }

            for (var i = 0; i < condition.Values.Count; i++)
            {
                if (condition.Values[i] is null)
                {
                    Report(filter, path, member + ".values[" + i.ToString(CultureInfo.InvariantCulture) + "]", FilterErrorCodes.Missing, "a value cannot be null", "null", "a value");
                }
            }
        }

        private void VisitScore(ScoreFilter filter, string path)
        {
            if (!Enum.IsDefined(filter.Kind))
            {
                Report(filter, path, "kind", FilterErrorCodes.InvalidOperator, $"unknown score kind {filter.Kind}", filter.Kind.ToString(), "behaviour, fit or total");
            }

            if (!IsNumericComparison(filter.Operator))
            {
                Report(filter, path, "operator", FilterErrorCodes.InvalidOperator, $"'{OperatorText(filter.Operator)}' does not apply to a score; expected =, !=, <, <=, >, >= or between", "'" + OperatorText(filter.Operator) + "'", "=, !=, <, <=, >, >= or between");
                return;
            }

            if (filter.Values is null)
            {
                Report(filter, path, "values", FilterErrorCodes.Missing, "values are needed", "null", "a list of numbers");
                return;
            }

            var (min, max) = Arity(filter.Operator);
            if (filter.Values.Count < min || filter.Values.Count > max)
            {
                Report(filter, path, "values", FilterErrorCodes.Arity, $"'{OperatorText(filter.Operator)}' takes {ArityText(min, max)}; found {filter.Values.Count}", filter.Values.Count.ToString(CultureInfo.InvariantCulture), ArityText(min, max));
            }
            else if (filter.Operator == CompareOperator.Between && filter.Values[0] > filter.Values[1])
            {
                Report(filter, path, "values", FilterErrorCodes.BadValue, $"between {FilterText.Format(filter.Values[0])} and {FilterText.Format(filter.Values[1])} is empty: the lower bound is above the upper", FilterText.Format(filter.Values[0]), "a lower bound at most the upper bound");
            }
        }

        private void VisitNames(Filter filter, IReadOnlyList<string>? names, string path, string member, string what)
        {
            if (names is null || names.Count == 0)
            {
                Report(filter, path, member, FilterErrorCodes.Arity, $"at least one {what} is needed", "none", "one or more " + what + "s");
                return;
            }

            for (var i = 0; i < names.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(names[i]))
                {
                    Report(filter, path, member + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", FilterErrorCodes.Missing, $"a {what} cannot be blank", "a blank " + what, "a " + what);
                }
            }
        }

        private void VisitStages(StageFilter filter, string path)
        {
            if (filter.Stages is null || filter.Stages.Count == 0)
            {
                Report(filter, path, "stages", FilterErrorCodes.Arity, "at least one stage is needed", "none", "one or more stages");
                return;
            }

            for (var i = 0; i < filter.Stages.Count; i++)
            {
                if (!Enum.IsDefined(filter.Stages[i]))
                {
                    Report(filter, path, "stages[" + i.ToString(CultureInfo.InvariantCulture) + "]", FilterErrorCodes.UnknownStage, $"unknown stage {filter.Stages[i]}", filter.Stages[i].ToString(), "new, mql, sql, opportunity, customer or churned");
                }
            }
        }

        private void VisitSegment(SegmentFilter filter, string path)
        {
            if (string.IsNullOrWhiteSpace(filter.SegmentId))
            {
                Report(filter, path, "segmentId", FilterErrorCodes.Missing, "a segment id is needed", "nothing", "a segment id");
                return;
            }

            if (filter.SegmentId == segmentId)
            {
                Report(filter, path, "segmentId", FilterErrorCodes.SegmentCycle, $"segment '{segmentId}' cannot reference itself", "'" + filter.SegmentId + "'", "another segment");
                return;
            }

            if (context.Segments?.Find(filter.SegmentId) is not { } definition)
            {
                Report(filter, path, "segmentId", FilterErrorCodes.UnknownSegment, $"unknown segment '{filter.SegmentId}'; expected the id of a defined segment", "'" + filter.SegmentId + "'", "the id of a defined segment");
                return;
            }

            if (segmentId is not null && FindCycle(definition, segmentId) is { } chain)
            {
                Report(filter, path, "segmentId", FilterErrorCodes.SegmentCycle, $"segment reference cycle: {segmentId} -> {string.Join(" -> ", chain)}", "'" + filter.SegmentId + "'", "a segment that does not reference '" + segmentId + "'");
            }
        }

        /// <summary>A path from <paramref name="start"/> back to <paramref name="target"/> through segment references, or null.</summary>
        private List<string>? FindCycle(SegmentDefinition start, string target)
        {
            var visited = new HashSet<string>(StringComparer.Ordinal);
            var chain = new List<string>();
            return Search(start) ? chain : null;

            bool Search(SegmentDefinition definition)
            {
                chain.Add(definition.Id);
                if (!visited.Add(definition.Id))
                {
                    chain.RemoveAt(chain.Count - 1);
                    return false;
                }

                var references = new List<string>();
                CollectSegmentReferences(definition.Filter, references);
                foreach (var reference in references)
                {
                    if (reference == target)
                    {
                        chain.Add(target);
                        return true;
                    }

                    if (context.Segments?.Find(reference) is { } next && Search(next))
                    {
                        return true;
                    }
                }

                chain.RemoveAt(chain.Count - 1);
                return false;
            }
        }

        private static string ArityText(int min, int max) => (min, max) switch
        {
            (0, 0) => "no values",
            (1, 1) => "one value",
            (2, 2) => "two values",
            _ => "one or more values",
        };

        private static string DateOperatorText(DateOperator op) => op switch
        {
            DateOperator.Within => "within",
            DateOperator.Before => "before",
            DateOperator.OnOrAfter => "on or after",
            DateOperator.OnOrBefore => "on or before",
            _ => op.ToString(),
        };

        private static bool Fits(AttributeType type, FieldValue? value) => type switch
        {
            AttributeType.String or AttributeType.Enum or AttributeType.StringList => value is TextValue or ChoiceValue,
            AttributeType.Integer or AttributeType.Decimal => value is NumberValue,
            AttributeType.Date => value is DateValue,
            AttributeType.Bool => value is BooleanValue,
            _ => false,
        };

        private static string TextOf(FieldValue value) => value switch
        {
            TextValue t => t.Value,
            ChoiceValue c => c.Value,
            _ => string.Empty,
        };

        private static string Show(FieldValue value) => value switch
        {
            NumberValue n => FilterText.Format(n.Value),
            DateValue d => FilterText.Format(d.Value),
            _ => Describe(value),
        };

        private static int Compare(FieldValue a, FieldValue b) => (a, b) switch
        {
            (NumberValue x, NumberValue y) => x.Value.CompareTo(y.Value),
            (DateValue x, DateValue y) => x.Value.CompareTo(y.Value),
            _ => 0,
        };
    }
}
