using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using DuckDB.NET.Data;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>
/// NARROW and BROAD filters of issue 5 over the fixed-seed base: our engine through the public API (text parsed once with
/// FilterParser, then <see cref="SegmentIndex.Evaluate"/>; chunks on every core, see <see cref="SegmentIndex.MaxDegreeOfParallelism"/>),
/// LINQ over objects (baseline) and DuckDB SQL over the same data (see <see cref="DuckDbBase"/>).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class SegmentationBenchmarks
{
    /// <summary>NARROW of issue 5, in the text form.</summary>
    public const string NarrowText = "industry = ind2 and region = reg1 and last_visit within 7d and budget between 10 and 50 and (has_tag(tag7) or product_views_30d >= 3)";

    /// <summary>BROAD of issue 5, in the text form.</summary>
    public const string BroadText = "region in (reg0, reg1, reg2) and last_visit within 30d and (has_tag(tag0) or has_tag(tag3)) and not has_tag(tag1) and budget >= 20";

    /// <summary>Parsed once through the public API (FilterParser), then evaluated.</summary>
    public static readonly Filter Narrow = FilterParser.Parse(NarrowText, new FilterContext(ContactBaseGenerator.Schema));

    /// <summary>Parsed once through the public API (FilterParser), then evaluated.</summary>
    public static readonly Filter Broad = FilterParser.Parse(BroadText, new FilterContext(ContactBaseGenerator.Schema));

    private SegmentIndex _index = null!;
    private List<Row> _rows = null!;
    private DuckDBConnection _duck = null!;

    /// <summary>1M and 10M; <c>CAMPAIGNS_BENCH_SIZES=1000000</c> runs a subset (the machine is shared).</summary>
    [ParamsSource(nameof(Sizes))]
    public int Contacts { get; set; }

    public static IEnumerable<int> Sizes() =>
        (Environment.GetEnvironmentVariable("CAMPAIGNS_BENCH_SIZES") ?? "1000000,10000000").Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Within 7d / 30d on a date attribute: the days the window touches, from the date of now − window to today
    /// (last visits 0..7 / 0..30 days ago), as the engine and FilterEvaluator define it.</summary>
    internal static DateOnly From(int days) => DateOnly.FromDayNumber(new DateOnly(1970, 1, 1).DayNumber + ContactBaseGenerator.TodayDay - days);

    internal static readonly DateOnly Today = DateOnly.FromDayNumber(new DateOnly(1970, 1, 1).DayNumber + ContactBaseGenerator.TodayDay);

    [GlobalSetup(Targets = [nameof(NarrowEngine), nameof(BroadEngine)])]
    public void SetupEngine()
    {
        _index = new ContactBaseGenerator(Contacts).BuildIndex();
        Console.WriteLine($"// counts: narrow engine={NarrowEngine()}; broad engine={BroadEngine()}");
    }

    [GlobalSetup(Targets = [nameof(NarrowLinq), nameof(BroadLinq)])]
    public void SetupLinq()
    {
        var data = new ContactBaseGenerator(Contacts);
        _rows = new List<Row>(Contacts);
        for (var i = 0; i < Contacts; i++)
        {
            _rows.Add(new Row(
                ContactBaseGenerator.Industries[data.Industry[i]],
                ContactBaseGenerator.Regions[data.Region[i]],
                data.Budget[i],
                DateOnly.FromDayNumber(Today.DayNumber - data.LastVisitDaysAgo[i]),
                data.ProductViews[i],
                [.. data.TagsOf(i).ToArray().Select(t => ContactBaseGenerator.TagNames[t])]));
        }

        Console.WriteLine($"// counts: narrow linq={NarrowLinq()}; broad linq={BroadLinq()}");
    }

    [GlobalSetup(Targets = [nameof(NarrowDuckDb), nameof(BroadDuckDb)])]
    public void SetupDuckDb()
    {
        _duck = DuckDbBase.Load(new ContactBaseGenerator(Contacts));
        Console.WriteLine($"// counts: narrow duckdb={NarrowDuckDb()}; broad duckdb={BroadDuckDb()}");
    }

    [GlobalCleanup]
    public void Cleanup() => _duck?.Dispose();

    [Benchmark(Baseline = true), BenchmarkCategory("Narrow")]
    public int NarrowLinq()
    {
        var from = From(7);
        return _rows.Count(r => r.Industry == "ind2" && r.Region == "reg1" && r.LastVisit >= from && r.LastVisit <= Today
            && r.Budget >= 10 && r.Budget <= 50 && (r.Tags.Contains("tag7") || r.ProductViews30d >= 3));
    }

    [Benchmark, BenchmarkCategory("Narrow")]
    public long NarrowDuckDb() => DuckDbBase.Count(_duck, DuckDbBase.NarrowSql(From(7), Today));

    [Benchmark, BenchmarkCategory("Narrow")]
    public int NarrowEngine() => _index.Evaluate(Narrow, ContactBaseGenerator.Now).Count;

    [Benchmark(Baseline = true), BenchmarkCategory("Broad")]
    public int BroadLinq()
    {
        var from = From(30);
        return _rows.Count(r => (r.Region == "reg0" || r.Region == "reg1" || r.Region == "reg2") && r.LastVisit >= from && r.LastVisit <= Today
            && (r.Tags.Contains("tag0") || r.Tags.Contains("tag3")) && !r.Tags.Contains("tag1") && r.Budget >= 20);
    }

    [Benchmark, BenchmarkCategory("Broad")]
    public long BroadDuckDb() => DuckDbBase.Count(_duck, DuckDbBase.BroadSql(From(30), Today));

    [Benchmark, BenchmarkCategory("Broad")]
    public int BroadEngine() => _index.Evaluate(Broad, ContactBaseGenerator.Now).Count;

    /// <summary>What a user would hold without us: one object per contact.</summary>
    public sealed record Row(string Industry, string Region, decimal Budget, DateOnly LastVisit, int ProductViews30d, string[] Tags);
}
