using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>
/// The fixed-seed contact base, as columns: industry 20 values (Zipf), region 8 (uniform), budget 0–100
/// (uniform, whole numbers), last visit days ago (exponential, mean 60, cap 365), product views in 30 days
/// (exponential, mean 1.2, cap 10), 1–9 distinct tags of 200 (Zipf).
/// </summary>
public sealed class ContactBaseGenerator
{
    public static readonly Instant Now = Instant.FromUtc(2026, 3, 15, 12, 0);
    public static readonly int TodayDay = (int)(Now.ToUnixTimeTicks() / NodaConstants.TicksPerDay);

    public static readonly AttributeSchema Schema = new()
    {
        Attributes =
        [
            new AttributeDefinition { Name = "industry", Type = AttributeType.Enum, AllowedValues = [.. Enumerable.Range(0, 20).Select(i => $"ind{i}")] },
            new AttributeDefinition { Name = "region", Type = AttributeType.Enum, AllowedValues = [.. Enumerable.Range(0, 8).Select(i => $"reg{i}")] },
            new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal },
            new AttributeDefinition { Name = "last_visit", Type = AttributeType.Date },
            new AttributeDefinition { Name = "product_views_30d", Type = AttributeType.Integer },
        ],
    };

    public static readonly string[] Industries = [.. Enumerable.Range(0, 20).Select(i => $"ind{i}")];
    public static readonly string[] Regions = [.. Enumerable.Range(0, 8).Select(i => $"reg{i}")];
    public static readonly string[] TagNames = [.. Enumerable.Range(0, 200).Select(i => $"tag{i}")];
    private static readonly FieldValue[] IndustryValues = [.. Industries.Select(v => new ChoiceValue(v))];
    private static readonly FieldValue[] RegionValues = [.. Regions.Select(v => new ChoiceValue(v))];
    private static readonly FieldValue[] Numbers = [.. Enumerable.Range(0, 101).Select(v => new NumberValue(v))];

    private static readonly FieldValue[] VisitValues = [.. Enumerable.Range(0, 366).Select(d => new DateValue(DayToDate(TodayDay - d)))];

    public static LocalDate DayToDate(int unixDay) => LocalDate.FromDateOnly(DateOnly.FromDayNumber(new DateOnly(1970, 1, 1).DayNumber + unixDay));

    public ContactBaseGenerator(int count, int seed = 42)
    {
        Count = count;
        Ids = new ContactId[count];
        Industry = new byte[count];
        Region = new byte[count];
        Budget = new byte[count];
        LastVisitDaysAgo = new short[count];
        ProductViews = new byte[count];
        TagStart = new int[count + 1];
        var tags = new List<byte>(count * 5);
        var r = new Random(seed);
        var industryCdf = ZipfCdf(20);
        var tagCdf = ZipfCdf(200);
        Span<bool> chosen = stackalloc bool[200];
        for (var i = 0; i < count; i++)
        {
            Ids[i] = new ContactId(new Guid(i + 1, 0, 0, (byte)(i >> 24), 1, 2, 3, 4, 5, 6, 7));
            Industry[i] = (byte)Sample(industryCdf, r);
            Region[i] = (byte)r.Next(8);
            Budget[i] = (byte)r.Next(101);
            LastVisitDaysAgo[i] = (short)Math.Min(365, (int)(-60 * Math.Log(1 - r.NextDouble())));
            ProductViews[i] = (byte)Math.Min(10, (int)(-1.2 * Math.Log(1 - r.NextDouble())));
            TagStart[i] = tags.Count;
            var n = r.Next(1, 10);
            chosen.Clear();
            while (n > 0)
            {
                var t = Sample(tagCdf, r);
                if (!chosen[t])
                {
                    chosen[t] = true;
                    tags.Add((byte)t);
                    n--;
                }
            }
        }

        TagStart[count] = tags.Count;
        Tags = [.. tags];
    }

    public int Count { get; }

    public ContactId[] Ids { get; }

    public byte[] Industry { get; }

    public byte[] Region { get; }

    public byte[] Budget { get; }

    public short[] LastVisitDaysAgo { get; }

    public byte[] ProductViews { get; }

    public int[] TagStart { get; }

    public byte[] Tags { get; }

    public ReadOnlySpan<byte> TagsOf(int i) => Tags.AsSpan(TagStart[i], TagStart[i + 1] - TagStart[i]);

    public Contact ContactAt(int i)
    {
        var tagSpan = TagsOf(i);
        var tags = new ContactTag[tagSpan.Length];
        for (var t = 0; t < tags.Length; t++)
        {
            tags[t] = new ContactTag { Tag = TagNames[tagSpan[t]], AssignedAt = Now };
        }

        return new Contact
        {
            Id = Ids[i],
            CreatedAt = Now,
            Attributes = new Dictionary<string, FieldValue>(5)
            {
                ["industry"] = IndustryValues[Industry[i]],
                ["region"] = RegionValues[Region[i]],
                ["budget"] = Numbers[Budget[i]],
                ["last_visit"] = VisitValues[LastVisitDaysAgo[i]],
                ["product_views_30d"] = Numbers[ProductViews[i]],
            },
            Tags = tags,
        };
    }

    /// <summary>The bulk columnar path: <see cref="Campaigns.Segmentation.SegmentIndexBuilder"/> fed from the generated columns.</summary>
    public Campaigns.Segmentation.SegmentIndex BuildIndex()
    {
        var b = new Campaigns.Segmentation.SegmentIndexBuilder(Schema, Count);
        int industry = b.ColumnOf("industry"), region = b.ColumnOf("region"), budget = b.ColumnOf("budget"), lastVisit = b.ColumnOf("last_visit"), views = b.ColumnOf("product_views_30d");
        var tags = TagNames.Select(b.TagOf).ToArray();
        var industries = Industries.Select(v => b.ValueOf(industry, v)).ToArray();
        var regions = Regions.Select(v => b.ValueOf(region, v)).ToArray();
        var visits = Enumerable.Range(0, 366).Select(d => DayToDate(TodayDay - d)).ToArray();
        for (var i = 0; i < Count; i++)
        {
            var row = b.AddContact(Ids[i], Now);
            b.SetValue(row, industry, industries[Industry[i]]);
            b.SetValue(row, region, regions[Region[i]]);
            b.SetNumber(row, budget, (long)Budget[i]);
            b.SetDate(row, lastVisit, visits[LastVisitDaysAgo[i]]);
            b.SetNumber(row, views, (long)ProductViews[i]);
            foreach (var t in TagsOf(i))
            {
                b.AddTag(row, tags[t]);
            }
        }

        return b.Build();
    }

    /// <summary>The bulk path from whole records (what a rebuild from a store does): one <see cref="Contact"/> per contact.</summary>
    public Campaigns.Segmentation.SegmentIndex BuildIndexFromContacts()
    {
        var b = new Campaigns.Segmentation.SegmentIndexBuilder(Schema, Count);
        for (var i = 0; i < Count; i++)
        {
            b.Add(ContactAt(i));
        }

        return b.Build();
    }

    /// <summary>The incremental path: <see cref="Campaigns.Segmentation.SegmentIndex.Upsert"/> per contact.</summary>
    public Campaigns.Segmentation.SegmentIndex BuildIndexByUpsert()
    {
        var index = new Campaigns.Segmentation.SegmentIndex(Schema, Count);
        for (var i = 0; i < Count; i++)
        {
            index.Upsert(ContactAt(i));
        }

        return index;
    }

    private static double[] ZipfCdf(int n)
    {
        var cdf = new double[n];
        double sum = 0;
        for (var k = 0; k < n; k++)
        {
            sum += 1.0 / (k + 1);
            cdf[k] = sum;
        }

        for (var k = 0; k < n; k++)
        {
            cdf[k] /= sum;
        }

        return cdf;
    }

    private static int Sample(double[] cdf, Random r)
    {
        var u = r.NextDouble();
        var i = Array.BinarySearch(cdf, u);
        return Math.Min(cdf.Length - 1, i < 0 ? ~i : i);
    }
}
