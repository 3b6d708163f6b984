using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation;

public class FilterPropertyTests
{
    private static (RandomFilters Generator, FilterContext Context) Setup(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var schema = RandomFilters.RandomSchema(random);
        var context = new FilterContext(schema) { Segments = TestSchema.Segments }.WithEventKinds("app.open");
        return (new RandomFilters(random, schema), context);
    }

    [Property(MaxTest = 400)]
    public void Printing_then_parsing_gives_the_same_tree(Guid seed)
    {
        var (generator, context) = Setup(seed);
        var filter = generator.Next();
        Assert.Empty(FilterValidator.Validate(filter, context));

        var text = FilterPrinter.Print(filter);
        var parsed = FilterParser.Parse(text, context);

        Assert.Equal(TestSchema.Canonical(filter), TestSchema.Canonical(parsed));
        Assert.Equal(text, FilterPrinter.Print(parsed));
    }

    [Property(MaxTest = 300)]
    public void The_json_form_round_trips(Guid seed)
    {
        var (generator, context) = Setup(seed);
        var filter = generator.Next();

        var json = FilterJson.Serialize(filter);
        var read = FilterJson.Parse(json, context);

        Assert.Equal(json, FilterJson.Serialize(read));
        Assert.Equal(FilterPrinter.Print(filter), FilterPrinter.Print(read));
    }
}

public class FilterEvaluatorPropertyTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 10, 1, 0);

    [Property(MaxTest = 200)]
    public void Evaluation_follows_the_logic_and_ignores_event_order(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var schema = RandomFilters.RandomSchema(random);
        var generator = new RandomFilters(random, schema);
        var evaluator = new FilterEvaluator(definitions: TestSchema.Segments);
        var (contact, events) = RandomContact(random, schema);
        var f = generator.Next();
        var g = generator.Next();

        var matchesF = evaluator.Matches(f, contact, events, Now);
        var matchesG = evaluator.Matches(g, contact, events, Now);

        Assert.Equal(!matchesF, evaluator.Matches(new NotFilter(f), contact, events, Now));
        Assert.Equal(matchesF && matchesG, evaluator.Matches(new AndFilter([f, g]), contact, events, Now));
        Assert.Equal(matchesF || matchesG, evaluator.Matches(new OrFilter([f, g]), contact, events, Now));
        Assert.Equal(matchesF, evaluator.Matches(f, contact, [.. events.OrderBy(_ => random.Next())], Now));
    }

    private static (Contact Contact, List<BehaviourEvent> Events) RandomContact(Random random, AttributeSchema schema)
    {
        var id = ContactId.New();
        var attributes = new Dictionary<string, FieldValue>();
        foreach (var attribute in schema.Attributes)
        {
            FieldValue? value = random.Next(6) switch
            {
                0 => null,
                1 => new TextValue(random.Next(3) == 0 ? string.Empty : "gold"),
                _ => attribute.Type switch
                {
                    AttributeType.String => new TextValue(random.Next(2) == 0 ? "ab" : "x\"y"),
                    AttributeType.Enum => new ChoiceValue(random.Next(2) == 0 ? "gold" : "silver"),
                    AttributeType.Integer or AttributeType.Decimal => new NumberValue(random.Next(-1000, 1000)),
                    AttributeType.Date => new DateValue(new LocalDate(2020, 1, 1).PlusDays(random.Next(3000))),
                    AttributeType.Bool => new BooleanValue(random.Next(2) == 0),
                    _ => new ChoicesValue(random.Next(2) == 0 ? [] : ["ab", "tag1"]),
                },
            };
            if (value is not null)
            {
                attributes[attribute.Name] = value;
            }
        }

        var contact = new Contact
        {
            Id = id,
            CreatedAt = Now - Duration.FromHours(random.Next(5000)),
            Attributes = attributes,
            Stage = (LifecycleStage)random.Next(6),
            Scores = random.Next(3) == 0 ? null : new ContactScores(random.Next(100), random.Next(100), random.Next(2) == 0 ? "A" : null, Now),
            Tags = [.. Enumerable.Range(0, random.Next(4)).Select(i => new ContactTag { Tag = "tag" + random.Next(100), Group = "g", AssignedAt = Now - Duration.FromDays(1), ExpiresAt = random.Next(2) == 0 ? null : Now + Duration.FromHours(random.Next(-5, 5)) })],
            TimeZoneId = random.Next(2) == 0 ? null : "Asia/Shanghai",
        };
        string[] kinds = [.. EventKinds.All, "app.open"];
        var events = Enumerable.Range(0, random.Next(8)).Select(i => new BehaviourEvent
        {
            EventId = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ContactId = id,
            Kind = kinds[random.Next(kinds.Length)],
            OccurredAt = Now - Duration.FromMinutes(random.Next(-100, 100_000)),
            Properties = new Dictionary<string, string> { ["page_kind"] = random.Next(2) == 0 ? "product" : "12", ["amount"] = random.Next(0, 500).ToString(System.Globalization.CultureInfo.InvariantCulture) },
        }).ToList();
        return (contact, events);
    }
}
