using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;

namespace Campaigns.Tests.Segmentation;

/// <summary>The schema and context the segmentation tests share.</summary>
internal static class TestSchema
{
    public static AttributeSchema Schema { get; } = new()
    {
        Attributes =
        [
            new() { Name = "industry", Type = AttributeType.String },
            new() { Name = "region", Type = AttributeType.String },
            new() { Name = "tier", Type = AttributeType.Enum, AllowedValues = ["gold", "silver", "bronze"] },
            new() { Name = "budget", Type = AttributeType.Decimal },
            new() { Name = "company_size", Type = AttributeType.Integer },
            new() { Name = "last_visit", Type = AttributeType.Date },
            new() { Name = "signed_up", Type = AttributeType.Date },
            new() { Name = "vip", Type = AttributeType.Bool },
            new() { Name = "interests", Type = AttributeType.StringList },
        ],
    };

    public static SegmentCatalog Segments { get; } = CreateSegments();

    public static FilterContext Context { get; } = new FilterContext(Schema) { Segments = Segments }.WithEventKinds("app.open");

    public static Filter Parse(string text) => FilterParser.Parse(text, Context);

    /// <summary>Structural equality of filter trees (records compare lists by reference): their JSON.</summary>
    public static string Canonical(Filter filter) => FilterJson.Serialize(filter);

    public static TextValue T(string value) => new(value);

    public static NumberValue N(decimal value) => new(value);

    private static SegmentCatalog CreateSegments()
    {
        var catalog = new SegmentCatalog(new FilterContext(Schema));
        catalog.Set(new SegmentDefinition { Id = "high-value", Name = "High value", Filter = new ScoreFilter(ScoreKind.Total, CompareOperator.GreaterOrEqual, [60]) });
        catalog.Set(new SegmentDefinition { Id = "vips", Name = "VIPs", Filter = new AttributeFilter("vip", CompareOperator.Equal, [new BooleanValue(true)]) });
        return catalog;
    }
}
