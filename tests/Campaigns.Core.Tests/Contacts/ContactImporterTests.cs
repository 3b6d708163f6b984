using System.Globalization;
using System.Text;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Tests.Contacts;

public class ContactImporterTests
{
    private static readonly AttributeSchema Schema = new()
    {
        Attributes =
        [
            new AttributeDefinition { Name = "industry", Type = AttributeType.String },
            new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal },
            new AttributeDefinition { Name = "city", Type = AttributeType.String },
            new AttributeDefinition { Name = "products", Type = AttributeType.StringList },
        ],
    };

    private static readonly ContactImportMapping Mapping = new()
    {
        Source = "customers.csv",
        Columns =
        [
            ColumnMapping.ToName("姓名"),
            ColumnMapping.ToIdentity("手机号", IdentityKind.Phone) with { Required = true },
            ColumnMapping.ToIdentity("邮箱", IdentityKind.Email),
            ColumnMapping.ToAttribute("行业", "industry") with { ValueMap = new Dictionary<string, string> { ["制造"] = "manufacturing", ["零售"] = "retail" } },
            ColumnMapping.ToAttribute("预算", "budget"),
            ColumnMapping.ToAttribute("城市", "city"),
        ],
    };

    private const string DirtyCsv = """
        姓名,手机号,邮箱,行业,预算,城市
        张三,138 0013 8000,ZhangSan@Example.com,制造,50,上海
        张三(重复),+86-138-0013-8000,zs2@example.com,,,
        李四,12345,lisi@example.com,,20,北京
        王五,13900139000,not-an-email,零售,abc,
        ,,,,,
        赵六,13700137000
        """;

    private static ContactTestHost Host() => new(o => o.Contacts.Schema = Schema);

    [Fact]
    public async Task Repeated_attribute_texts_share_one_value_and_every_contact_gets_its_own_value_past_the_cache_bound()
    {
        // Categorical values are parsed once per column and shared (immutable records); a column of more distinct texts
        // than the importer keeps (1,024 per column) or of long texts still gives every contact the value of its row.
        using var host = Host();
        var csv = new StringBuilder("phone,industry,city,products,budget\n");
        var longText = new string('x', 80);
        for (var i = 0; i < 1_500; i++)
        {
            var city = i % 3 == 0 ? longText + i % 2 : "city" + i;
            csv.Append(CultureInfo.InvariantCulture, $"1380000{i:D4},{(i % 2 == 0 ? "制造" : "零售")},{city},A;B,{i % 5}\n");
        }

        var mapping = new ContactImportMapping
        {
            Columns =
            [
                ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
                ColumnMapping.ToAttribute("industry", "industry") with { ValueMap = new Dictionary<string, string> { ["制造"] = "manufacturing", ["零售"] = "retail" } },
                ColumnMapping.ToAttribute("city", "city"),
                ColumnMapping.ToAttribute("products", "products"),
                ColumnMapping.ToAttribute("budget", "budget"),
            ],
        };
        var report = await host.Importer.ImportCsvTextAsync(new StringReader(csv.ToString()), mapping);

        Assert.Equal((1_500L, 1_500L), (report.RowsRead, report.Created));
        var contacts = new List<Contact>();
        for (var i = 0; i < 1_500; i++)
        {
            var contact = (await host.Store.FindAsync(IdentityKind.Phone, $"+861380000{i:D4}"))!;
            contacts.Add(contact);
            var city = i % 3 == 0 ? longText + i % 2 : "city" + i;
            Assert.Equal(new TextValue(i % 2 == 0 ? "manufacturing" : "retail"), contact.Attributes["industry"]);
            Assert.Equal(new TextValue(city), contact.Attributes["city"]);
            Assert.Equal(new NumberValue(i % 5), contact.Attributes["budget"]);
            Assert.Equal(["A", "B"], ((ChoicesValue)contact.Attributes["products"]).Values);
        }

        Assert.Same(contacts[0].Attributes["industry"], contacts[1_498].Attributes["industry"]);
        Assert.Same(contacts[0].Attributes["products"], contacts[1_499].Attributes["products"]);
    }

    [Fact]
    public async Task Dirty_rows_are_cleaned_merged_flagged_or_rejected_and_the_counts_add_up()
    {
        using var host = Host();
        var report = await host.Importer.ImportCsvTextAsync(new StringReader(DirtyCsv), Mapping);

        Assert.Equal(6, report.RowsRead);
        Assert.Equal((2L, 1L, 2L, 1L), (report.Created, report.Merged, report.Flagged, report.Rejected));
        Assert.Equal(report.RowsRead, report.Created + report.Merged + report.Flagged + report.Rejected);
        Assert.Equal(4, report.ContactsCreated);
        Assert.Equal(4, await host.Store.CountAsync());
        Assert.Equal(
            [
                (4L, "手机号", "12345", "invalid-phone", ImportIssueKind.Flag),
                (5L, "邮箱", "not-an-email", "invalid-email", ImportIssueKind.Flag),
                (5L, "预算", "abc", "invalid-attribute", ImportIssueKind.Flag),
                (6L, "手机号, 邮箱", string.Empty, "no-identity", ImportIssueKind.Rejection),
            ],
            report.Issues.Select(i => (i.Row, i.Column, i.Value, i.Code, i.Kind)));
        Assert.All(report.Issues.Where(i => i.Value.Length > 0), i => Assert.Contains($"'{i.Value}'", i.Reason, StringComparison.Ordinal));

        // Same phone in two formats → one contact, every identity kept, first non-empty values kept.
        var zhang = (await host.Store.FindAsync(IdentityKind.Phone, "+8613800138000"))!;
        Assert.Equal("zhangsan@example.com", zhang.Identities.Email);
        Assert.Equal(["zs2@example.com"], zhang.Identities.AdditionalEmails);
        Assert.Same(zhang, await host.Store.FindAsync(IdentityKind.Email, "zs2@example.com"));
        Assert.Equal("张三", zhang.Name);
        Assert.Equal(new TextValue("manufacturing"), zhang.Attributes["industry"]);
        Assert.Equal(new NumberValue(50), zhang.Attributes["budget"]);

        // Bad phone: the row is kept (found by e-mail), the bad value is flagged on the contact.
        var li = (await host.Store.FindAsync(IdentityKind.Email, "lisi@example.com"))!;
        Assert.Null(li.Identities.Phone);
        var flag = Assert.Single(li.QualityFlags);
        Assert.Equal(("phone", "12345", "invalid-phone", "customers.csv row 4"), (flag.Field, flag.Value, flag.Code, flag.Source));
        Assert.Equal(new TextValue("unclassified"), li.Attributes["industry"]);

        var wang = (await host.Store.FindAsync(IdentityKind.Phone, "+8613900139000"))!;
        Assert.Equal(["email", "attributes.budget"], wang.QualityFlags.Select(f => f.Field));
        Assert.False(wang.Attributes.ContainsKey("budget"));
        Assert.Equal(new TextValue("retail"), wang.Attributes["industry"]);

        // A short row: the missing cells are empty, so the defaults apply.
        var zhao = (await host.Store.FindAsync(IdentityKind.Phone, "+8613700137000"))!;
        Assert.Equal(new TextValue("unclassified"), zhao.Attributes["industry"]);
        Assert.False(zhao.Attributes.ContainsKey("city"));
        Assert.Equal(4, host.Listener.Changes.Count(c => c.Previous is null));
    }

    [Fact]
    public async Task A_row_with_bad_quoting_is_kept_and_flagged_with_its_raw_record()
    {
        using var host = Host();
        var report = await host.Importer.ImportCsvTextAsync(
            new StringReader("姓名,手机号,邮箱,行业,预算,城市\n王\"五,13900139000,w@x.com,零售,10,上海\n赵六,13700137000,,,,\n"), Mapping);
        Assert.Equal((2L, 1L, 1L), (report.RowsRead, report.Created, report.Flagged));
        var issue = Assert.Single(report.Issues);
        Assert.Equal((2L, "malformed-row", ImportIssueKind.Flag), (issue.Row, issue.Code, issue.Kind));
        Assert.Contains("13900139000", issue.Value, StringComparison.Ordinal);
        var wang = (await host.Store.FindAsync(IdentityKind.Phone, "+8613900139000"))!;
        Assert.Equal("row", Assert.Single(wang.QualityFlags).Field);
    }

    [Fact]
    public async Task A_stream_with_a_byte_order_mark_reads_like_text()
    {
        using var host = Host();
        using var stream = new MemoryStream([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(DirtyCsv)]);
        var report = await host.Importer.ImportCsvAsync(stream, Mapping);
        Assert.Equal((6L, 2L, 1L, 2L, 1L), (report.RowsRead, report.Created, report.Merged, report.Flagged, report.Rejected));
        Assert.True(stream.CanRead, "the stream is left open");
    }

    [Fact]
    public async Task A_missing_required_column_fails_before_any_row_naming_it()
    {
        using var host = Host();
        var ex = await Assert.ThrowsAsync<ContactImportException>(() =>
            host.Importer.ImportCsvTextAsync(new StringReader("姓名,邮箱\n张三,a@x.com\n"), Mapping));
        Assert.Equal("手机号", ex.Column);
        Assert.Contains("'手机号'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, await host.Store.CountAsync());

        var unknown = await Assert.ThrowsAsync<ContactImportException>(() => host.Importer.ImportCsvTextAsync(
            new StringReader("x\n1\n"),
            new ContactImportMapping { Columns = [ColumnMapping.ToAttribute("x", "shoe_size")] }));
        Assert.Contains("'shoe_size'", unknown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MergePolicy.KeepExisting, "retail", "retail")]
    [InlineData(MergePolicy.Overwrite, "retail", "manufacturing")]
    [InlineData(MergePolicy.KeepExisting, null, "manufacturing")]
    public async Task Merge_policy_decides_which_value_wins(MergePolicy policy, string? existing, string expected)
    {
        using var host = Host();
        var contact = await host.Contacts.CreateAsync(new ContactDraft
        {
            Identities = new ContactIdentities { Phone = "13800138000" },
            Attributes = existing is null ? new Dictionary<string, FieldValue>() : new Dictionary<string, FieldValue> { ["industry"] = new TextValue(existing) },
        });
        Assert.NotEqual(existing is null, contact.Attributes["industry"] != new TextValue("unclassified"));

        var mapping = new ContactImportMapping
        {
            Columns = [ColumnMapping.ToIdentity("phone", IdentityKind.Phone), ColumnMapping.ToAttribute("industry", "industry", policy)],
        };
        var report = await host.Importer.ImportCsvTextAsync(new StringReader("phone,industry\n+8613800138000,manufacturing\n+8613800138000,\n"), mapping);
        Assert.Equal(2, report.Merged);
        Assert.Equal(new TextValue(expected), (await host.Contacts.GetAsync(contact.Id)).Attributes["industry"]);
    }

    [Fact]
    public async Task Union_merges_lists_and_conflicting_identities_are_flagged_not_lost()
    {
        using var host = Host();
        var a = await host.CreateAsync("13800138000");
        var b = await host.CreateAsync("13900139000", "b@x.com");
        var mapping = new ContactImportMapping
        {
            Columns =
            [
                ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
                ColumnMapping.ToIdentity("email", IdentityKind.Email),
                ColumnMapping.ToAttribute("products", "products", MergePolicy.Union),
            ],
        };
        var report = await host.Importer.ImportCsvTextAsync(
            new StringReader("phone,email,products\n13800138000,,A;B\n13800138000,,B; C\n13800138000,B@X.com,D\n"), mapping);

        Assert.Equal((2L, 1L), (report.Merged, report.Flagged));
        var issue = Assert.Single(report.Issues);
        Assert.Equal(("email", "b@x.com", "identity-conflict"), (issue.Column, issue.Value, issue.Code));
        Assert.Contains(b.Id.ToString(), issue.Reason, StringComparison.Ordinal);
        var stored = await host.Contacts.GetAsync(a.Id);
        Assert.Equal(["A", "B", "C", "D"], ((ChoicesValue)stored.Attributes["products"]).Values);
        Assert.Null(stored.Identities.Email);
        Assert.Equal("b@x.com", (await host.Contacts.GetAsync(b.Id)).Identities.Email);
    }

    [Fact]
    public async Task Programmatic_rows_report_missing_columns_and_progress()
    {
        using var host = Host();
        var mapping = new ContactImportMapping
        {
            ProgressInterval = 2,
            Columns =
            [
                ColumnMapping.ToIdentity("crm", IdentityKind.CrmId) with { Required = true },
                ColumnMapping.ToAttribute("industry", "industry") with { Transforms = ValueTransforms.Trim | ValueTransforms.Lower, Default = "other" },
                ColumnMapping.ToOwner("owner"),
            ],
        };
        var seen = new List<ImportProgress>();
        var report = await host.Importer.ImportAsync(Rows(), mapping, new SyncProgress(seen.Add));

        Assert.Equal((4L, 2L, 1L, 0L, 1L), (report.RowsRead, report.Created, report.Merged, report.Flagged, report.Rejected));
        var rejection = Assert.Single(report.Issues);
        Assert.Equal((3L, "crm", "missing-column"), (rejection.Row, rejection.Column, rejection.Code));
        Assert.Equal([new ImportProgress(2, 2, 0, 0, 0), new ImportProgress(4, 2, 1, 0, 1), report.Progress], seen);
        var one = (await host.Store.FindAsync(IdentityKind.CrmId, "c-1"))!;
        Assert.Equal((new TextValue("manufacturing") as FieldValue, "sales-1"), (one.Attributes["industry"], one.OwnerId));
        Assert.Equal(new TextValue("other"), (await host.Store.FindAsync(IdentityKind.CrmId, "c-2"))!.Attributes["industry"]);

        static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> Rows()
        {
            yield return new Dictionary<string, string?> { ["crm"] = "c-1", ["industry"] = " Manufacturing ", ["owner"] = "sales-1" };
            yield return new Dictionary<string, string?> { ["crm"] = "c-2", ["industry"] = null };
            yield return new Dictionary<string, string?> { ["industry"] = "retail" };
            await Task.Yield();
            yield return new Dictionary<string, string?> { ["crm"] = "c-1", ["industry"] = "retail", ["owner"] = "sales-2" };
        }
    }

    [Fact]
    public async Task The_csv_is_streamed_not_loaded()
    {
        using var host = Host();
        const int rows = 30_000;
        using var source = new GeneratedCsv(rows);
        long bytesAtRow1000 = -1;
        var mapping = Mapping with { ProgressInterval = 1_000, MaxIssues = 10 };
        var report = await host.Importer.ImportCsvAsync(source, mapping, new SyncProgress(p =>
        {
            if (p.RowsRead == 1_000)
            {
                bytesAtRow1000 = source.BytesRead;
            }
        }));

        Assert.Equal(rows, report.RowsRead);
        Assert.Equal(rows, report.Created + report.Merged + report.Flagged + report.Rejected);
        Assert.Equal(rows / 10, report.Flagged);
        Assert.Equal(10, report.Issues.Count);
        Assert.Equal((rows / 10) - 10, report.IssuesOmitted);
        Assert.InRange(bytesAtRow1000, 1, source.BytesRead / 4);
    }

    /// <summary>Reports synchronously (unlike <see cref="Progress{T}"/>, which posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<ImportProgress> report) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => report(value);
    }

    /// <summary>A CSV made on the fly: every 10th row has a bad phone; phones repeat every 1,000 rows (so rows merge).</summary>
    private sealed class GeneratedCsv(int rows) : Stream
    {
        private byte[] _pending = Encoding.UTF8.GetBytes("姓名,手机号,邮箱,行业,预算,城市\n");
        private int _offset;
        private int _row;

        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var written = 0;
            while (written < count)
            {
                if (_offset == _pending.Length)
                {
                    if (_row == rows)
                    {
                        break;
                    }

                    _row++;
                    var phone = _row % 10 == 0 ? "12345" : $"1380013{_row % 1000:0000}";
                    _pending = Encoding.UTF8.GetBytes($"客户{_row},{phone},c{_row % 1000}@example.com,制造,{_row % 100},上海\n");
                    _offset = 0;
                }

                var n = Math.Min(count - written, _pending.Length - _offset);
                Array.Copy(_pending, _offset, buffer, offset + written, n);
                _offset += n;
                written += n;
            }

            BytesRead += written;
            return written;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public class ContactImporterIdentitylessRowTests
{
    [Fact]
    public async Task A_contact_kept_without_a_usable_identity_can_still_be_updated()
    {
        // A row whose only identities are invalid is kept (flagged) without them; engines that update the contact
        // afterwards (scores, tags, stage) must not fail on it. Found by the SQLite sample's second run.
        using var host = new ContactTestHost();
        var mapping = new ContactImportMapping { Source = "a.csv", Columns = [ColumnMapping.ToName("name"), ColumnMapping.ToIdentity("phone", IdentityKind.Phone)] };
        var report = await host.Importer.ImportCsvTextAsync(new StringReader("name,phone\nAnn,12345\n"), mapping);
        Assert.Equal(1, report.Flagged);
        Contact? kept = null;
        await foreach (var c in host.Store.ListAsync())
        {
            kept = c;
        }

        var updated = await host.Contacts.UpdateAsync(kept!.Id, c => c with { Stage = LifecycleStage.Mql });

        Assert.Equal(LifecycleStage.Mql, updated.Stage);
        await Assert.ThrowsAsync<Campaigns.Modeling.FieldValidationException>(() =>
            host.Contacts.CreateAsync(new ContactDraft { Name = "no identity" }));
    }
}
