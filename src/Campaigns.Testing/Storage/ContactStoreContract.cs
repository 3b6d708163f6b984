using Campaigns.Contacts;
using Campaigns.Modeling;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>
/// The contract of <see cref="IContactStore"/>: round trip of every field, identity lookups (additional phones and
/// e-mails included), unique identities, optimistic versions, insertion order, counts, cancellation, and concurrency
/// across two instances. Batches of an <see cref="IBulkContactStore"/> are checked by <see cref="BulkContactStoreContract"/>.
/// </summary>
public abstract class ContactStoreContract : StoreContract<IContactStore>
{
    /// <summary>A contact with every identity and some of everything else.</summary>
    /// <param name="n">A number that makes the identities unique.</param>
    /// <returns>A new contact (version 0).</returns>
    protected static Contact SampleContact(int n) => new()
    {
        Id = ContactId.New(),
        Name = $"张伟 {n}",
        CreatedAt = T0,
        TimeZoneId = "Asia/Shanghai",
        OwnerId = "sales-7",
        Stage = LifecycleStage.Mql,
        Identities = new ContactIdentities
        {
            Phone = $"+86138{n:D8}",
            Email = $"zhang{n}@example.com",
            WeChatOpenId = $"openid-{n}",
            WeChatUnionId = $"unionid-{n}",
            WeComExternalUserId = $"wm-{n}",
            CrmId = $"crm-{n}",
            AdditionalPhones = [$"+86139{n:D8}"],
            AdditionalEmails = [$"zw{n}@example.org"],
        },
        Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue("manufacturing"), ["company_size"] = new NumberValue(250) },
        Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "registration form", T0) },
        Tags = [new ContactTag { Tag = "high-intent", AssignedAt = T0, Source = TagSource.Rule }],
        QualityFlags = [new DataQualityFlag("phone", "12345", "invalid-phone", "not a phone", T0, "import a.csv row 3")],
    };

    /// <summary>A stored contact reads back equal, at version 1.</summary>
    [SkippableFact]
    public async Task Add_then_get_returns_every_field_at_version_1()
    {
        var store = await NewStoreAsync();
        var contact = SampleContact(1);

        var stored = await store.AddAsync(contact);

        Assert.Equal(1, stored.Version);
        AssertSameDocument(contact with { Version = 1 }, await store.GetAsync(contact.Id));
        Assert.Null(await store.GetAsync(ContactId.New()));
    }

    /// <summary>
    /// Scores read back with and without a grade (a scoring model without grades gives a null grade, which documents
    /// leave out; it must still read back).
    /// </summary>
    [SkippableFact]
    public async Task Scores_with_and_without_a_grade_read_back()
    {
        var store = await NewStoreAsync();
        var graded = SampleContact(1) with { Scores = new ContactScores(42.5m, 10m, "A", T0) };
        var ungraded = SampleContact(2) with { Scores = new ContactScores(7m, 0m, null, T0) };

        await store.AddAsync(graded);
        await store.AddAsync(ungraded);

        Assert.Equal(graded.Scores, (await store.GetAsync(graded.Id))?.Scores);
        Assert.Equal(ungraded.Scores, (await store.GetAsync(ungraded.Id))?.Scores);
        Assert.Null((await store.GetAsync(ungraded.Id))?.Scores?.Grade);
    }

    /// <summary>A new contact must come with version 0.</summary>
    [SkippableFact]
    public async Task Add_with_a_version_other_than_0_is_refused()
    {
        var store = await NewStoreAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddAsync(SampleContact(1) with { Version = 3 }));
        Assert.Equal(0, await store.CountAsync());
    }

    /// <summary>Every identity kind finds the contact, additional phones and e-mails included.</summary>
    [SkippableFact]
    public async Task Find_by_every_identity_finds_the_contact()
    {
        var store = await NewStoreAsync();
        var contact = SampleContact(2);
        await store.AddAsync(contact);
        await store.AddAsync(SampleContact(3));

        var ids = contact.Identities;
        foreach (var (kind, value) in new[]
        {
            (IdentityKind.Phone, ids.Phone!), (IdentityKind.Phone, ids.AdditionalPhones[0]), (IdentityKind.Email, ids.Email!),
            (IdentityKind.Email, ids.AdditionalEmails[0]), (IdentityKind.WeChatOpenId, ids.WeChatOpenId!), (IdentityKind.WeChatUnionId, ids.WeChatUnionId!),
            (IdentityKind.WeComExternalUserId, ids.WeComExternalUserId!), (IdentityKind.CrmId, ids.CrmId!),
        })
        {
            var found = await store.FindAsync(kind, value);
            Assert.True(found?.Id == contact.Id, $"{kind} {value} did not find the contact");
        }

        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613700000000"));
        Assert.Null(await store.FindAsync(IdentityKind.Email, ids.Phone!)); // a value of another kind
    }

    /// <summary>The same id twice is a duplicate; nothing is written.</summary>
    [SkippableFact]
    public async Task Add_with_a_taken_id_throws_duplicate_and_writes_nothing()
    {
        var store = await NewStoreAsync();
        var contact = SampleContact(4);
        await store.AddAsync(contact);

        var copy = SampleContact(5) with { Id = contact.Id };
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(copy));

        Assert.Equal(1, await store.CountAsync());
        Assert.Null(await store.FindAsync(IdentityKind.Phone, copy.Identities.Phone!));
    }

    /// <summary>An identity of another contact (any kind, additional ones included) is a duplicate; nothing is written.</summary>
    [SkippableTheory]
    [InlineData(IdentityKind.Phone)]
    [InlineData(IdentityKind.Email)]
    [InlineData(IdentityKind.WeChatOpenId)]
    [InlineData(IdentityKind.WeChatUnionId)]
    [InlineData(IdentityKind.WeComExternalUserId)]
    [InlineData(IdentityKind.CrmId)]
    public async Task Add_with_a_taken_identity_throws_duplicate_and_writes_nothing(IdentityKind kind)
    {
        var store = await NewStoreAsync();
        var first = SampleContact(6);
        await store.AddAsync(first);
        var second = SampleContact(7);
        var ids = second.Identities;
        second = second with
        {
            Identities = kind switch
            {
                IdentityKind.Phone => ids with { AdditionalPhones = [first.Identities.Phone!] },
                IdentityKind.Email => ids with { Email = first.Identities.AdditionalEmails[0] },
                IdentityKind.WeChatOpenId => ids with { WeChatOpenId = first.Identities.WeChatOpenId },
                IdentityKind.WeChatUnionId => ids with { WeChatUnionId = first.Identities.WeChatUnionId },
                IdentityKind.WeComExternalUserId => ids with { WeComExternalUserId = first.Identities.WeComExternalUserId },
                _ => ids with { CrmId = first.Identities.CrmId },
            },
        };

        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(second));

        Assert.Equal(1, await store.CountAsync());
        Assert.Null(await store.GetAsync(second.Id));
        Assert.Null(await store.FindAsync(IdentityKind.Phone, second.Identities.Phone!));
        Assert.Equal(first.Id, (await store.FindAsync(IdentityKind.Phone, first.Identities.Phone!))?.Id);
    }

    /// <summary>An update bumps the version and re-indexes identities: the old phone finds nobody, the new one finds the contact.</summary>
    [SkippableFact]
    public async Task Update_bumps_the_version_and_reindexes_identities()
    {
        var store = await NewStoreAsync();
        var stored = await store.AddAsync(SampleContact(8));
        var changed = stored with { Name = "李娜", Identities = stored.Identities with { Phone = "+8613811112222", AdditionalEmails = [] } };

        var updated = await store.UpdateAsync(changed);

        Assert.Equal(2, updated.Version);
        AssertSameDocument(changed with { Version = 2 }, await store.GetAsync(stored.Id));
        Assert.Null(await store.FindAsync(IdentityKind.Phone, stored.Identities.Phone!));
        Assert.Null(await store.FindAsync(IdentityKind.Email, stored.Identities.AdditionalEmails[0]));
        Assert.Equal(stored.Id, (await store.FindAsync(IdentityKind.Phone, "+8613811112222"))?.Id);
        Assert.Equal(stored.Id, (await store.FindAsync(IdentityKind.Email, stored.Identities.Email!))?.Id);
    }

    /// <summary>A stale version is a concurrency conflict; the stored contact is unchanged.</summary>
    [SkippableFact]
    public async Task Update_with_a_stale_version_throws_concurrency_and_loses_nothing()
    {
        var store = await NewStoreAsync();
        var stored = await store.AddAsync(SampleContact(9));
        var winner = await store.UpdateAsync(stored with { Name = "winner" });

        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(stored with { Name = "loser", Identities = stored.Identities with { Phone = "+8613800009999" } }));

        Assert.Equal(1, ex.ExpectedVersion);
        Assert.Equal(2, ex.ActualVersion);
        AssertSameDocument(winner, await store.GetAsync(stored.Id));
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800009999"));
    }

    /// <summary>Updating a contact that does not exist is a concurrency conflict.</summary>
    [SkippableFact]
    public async Task Update_of_a_missing_contact_throws_concurrency()
    {
        var store = await NewStoreAsync();
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(SampleContact(10) with { Version = 1 }));
        Assert.Null(ex.ActualVersion);
    }

    /// <summary>Taking another contact's identity in an update is a duplicate; nothing is written.</summary>
    [SkippableFact]
    public async Task Update_taking_another_contacts_identity_throws_duplicate_and_writes_nothing()
    {
        var store = await NewStoreAsync();
        var a = await store.AddAsync(SampleContact(11));
        var b = await store.AddAsync(SampleContact(12));

        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.UpdateAsync(b with { Name = "x", Identities = b.Identities with { Email = a.Identities.Email } }));

        AssertSameDocument(b, await store.GetAsync(b.Id));
        Assert.Equal(a.Id, (await store.FindAsync(IdentityKind.Email, a.Identities.Email!))?.Id);
        Assert.Equal(b.Id, (await store.FindAsync(IdentityKind.Email, b.Identities.Email!))?.Id);
    }

    /// <summary>Listing returns every contact in the order they were added; counting counts them.</summary>
    [SkippableFact]
    public async Task List_is_in_insertion_order_and_count_counts()
    {
        var store = await NewStoreAsync();
        var ids = new List<ContactId>();
        for (var i = 0; i < 1_200; i++)
        {
            var contact = new Contact { Id = ContactId.New(), CreatedAt = T0, Identities = new ContactIdentities { CrmId = $"c{i}" } };
            ids.Add((await store.AddAsync(contact)).Id);
        }

        await store.UpdateAsync((await store.GetAsync(ids[0]))! with { Name = "updated first" });

        var listed = new List<ContactId>();
        await foreach (var contact in store.ListAsync())
        {
            listed.Add(contact.Id);
        }

        Assert.Equal(ids, listed);
        Assert.Equal(1_200, await store.CountAsync());
    }

    /// <summary>A cancelled token cancels every operation.</summary>
    [SkippableFact]
    public async Task A_cancelled_token_cancels_every_operation()
    {
        var store = await NewStoreAsync();
        var stored = await store.AddAsync(SampleContact(13));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetAsync(stored.Id, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.FindAsync(IdentityKind.Phone, stored.Identities.Phone!, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AddAsync(SampleContact(14), Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.UpdateAsync(stored with { Name = "x" }, Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CountAsync(Cancelled()));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var unused in store.ListAsync(Cancelled()))
            {
            }
        });
        Assert.Equal(1, await store.CountAsync());
        Assert.Equal(1, (await store.GetAsync(stored.Id))!.Version);
    }

    /// <summary>A second instance sees the first one's writes, and a stale write through it is refused.</summary>
    [SkippableFact]
    public async Task A_second_instance_sees_writes_and_stale_writes_through_it_conflict()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var stored = await store.AddAsync(SampleContact(15));

        var seen = await other.FindAsync(IdentityKind.Email, stored.Identities.Email!);
        AssertSameDocument(stored, seen);
        await store.UpdateAsync(stored with { Name = "first" });

        await Assert.ThrowsAsync<ConcurrencyException>(() => other.UpdateAsync(seen! with { Name = "second" }));
        Assert.Equal("first", (await other.GetAsync(stored.Id))!.Name);
        await Assert.ThrowsAsync<DuplicateEntityException>(() => other.AddAsync(SampleContact(16) with { Identities = new ContactIdentities { Phone = stored.Identities.Phone } }));
    }

    /// <summary>Of many concurrent updates from the same version (split over two instances), exactly one wins.</summary>
    [SkippableFact]
    public async Task Concurrent_updates_from_one_version_have_exactly_one_winner()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var stored = await store.AddAsync(SampleContact(17));

        var attempts = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? store : other).UpdateAsync(stored with { Name = $"writer {i}" });
                return true;
            }
            catch (ConcurrencyException)
            {
                return false;
            }
        }));
        var results = await Task.WhenAll(attempts);

        Assert.Equal(1, results.Count(r => r));
        Assert.Equal(2, (await store.GetAsync(stored.Id))!.Version);
    }

    /// <summary>Of concurrent adds of contacts sharing a phone, exactly one is stored.</summary>
    [SkippableFact]
    public async Task Concurrent_adds_sharing_an_identity_store_exactly_one()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var attempts = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? store : other).AddAsync(new Contact { Id = ContactId.New(), CreatedAt = T0, Identities = new ContactIdentities { Phone = "+8613800000001", CrmId = $"crm-{i}" } });
                return true;
            }
            catch (DuplicateEntityException)
            {
                return false;
            }
        }));
        var results = await Task.WhenAll(attempts);

        Assert.Equal(1, results.Count(r => r));
        Assert.Equal(1, await store.CountAsync());
    }

    /// <summary>
    /// Creates the <see cref="IContactImporter"/> of a service provider (<c>AddCampaigns</c>) whose
    /// <see cref="IContactStore"/> is <paramref name="store"/>; null (the default) skips the import checks with a message.
    /// </summary>
    /// <param name="store">The store under test.</param>
    /// <returns>The importer, or null.</returns>
    protected virtual IContactImporter? CreateImporter(IContactStore store) => null;

    /// <summary>The bulk lookup finds every identity held (additional ones too) and leaves out the identities nobody holds.</summary>
    [SkippableFact]
    public async Task Find_many_finds_every_identity_held_and_leaves_out_the_rest()
    {
        var store = await NewStoreAsync();
        var first = await store.AddAsync(SampleContact(40));
        var second = await store.AddAsync(SampleContact(41));
        var asked = new[]
        {
            new ContactIdentityKey(IdentityKind.Phone, first.Identities.Phone!),
            new ContactIdentityKey(IdentityKind.Phone, first.Identities.AdditionalPhones[0]),
            new ContactIdentityKey(IdentityKind.Email, second.Identities.Email!),
            new ContactIdentityKey(IdentityKind.CrmId, second.Identities.CrmId!),
            new ContactIdentityKey(IdentityKind.WeChatOpenId, first.Identities.WeChatOpenId!),
            new ContactIdentityKey(IdentityKind.Phone, "+8613700000000"),
            new ContactIdentityKey(IdentityKind.Email, "nobody@example.com"),
            new ContactIdentityKey(IdentityKind.Phone, first.Identities.Phone!),
        };

        var found = await store.FindManyAsync(asked);

        Assert.Equal(5, found.Count);
        foreach (var key in asked.Take(5))
        {
            var expected = key.Value.Contains("41", StringComparison.Ordinal) ? second : first;
            Assert.Equal(expected.Id, found[key].Id);
            Assert.Equal(1, found[key].Version);
        }

        AssertSameDocument(first, found[asked[0]]);
        Assert.Empty(await store.FindManyAsync([]));
        await Assert.ThrowsAsync<ArgumentException>(() => store.FindManyAsync([new ContactIdentityKey(IdentityKind.Phone, null!)]));
    }

    /// <summary>
    /// An import into this store merges rows that share an identity within a chunk and with contacts stored before, flags
    /// conflicts and invalid values, rejects rows without an identity, and its counts add up.
    /// </summary>
    [SkippableFact]
    public async Task Import_merges_duplicates_in_the_chunk_and_in_the_store_and_the_counts_add_up()
    {
        var store = await NewStoreAsync();
        var importer = CreateImporter(store);
        Skip.If(importer is null, "The derived contract class does not override CreateImporter, so the import checks cannot run.");
        var stored = await store.AddAsync(new Contact { Id = ContactId.New(), CreatedAt = T0, Identities = new ContactIdentities { Phone = "+8613800000003" } });
        const string Csv = """
            phone,email,name
            +8613800000001,a@example.com,A
            +8613800000001,,A2
            ,A@Example.com,A3
            12345,b@example.com,B
            ,,C
            +8613800000002,b@example.com,D
            +8613800000003,c@example.com,E
            +8613800000001,c@example.com,F
            """;

        var report = await importer!.ImportCsvTextAsync(new StringReader(Csv), ImportMapping);

        Assert.Equal(8, report.RowsRead);
        Assert.Equal(report.RowsRead, report.Created + report.Merged + report.Flagged + report.Rejected);
        Assert.Equal((1, 4, 2, 1, 2), (report.Created, report.Merged, report.Flagged, report.Rejected, report.ContactsCreated));
        Assert.Equal(3, await store.CountAsync());
        var a = await store.FindAsync(IdentityKind.Email, "a@example.com");
        Assert.Equal(("F", "+8613800000001", 4L), (a?.Name, a?.Identities.Phone, a?.Version));
        var b = await store.FindAsync(IdentityKind.Phone, "+8613800000002");
        Assert.Equal(("b@example.com", "D"), (b?.Identities.Email, b?.Name));
        var e = await store.FindAsync(IdentityKind.Email, "c@example.com");
        Assert.Equal((stored.Id, 2L, "E"), (e?.Id, e?.Version, e?.Name));
        Assert.Contains(report.Issues, i => i.Row == 9 && i.Code == "identity-conflict");
        Assert.Contains(report.Issues, i => i.Row == 6 && i.Code == "no-identity" && i.Kind == ImportIssueKind.Rejection);
    }

    /// <summary>Rows repeating an identity of an earlier chunk (already committed) merge into that contact.</summary>
    [SkippableFact]
    public async Task Import_merges_rows_of_a_later_chunk_into_contacts_of_an_earlier_one()
    {
        var store = await NewStoreAsync();
        var importer = CreateImporter(store);
        Skip.If(importer is null, "The derived contract class does not override CreateImporter, so the import checks cannot run.");
        const int Distinct = 4_500;
        const int Repeated = 600;

        var report = await importer!.ImportAsync(Rows(), ImportMapping);

        Assert.Equal((Distinct + Repeated, Distinct, Repeated, 0L, 0L), (report.RowsRead, report.Created, report.Merged, report.Flagged, report.Rejected));
        Assert.Equal(Distinct, await store.CountAsync());
        var merged = await store.FindAsync(IdentityKind.Phone, Phone(7));
        Assert.Equal(("again 7", 2L, $"u7@example.com"), (merged?.Name, merged?.Version, merged?.Identities.Email));

        static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> Rows()
        {
            for (var i = 0; i < Distinct + Repeated; i++)
            {
                var n = i < Distinct ? i : (i - Distinct) * 7;
                yield return new Dictionary<string, string?> { ["phone"] = Phone(n), ["email"] = i < Distinct ? $"u{n}@example.com" : null, ["name"] = i < Distinct ? $"first {n}" : $"again {n}" };
            }

            await Task.CompletedTask;
        }

        static string Phone(int n) => $"+86138{n:D8}";
    }

    /// <summary>
    /// An import of several chunks (read on one side, written on the other while the next ones are parsed) applies the rows
    /// in file order: rows repeating a phone of the chunk before (possibly still in flight, not yet committed) merge into
    /// that contact, the last row's name wins, flags are reported in row order, progress counts up to the total, and the
    /// counts add up; the same with the pipeline turned off (<see cref="ContactImportMapping.Pipelined"/>).
    /// </summary>
    /// <param name="pipelined">Whether the import runs pipelined.</param>
    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_pipelined_import_keeps_file_order_across_chunks_in_flight(bool pipelined)
    {
        var store = await NewStoreAsync();
        var importer = CreateImporter(store);
        Skip.If(importer is null, "The derived contract class does not override CreateImporter, so the import checks cannot run.");
        const int Total = 5_500;

        // The model: row i (1-based) repeats the phone of row i - 995 (the chunk before) when i % 10 == 0, has an invalid
        // phone when i % 97 == 0 (flagged, created with its e-mail), else a phone of its own.
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var flaggedRows = new List<long>();
        long created = 0, merged = 0;
        for (var i = 1; i <= Total; i++)
        {
            var (phone, name) = PipelineRow(i);
            if (phone is null)
            {
                flaggedRows.Add(i);
            }
            else if (names.ContainsKey(phone))
            {
                merged++;
                names[phone] = name;
            }
            else
            {
                created++;
                names[phone] = name;
            }
        }

        var seen = new List<long>();
        var report = await importer!.ImportAsync(PipelineRows(Total), PipelineMapping(100) with { Pipelined = pipelined }, new SyncProgress(p => seen.Add(p.RowsRead)));

        Assert.Equal((Total, created, merged, flaggedRows.Count, 0L), (report.RowsRead, report.Created, report.Merged, (int)report.Flagged, report.Rejected));
        Assert.Equal(report.RowsRead, report.Created + report.Merged + report.Flagged + report.Rejected);
        Assert.Equal(flaggedRows, report.Issues.Select(i => i.Row));
        Assert.All(report.Issues, i => Assert.Equal(("invalid-phone", "phone", "12345"), (i.Code, i.Column, i.Value)));
        Assert.Equal(created + flaggedRows.Count, await store.CountAsync());
        Assert.Equal(seen.Order(), seen);
        Assert.Equal(Total, seen[^1]);
        Assert.Contains(2_000L, seen);
        for (var i = 1_010; i <= Total; i += 10)
        {
            if (PipelineRow(i).Phone is { } phone)
            {
                var contact = await store.FindAsync(IdentityKind.Phone, phone);
                Assert.Equal(names[phone], contact?.Name);
            }
        }
    }

    /// <summary>
    /// A store that fails a write in the middle of a pipelined import: the import throws the store's exception (same type)
    /// naming the row and its chunk in <see cref="Exception.Data"/>, stops reading, and the rows written before it stay.
    /// </summary>
    [SkippableFact]
    public async Task A_store_error_in_a_pipelined_import_surfaces_with_its_row_and_chunk()
    {
        var inner = await NewStoreAsync();
        IContactStore failing = inner is IBulkContactStore ? new FailingBulkStore(inner, PipelinePhone(2_345)) : new FailingStore(inner, PipelinePhone(2_345));
        var importer = CreateImporter(failing);
        Skip.If(importer is null, "The derived contract class does not override CreateImporter, so the import checks cannot run.");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => importer!.ImportAsync(PipelineRows(20_000, flags: false), PipelineMapping(1_000)));

        Assert.Equal("store failed on purpose", ex.Message);
        Assert.Equal(2_345L, ex.Data["Campaigns.Import.Row"]);
        Assert.Equal((2_001L, 3_000L), (ex.Data["Campaigns.Import.FirstRow"], ex.Data["Campaigns.Import.LastRow"]));
        Assert.Equal(2_344, await inner.CountAsync());
        Assert.NotNull(await inner.FindAsync(IdentityKind.Phone, PipelinePhone(2_344)));
        Assert.Null(await inner.FindAsync(IdentityKind.Phone, PipelinePhone(2_346)));
    }

    /// <summary>A pipelined import cancelled half-way stops with <see cref="OperationCanceledException"/> and keeps the rows written before.</summary>
    [SkippableFact]
    public async Task A_cancelled_pipelined_import_stops_and_keeps_the_rows_written()
    {
        var store = await NewStoreAsync();
        var importer = CreateImporter(store);
        Skip.If(importer is null, "The derived contract class does not override CreateImporter, so the import checks cannot run.");
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => importer!.ImportAsync(
            PipelineRows(20_000, flags: false),
            PipelineMapping(1),
            new SyncProgress(p =>
            {
                if (p.RowsRead == 2_500)
                {
                    cts.Cancel();
                }
            }),
            cts.Token));

        Assert.InRange(await store.CountAsync(), 2_500, 2_501);
    }

    private static (string? Phone, string Name) PipelineRow(int i) =>
        i % 97 == 0 ? (null, $"flagged {i}")
        : i % 10 == 0 && i > 1_000 ? (PipelinePhone(i - 995), $"again {i}")
        : (PipelinePhone(i), $"first {i}");

    private static string PipelinePhone(int i) => $"+86138{i:D8}";

    private static ContactImportMapping PipelineMapping(int progressInterval) => ImportMapping with { Source = "pipeline", ProgressInterval = progressInterval, Pipelined = true };

    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> PipelineRows(int count, bool flags = true)
    {
        for (var i = 1; i <= count; i++)
        {
            var (phone, name) = flags ? PipelineRow(i) : (PipelinePhone(i), $"first {i}");
            yield return new Dictionary<string, string?> { ["phone"] = phone ?? "12345", ["email"] = $"p{i}@example.com", ["name"] = name };
        }

        await Task.CompletedTask;
    }

    /// <summary>Reports on the caller's thread (no synchronization context hop).</summary>
    private sealed class SyncProgress(Action<ImportProgress> report) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => report(value);
    }

    /// <summary>The store under test, failing the add of the contact with one phone.</summary>
    private class FailingStore(IContactStore inner, string phone) : IContactStore, IBulkContactLookup
    {
        protected IContactStore Inner { get; } = inner;

        protected string Phone { get; } = phone;

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => Inner.GetAsync(id, cancellationToken);

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => Inner.FindAsync(kind, value, cancellationToken);

        public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) => Inner.FindManyAsync(identities, cancellationToken);

        public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) =>
            contact.Identities.Phone == Phone ? throw new InvalidOperationException("store failed on purpose") : Inner.AddAsync(contact, cancellationToken);

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => Inner.UpdateAsync(contact, cancellationToken);

        public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => Inner.ListAsync(cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => Inner.CountAsync(cancellationToken);
    }

    /// <summary>The same over a store with batches: the batch fails the add.</summary>
    private sealed class FailingBulkStore(IContactStore inner, string phone) : FailingStore(inner, phone), IBulkContactStore
    {
        public async ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default) =>
            new FailingBatch(await ((IBulkContactStore)Inner).BeginBatchAsync(cancellationToken), Phone);
    }

    private sealed class FailingBatch(IContactWriteBatch inner, string phone) : FailingStore(inner, phone), IContactWriteBatch
    {
        public int PendingWrites => ((IContactWriteBatch)Inner).PendingWrites;

        public ValueTask CommitAsync(CancellationToken cancellationToken = default) => ((IContactWriteBatch)Inner).CommitAsync(cancellationToken);

        public ValueTask DisposeAsync() => ((IContactWriteBatch)Inner).DisposeAsync();
    }

    private static ContactImportMapping ImportMapping { get; } = new()
    {
        Source = "contract.csv",
        Columns =
        [
            ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
            ColumnMapping.ToIdentity("email", IdentityKind.Email),
            ColumnMapping.ToName("name") with { Merge = MergePolicy.Overwrite },
        ],
    };
}

