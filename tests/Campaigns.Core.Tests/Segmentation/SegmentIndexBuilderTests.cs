using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Campaigns.Tests.Segmentation.Engine;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Tests.Segmentation;

/// <summary>The bulk load builds the same index as upserting the same contacts; parallel evaluation equals sequential.</summary>
public sealed class SegmentIndexBuilderTests
{
    [Property(MaxTest = 5)]
    public void BulkLoadFromContactsEqualsUpsert(int seed)
    {
        var data = new RandomBase(seed, 500);
        var upserted = data.BuildIndex();
        var builder = new SegmentIndexBuilder(RandomBase.Schema, data.Contacts.Count, RandomBase.Zone);
        builder.AddRange(data.Contacts.Take(250));
        var added = builder.AddRangeAsync(Stream(data.Contacts.Skip(250))).GetAwaiter().GetResult();
        Assert.Equal(data.Contacts.Count - 250, added);
        foreach (var e in data.Events.Values.SelectMany(x => x))
        {
            Assert.True(builder.Apply(e));
        }

        var bulk = builder.Build();
        Assert.Equal(upserted.Count, bulk.Count);
        AssertSameMembers(data, upserted, bulk, 150, seed);
    }

    [Fact]
    public void FullyLiveChunksMatchLikeChunksWithRemovedContacts()
    {
        // Chunk 0 (65,536 contacts) stays fully live and starts from all ones; chunk 1 loses contacts; chunk 2 is partial.
        const int Count = (2 * 65_536) + 1_000;
        var b = new SegmentIndexBuilder(RandomBase.Schema, Count, RandomBase.Zone);
        var budget = b.ColumnOf("budget");
        var ids = new ContactId[Count];
        for (var i = 0; i < Count; i++)
        {
            ids[i] = new ContactId(new Guid(i + 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8));
            var row = b.AddContact(ids[i], RandomBase.Now);
            if (i % 3 != 0)
            {
                b.SetNumber(row, budget, i % 100);
            }
        }

        var index = b.Build();
        var removed = new HashSet<int> { 65_536, 70_001, 131_071, 131_072 };
        foreach (var i in removed)
        {
            Assert.True(index.Remove(ids[i]));
        }

        var context = new FilterContext(RandomBase.Schema);
        foreach (var text in new[] { "budget >= 20", "not budget >= 20", "budget exists", "budget < 50" })
        {
            var filter = FilterParser.Parse(text, context);
            bool Expected(int i) => text switch
            {
                "budget >= 20" => i % 3 != 0 && i % 100 >= 20,
                "not budget >= 20" => i % 3 == 0 || i % 100 < 20,
                "budget exists" => i % 3 != 0,
                _ => i % 3 != 0 && i % 100 < 50,
            };

            var expected = Enumerable.Range(0, Count).Where(i => !removed.Contains(i) && Expected(i)).Select(i => ids[i]).ToHashSet();
            foreach (var parallelism in new[] { 1, 2 })
            {
                index.MaxDegreeOfParallelism = parallelism;
                var members = index.Evaluate(filter, RandomBase.Now);
                Assert.Equal(expected.Count, members.Count);
                Assert.True(expected.SetEquals(members), text);
            }
        }
    }

    [Property(MaxTest = 5)]
    public void ColumnarBulkLoadEqualsUpsertOfTheSameData(int seed)
    {
        var data = new RandomBase(seed, 500);

        // The columnar path carries attributes of the declared type, plain tags and created_at; compare with upserting
        // contacts that hold exactly that.
        var plain = PlainContacts(data);
        var upserted = Upserted(plain);

        var b = new SegmentIndexBuilder(RandomBase.Schema, 0, RandomBase.Zone);
        foreach (var c in plain)
        {
            SetColumns(b, b.AddContact(c.Id, c.CreatedAt), c);
        }

        var bulk = b.Build();
        Assert.Equal(upserted.Count, bulk.Count);
        AssertSameMembers(data, upserted, bulk, 150, seed);

        // The built index takes changes like any other.
        foreach (var c in data.Mutate(0.2))
        {
            upserted.Upsert(c);
            bulk.Upsert(c);
        }

        AssertSameMembers(data, upserted, bulk, 50, seed);
    }

