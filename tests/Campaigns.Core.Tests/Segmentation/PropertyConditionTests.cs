using System.Globalization;
using Campaigns.Segmentation;
using FsCheck.Xunit;

namespace Campaigns.Tests.Segmentation;

/// <summary>
/// Issue 4: event property conditions compare numerically when both sides are invariant-culture numbers and ordinally
/// otherwise; the fast paths (equal text, text that cannot start a number) give exactly what parsing every value gives.
/// </summary>
public sealed class PropertyConditionTests
{
    private static readonly CompareOperator[] Operators =
    [
        CompareOperator.Equal, CompareOperator.NotEqual, CompareOperator.LessThan, CompareOperator.LessOrEqual,
        CompareOperator.GreaterThan, CompareOperator.GreaterOrEqual, CompareOperator.In, CompareOperator.NotIn,
    ];

    [Theory]
    [InlineData("page-3", CompareOperator.Equal, "page-3", true)]
    [InlineData("page-3", CompareOperator.Equal, "page-4", false)]
    [InlineData("10", CompareOperator.Equal, "10.0", true)]
    [InlineData(".5", CompareOperator.Equal, "0.5", true)]
    [InlineData("+2", CompareOperator.Equal, "2", true)]
    [InlineData("-1", CompareOperator.Equal, "-1.00", true)]
    [InlineData("10", CompareOperator.GreaterThan, "9", true)]
    [InlineData("b10", CompareOperator.GreaterThan, "b9", false)]
    [InlineData(" 10", CompareOperator.GreaterThan, "9", false)]
    [InlineData("1e3", CompareOperator.Equal, "1000", false)]
    [InlineData("abc", CompareOperator.LessThan, "abd", true)]
    [InlineData("", CompareOperator.NotEqual, "x", true)]
    public void Compares_numbers_numerically_and_text_ordinally(string value, CompareOperator op, string operand, bool expected)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal) { ["p"] = value };

        Assert.Equal(expected, FilterEvaluator.MatchesCondition(new PropertyCondition("p", op, [operand]), properties));
    }

    [Property(MaxTest = 300)]
    public void Fast_paths_equal_parsing_every_value(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        string[] alphabet = ["0", "1", "9", ".", "-", "+", " ", "a", "z", "A", "é", "٣", "1.5", "-0"];
        for (var i = 0; i < 50; i++)
        {
            var value = Text();
            var operand = i % 5 == 0 ? value : Text();
            var op = Operators[random.Next(Operators.Length)];
            var properties = new Dictionary<string, string>(StringComparer.Ordinal) { ["p"] = value };

            Assert.Equal(Reference(value, op, operand), FilterEvaluator.MatchesCondition(new PropertyCondition("p", op, [operand]), properties));
        }

        string Text() => string.Concat(Enumerable.Range(0, random.Next(0, 5)).Select(_ => alphabet[random.Next(alphabet.Length)]));
    }

    /// <summary>The comparison as specified: parse both, else ordinal; an empty value is absent.</summary>
    private static bool Reference(string value, CompareOperator op, string operand)
    {
        var present = value.Length > 0;
        const NumberStyles Style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint;
        var compare = decimal.TryParse(value, Style, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(operand, Style, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y)
            : Math.Sign(string.CompareOrdinal(value, operand));
        return op switch
        {
            CompareOperator.NotEqual => !present || compare != 0,
            CompareOperator.NotIn => !present || compare != 0,
            _ when !present => false,
            CompareOperator.Equal or CompareOperator.In => compare == 0,
            CompareOperator.LessThan => compare < 0,
            CompareOperator.LessOrEqual => compare <= 0,
            CompareOperator.GreaterThan => compare > 0,
            _ => compare >= 0,
        };
    }
}
