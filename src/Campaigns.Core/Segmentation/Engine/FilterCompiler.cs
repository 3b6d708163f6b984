using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Segmentation.Engine;

/// <summary>Compiles a <see cref="Filter"/> into a <see cref="PlanNode"/> tree over one index at one instant.</summary>
internal sealed class FilterCompiler(SegmentIndex index, Instant now, IReadOnlyDictionary<string, SegmentDefinition>? segments)
{
    private readonly long _nowTicks = now.ToUnixTimeTicks();
    private readonly double _population = Math.Max(1, index.LiveCount);
    private readonly Stack<string> _visiting = new();

    public PlanNode Compile(Filter filter) => filter switch
    {
        AndFilter a => a.Operands.Count == 0 ? new ConstNode(true) { Selectivity = 1 } : new AndNode(a.Operands.Select(Compile)),
        OrFilter o => o.Operands.Count == 0 ? new ConstNode(false) { Selectivity = 0 } : new OrNode(o.Operands.Select(Compile)),
        NotFilter n => new NotNode(Compile(n.Operand)),
        AttributeFilter a => Attribute(a),
        DateFilter d => Date(d),
        TagFilter t => Tags(t),
        TagGroupFilter g => Keys(index.Groups, [g.Group]),
        BehaviourFilter b => Behaviour(b),
        ScoreFilter s => Numbers(index.Score(s.Kind), s.Operator, s.Values, "score"),
        GradeFilter g => Union(index.Grade, index.Grade.CodesWhere(v => g.Grades.Contains(v, StringComparer.Ordinal))),
        StageFilter s => Union(index.Stage, index.Stage.CodesWhere(v => s.Stages.Any(x => string.Equals(x.ToString(), v, StringComparison.Ordinal)))),
        ConsentFilter c => Keys(index.Consents, [c.Channel]),
        SegmentFilter s => Segment(s),
        _ => throw new ArgumentException($"The filter kind {filter.GetType().Name} is not supported.", nameof(filter)),
    };

    private PlanNode Segment(SegmentFilter s)
    {
        if (segments is null || !segments.TryGetValue(s.SegmentId, out var definition))
        {
            throw new ArgumentException($"Unknown segment '{s.SegmentId}'.", nameof(s));
        }

        if (_visiting.Contains(s.SegmentId))
        {
            throw new ArgumentException($"Segment references form a cycle: {string.Join(" → ", _visiting.Reverse())} → {s.SegmentId}.", nameof(s));
        }

        _visiting.Push(s.SegmentId);
        var node = Compile(definition.Filter);
        _visiting.Pop();
        return node;
    }

    private PlanNode Attribute(AttributeFilter a)
    {
        if (a.Field == BuiltInFields.OwnerId)
        {
            Allowed(a, AttributeType.String);
            return Text(index.OwnerIds, false, a);
        }

        var column = index.Column(a.Field) ?? throw new ArgumentException($"Unknown field '{a.Field}'.", nameof(a));
        Allowed(a, column.Definition.Type);
        switch (column.Kind)
        {
            case ColumnKind.Text:
            case ColumnKind.Boolean:
                return Text(column.Categorical!, column.Kind == ColumnKind.Boolean, a);
            case ColumnKind.Number:
                return Numbers(column.Numbers!, a.Operator, [.. a.Values.Select(v => v is NumberValue n ? n.Value : throw Mismatch(a, "a number"))], a.Field);
            case ColumnKind.Date:
                return DateCompare(column, a);
            default:
                return List(column, a);
        }
    }

