using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Modeling;

public class FieldValidatorTests
{
    private static readonly FieldDefinition[] Definitions =
    [
        new() { Key = "organizer", Label = "组织方式", Type = FieldType.SingleChoice, Required = true, Options = [new("hosted", "我司主办"), new("co-hosted", "协办")] },
        new() { Key = "groups", Label = "参与群体", Type = FieldType.MultiChoice, Options = [new("internal", "内部"), new("customers", "客户")] },
        new() { Key = "seats", Label = "座位数", Type = FieldType.Number, Min = 1, Max = 500 },
        new() { Key = "note", Label = "备注", Type = FieldType.Text, MaxLength = 5 },
        new() { Key = "day", Label = "日期", Type = FieldType.Date },
        new() { Key = "email", Label = "邮箱", Type = FieldType.Email },
        new() { Key = "phone", Label = "手机", Type = FieldType.Phone },
        new() { Key = "vip", Label = "VIP", Type = FieldType.Boolean },
    ];

    public static TheoryData<string, FieldValue, string?> Cases() => new()
    {
        { "organizer", new ChoiceValue("hosted"), null },
        { "organizer", new ChoiceValue("attending"), "option" },
        { "organizer", new TextValue("hosted"), "type" },
        { "groups", new ChoicesValue(["internal", "customers"]), null },
        { "groups", new ChoicesValue(["partners"]), "option" },
        { "seats", new NumberValue(500), null },
        { "seats", new NumberValue(0), "range" },
        { "seats", new NumberValue(501), "range" },
        { "seats", new TextValue("ten"), "type" },
        { "note", new TextValue("短文本"), null },
        { "note", new TextValue("too long"), "max-length" },
        { "day", new DateValue(new LocalDate(2026, 5, 1)), null },
        { "day", new NumberValue(20260501), "type" },
        { "email", new TextValue("li.lei@example.cn"), null },
        { "email", new TextValue("li.lei@example"), "format" },
        { "email", new TextValue("a b@example.cn"), "format" },
        { "phone", new TextValue("+86 138-0013-8000"), null },
        { "phone", new TextValue("13800138000"), null },
        { "phone", new TextValue("call me"), "format" },
        { "vip", new BooleanValue(true), null },
        { "vip", new ChoiceValue("yes"), "type" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_type_accepts_good_values_and_names_the_field_for_bad_ones(string key, FieldValue value, string? code)
    {
        var values = new Dictionary<string, FieldValue> { ["organizer"] = new ChoiceValue("hosted"), [key] = value };
        var errors = FieldValidator.Validate(Definitions, values);
        if (code is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            var error = Assert.Single(errors);
            Assert.Equal((key, code), (error.FieldKey, error.Code));
            Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Missing_required_and_unknown_fields_are_all_reported()
    {
        var errors = FieldValidator.Validate(Definitions, new Dictionary<string, FieldValue> { ["zeta"] = new TextValue("x"), ["alpha"] = new TextValue("y"), ["note"] = new TextValue(" ") });
        Assert.Equal([("organizer", "required"), ("alpha", "unknown-field"), ("zeta", "unknown-field")], errors.Select(e => (e.FieldKey, e.Code)));
        var ex = Assert.Throws<FieldValidationException>(() => FieldValidator.ThrowIfInvalid(Definitions, new Dictionary<string, FieldValue>()));
        Assert.Contains("'organizer' (组织方式) is required", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(" Li.Lei@Example.CN ", "li.lei@example.cn")]
    public void Emails_normalize_to_trimmed_lower_case(string raw, string expected) => Assert.Equal(expected, FieldValidator.NormalizeEmail(raw));

    [Theory]
    [InlineData("+86 (138) 0013-8000", "+8613800138000")]
    [InlineData("138.0013.8000", "13800138000")]
    public void Phones_normalize_by_dropping_separators(string raw, string expected) => Assert.Equal(expected, FieldValidator.NormalizePhone(raw));
}