/// <summary>
/// The contract of an <see cref="IContactStore"/> that is also an <see cref="IBulkContactStore"/>: everything of
/// <see cref="ContactStoreContract"/>, plus batches that read their own writes, publish them at commit, keep each write
/// atomic, and roll back what was not committed.
/// </summary>
public abstract class BulkContactStoreContract : ContactStoreContract
{
    /// <summary>A batch reads its own writes, publishes them at commit, and rolls back what was not committed.</summary>
    [SkippableFact]
    public async Task A_batch_reads_its_own_writes_commits_and_rolls_back_the_rest()
    {
        var store = await NewStoreAsync();
        Assert.IsAssignableFrom<IBulkContactStore>(store);
        var other = await SecondInstanceAsync(store);
        var committed = SampleContact(20);
        var rolledBack = SampleContact(21);

        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch.ConfigureAwait(false))
        {
            var stored = await batch.AddAsync(committed);
            Assert.Equal(1, batch.PendingWrites);
            Assert.Equal(committed.Id, (await batch.FindAsync(IdentityKind.Phone, committed.Identities.Phone!))?.Id);
            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.AddAsync(SampleContact(22) with { Identities = new ContactIdentities { Email = committed.Identities.Email } }));
            await batch.UpdateAsync(stored with { Name = "in batch" });
            await batch.CommitAsync();
            Assert.Equal(0, batch.PendingWrites);
            await batch.AddAsync(rolledBack);
        }

        Assert.Equal("in batch", (await other.GetAsync(committed.Id))?.Name);
        Assert.Equal(2, (await other.GetAsync(committed.Id))?.Version);
        Assert.Null(await other.GetAsync(rolledBack.Id));
        Assert.Null(await other.FindAsync(IdentityKind.Phone, rolledBack.Identities.Phone!));
        Assert.Equal(1, await other.CountAsync());
        await store.AddAsync(SampleContact(23)); // the write turn was given back
    }

    /// <summary>
    /// A batch answers a bulk lookup from its own uncommitted writes and from the store, sees its updates, and can add
    /// contacts with identities the lookup found free.
    /// </summary>
    [SkippableFact]
    public async Task A_batch_finds_many_from_its_own_writes_and_the_store()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var committed = await store.AddAsync(SampleContact(30));
        Assert.Equal(1, await other.CountAsync()); // the second instance is started before the batch holds the write lock
        var pending = SampleContact(31);
        const string FreePhone = "+8613700000031";

        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch.ConfigureAwait(false))
        {
            Assert.IsAssignableFrom<IBulkContactLookup>(batch);
            await batch.AddAsync(pending);
            var keys = new[]
            {
                new ContactIdentityKey(IdentityKind.Phone, committed.Identities.Phone!),
                new ContactIdentityKey(IdentityKind.Email, pending.Identities.Email!),
                new ContactIdentityKey(IdentityKind.Phone, FreePhone),
            };

            var found = await batch.FindManyAsync(keys);
            Assert.Equal(2, found.Count);
            Assert.Equal((committed.Id, 1L), (found[keys[0]].Id, found[keys[0]].Version));
            Assert.Equal((pending.Id, 1L), (found[keys[1]].Id, found[keys[1]].Version));

            var added = await batch.AddAsync(new Contact { Id = ContactId.New(), CreatedAt = T0, Identities = new ContactIdentities { Phone = FreePhone } });
            await batch.UpdateAsync(found[keys[0]] with { Name = "updated in batch" });
            await batch.UpdateAsync(found[keys[1]] with { Name = "pending, updated" });
            found = await batch.FindManyAsync(keys);
            Assert.Equal(3, found.Count);
            Assert.Equal(("updated in batch", 2L), (found[keys[0]].Name, found[keys[0]].Version));
            Assert.Equal(("pending, updated", 2L), (found[keys[1]].Name, found[keys[1]].Version));
            Assert.Equal(added.Id, found[keys[2]].Id);
            Assert.Empty(await other.FindManyAsync([keys[1], keys[2]]));
            await batch.CommitAsync();
        }

        var after = await other.FindManyAsync([new ContactIdentityKey(IdentityKind.Phone, FreePhone), new ContactIdentityKey(IdentityKind.Email, pending.Identities.Email!)]);
        Assert.Equal(2, after.Count);
        Assert.Equal(3, await other.CountAsync());
    }
}
