using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>The per-send variable view answers exactly like the dictionary the runner used to build.</summary>
public sealed class StepVariablesTests
{
    private static Contact Contact(string? name, Dictionary<string, FieldValue> attributes) => new()
    {
        Id = ContactId.New(),
        Name = name,
        CreatedAt = Instant.FromUtc(2026, 6, 1, 0, 0),
        Attributes = attributes,
    };

    public static TheoryData<string?> Names => new() { "韩梅梅", null };

    [Theory]
    [MemberData(nameof(Names))]
    public void The_view_answers_like_the_dictionary(string? name)
    {
        var contact = Contact(name, new Dictionary<string, FieldValue>
        {
            ["company"] = new TextValue("Acme"),
            ["tier"] = new ChoiceValue("gold"),
            ["score"] = new NumberValue(12.5m),
            ["born"] = new DateValue(new LocalDate(1990, 3, 4)),
            ["vip"] = new BooleanValue(true),
            ["name"] = new TextValue("from attributes"),
        });
        var node = new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome" };
        var view = StepVariables.For(contact, node);
        var dictionary = JourneyRunner.Variables(contact, node);

        Assert.IsType<StepVariables>(view);
        foreach (var key in new[] { "company", "tier", "score", "born", "vip", "name", "missing", "Company" })
        {
            Assert.Equal(dictionary.TryGetValue(key, out var expected), view.TryGetValue(key, out var actual));
            Assert.Equal(expected, actual);
            Assert.Equal(dictionary.ContainsKey(key), view.ContainsKey(key));
        }

        Assert.Equal(dictionary.OrderBy(kv => kv.Key, StringComparer.Ordinal), view.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        Assert.Equal(dictionary.Count, view.Count);
        Assert.Throws<KeyNotFoundException>(() => view["missing"]);
    }

    [Fact]
    public void Node_variables_or_a_non_ordinal_attribute_map_use_the_dictionary()
    {
        var withVariables = new SendMessageNode { Id = "n", Channel = "email", TemplateId = "t", Variables = new Dictionary<string, string>(StringComparer.Ordinal) { ["link"] = "https://example.com" } };
        var plain = Contact("Li", new Dictionary<string, FieldValue>());
        Assert.Equal("https://example.com", StepVariables.For(plain, withVariables)["link"]);
        Assert.IsNotType<StepVariables>(StepVariables.For(plain, withVariables));

        var ignoreCase = Contact("Li", new Dictionary<string, FieldValue>(StringComparer.OrdinalIgnoreCase) { ["City"] = new TextValue("Shanghai") });
        var node = new SendMessageNode { Id = "n", Channel = "email", TemplateId = "t" };
        var variables = StepVariables.For(ignoreCase, node);
        Assert.IsNotType<StepVariables>(variables);
        Assert.False(variables.ContainsKey("city")); // ordinal, as before
    }
}
