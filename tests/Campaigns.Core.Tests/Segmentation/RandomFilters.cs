using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tests.Segmentation;

/// <summary>Random schemas and random filters valid under them, from a seed (FsCheck supplies the seeds).</summary>
internal sealed class RandomFilters(Random random, AttributeSchema schema)
{
    public static readonly string[] SegmentIds = ["high-value", "vips"];

    private static readonly string[] Names = ["industry", "region", "budget", "size", "last_visit", "signed_up", "vip", "interests", "tier", "nps", "city", "renewal"];
    private static readonly AttributeType[] Types = Enum.GetValues<AttributeType>();
    private const string Alphabet = "abcxyzAB01 9_-.:\"'\\上海+/\n\té";

    public AttributeSchema Schema => schema;

    public static AttributeSchema RandomSchema(Random random)
    {
        var attributes = new List<AttributeDefinition>();
        foreach (var name in Names)
        {
            if (random.Next(3) == 0)
            {
                continue;
            }

            var type = Types[random.Next(Types.Length)];
            attributes.Add(new AttributeDefinition
            {
                Name = name,
                Type = type,
                AllowedValues = type == AttributeType.Enum && random.Next(2) == 0 ? ["gold", "silver", "bronze and more", "x\"y"] : [],
            });
        }

        return new AttributeSchema { Attributes = attributes };
    }

    public Filter Next(int depth = 3)
    {
        if (depth > 0 && random.Next(3) == 0)
        {
            switch (random.Next(5))
            {
                case 0:
                    return new NotFilter(Next(depth - 1));
                case 1 or 2:
                    return new AndFilter(Operands(depth));
                default:
                    return new OrFilter(Operands(depth));
            }
        }

        return Leaf();
    }

    private List<Filter> Operands(int depth)
    {
        var count = random.Next(10) == 0 ? 0 : 2 + random.Next(3);
        var operands = new List<Filter>();
        for (var i = 0; i < count; i++)
        {
            operands.Add(Next(depth - 1));
        }

        return operands;
    }

    private Filter Leaf()
    {
        switch (random.Next(12))
        {
            case 0 or 1:
                return Attribute();
            case 2:
                return Date();
            case 3:
                return new TagFilter((TagMatch)random.Next(3), NameList());
            case 4:
                return new TagGroupFilter(Name());
            case 5 or 6:
                return Behaviour();
            case 7:
                {
                    var op = NumericOperator();
                    var values = op == CompareOperator.Between ? Sorted(Decimal(), Decimal()) : new List<decimal> { Decimal() };
                    return new ScoreFilter((ScoreKind)random.Next(3), op, values);
                }

            case 8:
                return new GradeFilter(NameList());
            case 9:
                {
                    var stages = new List<LifecycleStage>();
                    for (var i = random.Next(3); i >= 0; i--)
                    {
                        stages.Add((LifecycleStage)random.Next(6));
                    }

                    return new StageFilter(stages);
                }

            case 10:
                return new ConsentFilter(Name());
            default:
                return new SegmentFilter(SegmentIds[random.Next(SegmentIds.Length)]);
        }
    }

    private AttributeFilter Attribute()
    {
        AttributeDefinition definition;
        if (schema.Attributes.Count == 0 || random.Next(8) == 0)
        {
            definition = new AttributeDefinition { Name = BuiltInFields.OwnerId, Type = AttributeType.String };
        }
        else
        {
            definition = schema.Attributes[random.Next(schema.Attributes.Count)];
        }

        var operators = FilterValidator.OperatorsFor(definition.Type);
        var op = operators[random.Next(operators.Count)];
        var (min, max) = FilterValidator.Arity(op);
        var count = max == int.MaxValue ? 1 + random.Next(3) : min;
        var values = new List<FieldValue>();
        for (var i = 0; i < count; i++)
        {
            values.Add(Value(definition));
        }

        if (op == CompareOperator.Between && Compare(values[0], values[1]) > 0)
        {
            values.Reverse();
        }

        return new AttributeFilter(definition.Name, op, values);
    }

    private static int Compare(FieldValue a, FieldValue b) => (a, b) switch
    {
        (NumberValue x, NumberValue y) => x.Value.CompareTo(y.Value),
        (DateValue x, DateValue y) => x.Value.CompareTo(y.Value),
        _ => 0,
    };