    [Property(MaxTest = 2)]
    public void ColumnarLoadAcrossWindowsAndChunksEqualsUpsert(int seed)
    {
        // 70,000 contacts: past many 4,096-row windows of buffered number/date/created_at/score values and past a
        // 65,536-contact chunk of the run-built bitmaps (live, stage, "has a value"), with whole records loaded in between,
        // values set after later rows (outside their window), values replaced while buffered, and events applied mid-load.
        var data = new RandomBase(seed, 70_000);
        var plain = PlainContacts(data);
        var upserted = Upserted(plain);

        foreach (var e in data.Events.Values.SelectMany(x => x))
        {
            upserted.Apply(e);
        }

        var r = new Random(seed);
        var b = new SegmentIndexBuilder(RandomBase.Schema, r.Next(2) == 0 ? 0 : plain.Count, RandomBase.Zone);
        int employees = b.ColumnOf("employees"), lastVisit = b.ColumnOf("last_visit");
        var late = new List<(int Row, Contact Contact)>();
        var fixedUp = new List<Contact>();
        var appliedEarly = new HashSet<ContactId>();
        foreach (var original in plain)
        {
            var c = original;
            if (r.Next(500) == 0)
            {
                b.Add(c); // a whole record between columnar rows
                continue;
            }

            var row = b.AddContact(c.Id, c.CreatedAt);
            if (r.Next(50) == 0)
            {
                // A value replaced while it is still buffered (the right one follows in SetColumns when the contact has one).
                b.SetNumber(row, employees, 123_456L);
                b.SetDate(row, lastVisit, new LocalDate(2001, 2, 3));
                if (!c.Attributes.ContainsKey("employees") || !c.Attributes.ContainsKey("last_visit"))
                {
                    // Without values of its own, the contact keeps values set now: the upserted index gets the same below.
                    c = c with { Attributes = new Dictionary<string, FieldValue>(c.Attributes) { ["employees"] = new NumberValue(7), ["last_visit"] = new DateValue(new LocalDate(2026, 3, 1)) } };
                    fixedUp.Add(c);
                }
            }

            if (r.Next(20) == 0)
            {
                late.Add((row, c)); // its values come after later rows
            }
            else
            {
                SetColumns(b, row, c);
            }

            if (r.Next(100) == 0 && late.Count > 0)
            {
                foreach (var (lateRow, lateContact) in late)
                {
                    SetColumns(b, lateRow, lateContact);
                }

                late.Clear();
            }

            if (r.Next(200) == 0)
            {
                appliedEarly.Add(c.Id);
                foreach (var e in data.Events[c.Id])
                {
                    Assert.True(b.Apply(e)); // the contact is live right after it is added
                }
            }
        }

        foreach (var (lateRow, lateContact) in late)
        {
            SetColumns(b, lateRow, lateContact);
        }

        foreach (var (id, events) in data.Events)
        {
            foreach (var e in events)
            {
                Assert.Equal(!appliedEarly.Contains(id), b.Apply(e));
            }
        }

        var bulk = b.Build();
        foreach (var c in fixedUp)
        {
            upserted.Upsert(c);
        }

        Assert.Equal(plain.Count, bulk.Count);
        AssertSameMembers(data, upserted, bulk, 60, seed);
    }

