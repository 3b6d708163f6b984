using Campaigns.Segmentation;
using static Campaigns.Tests.Segmentation.TestSchema;

namespace Campaigns.Tests.Segmentation;

public class FilterErrorTests
{
    /// <summary>Text, the code of the first error, and the first error with its position.</summary>
    public static TheoryData<string, string, string> TextCases() => new()
    {
        { "industry = \"x\" and region in (\"east\") and industy = \"manufacturing\"", FilterErrorCodes.UnknownField, "1:43: unknown field 'industy'; did you mean 'industry'?" },
        { "industry = \"x\" and last_visit within 7x", FilterErrorCodes.BadWindow, "1:38: '7x' is not a window; expected e.g. 7d, 12h, 30m" },
        { "last_visit within 7", FilterErrorCodes.BadWindow, "1:19: '7' is not a window; expected e.g. 7d, 12h, 30m" },
        { "last_visit within soon", FilterErrorCodes.BadWindow, "1:19: expected a window such as 7d, 12h, 30m; found 'soon'" },
        { "budget = \"ten\"", FilterErrorCodes.TypeMismatch, "1:10: decimal field 'budget' compared with text \"ten\"" },
        { "industry = 5", FilterErrorCodes.TypeMismatch, "1:12: text field 'industry' compared with number 5" },
        { "industry between 1 and 5", FilterErrorCodes.InvalidOperator, "1:10: 'between' does not apply to text field 'industry'; expected one of =, !=, in, not in, contains, starts with, exists, is empty" },
        { "budget within 7d", FilterErrorCodes.TypeMismatch, "1:1: 'within' needs a date field; 'budget' is decimal" },
        { "budget between 50 and 10", FilterErrorCodes.BadValue, "1:16: between 50 and 10 is empty: the lower bound is above the upper" },
        { "tier = platinum", FilterErrorCodes.BadValue, "1:8: 'platinum' is not a value of 'tier'; expected one of gold, silver, bronze" },
        { "(industry = \"x\" or has_tag(a)", FilterErrorCodes.UnbalancedParentheses, "1:30: '(' at 1:1 is not closed; expected ')', found end of input" },
        { "industry = \"x\")", FilterErrorCodes.UnbalancedParentheses, "1:15: ')' has no matching '('" },
        { ")", FilterErrorCodes.UnbalancedParentheses, "1:1: ')' has no matching '('; expected a predicate" },
        { "has_tag(a", FilterErrorCodes.UnbalancedParentheses, "1:10: '(' at 1:8 is not closed; expected ')', found end of input" },
        { "industry \"x\"", FilterErrorCodes.UnexpectedToken, "1:10: expected an operator after 'industry': =, !=, <, <=, >, >=, in, not in, contains, starts with, between, exists, is empty, within, before, on or after, on or before; found '\"x\"'" },
        { "industry = ", FilterErrorCodes.UnexpectedToken, "1:12: expected a value: a quoted text, a name, a number, an ISO date, true or false; found end of input" },
        { "", FilterErrorCodes.UnexpectedToken, "1:1: the filter is empty; expected a predicate such as industry = \"retail\"" },
        { "industry = \"x\" and", FilterErrorCodes.UnexpectedToken, "1:19: expected a predicate: a field, a function such as has_tag(...), not or '('; found end of input" },
        { "industry = \"x\" has_tag(a)", FilterErrorCodes.UnexpectedToken, "1:16: expected and, or or the end of the filter; found 'has_tag'" },
        { "industry = \"unterminated", FilterErrorCodes.InvalidCharacter, "1:12: the string starting here has no closing \"" },
        { "industry = \"x\" & region = \"y\"", FilterErrorCodes.InvalidCharacter, "1:16: unexpected character '&'" },
        { "has_tag()", FilterErrorCodes.Arity, "1:9: has_tag(...) needs at least one tag" },
        { "consent(sms, email)", FilterErrorCodes.Arity, "1:12: consent(...) takes one argument" },
        { "has_tags(a)", FilterErrorCodes.UnexpectedToken, "1:1: unknown function 'has_tags'; did you mean 'has_tag'?" },
        { "in_segment(\"nope\")", FilterErrorCodes.UnknownSegment, "1:12: unknown segment 'nope'; expected the id of a defined segment" },
        { "did(purchse) within 7d", FilterErrorCodes.UnknownEventKind, "1:5: unknown event kind 'purchse'; did you mean 'purchase'?" },
        { "count(purchase) >= 1.5", FilterErrorCodes.TypeMismatch, "1:20: expected a whole count of 0 or more; found '1.5'" },
        { "count(purchase)", FilterErrorCodes.UnexpectedToken, "1:16: expected a comparison of the count: =, !=, <, <=, >, >= or between; found end of input" },
        { "score in (1, 2)", FilterErrorCodes.UnexpectedToken, "1:7: expected a comparison after 'score': =, !=, <, <=, >, >= or between; found 'in'" },
        { "stage = lead", FilterErrorCodes.UnknownStage, "1:9: unknown stage 'lead'; expected one of new, mql, sql, opportunity, customer, churned" },
        { "signed_up on or after 2026-02-30", FilterErrorCodes.BadDate, "1:23: '2026-02-30' is not a date; expected an ISO date such as 2026-01-31" },
        { "signed_up on or after yesterday", FilterErrorCodes.BadDate, "1:23: expected an ISO date such as 2026-01-31; found 'yesterday'" },
        { "created_at = 2026-01-01", FilterErrorCodes.InvalidOperator, "1:12: 'created_at' is an instant; compare it with within, before, on or after, on or before" },
        { "region not \"x\"", FilterErrorCodes.UnexpectedToken, "1:12: expected 'in' after 'not' (not in (...)); found '\"x\"'" },
        { "industry = \"x\" and\n  budget >= 10 and\n  last_visit within 7x", FilterErrorCodes.BadWindow, "3:21: '7x' is not a window; expected e.g. 7d, 12h, 30m" },
        { "budget = 1e5", FilterErrorCodes.UnexpectedToken, "1:10: '1e5' is not a number, a date or a window" },
    };

