using Campaigns.Contacts;

namespace Campaigns.Tests.Contacts;

public class TagNameTemplateTests
{
    private static readonly string[] Known = ["date", "location", "topic", "product"];

    [Fact]
    public void The_seed_templates_parse_and_render()
    {
        var registration = TagNameTemplate.Parse(TagNameTemplate.Registration, Known);
        Assert.Equal(["date", "location", "topic"], registration.Placeholders);
        Assert.Equal(
            "报名: 2026-05-20+上海+数字化工厂",
            registration.Render(new Dictionary<string, string?> { ["date"] = "2026-05-20", ["location"] = " 上海 ", ["topic"] = "数字化工厂" }));

        var product = TagNameTemplate.Parse(TagNameTemplate.InterestedProduct);
        Assert.Equal("意向产品: A产品", product.Render(new Dictionary<string, string?> { ["product"] = "A产品" }));
        Assert.Equal("{literal} 产品", TagNameTemplate.Parse("{{literal}} {产品}").Render(new Dictionary<string, string?> { ["产品"] = "产品" }));
    }

    [Theory]
    [InlineData("报名: {date}+{venue}", "venue", 11, "unknown placeholder 'venue' at position 11")]
    [InlineData("报名: {date", null, 4, "opened at position 4 is not closed")]
    [InlineData("报名: date}", null, 8, "'}' at position 8 closes no placeholder")]
    [InlineData("报名: {}", "", 4, "placeholder '{}' at position 4")]
    [InlineData("报名: {a b}", "a b", 4, "placeholder '{a b}' at position 4")]
    [InlineData("  ", null, 0, "blank")]
    public void Bad_templates_are_rejected_naming_the_placeholder_and_position(string text, string? placeholder, int position, string expected)
    {
        var ex = Assert.Throws<TagTemplateException>(() => TagNameTemplate.Parse(text, Known));
        Assert.Equal((placeholder, position), (ex.Placeholder, ex.Position));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendering_without_a_value_names_the_placeholder()
    {
        var template = TagNameTemplate.Parse(TagNameTemplate.Registration);
        var ex = Assert.Throws<TagTemplateException>(() => template.Render(new Dictionary<string, string?> { ["date"] = "2026-05-20", ["location"] = " " }));
        Assert.Equal("location", ex.Placeholder);
        Assert.Contains("blank value", ex.Message, StringComparison.Ordinal);
        Assert.Equal("topic", Assert.Throws<TagTemplateException>(() => template.Render(new Dictionary<string, string?> { ["date"] = "d", ["location"] = "l" })).Placeholder);
    }
}
