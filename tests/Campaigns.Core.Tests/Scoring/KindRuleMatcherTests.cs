using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Scoring;

/// <summary>Issue 4: matching a kind's rules with one property lookup gives what matching each rule alone gives, in model order.</summary>
public sealed class KindRuleMatcherTests
{
    // Values that compare as text and as numbers ("1" = "1.0" = "+1" numerically), and empty.
    private static readonly string[] Values = ["a", "b", "B", "1", "1.0", "+1", "01", "-0", "0", ".5", "0.5", "x1", ""];

    [Property(MaxTest = 300)]
    public void Matching_equals_each_rule_alone(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var rules = new BehaviourRule[random.Next(1, 12)];
        for (var i = 0; i < rules.Length; i++)
        {
            var property = random.Next(4) == 0 ? "topic" : "page_kind";
            PropertyCondition[] where = random.Next(6) switch
            {
                0 => [],
                1 => [new PropertyCondition(property, CompareOperator.In, [Values[random.Next(Values.Length)], Values[random.Next(Values.Length)]])],
                2 => [new PropertyCondition(property, CompareOperator.Equal, [Values[random.Next(Values.Length)]]), new PropertyCondition("topic", CompareOperator.Exists, [])],
                _ => [new PropertyCondition(property, CompareOperator.Equal, [Values[random.Next(Values.Length)]])],
            };
            rules[i] = new BehaviourRule { Id = "r" + i.ToString(CultureInfo.InvariantCulture), Name = "r", EventKind = EventKinds.PageView, Where = where, Points = i + 1 };
        }

        var matcher = new KindRuleMatcher(rules);
        for (var n = 0; n < 20; n++)
        {
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            if (random.Next(6) != 0)
            {
                properties["page_kind"] = Values[random.Next(Values.Length)];
            }

            if (random.Next(2) == 0)
            {
                properties["topic"] = Values[random.Next(Values.Length)];
            }

            var e = new BehaviourEvent { EventId = "e" + n.ToString(CultureInfo.InvariantCulture), ContactId = ContactId.New(), Kind = EventKinds.PageView, OccurredAt = Instant.FromUtc(2026, 6, 1, 0, 0), Properties = properties };
            ScoreLedgerEntry[]? matched = null;

            matcher.Match(e, ref matched);

            var expected = rules.Where(r => FilterEvaluator.MatchesEvent(e, r.EventKind, r.Where)).Select(r => new ScoreLedgerEntry(r.Id, e.EventId, e.OccurredAt, r.Points)).ToList();
            Assert.Equal(expected, (matched ?? []).ToList());
        }
    }
}