    [Theory]
    [MemberData(nameof(TextCases))]
    public void Bad_text_gives_a_typed_error_with_its_position(string text, string code, string expected)
    {
        var error = Assert.Throws<FilterException>(() => Parse(text)).Error;

        Assert.Equal(code, error.Code);
        Assert.Equal(expected, error.ToString());
        Assert.Equal(expected, Assert.Throws<FilterException>(() => Parse(text)).Message);
        Assert.True(error.Offset >= 0 && error.Offset + error.Length <= text.Length);
        Assert.NotNull(error.Found);
        Assert.NotNull(error.Expected);
    }

    [Fact]
    public void Validation_reports_every_problem_in_text_order()
    {
        var e = Assert.Throws<FilterException>(() => Parse("industy = \"x\" and budget = \"ten\" and in_segment(nope)"));

        Assert.Equal([FilterErrorCodes.UnknownField, FilterErrorCodes.TypeMismatch, FilterErrorCodes.UnknownSegment], e.Errors.Select(x => x.Code));
        Assert.Equal(["$.operands[0].field", "$.operands[1].values[0]", "$.operands[2].segmentId"], e.Errors.Select(x => x.Path));
        Assert.Equal((1, 1, 7), (e.Errors[0].Line, e.Errors[0].Column, e.Errors[0].Length));
        Assert.Equal("3 problems in the filter:\n1:1: unknown field 'industy'; did you mean 'industry'?\n1:28: decimal field 'budget' compared with text \"ten\"\n1:49: unknown segment 'nope'; expected the id of a defined segment", e.Message);
    }