    private PlanNode Text(CategoricalColumn col, bool isBool, AttributeFilter a)
    {
        var values = a.Values.Select(v => (isBool, v) switch
        {
            (false, TextValue t) => t.Value,
            (false, ChoiceValue c) => c.Value,
            (true, BooleanValue b) => AttributeColumn.BoolText(b.Value),
            _ => throw Mismatch(a, isBool ? "a boolean" : "text"),
        }).ToArray();
        Need(a.Field, a.Operator, values.Length);
        return a.Operator switch
        {
            CompareOperator.Equal or CompareOperator.In => Union(col, col.CodesWhere(v => values.Contains(v, StringComparer.Ordinal))),
            CompareOperator.NotEqual or CompareOperator.NotIn => new NotNode(Union(col, col.CodesWhere(v => values.Contains(v, StringComparer.Ordinal)))),
            CompareOperator.Contains => Union(col, col.CodesWhere(v => v.Contains(values[0], StringComparison.Ordinal))),
            CompareOperator.StartsWith => Union(col, col.CodesWhere(v => v.StartsWith(values[0], StringComparison.Ordinal))),
            CompareOperator.Exists => Bitmap(col.NonEmpty),
            CompareOperator.IsEmpty => new NotNode(Bitmap(col.NonEmpty)),
            _ => throw Unsupported(a),
        };
    }

    private PlanNode Numbers(NumberColumn column, CompareOperator op, IReadOnlyList<decimal> values, string field)
    {
        Need(field, op, values.Count);
        PlanNode Range(decimal? lo, bool loIn, decimal? hi, bool hiIn) =>
            new NumberRangeNode(column, lo, loIn, hi, hiIn) { Cost = 1, Selectivity = column.Estimate(lo, loIn, hi, hiIn, (int)_population) };
        PlanNode AnyOf() => values.Count == 1 ? Range(values[0], true, values[0], true) : new OrNode(values.Select(v => Range(v, true, v, true)));
        return op switch
        {
            CompareOperator.Equal or CompareOperator.In => AnyOf(),
            CompareOperator.NotEqual or CompareOperator.NotIn => new NotNode(AnyOf()),
            CompareOperator.LessThan => Range(null, true, values[0], false),
            CompareOperator.LessOrEqual => Range(null, true, values[0], true),
            CompareOperator.GreaterThan => Range(values[0], false, null, true),
            CompareOperator.GreaterOrEqual => Range(values[0], true, null, true),
            CompareOperator.Between => Range(values[0], true, values[1], true),
            CompareOperator.Exists => new NumberExistsNode(column) { Cost = 1, Selectivity = column.Count / _population },
            CompareOperator.IsEmpty => new NotNode(new NumberExistsNode(column) { Cost = 1, Selectivity = column.Count / _population }),
            _ => throw new ArgumentException($"'{field}' is a number; {op} does not apply to numbers.", nameof(op)),
        };
    }

    private PlanNode DateCompare(AttributeColumn column, AttributeFilter a)
    {
        var days = a.Values.Select(v => v is DateValue d ? AttributeColumn.DayNumber(d.Value) : throw Mismatch(a, "a date")).ToArray();
        Need(a.Field, a.Operator, days.Length);
        var col = column.Dates!;
        PlanNode Days(BitSlicedColumn c, long lo, long hi) => DateDays(column, lo, hi);
        PlanNode AnyOf() => days.Length == 1 ? Days(col, days[0], days[0]) : new OrNode(days.Select(d => Days(col, d, d)));
        return a.Operator switch
        {
            CompareOperator.Equal or CompareOperator.In => AnyOf(),
            CompareOperator.NotEqual or CompareOperator.NotIn => new NotNode(AnyOf()),
            CompareOperator.LessThan => Days(col, long.MinValue, days[0] - 1),
            CompareOperator.LessOrEqual => Days(col, long.MinValue, days[0]),
            CompareOperator.GreaterThan => Days(col, days[0] + 1, long.MaxValue),
            CompareOperator.GreaterOrEqual => Days(col, days[0], long.MaxValue),
            CompareOperator.Between => Days(col, days[0], days[1]),
            CompareOperator.Exists => new IntExistsNode(col) { Cost = 1, Selectivity = col.Count / _population },
            CompareOperator.IsEmpty => new NotNode(new IntExistsNode(col) { Cost = 1, Selectivity = col.Count / _population }),
            _ => throw Unsupported(a),
        };
    }

