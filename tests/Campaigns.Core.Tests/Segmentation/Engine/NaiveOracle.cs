using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The straightforward LINQ-over-objects evaluator the engine is checked against (to be replaced by the
/// single-contact FilterEvaluator at merge time). Semantics follow the XML docs of <see cref="Filter"/>.
/// </summary>
internal sealed class NaiveOracle(AttributeSchema schema, IReadOnlyDictionary<ContactId, List<BehaviourEvent>> events, IReadOnlyDictionary<string, SegmentDefinition>? segments = null)
{
    public IEnumerable<ContactId> Evaluate(IEnumerable<Contact> contacts, Filter filter, Instant now) =>
        contacts.Where(c => Matches(c, filter, now)).Select(c => c.Id);

    public bool Matches(Contact c, Filter f, Instant now) => f switch
    {
        AndFilter a => a.Operands.All(o => Matches(c, o, now)),
        OrFilter o => o.Operands.Any(x => Matches(c, x, now)),
        NotFilter n => !Matches(c, n.Operand, now),
        AttributeFilter a => Attribute(c, a),
        DateFilter d => Date(c, d, now),
        TagFilter t => t.Match switch
        {
            TagMatch.Any => t.Tags.Any(x => HasTag(c, x, now)),
            TagMatch.All => t.Tags.All(x => HasTag(c, x, now)),
            _ => !t.Tags.Any(x => HasTag(c, x, now)),
        },
        TagGroupFilter g => c.Tags.Any(t => t.Group == g.Group && Current(t, now)),
        BehaviourFilter b => CountOk(b, events.TryGetValue(c.Id, out var list)
            ? list.Count(e => e.Kind == b.EventKind && (b.Window is not { } w || (e.OccurredAt >= now - w.Duration && e.OccurredAt <= now)) && b.Where.All(p => Property(e, p)))
            : 0),
        ScoreFilter s => Number(s.Kind switch
        {
            ScoreKind.Behaviour => c.Scores?.Behaviour ?? 0,
            ScoreKind.Fit => c.Scores?.Fit ?? 0,
            _ => c.Scores?.Total ?? 0,
        }, s.Operator, s.Values),
        GradeFilter g => c.Scores?.Grade is { } grade && g.Grades.Contains(grade),
        StageFilter s => s.Stages.Contains(c.Stage),
        ConsentFilter k => c.Consents.TryGetValue(k.Channel, out var r) && r.Granted,
        SegmentFilter s => Matches(c, segments![s.SegmentId].Filter, now),
        _ => throw new NotSupportedException(f.GetType().Name),
    };

    private static bool Current(ContactTag t, Instant now) => t.ExpiresAt is not { } x || now < x;

    private static bool HasTag(Contact c, string tag, Instant now) => c.Tags.Any(t => t.Tag == tag && Current(t, now));

    private FieldValue? Value(Contact c, string field) =>
        c.Attributes.TryGetValue(field, out var v) ? v : schema.Find(field)!.Default;

    private bool Attribute(Contact c, AttributeFilter a)
    {
        var def = schema.Find(a.Field)!;
        var v = Value(c, a.Field);
        switch (def.Type)
        {
            case AttributeType.String or AttributeType.Enum or AttributeType.Bool:
                var s = (def.Type, v) switch
                {
                    (AttributeType.Bool, BooleanValue b) => b.Value ? "true" : "false",
                    (not AttributeType.Bool, TextValue t) => t.Value,
                    (not AttributeType.Bool, ChoiceValue ch) => ch.Value,
                    _ => null,
                };
                var values = a.Values.Select(x => x switch { TextValue t => t.Value, ChoiceValue ch => ch.Value, BooleanValue b => b.Value ? "true" : "false", _ => throw new InvalidOperationException() }).ToList();
                return a.Operator switch
                {
                    CompareOperator.Equal or CompareOperator.In => s is not null && values.Contains(s),
                    CompareOperator.NotEqual or CompareOperator.NotIn => !(s is not null && values.Contains(s)),
                    CompareOperator.LessThan => s is not null && string.CompareOrdinal(s, values[0]) < 0,
                    CompareOperator.LessOrEqual => s is not null && string.CompareOrdinal(s, values[0]) <= 0,
                    CompareOperator.GreaterThan => s is not null && string.CompareOrdinal(s, values[0]) > 0,
                    CompareOperator.GreaterOrEqual => s is not null && string.CompareOrdinal(s, values[0]) >= 0,
                    CompareOperator.Between => s is not null && string.CompareOrdinal(s, values[0]) >= 0 && string.CompareOrdinal(s, values[1]) <= 0,
                    CompareOperator.Contains => s is not null && s.Contains(values[0], StringComparison.Ordinal),
                    CompareOperator.StartsWith => s is not null && s.StartsWith(values[0], StringComparison.Ordinal),
                    CompareOperator.Exists => !string.IsNullOrEmpty(s),
                    _ => string.IsNullOrEmpty(s),
                };
            case AttributeType.Integer or AttributeType.Decimal:
                var n = v is NumberValue nv ? nv.Value : (decimal?)null;
                return a.Operator switch
                {
                    CompareOperator.Exists => n is not null,
                    CompareOperator.IsEmpty => n is null,
                    CompareOperator.NotEqual or CompareOperator.NotIn => !(n is { } x && a.Values.Any(y => ((NumberValue)y).Value == x)),
                    _ => n is { } x && Number(x, a.Operator, [.. a.Values.Select(y => ((NumberValue)y).Value)]),
                };
            case AttributeType.Date:
                var d = v is DateValue dv ? dv.Value : (LocalDate?)null;
                var dates = a.Values.Select(y => ((DateValue)y).Value).ToList();
                return a.Operator switch
                {
                    CompareOperator.Exists => d is not null,
                    CompareOperator.IsEmpty => d is null,
                    CompareOperator.NotEqual or CompareOperator.NotIn => !(d is { } x && dates.Contains(x)),
                    CompareOperator.Equal or CompareOperator.In => d is { } x && dates.Contains(x),
                    CompareOperator.LessThan => d < dates[0],
                    CompareOperator.LessOrEqual => d <= dates[0],
                    CompareOperator.GreaterThan => d > dates[0],
                    CompareOperator.GreaterOrEqual => d >= dates[0],
                    _ => d >= dates[0] && d <= dates[1],
                };
            default:
                var list = v is ChoicesValue cv ? cv.Values : null;
                var elements = a.Values.Select(y => y is TextValue t ? t.Value : ((ChoiceValue)y).Value).ToList();
                var any = list is not null && list.Any(elements.Contains);
                return a.Operator switch
                {
                    CompareOperator.Exists => list is { Count: > 0 },
                    CompareOperator.IsEmpty => list is not { Count: > 0 },
                    CompareOperator.NotEqual or CompareOperator.NotIn => !any,
                    _ => any,
                };
        }
    }

    private static bool Number(decimal x, CompareOperator op, IReadOnlyList<decimal> v) => op switch
    {
        CompareOperator.Equal or CompareOperator.In => v.Contains(x),
        CompareOperator.NotEqual or CompareOperator.NotIn => !v.Contains(x),
        CompareOperator.LessThan => x < v[0],
        CompareOperator.LessOrEqual => x <= v[0],
        CompareOperator.GreaterThan => x > v[0],
        CompareOperator.GreaterOrEqual => x >= v[0],
        CompareOperator.Between => x >= v[0] && x <= v[1],
        _ => throw new NotSupportedException(op.ToString()),
    };

    private bool Date(Contact c, DateFilter f, Instant now)
    {
        if (Value(c, f.Field) is not DateValue { Value: var d })
        {
            return false;
        }

        var midnight = d.AtMidnight().InUtc().ToInstant();
        return f.Operator switch
        {
            DateOperator.Within => midnight >= now - f.Window!.Value.Duration && midnight <= now,
            DateOperator.Before => midnight < now - f.Window!.Value.Duration,
            DateOperator.OnOrAfter => d >= f.Date!.Value,
            _ => d <= f.Date!.Value,
        };
    }

    private static bool CountOk(BehaviourFilter b, int n) => b.Operator switch
    {
        CompareOperator.Equal => n == b.Counts[0],
        CompareOperator.NotEqual => n != b.Counts[0],
        CompareOperator.LessThan => n < b.Counts[0],
        CompareOperator.LessOrEqual => n <= b.Counts[0],
        CompareOperator.GreaterThan => n > b.Counts[0],
        CompareOperator.GreaterOrEqual => n >= b.Counts[0],
        _ => n >= b.Counts[0] && n <= b.Counts[1],
    };

    private static bool Property(BehaviourEvent e, PropertyCondition p)
    {
        var has = e.Properties.TryGetValue(p.Property, out var v);
        int Cmp(string a, string b) =>
            decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y)
                ? x.CompareTo(y)
                : string.CompareOrdinal(a, b);
        return p.Operator switch
        {
            CompareOperator.Exists => !string.IsNullOrEmpty(v),
            CompareOperator.IsEmpty => string.IsNullOrEmpty(v),
            CompareOperator.NotEqual or CompareOperator.NotIn => !has || !p.Values.Any(x => Cmp(v!, x) == 0),
            _ when !has => false,
            CompareOperator.Equal or CompareOperator.In => p.Values.Any(x => Cmp(v!, x) == 0),
            CompareOperator.LessThan => Cmp(v!, p.Values[0]) < 0,
            CompareOperator.LessOrEqual => Cmp(v!, p.Values[0]) <= 0,
            CompareOperator.GreaterThan => Cmp(v!, p.Values[0]) > 0,
            CompareOperator.GreaterOrEqual => Cmp(v!, p.Values[0]) >= 0,
            CompareOperator.Between => Cmp(v!, p.Values[0]) >= 0 && Cmp(v!, p.Values[1]) <= 0,
            CompareOperator.Contains => v!.Contains(p.Values[0], StringComparison.Ordinal),
            _ => v!.StartsWith(p.Values[0], StringComparison.Ordinal),
        };
    }
}
