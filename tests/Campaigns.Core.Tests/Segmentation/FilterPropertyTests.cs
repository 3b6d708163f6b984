using Campaigns.Segmentation;
using FsCheck.Xunit;

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
