using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;
using static Campaigns.Tests.Segmentation.TestSchema;

namespace Campaigns.Tests.Segmentation;

public class FilterParserTests
{
    private static readonly PropertyCondition Product = new("page_kind", CompareOperator.Equal, ["product"]);

    /// <summary>Text, the tree it parses to, and its canonical printed form (null when it is the text itself).</summary>
    public static TheoryData<string, Filter, string?> Cases() => new()
    {
        // attribute comparisons
        { "industry = \"manufacturing\"", new AttributeFilter("industry", CompareOperator.Equal, [T("manufacturing")]), null },
        { "industry = manufacturing", new AttributeFilter("industry", CompareOperator.Equal, [T("manufacturing")]), "industry = \"manufacturing\"" },
        { "industry == 'retail'", new AttributeFilter("industry", CompareOperator.Equal, [T("retail")]), "industry = \"retail\"" },
        { "industry != \"retail\"", new AttributeFilter("industry", CompareOperator.NotEqual, [T("retail")]), null },
        { "industry ≠ \"retail\"", new AttributeFilter("industry", CompareOperator.NotEqual, [T("retail")]), "industry != \"retail\"" },
        { "industry <> \"retail\"", new AttributeFilter("industry", CompareOperator.NotEqual, [T("retail")]), "industry != \"retail\"" },
        { "budget < 10", new AttributeFilter("budget", CompareOperator.LessThan, [N(10)]), null },
        { "budget <= 10.5", new AttributeFilter("budget", CompareOperator.LessOrEqual, [N(10.5m)]), null },
        { "budget ≤ 10", new AttributeFilter("budget", CompareOperator.LessOrEqual, [N(10)]), "budget <= 10" },
        { "budget > -3", new AttributeFilter("budget", CompareOperator.GreaterThan, [N(-3)]), null },
        { "budget >= 20", new AttributeFilter("budget", CompareOperator.GreaterOrEqual, [N(20)]), null },
        { "budget ≥ 20", new AttributeFilter("budget", CompareOperator.GreaterOrEqual, [N(20)]), "budget >= 20" },
        { "region in (\"east\", \"north\")", new AttributeFilter("region", CompareOperator.In, [T("east"), T("north")]), null },
        { "region in (east,north)", new AttributeFilter("region", CompareOperator.In, [T("east"), T("north")]), "region in (\"east\", \"north\")" },
        { "region not in (\"west\")", new AttributeFilter("region", CompareOperator.NotIn, [T("west")]), null },
        { "industry contains \"tech\"", new AttributeFilter("industry", CompareOperator.Contains, [T("tech")]), null },
        { "interests contains \"ai\"", new AttributeFilter("interests", CompareOperator.Contains, [T("ai")]), null },
        { "industry starts with \"manu\"", new AttributeFilter("industry", CompareOperator.StartsWith, [T("manu")]), null },
        { "budget between 10 and 50", new AttributeFilter("budget", CompareOperator.Between, [N(10), N(50)]), null },
        { "signed_up between 2026-01-01 and 2026-03-31", new AttributeFilter("signed_up", CompareOperator.Between, [new DateValue(new LocalDate(2026, 1, 1)), new DateValue(new LocalDate(2026, 3, 31))]), null },
        { "region exists", new AttributeFilter("region", CompareOperator.Exists, []), null },
        { "region is not empty", new AttributeFilter("region", CompareOperator.Exists, []), "region exists" },
        { "region is empty", new AttributeFilter("region", CompareOperator.IsEmpty, []), null },
        { "tier = gold", new AttributeFilter("tier", CompareOperator.Equal, [new ChoiceValue("gold")]), "tier = \"gold\"" },
        { "vip = true", new AttributeFilter("vip", CompareOperator.Equal, [new BooleanValue(true)]), null },
        { "vip != FALSE", new AttributeFilter("vip", CompareOperator.NotEqual, [new BooleanValue(false)]), "vip != false" },
        { "owner_id = \"u-7\"", new AttributeFilter("owner_id", CompareOperator.Equal, [T("u-7")]), null },
        { "industry = \"say \\\"hi\\\"\\n\"", new AttributeFilter("industry", CompareOperator.Equal, [T("say \"hi\"\n")]), null },

        // dates
        { "last_visit within 7d", new DateFilter("last_visit", DateOperator.Within, Window.Days(7)), null },
        { "created_at within 12h", new DateFilter("created_at", DateOperator.Within, Window.Hours(12)), null },
        { "created_at before 30d", new DateFilter("created_at", DateOperator.Before, Window.Days(30)), null },
        { "last_visit before 30m", new DateFilter("last_visit", DateOperator.Before, Window.Minutes(30)), null },
        { "signed_up on or after 2026-01-01", new DateFilter("signed_up", DateOperator.OnOrAfter, Date: new LocalDate(2026, 1, 1)), null },
        { "signed_up ON OR BEFORE 2026-12-31", new DateFilter("signed_up", DateOperator.OnOrBefore, Date: new LocalDate(2026, 12, 31)), "signed_up on or before 2026-12-31" },

        // tags
        { "has_tag(\"vip\")", new TagFilter(TagMatch.Any, ["vip"]), "has_tag(vip)" },
        { "has_tag(tag7)", new TagFilter(TagMatch.Any, ["tag7"]), null },
        { "has_any_tag(\"a\", \"b c\")", new TagFilter(TagMatch.Any, ["a", "b c"]), "has_any_tag(a, \"b c\")" },
        { "has_all_tags(a, b)", new TagFilter(TagMatch.All, ["a", "b"]), null },
        { "has_no_tag(churned)", new TagFilter(TagMatch.None, ["churned"]), null },
        { "has_no_tags(a, b)", new TagFilter(TagMatch.None, ["a", "b"]), "has_no_tag(a, b)" },
        { "has_tag(\"报名活动: 2026-05-20+上海\")", new TagFilter(TagMatch.Any, ["报名活动: 2026-05-20+上海"]), null },
        { "has_tag_in_group(\"campaign-registration\")", new TagGroupFilter("campaign-registration"), "has_tag_in_group(campaign-registration)" },

        // behaviour
        { "count(page_view where page_kind = \"pricing\") >= 2 within 7d", new BehaviourFilter("page_view", [new("page_kind", CompareOperator.Equal, ["pricing"])], CompareOperator.GreaterOrEqual, [2], Window.Days(7)), "visited(pricing) >= 2 within 7d" },
        { "count(page_view where page_kind = \"product\") >= 2 within 7d", new BehaviourFilter("page_view", [Product], CompareOperator.GreaterOrEqual, [2], Window.Days(7)), "visited(product) >= 2 within 7d" },
        { "visited(\"product\") >= 2 within 7d", new BehaviourFilter("page_view", [Product], CompareOperator.GreaterOrEqual, [2], Window.Days(7)), "visited(product) >= 2 within 7d" },
        { "visited(product) within 7d", new BehaviourFilter("page_view", [Product], CompareOperator.GreaterOrEqual, [1], Window.Days(7)), null },
        { "visited(product) between 2 and 5", new BehaviourFilter("page_view", [Product], CompareOperator.Between, [2, 5]), null },
        { "did(download) within 30d", new BehaviourFilter("download", [], CompareOperator.GreaterOrEqual, [1], Window.Days(30)), null },
        { "did(form_submit where form = \"demo\" and source in (web, \"wx\")) within 30d", new BehaviourFilter("form_submit", [new("form", CompareOperator.Equal, ["demo"]), new("source", CompareOperator.In, ["web", "wx"])], CompareOperator.GreaterOrEqual, [1], Window.Days(30)), "did(form_submit where form = demo and source in (web, wx)) within 30d" },
        { "never(purchase)", new BehaviourFilter("purchase", [], CompareOperator.Equal, [0]), null },
        { "never(purchase) within 90d", new BehaviourFilter("purchase", [], CompareOperator.Equal, [0], Window.Days(90)), null },
        { "count(purchase) = 0", new BehaviourFilter("purchase", [], CompareOperator.Equal, [0]), "never(purchase)" },
        { "count(purchase) >= 1", new BehaviourFilter("purchase", [], CompareOperator.GreaterOrEqual, [1]), "did(purchase)" },
        { "count(purchase where amount > 100.50) != 3", new BehaviourFilter("purchase", [new("amount", CompareOperator.GreaterThan, ["100.50"])], CompareOperator.NotEqual, [3]), null },
        { "count(purchase where amount between 1 and 9) < 2", new BehaviourFilter("purchase", [new("amount", CompareOperator.Between, ["1", "9"])], CompareOperator.LessThan, [2]), null },
        { "count(page_view where url starts with \"https://x\" and ref exists and utm is empty) <= 4 within 12h", new BehaviourFilter("page_view", [new("url", CompareOperator.StartsWith, ["https://x"]), new("ref", CompareOperator.Exists, []), new("utm", CompareOperator.IsEmpty, [])], CompareOperator.LessOrEqual, [4], Window.Hours(12)), null },
        { "count(page_view where url contains \"/p/\" and page_kind not in (blog)) > 0", new BehaviourFilter("page_view", [new("url", CompareOperator.Contains, ["/p/"]), new("page_kind", CompareOperator.NotIn, ["blog"])], CompareOperator.GreaterThan, [0]), null },
        { "did(app.open)", new BehaviourFilter("app.open", [], CompareOperator.GreaterOrEqual, [1]), null },

        // scores, grade, stage
        { "score >= 20", new ScoreFilter(ScoreKind.Behaviour, CompareOperator.GreaterOrEqual, [20]), null },
        { "fit_score between 10 and 30", new ScoreFilter(ScoreKind.Fit, CompareOperator.Between, [10, 30]), null },
        { "total_score < 5.5", new ScoreFilter(ScoreKind.Total, CompareOperator.LessThan, [5.5m]), null },
        { "grade in (A, B)", new GradeFilter(["A", "B"]), null },
        { "grade = \"A\"", new GradeFilter(["A"]), "grade = A" },
        { "grade != C", new NotFilter(new GradeFilter(["C"])), "not grade = C" },
        { "grade not in (C, D)", new NotFilter(new GradeFilter(["C", "D"])), "not grade in (C, D)" },
        { "stage in (mql, sql)", new StageFilter([LifecycleStage.Mql, LifecycleStage.Sql]), null },
        { "stage = Customer", new StageFilter([LifecycleStage.Customer]), "stage = customer" },

        // consent and segments
        { "consent(\"sms\")", new ConsentFilter("sms"), "consent(sms)" },
        { "in_segment(\"high-value\")", new SegmentFilter("high-value"), "in_segment(high-value)" },

        // logic
        { "true", new AndFilter([]), null },
        { "false", new OrFilter([]), null },
        { "has_tag(a) and has_tag(b) or has_tag(c)", new OrFilter([new AndFilter([new TagFilter(TagMatch.Any, ["a"]), new TagFilter(TagMatch.Any, ["b"])]), new TagFilter(TagMatch.Any, ["c"])]), null },
        { "has_tag(a) and (has_tag(b) or has_tag(c))", new AndFilter([new TagFilter(TagMatch.Any, ["a"]), new OrFilter([new TagFilter(TagMatch.Any, ["b"]), new TagFilter(TagMatch.Any, ["c"])])]), null },
        { "not has_tag(a) and has_tag(b)", new AndFilter([new NotFilter(new TagFilter(TagMatch.Any, ["a"])), new TagFilter(TagMatch.Any, ["b"])]), null },
        { "not (has_tag(a) and has_tag(b))", new NotFilter(new AndFilter([new TagFilter(TagMatch.Any, ["a"]), new TagFilter(TagMatch.Any, ["b"])])), null },
        { "not not consent(sms)", new NotFilter(new NotFilter(new ConsentFilter("sms"))), null },
        { "((has_tag(a)))", new TagFilter(TagMatch.Any, ["a"]), "has_tag(a)" },
        { "has_tag(a) and (has_tag(b) and has_tag(c))", new AndFilter([new TagFilter(TagMatch.Any, ["a"]), new AndFilter([new TagFilter(TagMatch.Any, ["b"]), new TagFilter(TagMatch.Any, ["c"])])]), null },
        { "has_tag(a) AND\n  has_tag(b) Or has_tag(c)", new OrFilter([new AndFilter([new TagFilter(TagMatch.Any, ["a"]), new TagFilter(TagMatch.Any, ["b"])]), new TagFilter(TagMatch.Any, ["c"])]), "has_tag(a) and has_tag(b) or has_tag(c)" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Text_parses_to_the_tree_and_prints_canonically(string text, Filter expected, string? canonical)
    {
        var parsed = Parse(text);

        Assert.Equal(Canonical(expected), Canonical(parsed));
        Assert.Equal(canonical ?? text, FilterPrinter.Print(parsed));
        Assert.Equal(Canonical(expected), Canonical(Parse(FilterPrinter.Print(parsed))));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_json_form_round_trips_and_validates(string text, Filter expected, string? canonical)
    {
        _ = text;
        _ = canonical;
        var json = FilterJson.Serialize(expected);

        var read = FilterJson.Parse(json, Context);

        Assert.Equal(json, FilterJson.Serialize(read));
        Assert.Empty(FilterValidator.Validate(read, Context));
    }

    [Fact]
    public void The_json_discriminator_may_follow_other_members()
    {
        var read = FilterJson.Parse("""{"match":"any","tags":["vip"],"kind":"tags"}""", Context);

        Assert.Equal(new TagFilter(TagMatch.Any, ["vip"]).Match, Assert.IsType<TagFilter>(read).Match);
        Assert.Equal("""{"kind":"tags","match":"any","tags":["vip"]}""", FilterJson.Serialize(read));
    }

    [Fact]
    public void The_issue_example_parses()
    {
        var filter = Parse("industry = \"manufacturing\" and region in (\"east\", \"north\") and visited(\"product\") >= 2 within 7d and budget between 10 and 50 and not has_tag(\"churned\")");

        var and = Assert.IsType<AndFilter>(filter);
        Assert.Equal(5, and.Operands.Count);
        Assert.Equal(
            "industry = \"manufacturing\" and region in (\"east\", \"north\") and visited(product) >= 2 within 7d and budget between 10 and 50 and not has_tag(churned)",
            FilterPrinter.Print(filter));
    }

    [Fact]
    public void The_benchmark_filters_parse_with_bare_names()
    {
        var schema = new AttributeSchema
        {
            Attributes =
            [
                new() { Name = "industry", Type = AttributeType.Enum },
                new() { Name = "region", Type = AttributeType.Enum },
                new() { Name = "budget", Type = AttributeType.Decimal },
                new() { Name = "last_visit", Type = AttributeType.Date },
                new() { Name = "product_views_30d", Type = AttributeType.Integer },
            ],
        };
        var context = new FilterContext(schema);

        var narrow = FilterParser.Parse("industry = ind2 and region = reg1 and last_visit within 7d and budget between 10 and 50 and (has_tag(tag7) or product_views_30d >= 3)", context);
        var broad = FilterParser.Parse("region in (reg0, reg1, reg2) and last_visit within 30d and (has_tag(tag0) or has_tag(tag3)) and not has_tag(tag1) and budget >= 20", context);

        Assert.Equal("industry = \"ind2\" and region = \"reg1\" and last_visit within 7d and budget between 10 and 50 and (has_tag(tag7) or product_views_30d >= 3)", FilterPrinter.Print(narrow));
        Assert.Equal(new ChoiceValue("ind2"), ((AttributeFilter)((AndFilter)narrow).Operands[0]).Values[0]);
        Assert.Equal(5, ((AndFilter)broad).Operands.Count);
    }

    [Fact]
    public void Json_has_the_documented_shape()
    {
        var filter = Parse("region in (east) and last_visit within 7d and not visited(product) >= 2 within 30d");

        Assert.Equal(
            """{"kind":"and","operands":[{"kind":"attribute","field":"region","operator":"in","values":[{"type":"text","value":"east"}]},"""
            + """{"kind":"date","field":"last_visit","operator":"within","window":"7d"},"""
            + """{"kind":"not","operand":{"kind":"behaviour","eventKind":"page_view","where":[{"property":"page_kind","operator":"equal","values":["product"]}],"operator":"greaterOrEqual","counts":[2],"window":"30d"}}]}""",
            FilterJson.Serialize(filter));
    }

    [Fact]
    public void Hand_written_json_reads()
    {
        const string json = """
            {
              "kind": "or",
              "operands": [
                { "kind": "score", "kind2": null }
              ]
            }
            """;
        Assert.Throws<FilterException>(() => FilterJson.Deserialize(json));

        var filter = FilterJson.Parse(
            """{ "kind": "and", "operands": [ { "kind": "stage", "stages": ["mql", "sql"] }, { "kind": "date", "field": "signed_up", "operator": "onOrAfter", "date": "2026-01-01" }, { "kind": "tags", "match": "none", "tags": ["churned"] } ] }""",
            Context);

        Assert.Equal("stage in (mql, sql) and signed_up on or after 2026-01-01 and has_no_tag(churned)", FilterPrinter.Print(filter));
    }

    [Fact]
    public void Single_operand_groups_print_as_their_operand()
    {
        Filter filter = new AndFilter([new OrFilter([new ConsentFilter("sms"), new ConsentFilter("email")])]);

        Assert.Equal("consent(sms) or consent(email)", FilterPrinter.Print(filter));
        Assert.Equal("has_tag(a) and (consent(sms) or consent(email))", FilterPrinter.Print(new AndFilter([new TagFilter(TagMatch.Any, ["a"]), filter])));
    }
}