    [Fact]
    public void BadInputIsRejectedWithTheFieldNamed()
    {
        var b = new SegmentIndexBuilder(RandomBase.Schema);
        var id = new ContactId(Guid.NewGuid());
        var row = b.AddContact(id, RandomBase.Now);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => b.AddContact(id, RandomBase.Now)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => b.Add(new Contact { Id = id, CreatedAt = RandomBase.Now }));
        Assert.Contains("nope", Assert.Throws<ArgumentException>(() => b.ColumnOf("nope")).Message, StringComparison.Ordinal);
        var budget = b.ColumnOf("budget");
        Assert.Contains("'budget' is Decimal", Assert.Throws<ArgumentException>(() => b.SetText(row, budget, "x")).Message, StringComparison.Ordinal);
        Assert.Equal("row", Assert.Throws<ArgumentOutOfRangeException>(() => b.SetNumber(row + 1, budget, 3)).ParamName);
        Assert.Equal("tag", Assert.Throws<ArgumentOutOfRangeException>(() => b.AddTag(row, 5)).ParamName);
        var industry = b.ColumnOf("industry");
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => b.ValueOf(industry, "")).ParamName);
        Assert.Contains("'budget' is Decimal", Assert.Throws<ArgumentException>(() => b.ValueOf(budget, "x")).Message, StringComparison.Ordinal);
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => b.SetValue(row, industry, 99)).ParamName);
        Assert.Equal("row", Assert.Throws<ArgumentOutOfRangeException>(() => b.SetValue(row + 1, industry, b.ValueOf(industry, "auto"))).ParamName);
        Assert.Equal(1, b.Build().Count);
        Assert.Throws<InvalidOperationException>(() => b.AddContact(new ContactId(Guid.NewGuid()), RandomBase.Now));
    }

    [Fact]
    public void ReplacingAValueDuringTheLoadKeepsOnlyTheLastOne()
    {
        var b = new SegmentIndexBuilder(RandomBase.Schema, 0, RandomBase.Zone);
        var row = b.AddContact(new ContactId(Guid.NewGuid()), RandomBase.Now);
        int industry = b.ColumnOf("industry"), lastVisit = b.ColumnOf("last_visit");
        b.SetText(row, industry, "auto");
        b.SetText(row, industry, "food");
        var second = b.AddContact(new ContactId(Guid.NewGuid()), RandomBase.Now);
        b.SetValue(second, industry, b.ValueOf(industry, "auto"));
        b.SetValue(second, industry, b.ValueOf(industry, "chem"));
        b.SetDate(row, lastVisit, new LocalDate(2026, 3, 14));
        b.SetDate(row, lastVisit, new LocalDate(2025, 1, 1));
        var index = b.Build();
        Assert.Empty(index.Evaluate(new AttributeFilter("industry", CompareOperator.Equal, [new TextValue("auto")]), RandomBase.Now));
        Assert.Single(index.Evaluate(new AttributeFilter("industry", CompareOperator.Equal, [new TextValue("food")]), RandomBase.Now));
        Assert.Single(index.Evaluate(new AttributeFilter("industry", CompareOperator.Equal, [new TextValue("chem")]), RandomBase.Now));
        Assert.Empty(index.Evaluate(new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(7)), RandomBase.Now));
        Assert.Single(index.Evaluate(new DateFilter("last_visit", DateOperator.Before, Window: Window.Days(7)), RandomBase.Now));
    }

    [Fact]
    public void ParallelEvaluationEqualsSequentialAcrossChunks()
    {
        // Three 65,536-contact chunks; the parallel path is forced from two chunks.
        var r = new Random(11);
        var b = new SegmentIndexBuilder(RandomBase.Schema, 200_000, RandomBase.Zone);
        int industry = b.ColumnOf("industry"), budget = b.ColumnOf("budget"), lastVisit = b.ColumnOf("last_visit");
        var tags = Enumerable.Range(0, 6).Select(i => b.TagOf("t" + i)).ToArray();
        var today = RandomBase.Now.InZone(RandomBase.Zone).Date;
        for (var i = 0; i < 200_000; i++)
        {
            var row = b.AddContact(new ContactId(new Guid(i + 1, 0, 0, new byte[8])), RandomBase.Now);
            b.SetText(row, industry, new[] { "auto", "chem", "food" }[r.Next(3)]);
            b.SetNumber(row, budget, r.Next(0, 100));
            b.SetDate(row, lastVisit, today.PlusDays(-r.Next(0, 90)));
            b.AddTag(row, tags[r.Next(tags.Length)]);
        }

        var index = b.Build();
        index.ParallelThreshold = 2;
        var filters = new Filter[]
        {
            new AndFilter([new AttributeFilter("industry", CompareOperator.Equal, [new ChoiceValue("chem")]), new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(7))]),
            new OrFilter([new TagFilter(TagMatch.Any, ["t1"]), new AttributeFilter("budget", CompareOperator.Between, [new NumberValue(10), new NumberValue(20)])]),
            new NotFilter(new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(30))),
        };
        foreach (var f in filters)
        {
            index.MaxDegreeOfParallelism = 1;
            var sequential = index.Evaluate(f, RandomBase.Now).ToList();
            index.MaxDegreeOfParallelism = 4;
            var parallel = index.Evaluate(f, RandomBase.Now).ToList();
            Assert.True(sequential.Count > 1000, f.ToString());
            Assert.Equal(sequential, parallel);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => index.MaxDegreeOfParallelism = 0);
    }

    [Fact]
    public void DateColumnsWithManyDistinctDaysFallBackToSlicesAndStayExact()
    {
        var b = new SegmentIndexBuilder(RandomBase.Schema, 0, RandomBase.Zone);
        var lastVisit = b.ColumnOf("last_visit");
        var today = RandomBase.Now.InZone(RandomBase.Zone).Date;
        for (var i = 0; i < 3_000; i++)
        {
            b.SetDate(b.AddContact(new ContactId(new Guid(i + 1, 0, 0, new byte[8])), RandomBase.Now), lastVisit, today.PlusDays(-i));
        }

        var index = b.Build();
        Assert.Equal(8, index.Evaluate(new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(7)), RandomBase.Now).Count);
        Assert.Equal(2_000, index.Evaluate(new AttributeFilter("last_visit", CompareOperator.LessThan, [new DateValue(today.PlusDays(-999))]), RandomBase.Now).Count);
    }

    /// <summary>A contact's attributes and plain tags through the columnar <c>Set…</c>/<c>AddTag</c> methods.</summary>
    /// <summary>
    /// The contacts as the columnar path carries them: attributes of the declared type, plain tags and created_at.
    /// </summary>
    private static List<Contact> PlainContacts(RandomBase data) => [.. data.Contacts.Select(c => new Contact
    {
        Id = c.Id,
        CreatedAt = c.CreatedAt,
        Attributes = c.Attributes.Where(a => FitsColumn(a.Key, a.Value)).ToDictionary(),
        Tags = [.. c.Tags.Select(t => t.Tag).Distinct().Select(t => new ContactTag { Tag = t, AssignedAt = RandomBase.Now })],
    })];

    /// <summary>An index built by upserting <paramref name="contacts"/> one by one (the reference for the bulk paths).</summary>
    private static SegmentIndex Upserted(IEnumerable<Contact> contacts)
    {
        var index = new SegmentIndex(RandomBase.Schema, zone: RandomBase.Zone);
        foreach (var c in contacts)
        {
            index.Upsert(c);
        }

        return index;
    }

    private static void SetColumns(SegmentIndexBuilder b, int row, Contact c)
    {
        foreach (var (name, value) in c.Attributes)
        {
            var column = b.ColumnOf(name);
            switch (value)
            {
                case TextValue { Value.Length: > 0 } t when (row & 1) == 0:
                    b.SetValue(row, column, b.ValueOf(column, t.Value)); // values resolved to numbers first
                    break;
                case TextValue t:
                    b.SetText(row, column, t.Value);
                    break;
                case ChoiceValue { Value.Length: > 0 } t when (row & 1) == 0:
                    b.SetValue(row, column, b.ValueOf(column, t.Value));
                    break;
                case ChoiceValue t:
                    b.SetText(row, column, t.Value);
                    break;
                case NumberValue n when n.Value == decimal.Truncate(n.Value):
                    b.SetNumber(row, column, (long)n.Value);
                    break;
                case NumberValue n:
                    b.SetNumber(row, column, n.Value);
                    break;
                case DateValue d:
                    b.SetDate(row, column, d.Value);
                    break;
                case BooleanValue x:
                    b.SetBool(row, column, x.Value);
                    break;
                case ChoicesValue list:
                    foreach (var e in list.Values)
                    {
                        b.AddElement(row, column, e);
                    }

                    break;
            }
        }

        foreach (var t in c.Tags)
        {
            b.AddTag(row, b.TagOf(t.Tag));
        }
    }

    private static bool FitsColumn(string name, FieldValue value) => (RandomBase.Schema.Find(name)!.Type, value) switch
    {
        (AttributeType.String or AttributeType.Enum, TextValue or ChoiceValue) => true,
        (AttributeType.Integer or AttributeType.Decimal, NumberValue) => true,
        (AttributeType.Date, DateValue) => true,
        (AttributeType.Bool, BooleanValue) => true,
        (AttributeType.StringList, ChoicesValue) => true,
        _ => false,
    };

    private static void AssertSameMembers(RandomBase data, SegmentIndex expected, SegmentIndex actual, int filters, int seed)
    {
        for (var i = 0; i < filters; i++)
        {
            var f = data.NewFilter();
            var a = expected.Evaluate(f, RandomBase.Now).ToList();
            var b = actual.Evaluate(f, RandomBase.Now).ToList();
            Assert.True(a.SequenceEqual(b), $"seed {seed}, filter {i}: {f}\nupsert {a.Count}, bulk {b.Count}");
        }
    }

    private static async IAsyncEnumerable<Contact> Stream(IEnumerable<Contact> contacts)
    {
        foreach (var c in contacts)
        {
            await Task.Yield();
            yield return c;
        }
    }
}
