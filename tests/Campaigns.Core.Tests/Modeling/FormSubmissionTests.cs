using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Modeling;

public sealed class FormSubmissionTests
{
    private static readonly IReadOnlyList<FieldDefinition> Fields =
    [
        new() { Key = "name", Label = "Name", Type = FieldType.Text, Required = true, MaxLength = 10, MapsTo = "name" },
        new() { Key = "email", Label = "E-mail", Type = FieldType.Email, MapsTo = "email" },
        new() { Key = "phone", Label = "Phone", Type = FieldType.Phone, MapsTo = "phone" },
        new() { Key = "budget", Label = "Budget", Type = FieldType.Number, Min = 0, Max = 1000 },
        new() { Key = "visit", Label = "Visit date", Type = FieldType.Date },
        new() { Key = "consent", Label = "Consent", Type = FieldType.Boolean },
        new()
        {
            Key = "industry", Label = "Industry", Type = FieldType.SingleChoice,
            Options = [new("manufacturing", "制造业"), new("retail", "零售")],
        },
        new()
        {
            Key = "interests", Label = "Interests", Type = FieldType.MultiChoice,
            Options = [new("cloud", "Cloud"), new("ai", "AI"), new("iot", "IoT")],
        },
    ];

    public static TheoryData<string, string, FieldValue> GoodValues() => new()
    {
        { "name", "  Ann Li ", new TextValue("Ann Li") },
        { "email", " Ann@Example.COM ", new TextValue("ann@example.com") },
        { "phone", "+86 138-0013 8000", new TextValue("+8613800138000") },
        { "phone", "(010) 1234.5678", new TextValue("01012345678") },
        { "budget", "12.5", new NumberValue(12.5m) },
        { "budget", "-0", new NumberValue(0m) },
        { "budget", " 1000 ", new NumberValue(1000m) },
        { "budget", "0.001", new NumberValue(0.001m) },
        { "visit", "2026-05-20", new DateValue(new LocalDate(2026, 5, 20)) },
        { "visit", "2028-02-29", new DateValue(new LocalDate(2028, 2, 29)) },
        { "consent", "true", new BooleanValue(true) },
        { "consent", "FALSE", new BooleanValue(false) },
        { "consent", "Yes", new BooleanValue(true) },
        { "consent", "no", new BooleanValue(false) },
        { "consent", "1", new BooleanValue(true) },
        { "consent", "0", new BooleanValue(false) },
        { "consent", "on", new BooleanValue(true) },
        { "consent", "是", new BooleanValue(true) },
        { "consent", "否", new BooleanValue(false) },
        { "industry", " retail ", new ChoiceValue("retail") },
        { "interests", "cloud,ai", new ChoicesValue(["cloud", "ai"]) },
        { "interests", "iot | cloud", new ChoicesValue(["iot", "cloud"]) },
        { "interests", "ai,,ai|cloud,", new ChoicesValue(["ai", "cloud"]) },
    };

    [Theory]
    [MemberData(nameof(GoodValues))]
    public void Parses_good_values(string key, string raw, FieldValue expected)
    {
        var result = FormSubmission.Parse(Fields, key == "name" ? Submission((key, raw)) : Submission(("name", "Ann"), (key, raw)));

        Assert.Empty(result.Errors);
        Assert.True(result.IsValid);
        AssertSameValue(expected, result.Values[key]);
    }

