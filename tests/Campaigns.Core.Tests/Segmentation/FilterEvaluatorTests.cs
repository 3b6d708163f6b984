using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;
using static Campaigns.Tests.Segmentation.TestSchema;

namespace Campaigns.Tests.Segmentation;

public class FilterEvaluatorTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 10, 1, 0);
    private static readonly ContactId Id = ContactId.New();

    private static Contact Someone(Dictionary<string, FieldValue>? attributes = null) => new()
    {
        Id = Id,
        CreatedAt = Now - Duration.FromDays(100),
        Attributes = attributes ?? new Dictionary<string, FieldValue>
        {
            ["industry"] = new TextValue("manufacturing"),
            ["region"] = new TextValue("east"),
            ["tier"] = new ChoiceValue("gold"),
            ["budget"] = new NumberValue(30),
            ["last_visit"] = new DateValue(new LocalDate(2026, 5, 3)),
            ["vip"] = new BooleanValue(true),
            ["interests"] = new ChoicesValue(["ai", "iot"]),
            ["company_size"] = new TextValue(""),
        },
    };

    private static bool Matches(string text, Contact? contact = null, IReadOnlyList<BehaviourEvent>? events = null, Instant? now = null) =>
        FilterEvaluator.Default.Matches(Parse(text), contact ?? Someone(), events ?? [], now ?? Now);

    public static TheoryData<string, bool> AttributeCases() => new()
    {
        { "industry = \"manufacturing\"", true },
        { "industry = \"Manufacturing\"", false },
        { "industry != \"retail\"", true },
        { "industry in (retail, manufacturing)", true },
        { "industry not in (retail, manufacturing)", false },
        { "industry contains \"factur\"", true },
        { "industry contains \"FACTUR\"", false },
        { "industry starts with \"manu\"", true },
        { "industry starts with \"facturing\"", false },
        { "industry exists", true },
        { "industry is empty", false },
        { "tier = gold", true },
        { "tier in (silver, bronze)", false },
        { "budget = 30", true },
        { "budget != 30.00", false },
        { "budget between 30 and 50", true },
        { "budget between 10 and 30", true },
        { "budget between 31 and 50", false },
        { "budget < 30", false },
        { "budget <= 30", true },
        { "budget > 29.99", true },
        { "budget >= 30.01", false },
        { "budget in (10, 30)", true },
        { "last_visit >= 2026-05-03", true },
        { "last_visit < 2026-05-03", false },
        { "last_visit between 2026-05-01 and 2026-05-03", true },
        { "vip = true", true },
        { "vip != true", false },
        { "interests contains \"ai\"", true },
        { "interests contains \"a\"", false },
        { "interests exists", true },

        // missing: only != , not in and is empty match
        { "region = \"east\"", true },
        { "signed_up exists", false },
        { "signed_up is empty", true },
        { "signed_up >= 2020-01-01", false },
        { "signed_up < 2030-01-01", false },
        { "signed_up != 2020-01-01", true },
        { "signed_up not in (2020-01-01)", true },
        { "signed_up in (2020-01-01)", false },
        { "signed_up on or before 2030-01-01", false },
        { "signed_up within 1000d", false },
        { "signed_up before 1d", false },

        // empty text counts as missing
        { "owner_id is empty", true },
        { "owner_id != \"u1\"", true },
    };

    [Theory]
    [MemberData(nameof(AttributeCases))]
    public void Attribute_comparisons(string text, bool expected) => Assert.Equal(expected, Matches(text));

    [Fact]
    public void Empty_text_and_empty_lists_are_missing_and_values_of_another_type_never_equal()
    {
        var contact = Someone(new() { ["industry"] = new TextValue(""), ["interests"] = new ChoicesValue([]), ["budget"] = new TextValue("30") });

        Assert.True(Matches("industry is empty", contact));
        Assert.False(Matches("industry = \"\"", contact));
        Assert.True(Matches("interests is empty", contact));
        Assert.False(Matches("interests contains \"ai\"", contact));
        Assert.False(Matches("budget = 30", contact));
        Assert.True(Matches("budget != 30", contact));
        Assert.False(Matches("budget >= 0", contact));
        Assert.True(Matches("owner_id = \"u1\"", Someone() with { OwnerId = "u1" }));
    }

    [Fact]
    public void Relative_dates_on_instants_include_both_ends_of_the_window()
    {
        Contact Created(Instant at) => Someone() with { CreatedAt = at };

        Assert.True(Matches("created_at within 7d", Created(Now - Duration.FromDays(7))));
        Assert.True(Matches("created_at within 7d", Created(Now)));
        Assert.False(Matches("created_at within 7d", Created(Now - Duration.FromDays(7) - Duration.Epsilon)));
        Assert.False(Matches("created_at within 7d", Created(Now + Duration.Epsilon)));
        Assert.False(Matches("created_at before 7d", Created(Now - Duration.FromDays(7))));
        Assert.True(Matches("created_at before 7d", Created(Now - Duration.FromDays(7) - Duration.Epsilon)));
        Assert.True(Matches("created_at within 90m", Created(Now - Duration.FromMinutes(90))));
        Assert.False(Matches("created_at within 1h", Created(Now - Duration.FromMinutes(61))));
    }

    [Fact]
    public void Absolute_dates_on_instants_use_the_evaluators_zone_not_the_contacts()
    {
        // 2026-05-09T20:00Z is 2026-05-10 04:00 in Shanghai and 2026-05-09 13:00 in Los Angeles.
        var contact = Someone() with { CreatedAt = Instant.FromUtc(2026, 5, 9, 20, 0) };
        var shanghai = new FilterEvaluator(DateTimeZoneProviders.Tzdb["Asia/Shanghai"]);

        Assert.False(Matches("created_at on or after 2026-05-10", contact));
        Assert.False(Matches("created_at on or after 2026-05-10", contact with { TimeZoneId = "Asia/Shanghai" }));
        Assert.True(Matches("created_at on or before 2026-05-09", contact with { TimeZoneId = "Asia/Shanghai" }));
        Assert.True(shanghai.Matches(Parse("created_at on or after 2026-05-10"), contact, [], Now));
        Assert.True(shanghai.Matches(Parse("created_at on or after 2026-05-10"), contact with { TimeZoneId = "America/Los_Angeles" }, [], Now));
    }

    [Theory]
    [InlineData("UTC", "2026-05-03", true)]
    [InlineData("UTC", "2026-05-02", false)]
    [InlineData("UTC", "2026-05-10", true)]
    [InlineData("UTC", "2026-05-11", false)]
    [InlineData("Asia/Shanghai", "2026-05-03", true)]
    [InlineData("Asia/Shanghai", "2026-05-02", false)]
    [InlineData("America/Los_Angeles", "2026-05-02", true)]
    [InlineData("America/Los_Angeles", "2026-05-10", false)]
    public void Within_on_a_date_attribute_covers_the_calendar_days_the_window_touches(string zone, string date, bool expected)
    {
        var calendar = DateTimeZoneProviders.Tzdb[zone];
        var evaluator = new FilterEvaluator(calendar);
        var contact = Someone(new() { ["last_visit"] = new DateValue(NodaTime.Text.LocalDatePattern.Iso.Parse(date).Value) }) with { TimeZoneId = "Pacific/Kiritimati" };

        Assert.Equal(expected, evaluator.Matches(Parse("last_visit within 7d"), contact, [], Now));
        var isPast = contact.Attributes["last_visit"] is DateValue d && d.Value <= Now.InZone(calendar).Date;
        Assert.Equal(isPast && !expected, evaluator.Matches(Parse("last_visit before 7d"), contact, [], Now));
    }

    [Fact]
    public void With_a_schema_values_of_the_wrong_type_count_as_missing()
    {
        var contact = Someone(new() { ["budget"] = new TextValue("lots") });
        var typed = new FilterEvaluator(schema: TestSchema.Schema);

        Assert.True(Matches("budget exists", contact));
        Assert.False(typed.Matches(Parse("budget exists"), contact, [], Now));
        Assert.True(typed.Matches(Parse("budget is empty"), contact, [], Now));
        Assert.True(typed.Matches(Parse("budget != 3"), contact, [], Now));
    }

    [Fact]
    public void Behaviour_without_a_window_ignores_future_events()
    {
        var contact = Someone();
        BehaviourEvent At(Instant at) => new() { EventId = at.ToString(), ContactId = contact.Id, Kind = "purchase", OccurredAt = at };

        Assert.True(FilterEvaluator.Default.Matches(Parse("never(purchase)"), contact, [At(Now + Duration.FromMinutes(1))], Now));
        Assert.False(FilterEvaluator.Default.Matches(Parse("never(purchase)"), contact, [At(Now)], Now));
    }

    [Fact]
    public void Absolute_dates_on_date_attributes_are_inclusive()
    {
        Assert.True(Matches("last_visit on or after 2026-05-03"));
        Assert.False(Matches("last_visit on or after 2026-05-04"));
        Assert.True(Matches("last_visit on or before 2026-05-03"));
        Assert.False(Matches("last_visit on or before 2026-05-02"));
    }

    [Fact]
    public void Only_current_tags_count()
    {
        var contact = Someone() with
        {
            Tags =
            [
                new() { Tag = "vip", AssignedAt = Now - Duration.FromDays(3), Group = "status" },
                new() { Tag = "trial", AssignedAt = Now - Duration.FromDays(30), ExpiresAt = Now, Group = "plan" },
                new() { Tag = "webinar", AssignedAt = Now - Duration.FromDays(1), ExpiresAt = Now + Duration.FromSeconds(1), Group = "campaign" },
            ],
        };

        Assert.True(Matches("has_tag(vip)", contact));
        Assert.False(Matches("has_tag(trial)", contact));
        Assert.True(Matches("has_any_tag(trial, webinar)", contact));
        Assert.True(Matches("has_all_tags(vip, webinar)", contact));
        Assert.False(Matches("has_all_tags(vip, trial)", contact));
        Assert.True(Matches("has_no_tag(trial, churned)", contact));
        Assert.False(Matches("has_no_tag(trial, vip)", contact));
        Assert.True(Matches("has_tag_in_group(campaign)", contact));
        Assert.False(Matches("has_tag_in_group(plan)", contact));
        Assert.True(Matches("has_tag(webinar)", contact, now: Now + Duration.FromMilliseconds(999)));
        Assert.False(Matches("has_tag(webinar)", contact, now: Now + Duration.FromSeconds(1)));
    }

    private static BehaviourEvent Event(string kind, Instant at, params (string Key, string Value)[] properties) => new()
    {
        EventId = Guid.NewGuid().ToString(),
        ContactId = Id,
        Kind = kind,
        OccurredAt = at,
        Properties = properties.ToDictionary(p => p.Key, p => p.Value),
    };

    [Fact]
    public void Behaviour_windows_include_both_ends_and_ignore_order_future_and_other_contacts()
    {
        BehaviourEvent[] events =
        [
            Event("page_view", Now, ("page_kind", "product")),
            Event("page_view", Now - Duration.FromDays(8), ("page_kind", "product")),
            Event("page_view", Now - Duration.FromDays(7), ("page_kind", "product")),
            Event("page_view", Now - Duration.FromDays(7) - Duration.Epsilon, ("page_kind", "product")),
            Event("page_view", Now + Duration.Epsilon, ("page_kind", "product")),
            Event("page_view", Now - Duration.FromDays(1), ("page_kind", "blog")),
            Event("page_view", Now - Duration.FromDays(1), ("page_kind", "product")) with { ContactId = ContactId.New() },
        ];

        Assert.True(Matches("visited(product) = 2 within 7d", events: events));
        Assert.True(Matches("visited(product) = 4", events: events));
        Assert.True(Matches("count(page_view) = 5", events: events));
        Assert.True(Matches("count(page_view) between 3 and 3 within 7d", events: events));
        Assert.True(Matches("count(page_view where page_kind != product) = 1", events: events));
        Assert.True(Matches("did(page_view) within 1m", events: events));
        Assert.False(Matches("never(page_view) within 1m", events: events));
        Assert.True(Matches("never(purchase)", events: events));
        Assert.False(Matches("did(purchase)", events: events));
        Assert.True(Matches("count(page_view) < 1 within 1d", events: events, now: Now - Duration.FromDays(2)));
    }

    [Fact]
    public void Property_conditions_compare_numbers_as_numbers_and_treat_missing_like_attributes()
    {
        BehaviourEvent[] events =
        [
            Event("purchase", Now - Duration.FromDays(1), ("amount", "100.5"), ("sku", "A-1")),
            Event("purchase", Now - Duration.FromDays(2), ("amount", "99"), ("coupon", "")),
            Event("purchase", Now - Duration.FromDays(3), ("amount", "1000"), ("coupon", "WELCOME")),
        ];

        Assert.True(Matches("count(purchase where amount > 99.9) = 2", events: events));
        Assert.True(Matches("count(purchase where amount = 100.50) = 1", events: events));
        Assert.True(Matches("count(purchase where amount between 99 and 100.5) = 2", events: events));
        Assert.True(Matches("count(purchase where amount in (99, 1000)) = 2", events: events));
        Assert.True(Matches("count(purchase where sku != \"A-1\") = 2", events: events));
        Assert.True(Matches("count(purchase where sku not in (\"A-1\")) = 2", events: events));
        Assert.True(Matches("count(purchase where sku = \"A-1\" and amount >= 100) = 1", events: events));
        Assert.True(Matches("count(purchase where coupon exists) = 1", events: events));
        Assert.True(Matches("count(purchase where coupon is empty) = 2", events: events));
        Assert.True(Matches("count(purchase where coupon starts with \"WEL\") = 1", events: events));
        Assert.True(Matches("count(purchase where coupon contains \"COM\") = 1", events: events));
        Assert.True(Matches("count(purchase where sku > \"A\") = 1", events: events));
    }

    [Fact]
    public void Scores_grades_and_stages()
    {
        var none = Someone();
        var scored = Someone() with { Scores = new ContactScores(25, 15.5m, "B", Now), Stage = LifecycleStage.Sql };

        Assert.True(Matches("score = 0 and fit_score = 0 and total_score = 0", none));
        Assert.False(Matches("score > 0", none));
        Assert.False(Matches("grade in (A, B, C, D)", none));
        Assert.True(Matches("not grade = A", none));
        Assert.True(Matches("stage = new", none));
        Assert.True(Matches("score >= 25 and fit_score between 15 and 16 and total_score = 40.5", scored));
        Assert.False(Matches("total_score > 40.5", scored));
        Assert.True(Matches("score != 24", scored));
        Assert.True(Matches("grade in (A, B)", scored));
        Assert.False(Matches("grade = b", scored));
        Assert.True(Matches("stage in (mql, sql)", scored));
        Assert.False(Matches("stage in (new, customer)", scored));
    }

    [Fact]
    public void Consent_needs_a_granted_record()
    {
        var contact = Someone() with
        {
            Consents = new Dictionary<string, ConsentRecord>
            {
                ["email"] = new(true, "registration form", Now - Duration.FromDays(10)),
                ["sms"] = new(false, "unsubscribe link", Now - Duration.FromDays(1)),
            },
        };

        Assert.True(Matches("consent(email)", contact));
        Assert.False(Matches("consent(sms)", contact));
        Assert.False(Matches("consent(wechat)", contact));
    }

    private sealed class Members(params string[] segments) : ISegmentMembership
    {
        public bool IsMember(string segmentId, ContactId contactId) => contactId == Id && segments.Contains(segmentId);
    }

    [Fact]
    public void Segment_references_ask_the_membership_or_evaluate_the_definition()
    {
        var filter = Parse("in_segment(vips) and not in_segment(high-value)");

        Assert.True(FilterEvaluator.Default.Matches(filter, Someone(), [], Now, new Members("vips")));
        Assert.False(FilterEvaluator.Default.Matches(filter, Someone(), [], Now, new Members("vips", "high-value")));
        Assert.Throws<InvalidOperationException>(() => FilterEvaluator.Default.Matches(filter, Someone(), [], Now));

        var evaluator = new FilterEvaluator(definitions: Segments);
        Assert.True(evaluator.Matches(filter, Someone(), [], Now));
        Assert.False(evaluator.Matches(filter, Someone() with { Scores = new ContactScores(50, 10, null, Now) }, [], Now));
    }

    [Fact]
    public void Logic_with_empty_groups()
    {
        Assert.True(Matches("true"));
        Assert.False(Matches("false"));
        Assert.True(Matches("not false and (false or true)"));
        Assert.True(Matches("industry = \"x\" or budget = 30 and vip = true"));
        Assert.False(Matches("(industry = \"x\" or budget = 30) and vip = false"));
    }
}
