using Campaigns.Segmentation;
using FsCheck.Xunit;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>The engine returns exactly the members the reference FilterEvaluator returns, on random contacts and filters.</summary>
public sealed class EngineDifferentialTests
{
    private const int FiltersPerBase = 60;

    [Property(MaxTest = 20)]
    public void EngineMatchesOracleOnRandomBasesAndFilters(int seed)
    {
        // 20 bases × 60 filters = 1,200 random filters per run, after updates and removals.
        var data = new RandomBase(seed, 700);
        var index = data.BuildIndex();
        foreach (var c in data.Mutate(0.2))
        {
            index.Upsert(c);
        }

        foreach (var c in data.RemoveSome(0.05))
        {
            Assert.True(index.Remove(c.Id));
        }

        var segments = new Dictionary<string, SegmentDefinition>
        {
            ["s1"] = new() { Id = "s1", Name = "s1", Filter = data.NewFilter(2) },
        };
        segments["s2"] = new() { Id = "s2", Name = "s2", Filter = new AndFilter([new SegmentFilter("s1"), data.NewFilter(1)]) };
        var oracle = new EvaluatorOracle(RandomBase.Schema, data.Events, segments);
        Assert.Equal(data.Contacts.Count, index.Count);
        for (var i = 0; i < FiltersPerBase; i++)
        {
            var filter = i % 10 == 9 ? new OrFilter([new SegmentFilter(i % 20 == 9 ? "s1" : "s2"), data.NewFilter(1)]) : data.NewFilter();
            var expected = oracle.Evaluate(data.Contacts, filter, RandomBase.Now).ToList();
            var actual = index.Evaluate(filter, RandomBase.Now, segments);
            Assert.True(expected.SequenceEqual(actual), $"seed {seed}, filter {i}: {filter}\nexpected {expected.Count}, got {actual.Count}");
            Assert.Equal(expected.Count, actual.Count);
        }
    }

    [Fact]
    public void CyclesAndUnknownFieldsAreRejected()
    {
        var index = new RandomBase(1, 10).BuildIndex();
        var segments = new Dictionary<string, SegmentDefinition>
        {
            ["a"] = new() { Id = "a", Name = "a", Filter = new SegmentFilter("b") },
            ["b"] = new() { Id = "b", Name = "b", Filter = new NotFilter(new SegmentFilter("a")) },
        };
        Assert.Contains("cycle", Assert.Throws<ArgumentException>(() => index.Evaluate(new SegmentFilter("a"), RandomBase.Now, segments)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => index.Evaluate(new SegmentFilter("zzz"), RandomBase.Now, segments));
        Assert.Throws<ArgumentException>(() => index.Evaluate(new AttributeFilter("nope", CompareOperator.Exists, []), RandomBase.Now));
        Assert.Throws<ArgumentException>(() => index.Evaluate(new AttributeFilter("budget", CompareOperator.Equal, [new Campaigns.Modeling.TextValue("x")]), RandomBase.Now));
    }

    [Fact]
    public void ResultsAreStableSnapshotsAndEstimatesAreClose()
    {
        var data = new RandomBase(7, 2_000);
        var index = data.BuildIndex();
        var filter = new TagFilter(TagMatch.Any, ["t1", "t2"]);
        var members = index.Evaluate(filter, RandomBase.Now);
        var snapshot = members.ToSnapshot();
        foreach (var c in data.Contacts.Take(100))
        {
            index.Remove(c.Id);
        }

        Assert.Equal(snapshot, members.ToList());
        Assert.All(snapshot, id => Assert.True(members.Contains(id)));
        var estimate = index.EstimateCount(filter, RandomBase.Now);
        Assert.InRange(estimate, members.Count / 3, members.Count * 3);
    }
}
