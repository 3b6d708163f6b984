using BenchmarkDotNet.Attributes;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>
/// One contact change (upsert through the registry: index update + re-evaluation of that contact for every segment
/// that reads contact data) against 100 live segments shaped like NARROW and BROAD with varied values. The base has
/// 100k contacts: the per-contact cost is bitmap look-ups and column reads, independent of the base size except
/// for container search depth.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class IncrementalBenchmarks
{
    private SegmentRegistry _registry = null!;
    private Contact _a = null!;
    private Contact _b = null!;
    private Contact _scored = null!;
    private int _flip;

    [GlobalSetup]
    public void Setup()
    {
        var data = new ContactBaseGenerator(100_000);
        _registry = new SegmentRegistry(data.BuildIndex());
        for (var i = 0; i < 100; i++)
        {
            var filter = i % 2 == 0
                ? new AndFilter(
                [
                    new AttributeFilter("industry", CompareOperator.Equal, [new ChoiceValue($"ind{i % 20}")]),
                    new AttributeFilter("region", CompareOperator.Equal, [new ChoiceValue($"reg{i % 8}")]),
                    new DateFilter("last_visit", DateOperator.Within, Window.Days(7 + i)),
                    new AttributeFilter("budget", CompareOperator.Between, [new NumberValue(i % 30), new NumberValue(50 + (i % 40))]),
                    new OrFilter([new TagFilter(TagMatch.Any, [$"tag{i % 200}"]), new AttributeFilter("product_views_30d", CompareOperator.GreaterOrEqual, [new NumberValue(1 + (i % 4))])]),
                ])
                : new AndFilter(
                [
                    new AttributeFilter("region", CompareOperator.In, [new ChoiceValue($"reg{i % 8}"), new ChoiceValue($"reg{(i + 1) % 8}")]),
                    new DateFilter("last_visit", DateOperator.Within, Window.Days(30)),
                    new OrFilter([new TagFilter(TagMatch.Any, [$"tag{i % 10}"]), new TagFilter(TagMatch.Any, [$"tag{(i + 3) % 10}"])]),
                    new NotFilter(new TagFilter(TagMatch.Any, ["tag1"])),
                    new AttributeFilter("budget", CompareOperator.GreaterOrEqual, [new NumberValue(i % 50)]),
                ]);
            _registry.Define(new SegmentDefinition { Id = $"s{i}", Name = $"s{i}", Filter = filter }, ContactBaseGenerator.Now);
        }

        _a = data.ContactAt(12_345);
        _b = _a with
        {
            Attributes = new Dictionary<string, FieldValue>(_a.Attributes) { ["region"] = new ChoiceValue("reg1"), ["budget"] = new NumberValue(30) },
            Tags = [.. _a.Tags, new ContactTag { Tag = "tag0", AssignedAt = ContactBaseGenerator.Now }],
        };
        _scored = _a with { Scores = new ContactScores(12.5m, 3m, null, ContactBaseGenerator.Now) };
    }

    [Benchmark]
    public void UpsertOneContactAgainst100Segments() =>
        _registry.Upsert((_flip++ & 1) == 0 ? _a : _b, ContactBaseGenerator.Now);

    /// <summary>A change of the scores alone (what most ingested events make) against the same 100 segments, none of which
    /// reads scores: only the score columns are written and no segment is re-evaluated.</summary>
    [Benchmark]
    public void ScoreOnlyChangeAgainst100Segments() =>
        _registry.Upsert((_flip++ & 1) == 0 ? _a : _scored, ContactBaseGenerator.Now);

    /// <summary>The same change at a given instant (incremental-stats moves it forward, as a live system does).</summary>
    public void UpsertAt(NodaTime.Instant now) => _registry.Upsert((_flip++ & 1) == 0 ? _a : _b, now);
}
