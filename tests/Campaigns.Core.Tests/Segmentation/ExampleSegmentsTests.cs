using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tests.Segmentation;

public class ExampleSegmentsTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 10, 1, 0);

    [Fact]
    public void The_layered_audiences_parse_validate_and_print_back()
    {
        var catalog = ExampleSegments.CreateCatalog();

        Assert.Equal(
            [ExampleSegments.HighValueId, ExampleSegments.ChurnRiskId, ExampleSegments.DormantId, ExampleSegments.PotentialId],
            catalog.InDependencyOrder().Select(d => d.Id));
        foreach (var (id, text) in new[] { (ExampleSegments.HighValueId, ExampleSegments.HighValue), (ExampleSegments.PotentialId, ExampleSegments.Potential), (ExampleSegments.ChurnRiskId, ExampleSegments.ChurnRisk), (ExampleSegments.DormantId, ExampleSegments.Dormant) })
        {
            var definition = catalog.Find(id)!;
            Assert.Empty(FilterValidator.Validate(definition.Filter, catalog.Context, id));
            var printed = FilterPrinter.Print(definition.Filter);
            Assert.Equal(FilterJson.Serialize(definition.Filter), FilterJson.Serialize(FilterParser.Parse(printed, catalog.Context, id)));
            Assert.Equal(FilterJson.Serialize(definition.Filter), FilterJson.Serialize(FilterParser.Parse(text, catalog.Context, id)));
        }
    }

    [Fact]
    public void The_layers_select_the_contacts_they_describe()
    {
        var catalog = ExampleSegments.CreateCatalog();
        var evaluator = new FilterEvaluator(DateTimeZoneProviders.Tzdb["Asia/Shanghai"], definitions: catalog);
        var buyer = ContactId.New();
        var lead = ContactId.New();
        var quiet = ContactId.New();
        var sleeper = ContactId.New();
        var contacts = new[]
        {
            Contact(buyer, LifecycleStage.Customer, new ContactScores(40, 30, "A", Now), budget: 80, lastVisit: new LocalDate(2026, 5, 8)),
            Contact(lead, LifecycleStage.Mql, new ContactScores(25, 10, "C", Now), budget: 10, lastVisit: new LocalDate(2026, 5, 9)),
            Contact(quiet, LifecycleStage.Customer, new ContactScores(5, 20, "B", Now), budget: 60, lastVisit: new LocalDate(2026, 3, 1)),
            Contact(sleeper, LifecycleStage.New, null, budget: null, lastVisit: null) with
            {
                CreatedAt = Now - Duration.FromDays(120),
                Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "registration form", Now - Duration.FromDays(120)) },
            },
        };
        BehaviourEvent[] events =
        [
            Purchase(buyer, 20), Purchase(buyer, 200),
            Purchase(quiet, 120), Purchase(quiet, 400),
        ];

        string[] Members(string id) => [.. contacts
            .Where(c => evaluator.Matches(catalog.Find(id)!.Filter, c, [.. events.Where(e => e.ContactId == c.Id)], Now))
            .Select(c => c == contacts[0] ? "buyer" : c == contacts[1] ? "lead" : c == contacts[2] ? "quiet" : "sleeper")];

        Assert.Equal(["buyer"], Members(ExampleSegments.HighValueId));
        Assert.Equal(["lead"], Members(ExampleSegments.PotentialId));
        Assert.Equal(["quiet"], Members(ExampleSegments.ChurnRiskId));
        Assert.Equal(["sleeper"], Members(ExampleSegments.DormantId));
    }

    private static Contact Contact(ContactId id, LifecycleStage stage, ContactScores? scores, decimal? budget, LocalDate? lastVisit)
    {
        var attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue("manufacturing") };
        if (budget is { } b)
        {
            attributes["budget"] = new NumberValue(b);
        }

        if (lastVisit is { } v)
        {
            attributes["last_visit"] = new DateValue(v);
        }

        return new Contact { Id = id, CreatedAt = Now - Duration.FromDays(400), Stage = stage, Scores = scores, Attributes = attributes };
    }

    private static BehaviourEvent Purchase(ContactId id, int daysAgo) => new()
    {
        EventId = Guid.NewGuid().ToString(),
        ContactId = id,
        Kind = EventKinds.Purchase,
        OccurredAt = Now - Duration.FromDays(daysAgo),
        Properties = new Dictionary<string, string> { ["amount"] = "1000" },
    };
}
