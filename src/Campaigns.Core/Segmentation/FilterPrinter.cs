using System.Globalization;
using System.Text;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Segmentation;

/// <summary>
/// Prints a filter in its canonical text form (F-5.1): lower-case keywords, ASCII operators (<c>!=</c>, <c>&lt;=</c>,
/// <c>&gt;=</c>), minimal parentheses (<c>not</c> binds tighter than <c>and</c>, which binds tighter than <c>or</c>),
/// text values quoted, names bare when they read back the same. Parsing the result with
/// <see cref="FilterParser.Parse(string, FilterContext, string?)"/> gives the same tree, except that an
/// <see cref="AndFilter"/> or <see cref="OrFilter"/> with one operand prints as that operand. Stateless and thread-safe.
/// </summary>
public static class FilterPrinter
{
    /// <summary>Prints the filter.</summary>
    /// <param name="filter">The filter.</param>
    /// <returns>The canonical text form.</returns>
    public static string Print(Filter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var builder = new StringBuilder();
        Write(builder, filter, Precedence.Or);
        return builder.ToString();
    }

    private enum Precedence
    {
        Or = 0,
        And = 1,
        Not = 2,
        Atom = 3,
    }

    private static Filter Unwrap(Filter filter) => filter switch
    {
        AndFilter { Operands.Count: 1 } allOf => Unwrap(allOf.Operands[0]),
        OrFilter { Operands.Count: 1 } anyOf => Unwrap(anyOf.Operands[0]),
        _ => filter,
    };

    private static Precedence PrecedenceOf(Filter filter) => filter switch
    {
        OrFilter { Operands.Count: > 1 } => Precedence.Or,
        AndFilter { Operands.Count: > 1 } => Precedence.And,
        NotFilter => Precedence.Not,
        _ => Precedence.Atom,
    };

    /// <summary>Writes the filter; parenthesized when it binds looser than <paramref name="context"/> needs.</summary>
    private static void Write(StringBuilder builder, Filter filter, Precedence context)
    {
        filter = Unwrap(filter);
        var precedence = PrecedenceOf(filter);
        var parenthesize = precedence < context;
        if (parenthesize)
        {
            builder.Append('(');
        }

        switch (filter)
        {
            case AndFilter { Operands.Count: 0 }:
                builder.Append("true");
                break;
            case OrFilter { Operands.Count: 0 }:
                builder.Append("false");
                break;
            case AndFilter allOf:
                // An operand that is itself an 'and' must keep its parentheses, or it would read back flattened.
                WriteJoined(builder, allOf.Operands, " and ", Precedence.Not);
                break;
            case OrFilter anyOf:
                WriteJoined(builder, anyOf.Operands, " or ", Precedence.And);
                break;
            case NotFilter negation:
                builder.Append("not ");
                Write(builder, negation.Operand, Precedence.Not);
                break;
            default:
                WriteAtom(builder, filter);
                break;
        }

        if (parenthesize)
        {
            builder.Append(')');
        }
    }