    private FieldValue Value(AttributeDefinition definition) => definition.Type switch
    {
        AttributeType.String or AttributeType.StringList => new TextValue(Text()),
        AttributeType.Enum => new ChoiceValue(definition.AllowedValues.Count > 0 ? definition.AllowedValues[random.Next(definition.AllowedValues.Count)] : Text()),
        AttributeType.Integer => new NumberValue(random.Next(-1000, 1000)),
        AttributeType.Decimal => new NumberValue(Decimal()),
        AttributeType.Date => new DateValue(LocalDateValue()),
        _ => new BooleanValue(random.Next(2) == 0),
    };

    private DateFilter Date()
    {
        var dates = new List<string> { BuiltInFields.CreatedAt };
        foreach (var attribute in schema.Attributes)
        {
            if (attribute.Type == AttributeType.Date)
            {
                dates.Add(attribute.Name);
            }
        }

        var field = dates[random.Next(dates.Count)];
        var op = (DateOperator)random.Next(4);
        return op is DateOperator.Within or DateOperator.Before
            ? new DateFilter(field, op, Window: WindowValue())
            : new DateFilter(field, op, Date: LocalDateValue());
    }

    private BehaviourFilter Behaviour()
    {
        string[] kinds = [.. EventKinds.All, "app.open"];
        var kind = random.Next(4) == 0 ? EventKinds.PageView : kinds[random.Next(kinds.Length)];
        var where = new List<PropertyCondition>();
        if (kind == EventKinds.PageView && random.Next(2) == 0)
        {
            where.Add(new PropertyCondition("page_kind", CompareOperator.Equal, [PropertyValue()]));
        }
        else
        {
            for (var i = random.Next(3); i > 0; i--)
            {
                var op = (CompareOperator)random.Next(13);
                var (min, max) = FilterValidator.Arity(op);
                var count = max == int.MaxValue ? 1 + random.Next(3) : min;
                var values = new List<string>();
                for (var j = 0; j < count; j++)
                {
                    values.Add(PropertyValue());
                }

                where.Add(new PropertyCondition(random.Next(4) == 0 ? "p" + Text() : Name(), op, values));
            }
        }

        var comparison = NumericOperator();
        var counts = comparison == CompareOperator.Between ? Sorted(random.Next(10), random.Next(10)) : [random.Next(4)];
        return new BehaviourFilter(kind, where, comparison, counts, random.Next(3) == 0 ? null : WindowValue());
    }

    private CompareOperator NumericOperator() => random.Next(7) switch
    {
        6 => CompareOperator.Between,
        var n => (CompareOperator)n,
    };

    private static List<T> Sorted<T>(T a, T b)
        where T : IComparable<T> => a.CompareTo(b) <= 0 ? [a, b] : [b, a];

    private decimal Decimal() => new decimal(random.Next(-100_000, 100_000)) / (decimal)Math.Pow(10, random.Next(4));

    private LocalDate LocalDateValue() => new LocalDate(2020, 1, 1).PlusDays(random.Next(3000));

    private Window WindowValue() => random.Next(3) switch
    {
        0 => Window.Days(1 + random.Next(400)),
        1 => Window.Hours(1 + random.Next(100)),
        _ => Window.Minutes(1 + random.Next(100_000)),
    };

    private string PropertyValue() => random.Next(5) switch
    {
        0 => random.Next(-50, 500).ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => "0" + random.Next(10) + "." + random.Next(100),
        2 => "true",
        _ => Text(),
    };

    private List<string> NameList()
    {
        var names = new List<string>();
        for (var i = random.Next(3); i >= 0; i--)
        {
            names.Add(Name());
        }

        return names;
    }

    /// <summary>A non-blank name: an identifier or arbitrary text.</summary>
    private string Name() => random.Next(3) == 0 ? "x" + Text() : random.Next(2) == 0 ? "tag" + random.Next(100) : Text().Trim() is { Length: > 0 } text ? text : "n";

    private string Text()
    {
        var length = random.Next(8);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = Alphabet[random.Next(Alphabet.Length)];
        }

        return new string(chars);
    }
}