    public static TheoryData<string, string, string> BadValues() => new()
    {
        { "budget", "abc", "type" },
        { "budget", "1,5", "type" },
        { "budget", "1e3", "type" },
        { "budget", "12.5.1", "type" },
        { "budget", "1001", "range" },
        { "budget", "-1", "range" },
        { "visit", "2026-13-01", "type" },
        { "visit", "2026-02-30", "type" },
        { "visit", "20/05/2026", "type" },
        { "visit", "2026-5-20", "type" },
        { "consent", "maybe", "type" },
        { "consent", "2", "type" },
        { "industry", "farming", "option" },
        { "industry", "Retail", "option" },
        { "interests", "cloud,quantum", "option" },
        { "email", "not-an-email", "format" },
        { "email", "a@b", "format" },
        { "phone", "12ab", "format" },
        { "phone", "12345", "format" },
        { "name", "Ann Li Wang Zhang", "max-length" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Rejects_bad_values_naming_the_field(string key, string raw, string code)
    {
        var submission = key == "name" ? Submission((key, raw)) : Submission(("name", "Ann"), (key, raw));

        var result = FormSubmission.Parse(Fields, submission);

        var error = Assert.Single(result.Errors);
        Assert.Equal(key, error.FieldKey);
        Assert.Equal(code, error.Code);
        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        Assert.False(result.IsValid);
    }

    [Theory]
    [InlineData("budget", "abc")]
    [InlineData("visit", "20/05/2026")]
    [InlineData("consent", "maybe")]
    public void Type_errors_quote_the_value(string key, string raw)
    {
        var error = Assert.Single(FormSubmission.Parse(Fields, Submission(("name", "Ann"), (key, raw))).Errors);

        Assert.Equal("type", error.Code);
        Assert.Contains($"'{raw}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Blank_input_is_not_given(string? raw)
    {
        var result = FormSubmission.Parse(Fields, Submission(("name", raw), ("budget", raw), ("interests", raw)));

        var error = Assert.Single(result.Errors);
        Assert.Equal(("name", "required"), (error.FieldKey, error.Code));
        Assert.Empty(result.Values);
    }

    [Fact]
    public void Collects_every_error_in_field_order_then_unknown_keys()
    {
        var result = FormSubmission.Parse(Fields, Submission(
            ("zeta", "x"),
            ("email", "nope"),
            ("phone", "call me"),
            ("budget", "lots"),
            ("visit", "tomorrow"),
            ("consent", "perhaps"),
            ("industry", "mining"),
            ("interests", "ai,blockchain,crypto"),
            ("alpha", "y")));

        Assert.Equal(
            [
                ("name", "required"),
                ("email", "format"),
                ("phone", "format"),
                ("budget", "type"),
                ("visit", "type"),
                ("consent", "type"),
                ("industry", "option"),
                ("interests", "option"),
                ("interests", "option"),
                ("alpha", "unknown-field"),
                ("zeta", "unknown-field"),
            ],
            result.Errors.Select(e => (e.FieldKey, e.Code)));
        Assert.All(result.Errors, e => Assert.Contains($"'{e.FieldKey}'", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_required_field_with_unparseable_text_gets_only_the_type_error()
    {
        FieldDefinition[] fields = [new() { Key = "size", Label = "Size", Type = FieldType.Number, Required = true }];

        var result = FormSubmission.Parse(fields, Submission(("size", "big")));

        var error = Assert.Single(result.Errors);
        Assert.Equal(("size", "type"), (error.FieldKey, error.Code));
    }

    [Fact]
    public void Keeps_values_that_parsed_when_others_did_not()
    {
        var result = FormSubmission.Parse(Fields, Submission(("name", "Ann"), ("budget", "x"), ("visit", "2026-01-02")));

        Assert.Equal(new DateValue(new LocalDate(2026, 1, 2)), result.Values["visit"]);
        Assert.False(result.Values.ContainsKey("budget"));
        Assert.Single(result.Errors);
    }

    [Fact]
    public void Keys_are_case_sensitive()
    {
        var result = FormSubmission.Parse(Fields, Submission(("Name", "Ann")));

        Assert.Equal([("name", "required"), ("Name", "unknown-field")], result.Errors.Select(e => (e.FieldKey, e.Code)));
    }

    [Fact]
    public void Parses_against_a_form_template()
    {
        var form = new RegistrationFormTemplate { Id = "f", Name = "F", Fields = Fields };

        var result = FormSubmission.Parse(form, Submission(("name", "Ann"), ("budget", "3")));

        Assert.True(result.IsValid);
        Assert.Equal(new NumberValue(3m), result.Values["budget"]);
    }

    private static Dictionary<string, string?> Submission(params (string Key, string? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    private static void AssertSameValue(FieldValue expected, FieldValue actual)
    {
        if (expected is ChoicesValue e)
        {
            Assert.Equal(e.Values, Assert.IsType<ChoicesValue>(actual).Values);
        }
        else
        {
            Assert.Equal(expected, actual);
        }
    }
}