    /// <summary>JSON, the code and the error with its JSON path.</summary>
    public static TheoryData<string, string, string> JsonCases() => new()
    {
        {
            """{"kind":"and","operands":[{"kind":"consent","channel":"sms"},{"kind":"tags","match":"any","tags":["a"]},{"kind":"date","field":"last_visit","operator":"within"}]}""",
            FilterErrorCodes.BadWindow, "$.operands[2].window: 'within' needs a window"
        },
        {
            """{"kind":"attribute","field":"industy","operator":"equal","values":[{"type":"text","value":"x"}]}""",
            FilterErrorCodes.UnknownField, "$.field: unknown field 'industy'; did you mean 'industry'?"
        },
        {
            """{"kind":"not","operand":{"kind":"attribute","field":"budget","operator":"between","values":[{"type":"number","value":1}]}}""",
            FilterErrorCodes.Arity, "$.operand.values: 'between' takes two values; found 1"
        },
        {
            """{"kind":"attribute","field":"budget","operator":"equal","values":[{"type":"text","value":"ten"}]}""",
            FilterErrorCodes.TypeMismatch, "$.values[0]: decimal field 'budget' compared with text \"ten\""
        },
        {
            """{"kind":"behaviour","eventKind":"page_view","where":[{"property":"","operator":"equal","values":["x"]}],"operator":"greaterOrEqual","counts":[1]}""",
            FilterErrorCodes.Missing, "$.where[0].property: a property name is needed"
        },
        {
            """{"kind":"behaviour","eventKind":"purchase","where":[],"operator":"contains","counts":[1]}""",
            FilterErrorCodes.InvalidOperator, "$.operator: 'contains' does not apply to a count; expected =, !=, <, <=, >, >= or between"
        },
        {
            """{"kind":"score","score":"fit","operator":"between","values":[30, 10]}""",
            FilterErrorCodes.BadValue, "$.values: between 30 and 10 is empty: the lower bound is above the upper"
        },
        {
            """{"kind":"tags","match":"all","tags":[]}""",
            FilterErrorCodes.Arity, "$.tags: at least one tag is needed"
        },
        {
            """{"kind":"date","field":"signed_up","operator":"onOrAfter","window":"7d"}""",
            FilterErrorCodes.BadDate, "$.date: 'on or after' needs a date"
        },
        {
            """{"kind":"segment","segmentId":"ghost"}""",
            FilterErrorCodes.UnknownSegment, "$.segmentId: unknown segment 'ghost'; expected the id of a defined segment"
        },
        {
            """{"kind":"date","field":"last_visit","operator":"within","window":"7x"}""",
            FilterErrorCodes.InvalidJson, "$.window: Expected a window such as \"7d\", \"12h\" or \"30m\"."
        },
        {
            """{"kind":"and","operands":[{"kind":"tags","match":"any","tags":["a"]},{"kind":"banana"}]}""",
            FilterErrorCodes.InvalidJson, "$.operands[1]: "
        },
        {
            // Truncated input is reported at the root: the shared options buffer each polymorphic node before
            // reading it (so a discriminator may follow other members), and the end of input is found while buffering.
            """{"kind":"and","operands":[""",
            FilterErrorCodes.InvalidJson, "$: Expected depth to be zero"
        },
    };