    private PlanNode Date(DateFilter d)
    {
        var zone = index.Zone;
        if (d.Field == BuiltInFields.CreatedAt)
        {
            // An instant: within ⇔ now − w ≤ t ≤ now; before ⇔ t < now − w; absolute dates compare its calendar date in the zone.
            var created = index.CreatedAt;
            switch (d.Operator)
            {
                case DateOperator.Within or DateOperator.Before:
                    var w = WindowOf(d).Duration.BclCompatibleTicks;
                    var edges = (_nowTicks, w);
                    return d.Operator == DateOperator.Within
                        ? Days(created, _nowTicks - w, _nowTicks, edges)
                        : Days(created, long.MinValue, _nowTicks - w - 1, edges);
                case DateOperator.OnOrAfter:
                    return Days(created, StartOfDay(DateOf(d), zone), long.MaxValue);
                default:
                    return Days(created, long.MinValue, StartOfDay(DateOf(d).PlusDays(1), zone) - 1);
            }
        }

        var column = index.Column(d.Field) ?? throw new ArgumentException($"Unknown field '{d.Field}'.", nameof(d));
        if (column.Kind != ColumnKind.Date)
        {
            throw new ArgumentException($"'{d.Field}' is not a date attribute.", nameof(d));
        }

        var col = column.Dates!;
        switch (d.Operator)
        {
            case DateOperator.Within or DateOperator.Before:
                // A date is a calendar day; "today" is the date of now in the index's zone. within ⇔ date(now − w) ≤ day ≤
                // date(now); before ⇔ day < date(now − w).
                var window = WindowOf(d);
                var from = AttributeColumn.DayNumber((now - window.Duration).InZone(zone).Date);
                var (lo, hi) = d.Operator == DateOperator.Within ? (from, AttributeColumn.DayNumber(now.InZone(zone).Date)) : (long.MinValue, from - 1);
                var dayBitmaps = column.DayBitmapsIfCheap(lo, hi, (int)_population);
                return new DayWindowNode(col, lo, hi, zone, window.Duration.BclCompatibleTicks, _nowTicks, dayBitmaps)
                {
                    Cost = dayBitmaps is null ? 1 : 0,
                    Selectivity = dayBitmaps is null ? col.Estimate(lo, hi, (int)_population) : dayBitmaps.Sum(b => b.Cardinality) / _population,
                };
            case DateOperator.OnOrAfter:
                return DateDays(column, AttributeColumn.DayNumber(DateOf(d)), long.MaxValue);
            default:
                return DateDays(column, long.MinValue, AttributeColumn.DayNumber(DateOf(d)));
        }
    }

    private static Window WindowOf(DateFilter d) => d.Window ?? throw new ArgumentException($"'{d.Field} {d.Operator}' needs a window.", nameof(d));

    private static LocalDate DateOf(DateFilter d) => d.Date ?? throw new ArgumentException($"'{d.Field} {d.Operator}' needs a date.", nameof(d));

    private static long StartOfDay(LocalDate date, DateTimeZone zone) => date.AtStartOfDayInZone(zone).ToInstant().ToUnixTimeTicks();

    private PlanNode List(AttributeColumn column, AttributeFilter a)
    {
        var values = a.Values.Select(v => v switch
        {
            TextValue t => t.Value,
            ChoiceValue c => c.Value,
            _ => throw Mismatch(a, "text"),
        }).ToArray();
        Need(a.Field, a.Operator, values.Length);
        return a.Operator switch
        {
            CompareOperator.Contains => Keys(column.Elements!, values),
            CompareOperator.Exists => Bitmap(column.NonEmpty!),
            CompareOperator.IsEmpty => new NotNode(Bitmap(column.NonEmpty!)),
            _ => throw Unsupported(a),
        };
    }

