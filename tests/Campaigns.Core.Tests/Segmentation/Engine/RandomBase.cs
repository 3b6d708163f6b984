using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>Random contacts, events and filters over one schema, from a seed.</summary>
internal sealed class RandomBase
{
    private static readonly string[] Industries = ["auto", "chem", "energy", "food", "machinery", ""];

    public static readonly Instant Now = Instant.FromUtc(2026, 3, 15, 13, 30);

    /// <summary>The calendar zone of index and evaluator: not UTC, with a DST change (2026-03-08) inside the windows.</summary>
    public static readonly DateTimeZone Zone = DateTimeZoneProviders.Tzdb["America/New_York"];

    public static readonly AttributeSchema Schema = new()
    {
        Attributes =
        [
            new AttributeDefinition { Name = "industry", Type = AttributeType.Enum, AllowedValues = Industries },
            new AttributeDefinition { Name = "region", Type = AttributeType.String, Default = new TextValue("none") },
            new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal },
            new AttributeDefinition { Name = "employees", Type = AttributeType.Integer },
            new AttributeDefinition { Name = "last_visit", Type = AttributeType.Date },
            new AttributeDefinition { Name = "vip", Type = AttributeType.Bool },
            new AttributeDefinition { Name = "interests", Type = AttributeType.StringList },
        ],
    };

    private static readonly string[] Regions = ["east", "north", "south", "west", "north-east", ""];
    private static readonly string[] Owners = ["u1", "u2", "u3", ""];
    private static readonly string[] Zones = ["Asia/Shanghai", "Europe/Berlin", "Nowhere/Unknown"];
    private static readonly string[] Interests = ["ai", "iot", "mes", "plm"];
    private static readonly string[] TagNames = ["t0", "t1", "t2", "t3", "t4", "t5"];
    private static readonly string[] Groups = ["g0", "g1", "g2"];
    private static readonly string[] Kinds = ["page_view", "download", "purchase"];
    private static readonly string[] PageKinds = ["product", "blog", "price", "10", "9.5"];
    private static readonly decimal[] Budgets = [0m, 10m, 12.5m, 20m, 49.99m, 50m, -3.25m, 100m, 0.1234567891234m];

    private readonly Random _r;

    public RandomBase(int seed, int contacts)
    {
        _r = new Random(seed);
        for (var i = 0; i < contacts; i++)
        {
            Contacts.Add(NewContact(new ContactId(new Guid(i + 1, 0, 0, new byte[8]))));
        }

        foreach (var c in Contacts)
        {
            var list = new List<BehaviourEvent>();
            for (int i = 0, n = _r.Next(0, 5); i < n; i++)
            {
                list.Add(new BehaviourEvent
                {
                    EventId = $"{c.Id}-{i}",
                    ContactId = c.Id,
                    Kind = Pick(Kinds),
                    OccurredAt = Now + Duration.FromMinutes(_r.Next(-60 * 24 * 40, 60 * 24 * 2)),
                    Properties = _r.Next(3) == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { ["page_kind"] = Pick(PageKinds) },
                });
            }

            Events[c.Id] = list;
        }
    }

    public List<Contact> Contacts { get; } = [];

    public Dictionary<ContactId, List<BehaviourEvent>> Events { get; } = [];

    /// <summary>Changes some contacts in place (new record), returning the changed ones.</summary>
    public List<Contact> Mutate(double fraction)
    {
        var changed = new List<Contact>();
        for (var i = 0; i < Contacts.Count; i++)
        {
            if (_r.NextDouble() < fraction)
            {
                Contacts[i] = NewContact(Contacts[i].Id);
                changed.Add(Contacts[i]);
            }
        }

        return changed;
    }

    public List<Contact> RemoveSome(double fraction)
    {
        var removed = Contacts.Where(_ => _r.NextDouble() < fraction).ToList();
        foreach (var c in removed)
        {
            Contacts.Remove(c);
            Events.Remove(c.Id);
        }

        return removed;
    }

    public SegmentIndex BuildIndex()
    {
        var index = new SegmentIndex(Schema, zone: Zone);
        foreach (var c in Contacts)
        {
            index.Upsert(c);
        }

        foreach (var e in Events.Values.SelectMany(x => x))
        {
            index.Apply(e);
        }

        return index;
    }

    public Filter NewFilter(int depth = 3)
    {
        var k = _r.Next(depth <= 0 ? 4 : 15);
        return k switch
        {
            0 or 1 or 2 or 3 => Leaf(),
            4 or 5 => Leaf(),
            6 or 7 => new AndFilter([.. Enumerable.Range(0, _r.Next(0, 4)).Select(_ => NewFilter(depth - 1))]),
            8 or 9 => new OrFilter([.. Enumerable.Range(0, _r.Next(0, 4)).Select(_ => NewFilter(depth - 1))]),
            10 => new NotFilter(NewFilter(depth - 1)),
            _ => Leaf(),
        };
    }

    private Filter Leaf()
    {
        switch (_r.Next(12))
        {
            case 0:
            case 1:
                return Attribute();
            case 2:
                var dateOp = (DateOperator)_r.Next(4);
                var window = _r.Next(4) == 0 ? Window.Hours(_r.Next(1, 200)) : Window.Days(_r.Next(1, 60));
                return dateOp is DateOperator.Within or DateOperator.Before
                    ? new DateFilter(_r.Next(3) == 0 ? BuiltInFields.CreatedAt : "last_visit", dateOp, Window: window)
                    : new DateFilter(_r.Next(3) == 0 ? BuiltInFields.CreatedAt : "last_visit", dateOp, Date: Date());
            case 3:
            case 4:
                return new TagFilter((TagMatch)_r.Next(3), [.. Enumerable.Range(0, _r.Next(1, 3)).Select(_ => Pick(TagNames))]);
            case 5:
                return new TagGroupFilter(Pick(Groups));
            case 6:
                var op = Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.LessOrEqual, CompareOperator.GreaterThan, CompareOperator.GreaterOrEqual, CompareOperator.Between]);
                var counts = op == CompareOperator.Between ? [_r.Next(0, 2), _r.Next(1, 4)] : new[] { _r.Next(0, 3) };
                var where = _r.Next(2) == 0 ? [] : new[] { Property() };
                return new BehaviourFilter(Pick(Kinds), where, op, counts, _r.Next(3) == 0 ? null : Window.Days(_r.Next(1, 30)));
            case 7:
                var sop = Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.LessOrEqual, CompareOperator.GreaterThan, CompareOperator.GreaterOrEqual, CompareOperator.Between]);
                return new ScoreFilter((ScoreKind)_r.Next(3), sop, sop == CompareOperator.Between ? [_r.Next(-5, 20), _r.Next(10, 40)] : [_r.Next(-5, 40)]);
            case 8:
                return new GradeFilter([.. Enumerable.Range(0, _r.Next(1, 3)).Select(_ => Pick(["A", "B", "C", "Z"]))]);
            case 9:
                return new StageFilter([.. Enumerable.Range(0, _r.Next(1, 3)).Select(_ => (LifecycleStage)_r.Next(6))]);
            case 10:
                return new ConsentFilter(Pick(["email", "sms", "wechat"]));
            default:
                return Attribute();
        }
    }

    private PropertyCondition Property()
    {
        var op = (CompareOperator)_r.Next(13);
        var values = op switch
        {
            CompareOperator.Exists or CompareOperator.IsEmpty => [],
            CompareOperator.Between => new[] { Pick(PageKinds), Pick(PageKinds) },
            CompareOperator.In or CompareOperator.NotIn => [Pick(PageKinds), Pick(PageKinds)],
            CompareOperator.Contains or CompareOperator.StartsWith => [Pick(["pro", "b", "1", "e"])],
            _ => [Pick(PageKinds)],
        };
        return new PropertyCondition("page_kind", op, values);
    }

    private AttributeFilter Attribute()
    {
        switch (_r.Next(7))
        {
            case 0:
            case 1:
                var field = Pick(["industry", "region", BuiltInFields.OwnerId]);
                var pool = field switch
                {
                    "industry" => Industries,
                    "region" => [.. Regions, "none"],
                    _ => Owners,
                };
                var op = field == "industry"
                    ? Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Exists, CompareOperator.IsEmpty])
                    : Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Contains, CompareOperator.StartsWith, CompareOperator.Exists, CompareOperator.IsEmpty]);
                return new AttributeFilter(field, op, op switch
                {
                    CompareOperator.Exists or CompareOperator.IsEmpty => [],
                    CompareOperator.In or CompareOperator.NotIn => [new ChoiceValue(Pick(pool)), new TextValue(Pick(pool)), new TextValue(Pick(pool))],
                    CompareOperator.Contains or CompareOperator.StartsWith => [new TextValue(Pick(["no", "e", "ea", "", "z", "u"]))],
                    _ => [new TextValue(Pick(pool))],
                });
            case 2:
            case 3:
                var nop = Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.LessOrEqual, CompareOperator.GreaterThan, CompareOperator.GreaterOrEqual, CompareOperator.Between, CompareOperator.In, CompareOperator.NotIn, CompareOperator.Exists, CompareOperator.IsEmpty]);
                var nfield = _r.Next(2) == 0 ? "budget" : "employees";
                FieldValue N() => new NumberValue(nfield == "budget" ? (_r.Next(2) == 0 ? Pick(Budgets) : _r.Next(-5, 110) + (_r.Next(4) == 0 ? 0.5m : 0m)) : _r.Next(0, 12));
                return new AttributeFilter(nfield, nop, nop switch
                {
                    CompareOperator.Exists or CompareOperator.IsEmpty => [],
                    CompareOperator.Between => [N(), N()],
                    CompareOperator.In or CompareOperator.NotIn => [N(), N()],
                    _ => [N()],
                });
            case 4:
                var dop = Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.GreaterOrEqual, CompareOperator.Between, CompareOperator.In, CompareOperator.Exists, CompareOperator.IsEmpty]);
                return new AttributeFilter("last_visit", dop, dop switch
                {
                    CompareOperator.Exists or CompareOperator.IsEmpty => [],
                    CompareOperator.Between or CompareOperator.In => [new DateValue(Date()), new DateValue(Date())],
                    _ => [new DateValue(Date())],
                });
            case 5:
                var bop = Pick([CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.Exists, CompareOperator.IsEmpty]);
                return new AttributeFilter("vip", bop, bop is CompareOperator.Exists or CompareOperator.IsEmpty ? [] : [new BooleanValue(_r.Next(2) == 0)]);
            default:
                var lop = Pick([CompareOperator.Contains, CompareOperator.Exists, CompareOperator.IsEmpty]);
                return new AttributeFilter("interests", lop, lop switch
                {
                    CompareOperator.Exists or CompareOperator.IsEmpty => [],
                    _ => [_r.Next(2) == 0 ? new TextValue(Pick(Interests)) : new ChoiceValue(Pick(Interests))],
                });
        }
    }

    private Contact NewContact(ContactId id)
    {
        var attributes = new Dictionary<string, FieldValue>();
        if (_r.Next(6) != 0)
        {
            attributes["industry"] = _r.Next(2) == 0 ? new ChoiceValue(Pick(Industries)) : new TextValue(Pick(Industries));
        }

        if (_r.Next(5) != 0)
        {
            attributes["region"] = _r.Next(20) == 0 ? new NumberValue(7) : new TextValue(Pick(Regions));
        }

        if (_r.Next(5) != 0)
        {
            attributes["budget"] = new NumberValue(_r.Next(3) == 0 ? Pick(Budgets) : _r.Next(-5, 110) + (_r.Next(50) / 4m));
        }

        if (_r.Next(5) != 0)
        {
            attributes["employees"] = _r.Next(20) == 0 ? new TextValue("oops") : new NumberValue(_r.Next(0, 12));
        }

        if (_r.Next(5) != 0)
        {
            attributes["last_visit"] = _r.Next(25) == 0 ? new TextValue("2026-03-01") : new DateValue(Date());
        }

        if (_r.Next(3) != 0)
        {
            attributes["vip"] = _r.Next(25) == 0 ? new TextValue("yes") : new BooleanValue(_r.Next(2) == 0);
        }

        if (_r.Next(3) != 0)
        {
            attributes["interests"] = _r.Next(20) == 0 ? new TextValue("ai, iot") : new ChoicesValue([.. Enumerable.Range(0, _r.Next(0, 3)).Select(_ => Pick(Interests)).Distinct()]);
        }

        var tags = Enumerable.Range(0, _r.Next(0, 4)).Select(_ => new ContactTag
        {
            Tag = Pick(TagNames),
            Group = _r.Next(3) == 0 ? null : Pick(Groups),
            AssignedAt = Now - Duration.FromDays(10),
            ExpiresAt = _r.Next(3) == 0 ? Now + Duration.FromHours(_r.Next(-48, 48)) : null,
        }).ToList();
        var consents = new Dictionary<string, ConsentRecord>();
        foreach (var ch in new[] { "email", "sms" })
        {
            if (_r.Next(3) != 0)
            {
                consents[ch] = new ConsentRecord(_r.Next(3) != 0, "form", Now);
            }
        }

        return new Contact
        {
            Id = id,
            CreatedAt = Now + Duration.FromMinutes(_r.Next(-60 * 24 * 70, 60 * 24)),
            OwnerId = _r.Next(4) == 0 ? null : Pick(Owners),
            TimeZoneId = _r.Next(2) == 0 ? null : Pick(Zones),
            Attributes = attributes,
            Tags = tags,
            Consents = consents,
            Stage = (LifecycleStage)_r.Next(6),
            Scores = _r.Next(4) == 0 ? null : new ContactScores(_r.Next(0, 30) + (_r.Next(2) / 2m), _r.Next(-3, 15), _r.Next(4) == 0 ? null : Pick(["A", "B", "C", "D"]), Now),
        };
    }

    private LocalDate Date() => Now.InZone(Zone).Date.PlusDays(_r.Next(-70, 3));

    private T Pick<T>(IReadOnlyList<T> items) => items[_r.Next(items.Count)];

    public override string ToString() => Contacts.Count.ToString(CultureInfo.InvariantCulture);
}