    [Theory]
    [MemberData(nameof(JsonCases))]
    public void Bad_json_gives_a_typed_error_with_its_path(string json, string code, string expected)
    {
        var error = Assert.Throws<FilterException>(() => FilterJson.Parse(json, Context)).Error;

        Assert.Equal(code, error.Code);
        Assert.StartsWith(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Equal(-1, error.Offset);
    }

    [Fact]
    public void A_segment_cannot_reference_itself()
    {
        var error = Assert.Throws<FilterException>(() => FilterParser.Parse("consent(sms) and in_segment(vips)", Context, segmentId: "vips")).Error;

        Assert.Equal(FilterErrorCodes.SegmentCycle, error.Code);
        Assert.Equal("1:29: segment 'vips' cannot reference itself", error.ToString());
    }

    [Fact]
    public void A_catalog_rejects_cycles_through_other_segments()
    {
        var catalog = new SegmentCatalog(new FilterContext(Schema));
        catalog.Define("a", "A", "consent(sms)");
        catalog.Define("b", "B", "in_segment(a) and has_tag(x)");
        catalog.Define("c", "C", "in_segment(b)");

        var e = Assert.Throws<FilterException>(() => catalog.Define("a", "A", "consent(sms) or in_segment(c)"));

        Assert.Equal(FilterErrorCodes.SegmentCycle, e.Error.Code);
        Assert.Equal("1:28: segment reference cycle: a -> c -> b -> a", e.Error.ToString());
        Assert.Equal("consent(sms)", FilterPrinter.Print(catalog.Find("a")!.Filter));
        Assert.Throws<FilterException>(() => catalog.Set(new SegmentDefinition { Id = "a", Name = "A", Filter = new SegmentFilter("c") }));
    }

    [Fact]
    public void A_catalog_created_at_once_allows_forward_references_and_reports_cycles_with_paths()
    {
        SegmentDefinition Def(string id, Filter filter) => new() { Id = id, Name = id, Filter = filter };

        var catalog = SegmentCatalog.Create(new FilterContext(Schema), [Def("late", new SegmentFilter("early")), Def("early", new ConsentFilter("sms"))]);
        Assert.Equal(["early", "late"], catalog.InDependencyOrder().Select(d => d.Id));
        Assert.Equal(["late"], catalog.ReferencedBy("early"));
        Assert.Throws<InvalidOperationException>(() => catalog.Remove("early"));
        Assert.True(catalog.Remove("late"));
        Assert.True(catalog.Remove("early"));

        var e = Assert.Throws<FilterException>(() => SegmentCatalog.Create(
            new FilterContext(Schema),
            [Def("x", new AndFilter([new ConsentFilter("sms"), new SegmentFilter("y")])), Def("y", new SegmentFilter("x")), Def("z", new SegmentFilter("w"))]));

        Assert.Equal(
            [
                "$['x'].filter.operands[1].segmentId: segment 'x': segment reference cycle: x -> y -> x",
                "$['y'].filter.segmentId: segment 'y': segment reference cycle: y -> x -> y",
                "$['z'].filter.segmentId: segment 'z': unknown segment 'w'; expected the id of a defined segment",
            ],
            e.Errors.Select(x => x.ToString()));
    }

    [Fact]
    public void Known_tags_and_groups_are_checked_when_the_context_lists_them()
    {
        var context = new FilterContext(Schema) { Tags = ["churned", "vip"], TagGroups = ["campaign-registration"] };

        var e = Assert.Throws<FilterException>(() => FilterParser.Parse("has_any_tag(vip, chruned) or has_tag_in_group(campaign)", context));

        Assert.Equal(["1:18: unknown tag 'chruned'; did you mean 'churned'?", "1:47: unknown tag group 'campaign'"], e.Errors.Select(x => x.ToString()));
    }

    [Fact]
    public void Nesting_is_limited_so_hostile_text_cannot_exhaust_the_stack()
    {
        var ok = new string('(', 25) + "consent(sms)" + new string(')', 25);
        Assert.Equal("consent(sms)", FilterPrinter.Print(Parse(ok)));
        var deepest = Parse(string.Concat(Enumerable.Repeat("consent(sms) or (has_tag(a) and (", 12)) + "not consent(sms)" + new string(')', 24));
        Assert.Equal(FilterJson.Serialize(deepest), FilterJson.Serialize(FilterJson.Parse(FilterJson.Serialize(deepest), Context)));
        Assert.Equal(FilterErrorCodes.TooDeep, Assert.Throws<FilterException>(() => Parse(new string('(', 100_000) + "consent(sms)")).Error.Code);
        Assert.Equal(
            "1:101: the filter nests more than 25 levels of parentheses and 'not'",
            Assert.Throws<FilterException>(() => Parse(string.Concat(Enumerable.Repeat("not ", 26)) + "consent(sms)")).Error.ToString());
    }
}