    private static void WriteJoined(StringBuilder builder, IReadOnlyList<Filter> operands, string separator, Precedence operandContext)
    {
        for (var i = 0; i < operands.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(separator);
            }

            Write(builder, operands[i], operandContext);
        }
    }

    private static void WriteAtom(StringBuilder builder, Filter filter)
    {
        switch (filter)
        {
            case AttributeFilter attribute:
                builder.Append(attribute.Field);
                WriteComparison(builder, attribute.Operator, attribute.Values, WriteValue);
                break;
            case DateFilter date:
                builder.Append(date.Field).Append(date.Operator switch
                {
                    DateOperator.Within => " within ",
                    DateOperator.Before => " before ",
                    DateOperator.OnOrAfter => " on or after ",
                    _ => " on or before ",
                });
                builder.Append(date.Operator is DateOperator.Within or DateOperator.Before
                    ? date.Window?.ToString()
                    : date.Date is { } day ? FilterText.Format(day) : string.Empty);
                break;
            case TagFilter tags:
                builder.Append(tags.Match switch
                {
                    TagMatch.Any => tags.Tags.Count == 1 ? "has_tag(" : "has_any_tag(",
                    TagMatch.All => "has_all_tags(",
                    _ => "has_no_tag(",
                });
                WriteList(builder, tags.Tags, FilterSyntax.Name);
                builder.Append(')');
                break;
            case TagGroupFilter group:
                builder.Append("has_tag_in_group(").Append(FilterSyntax.Name(group.Group)).Append(')');
                break;
            case BehaviourFilter behaviour:
                WriteBehaviour(builder, behaviour);
                break;
            case ScoreFilter score:
                builder.Append(score.Kind switch
                {
                    ScoreKind.Behaviour => "score",
                    ScoreKind.Fit => "fit_score",
                    _ => "total_score",
                });
                WriteComparison(builder, score.Operator, score.Values, (b, v) => b.Append(FilterText.Format(v)));
                break;
            case GradeFilter grade:
                WriteNameSet(builder, "grade", grade.Grades, FilterSyntax.Name);
                break;
            case StageFilter stage:
                WriteNameSet(builder, "stage", stage.Stages, s => s.ToString().ToLowerInvariant());
                break;
            case ConsentFilter consent:
                builder.Append("consent(").Append(FilterSyntax.Name(consent.Channel)).Append(')');
                break;
            case SegmentFilter segment:
                builder.Append("in_segment(").Append(FilterSyntax.Name(segment.SegmentId)).Append(')');
                break;
            default:
                throw new ArgumentException($"Unsupported filter node {filter.GetType().Name}.", nameof(filter));
        }
    }

    private static void WriteNameSet<T>(StringBuilder builder, string keyword, IReadOnlyList<T> values, Func<T, string> name)
    {
        builder.Append(keyword);
        if (values.Count == 1)
        {
            builder.Append(" = ").Append(name(values[0]));
            return;
        }

        builder.Append(" in (");
        WriteList(builder, values, name);
        builder.Append(')');
    }

    private static void WriteBehaviour(StringBuilder builder, BehaviourFilter behaviour)
    {
        var visited = behaviour.EventKind == EventKinds.PageView
            && behaviour.Where is [{ Property: "page_kind", Operator: CompareOperator.Equal, Values: [var page] }];
        var did = behaviour is { Operator: CompareOperator.GreaterOrEqual, Counts: [1] };
        var never = behaviour is { Operator: CompareOperator.Equal, Counts: [0] };
        if (visited && !never)
        {
            builder.Append("visited(").Append(FilterSyntax.Name(behaviour.Where[0].Values[0])).Append(')');
            if (!did)
            {
                WriteComparison(builder, behaviour.Operator, behaviour.Counts, (b, c) => b.Append(c.ToString(CultureInfo.InvariantCulture)));
            }
        }
        else
        {
            builder.Append(did ? "did(" : never ? "never(" : "count(").Append(FilterSyntax.Name(behaviour.EventKind));
            for (var i = 0; i < behaviour.Where.Count; i++)
            {
                builder.Append(i == 0 ? " where " : " and ");
                var condition = behaviour.Where[i];
                builder.Append(FilterSyntax.Name(condition.Property));
                WriteComparison(builder, condition.Operator, condition.Values, (b, v) => b.Append(FilterSyntax.IsNumberLiteral(v) ? v : FilterSyntax.Name(v)));
            }

            builder.Append(')');
            if (!did && !never)
            {
                WriteComparison(builder, behaviour.Operator, behaviour.Counts, (b, c) => b.Append(c.ToString(CultureInfo.InvariantCulture)));
            }
        }

        if (behaviour.Window is { } window)
        {
            builder.Append(" within ").Append(window.ToString());
        }
    }

    private static void WriteComparison<T>(StringBuilder builder, CompareOperator op, IReadOnlyList<T> values, Action<StringBuilder, T> write)
    {
        switch (op)
        {
            case CompareOperator.Exists:
                builder.Append(" exists");
                return;
            case CompareOperator.IsEmpty:
                builder.Append(" is empty");
                return;
            case CompareOperator.In or CompareOperator.NotIn:
                builder.Append(op == CompareOperator.In ? " in (" : " not in (");
                for (var i = 0; i < values.Count; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    write(builder, values[i]);
                }

                builder.Append(')');
                return;
            case CompareOperator.Between:
                builder.Append(" between ");
                write(builder, values[0]);
                builder.Append(" and ");
                write(builder, values[1]);
                return;
            default:
                builder.Append(' ').Append(FilterValidator.OperatorText(op)).Append(' ');
                write(builder, values[0]);
                return;
        }
    }

    private static void WriteList<T>(StringBuilder builder, IReadOnlyList<T> values, Func<T, string> name)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(name(values[i]));
        }
    }

    private static void WriteValue(StringBuilder builder, FieldValue value)
    {
        switch (value)
        {
            case TextValue text:
                builder.Append(FilterSyntax.Quote(text.Value));
                break;
            case ChoiceValue choice:
                builder.Append(FilterSyntax.Quote(choice.Value));
                break;
            case NumberValue number:
                builder.Append(FilterText.Format(number.Value));
                break;
            case DateValue date:
                builder.Append(FilterText.Format(date.Value));
                break;
            case BooleanValue flag:
                builder.Append(flag.Value ? "true" : "false");
                break;
            default:
                throw new ArgumentException($"A {value.GetType().Name} cannot be written in a filter.", nameof(value));
        }
    }
}