    private PlanNode Tags(TagFilter t) => t.Match switch
    {
        TagMatch.Any => t.Tags.Count == 0 ? new ConstNode(false) { Selectivity = 0 } : Keys(index.Tags, t.Tags),
        TagMatch.All => t.Tags.Count == 0 ? new ConstNode(true) : new AndNode(t.Tags.Select(x => Keys(index.Tags, [x]))),
        _ => t.Tags.Count == 0 ? new ConstNode(true) : new NotNode(Keys(index.Tags, t.Tags)),
    };

    private BehaviourNode Behaviour(BehaviourFilter b)
    {
        var needed = b.Operator == CompareOperator.Between ? 2 : 1;
        if (b.Counts.Count < needed || b.Operator is CompareOperator.Contains or CompareOperator.StartsWith or CompareOperator.Exists or CompareOperator.IsEmpty)
        {
            throw new ArgumentException($"count({b.EventKind}) {b.Operator} needs {needed} count(s).", nameof(b));
        }

        // Now is the upper bound of "ever": future-dated events count only once they have happened.
        var from = b.Window is { } w ? _nowTicks - w.Duration.BclCompatibleTicks : long.MinValue;
        return new BehaviourNode(index.Events, b, from, _nowTicks) { Cost = 2, Selectivity = 0.5 };
    }

    private static void Allowed(AttributeFilter a, AttributeType type)
    {
        if (!FilterValidator.OperatorsFor(type).Contains(a.Operator))
        {
            throw Unsupported(a);
        }
    }

    private KeysNode Keys(KeyedBitmaps keyed, IReadOnlyList<string> keys) =>
        new(keyed, keys, _nowTicks, keyed == index.Tags || keyed == index.Groups) { Selectivity = Math.Min(1, keys.Sum(k => keyed.Cardinality(k)) / _population) };

    private UnionNode Union(CategoricalColumn col, List<int> codes) =>
        new(col.Bitmaps(codes), (col, codes)) { Selectivity = col.CardinalityOf(codes) / _population };

    private UnionNode Bitmap(RoaringBitmap bitmap) => new([bitmap]) { Selectivity = bitmap.Cardinality / _population };

    private IntRangeNode Days(BitSlicedColumn col, long lo, long hi, (long Now, long Window)? edges = null) =>
        new(col, lo, hi, edges) { Cost = 1, Selectivity = col.Estimate(lo, hi, (int)_population) };

    /// <summary>Days in [lo, hi] of a date attribute: the union of day bitmaps when that reads less, else a slice scan.</summary>
    private PlanNode DateDays(AttributeColumn column, long lo, long hi) =>
        column.DayBitmapsIfCheap(lo, hi, (int)_population) is { } bitmaps
            ? new UnionNode(bitmaps) { Selectivity = bitmaps.Sum(b => b.Cardinality) / _population }
            : Days(column.Dates!, lo, hi);

    private static void Need(string field, CompareOperator op, int count)
    {
        var needed = op switch
        {
            CompareOperator.Exists or CompareOperator.IsEmpty => 0,
            CompareOperator.Between => 2,
            _ => 1,
        };
        if (count < needed || (needed == 0 && count > 0) || (op is not (CompareOperator.In or CompareOperator.NotIn) && count > Math.Max(needed, 1)))
        {
            throw new ArgumentException($"'{field}' {op} takes {(op is CompareOperator.In or CompareOperator.NotIn ? "one or more" : needed.ToString(System.Globalization.CultureInfo.InvariantCulture))} value(s); {count} given.", nameof(op));
        }
    }

    private static ArgumentException Mismatch(AttributeFilter a, string expected) =>
        new($"'{a.Field}' compares with {expected}; a value of another type was given.", nameof(a));

    private static ArgumentException Unsupported(AttributeFilter a) =>
        new($"The operator {a.Operator} does not apply to '{a.Field}'.", nameof(a));

}
