using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using DuckDB.NET.Data;
using NodaTime;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>
/// NARROW and BROAD filters of issue 5 over the fixed-seed base: our engine through the public API (text parsed once with
/// FilterParser, then <see cref="SegmentIndex.Evaluate"/>; chunks on every core, see <see cref="SegmentIndex.MaxDegreeOfParallelism"/>),
/// LINQ over objects (baseline: a tight record per contact with interned strings), LINQ over the SDK's own
/// <see cref="Contact"/> records (what a user of the SDK writes without the index; its ratio to the engine is computed
/// in docs/benchmarks.md) and DuckDB SQL over the same data (see <see cref="DuckDbBase"/>).
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
    private List<Contact> _contacts = null!;
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

    [GlobalSetup(Targets = [nameof(NarrowLinqContacts), nameof(BroadLinqContacts)])]
    public void SetupContacts()
    {
        // About 1.26 KB of heap per contact (linq-stats 1000000): 10M records need ≈ 13 GB. Refused above the cap unless
        // CAMPAIGNS_BENCH_CONTACT_RECORDS_MAX raises it, so a 10M run of the other rows does not exhaust a shared machine.
        var cap = int.Parse(Environment.GetEnvironmentVariable("CAMPAIGNS_BENCH_CONTACT_RECORDS_MAX") ?? "2000000", System.Globalization.CultureInfo.InvariantCulture);
        if (Contacts > cap)
        {
            throw new InvalidOperationException($"LINQ over {Contacts:N0} Contact records needs about {Contacts * 1.26e-6:F1} GB of heap; set CAMPAIGNS_BENCH_CONTACT_RECORDS_MAX={Contacts} to run it.");
        }

        _contacts = ContactRecords(new ContactBaseGenerator(Contacts));
        Console.WriteLine($"// counts: narrow linq contacts={NarrowLinqContacts()}; broad linq contacts={BroadLinqContacts()}");
    }

    /// <summary>The SDK's own records, one <see cref="Contact"/> per contact (<see cref="ContactBaseGenerator.ContactAt"/>:
    /// an attribute dictionary of <see cref="FieldValue"/>s, a <see cref="ContactTag"/> per tag): what a user of the SDK
    /// holds without the index. About 1 KB per contact (see <c>linq-stats</c>): 10M need ≈ 10 GB of heap.</summary>
    internal static List<Contact> ContactRecords(ContactBaseGenerator data)
    {
        var contacts = new List<Contact>(data.Count);
        for (var i = 0; i < data.Count; i++)
        {
            contacts.Add(data.ContactAt(i));
        }

        return contacts;
    }

    [GlobalSetup(Targets = [nameof(NarrowDuckDb), nameof(BroadDuckDb)])]
    public void SetupDuckDb()
    {
        _duck = DuckDbBase.Load(new ContactBaseGenerator(Contacts));
        Console.WriteLine($"// counts: narrow duckdb={NarrowDuckDb()}; broad duckdb={BroadDuckDb()}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _duck?.Dispose();
        _contacts = null!; // in-process runs: let the next case's setup have the memory
        _rows = null!;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Narrow")]
    public int NarrowLinq()
    {
        var from = From(7);
        return _rows.Count(r => r.Industry == "ind2" && r.Region == "reg1" && r.LastVisit >= from && r.LastVisit <= Today
            && r.Budget >= 10 && r.Budget <= 50 && (r.Tags.Contains("tag7") || r.ProductViews30d >= 3));
    }

    /// <summary>NARROW as a user of the SDK would write it over <see cref="Contact"/> records, without the index.</summary>
    [Benchmark, BenchmarkCategory("Narrow")]
    public int NarrowLinqContacts() => NarrowOverContacts(_contacts);

    internal static int NarrowOverContacts(List<Contact> contacts)
    {
        var from = LocalDate.FromDateOnly(From(7));
        var today = LocalDate.FromDateOnly(Today);
        return contacts.Count(c =>
            c.Attributes.TryGetValue("industry", out var industry) && industry is ChoiceValue { Value: "ind2" }
            && c.Attributes.TryGetValue("region", out var region) && region is ChoiceValue { Value: "reg1" }
            && c.Attributes.TryGetValue("last_visit", out var visit) && visit is DateValue { Value: var day } && day >= from && day <= today
            && c.Attributes.TryGetValue("budget", out var budget) && budget is NumberValue { Value: >= 10 and <= 50 }
            && (c.Tags.Any(t => t.Tag == "tag7")
                || (c.Attributes.TryGetValue("product_views_30d", out var views) && views is NumberValue { Value: >= 3 })));
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

    /// <summary>BROAD as a user of the SDK would write it over <see cref="Contact"/> records, without the index.</summary>
    [Benchmark, BenchmarkCategory("Broad")]
    public int BroadLinqContacts() => BroadOverContacts(_contacts);

    internal static int BroadOverContacts(List<Contact> contacts)
    {
        var from = LocalDate.FromDateOnly(From(30));
        var today = LocalDate.FromDateOnly(Today);
        return contacts.Count(c =>
            c.Attributes.TryGetValue("region", out var region) && region is ChoiceValue { Value: "reg0" or "reg1" or "reg2" }
            && c.Attributes.TryGetValue("last_visit", out var visit) && visit is DateValue { Value: var day } && day >= from && day <= today
            && c.Tags.Any(t => t.Tag is "tag0" or "tag3")
            && !c.Tags.Any(t => t.Tag == "tag1")
            && c.Attributes.TryGetValue("budget", out var budget) && budget is NumberValue { Value: >= 20 });
    }

    [Benchmark, BenchmarkCategory("Broad")]
    public long BroadDuckDb() => DuckDbBase.Count(_duck, DuckDbBase.BroadSql(From(30), Today));

    [Benchmark, BenchmarkCategory("Broad")]
    public int BroadEngine() => _index.Evaluate(Broad, ContactBaseGenerator.Now).Count;

    /// <summary>What a user would hold without us: one object per contact.</summary>
    public sealed record Row(string Industry, string Region, decimal Budget, DateOnly LastVisit, int ProductViews30d, string[] Tags);
}
