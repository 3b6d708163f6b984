using BenchmarkDotNet.Attributes;
using Campaigns;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Benchmarks;

/// <summary>Cost of one lifecycle step on an immutable campaign (allocates the new record and history).</summary>
[MemoryDiagnoser]
public class LifecycleBenchmarks
{
    private static readonly Actor Operator = new("op", "operator");
    private Campaign _draft = null!;

    [GlobalSetup]
    public void Setup() => _draft = new Campaign
    {
        Id = CampaignId.New(),
        Name = "bench",
        TypeId = "offline-seminar",
        Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai" },
        CreatedBy = "op",
        CreatedAt = Instant.FromUtc(2026, 1, 1, 0, 0),
    };

    [Benchmark]
    public Campaign SubmitWithEmptyChain() => CampaignLifecycle.Apply(_draft, CampaignAction.Submit, Operator, Instant.FromUtc(2026, 1, 2, 0, 0));
}
