using System.Text;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Testing.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

public sealed class PersonalDataAtRestTests
{
    [SkippableFact]
    public async Task A_schema_written_with_aes_gcm_holds_no_plain_personal_data_anywhere()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(TestProtectors.AesGcm);
        var contacts = schema.Contacts();
        var stored = await contacts.AddAsync(PersonalDataSamples.Contact());
        await contacts.UpdateAsync(stored with { Name = stored.Name + " " }); // a rewrite is protected too
        var batch = await ((IBulkContactStore)contacts).BeginBatchAsync();
        await using (batch)
        {
            var copied = PersonalDataSamples.Contact() with { Identities = new ContactIdentities { Phone = "+8613912345670", Email = "copy.zhang.secret@example.com" } };
            await batch.AddAsync(copied with { Name = PersonalDataSamples.Contact().Name, QualityFlags = PersonalDataSamples.Contact().QualityFlags });
            await batch.CommitAsync();
        }

        var participant = await schema.Participants().AddAsync(PersonalDataSamples.Participant(CampaignId.New()));

        var dump = await DumpAsync(schema);
        Assert.Contains("crm-public-1", dump, StringComparison.Ordinal); // the dump does see the rows (the CRM id is not protected)
        foreach (var secret in PersonalDataSamples.PlainValues)
        {
            Assert.DoesNotContain(secret, dump, StringComparison.Ordinal);
        }

        // ... and everything reads back in plain text.
        var back = (await contacts.FindAsync(IdentityKind.Email, "zw.secret@example.org"))!;
        Assert.Equal("139-1234-BAD", Assert.Single(back.QualityFlags).Value);
        Assert.Equal("wmSecretExternal789", back.Identities.WeComExternalUserId);
        Assert.Equal("王芳保密", (await schema.Participants().GetAsync(participant.Id))!.Name);
    }

    /// <summary>Every row of every table of the schema, as text.</summary>
    private static async Task<string> DumpAsync(PostgreSqlTestSchema schema)
    {
        await using var connection = new NpgsqlConnection(schema.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = @s", connection))
        {
            list.Parameters.AddWithValue("s", schema.Schema);
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.Contains("contacts", tables);
        var dump = new StringBuilder();
        foreach (var table in tables)
        {
            await using var select = new NpgsqlCommand($"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {schema.Schema}.\"{table}\" t", connection);
            dump.AppendLine((string)(await select.ExecuteScalarAsync())!);
        }

        return dump.ToString();
    }
}

public sealed class BulkImportTests
{
    [SkippableFact]
    public async Task The_importer_copies_into_postgresql_counts_add_up_and_identities_are_found()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(TestProtectors.AesGcm);
        var provider = schema.CreateServices((services, builder) => builder.UseAesGcmDataProtection(o => o.Key = TestProtectors.Key));
        var store = provider.GetRequiredService<IContactStore>();
        Assert.IsAssignableFrom<IBulkContactStore>(store);

        // Two contacts exist before: rows with their phones merge into them.
        var before = await store.AddAsync(new Contact { Id = ContactId.New(), CreatedAt = Make.T0, Name = "before", Identities = new ContactIdentities { Phone = "+8613800000007" } });
        await store.AddAsync(new Contact { Id = ContactId.New(), CreatedAt = Make.T0, Identities = new ContactIdentities { Phone = "+8613800004999" } });
        var csv = new StringBuilder("name,phone,email\n");
        for (var i = 0; i < 5_000; i++)
        {
            // 4,900 distinct phones: the last 100 rows repeat earlier ones (merged within the same import).
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"n{i},+86138{i % 4_900:D8},u{i}@example.com\n");
        }

        var report = await provider.GetRequiredService<IContactImporter>().ImportCsvTextAsync(
            new StringReader(csv.ToString()),
            new ContactImportMapping
            {
                Source = "t.csv",
                Columns = [ColumnMapping.ToName("name"), ColumnMapping.ToIdentity("phone", IdentityKind.Phone), ColumnMapping.ToIdentity("email", IdentityKind.Email)],
            });

        Assert.Equal(5_000, report.RowsRead);
        Assert.Equal(4_899, report.ContactsCreated); // 4,900 phones, one of which was stored before (the other is +86138...4999, outside)
        Assert.Equal(5_000 - 4_899, report.Merged);
        Assert.Equal(0, report.Rejected);
        Assert.Equal(4_899 + 2, await store.CountAsync());
        Assert.Equal(4_899 + 2, (long)(await schema.ScalarAsync("SELECT count(*) FROM contacts"))!);

        Assert.Equal("n4899", (await store.FindAsync(IdentityKind.Email, "u4899@example.com"))?.Name);
        Assert.Equal((await store.FindAsync(IdentityKind.Phone, "+8613800000099"))?.Id, (await store.FindAsync(IdentityKind.Email, "u4999@example.com"))?.Id);
        var merged = (await store.FindAsync(IdentityKind.Email, "u4907@example.com"))!;
        Assert.Equal(merged.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000007"))?.Id);
        Assert.Equal(before.Id, merged.Id);
        Assert.Contains("u4907@example.com", merged.Identities.AdditionalEmails.Append(merged.Identities.Email!));
        for (var i = 0; i < 4_900; i += 97)
        {
            Assert.NotNull(await store.FindAsync(IdentityKind.Phone, $"+86138{i:D8}"));
        }
    }

    [SkippableFact]
    public async Task An_identity_taken_by_another_host_before_the_commit_fails_only_that_contact()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var other = schema.Contacts(schema.NewDatabase());
        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch)
        {
            var first = Make.Contact(phone: "+8613800000101");
            var second = Make.Contact(phone: "+8613800000102");
            Assert.Null(await batch.FindAsync(IdentityKind.Phone, first.Identities.Phone!));
            Assert.Null(await batch.FindAsync(IdentityKind.Phone, second.Identities.Phone!));
            await batch.AddAsync(first);
            await batch.AddAsync(second);

            // Another host takes the second phone after the batch checked it.
            await other.AddAsync(Make.Contact(phone: "+8613800000102"));

            var ex = await Assert.ThrowsAsync<DuplicateEntityException>(async () => await batch.CommitAsync());
            Assert.Contains("phone:+8613800000102", ex.Message, StringComparison.Ordinal);
            Assert.Equal(0, batch.PendingWrites);
            Assert.Equal(first.Id, (await other.FindAsync(IdentityKind.Phone, "+8613800000101"))?.Id);
            Assert.Null(await other.GetAsync(second.Id));
            Assert.Equal(2, await other.CountAsync());
        }
    }

    [SkippableFact]
    public async Task A_flushed_batch_has_its_new_contacts_in_its_transaction_only_until_the_commit()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var other = schema.Contacts(schema.NewDatabase());
        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch)
        {
            var first = Make.Contact(phone: "+8613800000301");
            Assert.Null(await batch.FindAsync(IdentityKind.Phone, first.Identities.Phone!));
            first = await batch.AddAsync(first);
            await batch.AddAsync(Make.Contact(phone: "+8613800000302"));
            await batch.FlushAsync();

            // In the batch's transaction (the identity it had found free is taken now), not outside it.
            Assert.Equal(2, batch.PendingWrites);
            Assert.Equal(first.Id, (await batch.FindAsync(IdentityKind.Phone, "+8613800000301"))?.Id);
            Assert.Equal(first.Id, (await batch.FindManyAsync([new ContactIdentityKey(IdentityKind.Phone, "+8613800000301")]))[new ContactIdentityKey(IdentityKind.Phone, "+8613800000301")].Id);
            Assert.Equal(2, await batch.CountAsync());
            Assert.Equal(0, await other.CountAsync());
            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.AddAsync(Make.Contact(phone: "+8613800000301")));

            // Written again after the flush (a stored row of the transaction now), then committed with a third contact.
            var renamed = await batch.UpdateAsync(first with { Name = "flushed then renamed" });
            await batch.AddAsync(Make.Contact(phone: "+8613800000303"));
            await batch.CommitAsync();

            Assert.Equal(0, batch.PendingWrites);
            Assert.Equal(3, await other.CountAsync());
            Assert.Equal(("flushed then renamed", 2L), ((await other.GetAsync(first.Id))?.Name, (await other.GetAsync(first.Id))?.Version));
            Assert.Equal(2, renamed.Version);
        }

        // A flushed batch that is not committed is rolled back.
        var dropped = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (dropped)
        {
            await dropped.AddAsync(Make.Contact(phone: "+8613800000304"));
            await dropped.FlushAsync();
        }

        Assert.Null(await other.FindAsync(IdentityKind.Phone, "+8613800000304"));
        Assert.Equal(3, await other.CountAsync());
    }

    [SkippableFact]
    public async Task A_batch_updates_stored_contacts_in_its_transaction_and_a_failed_write_undoes_only_itself()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var other = schema.Contacts(schema.NewDatabase());
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000201"));
        var bob = await store.AddAsync(Make.Contact(phone: "+8613800000202"));
        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch)
        {
            var renamed = await batch.UpdateAsync(ann with { Name = "in batch" });
            Assert.Equal("in batch", (await batch.GetAsync(ann.Id))?.Name);
            Assert.Equal("Ann", (await other.GetAsync(ann.Id))?.Name); // not committed yet

            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.UpdateAsync(bob with { Identities = bob.Identities with { Phone = "+8613800000201" } }));
            await Assert.ThrowsAsync<ConcurrencyException>(() => batch.UpdateAsync(ann with { Name = "stale" }));
            var added = await batch.AddAsync(Make.Contact(phone: "+8613800000203"));
            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.AddAsync(Make.Contact(phone: "+8613800000202")));
            var addedTwice = await batch.UpdateAsync(added with { Name = "added then renamed" });
            Assert.Equal(2, addedTwice.Version);
            Assert.Equal(3, await batch.CountAsync());
            Assert.Equal(3, batch.PendingWrites);
            await batch.CommitAsync();

            Assert.Equal(2, renamed.Version);
            Assert.Equal("in batch", (await other.GetAsync(ann.Id))?.Name);
            Assert.Equal(1, (await other.GetAsync(bob.Id))?.Version);
            Assert.Equal("added then renamed", (await other.FindAsync(IdentityKind.Phone, "+8613800000203"))?.Name);
            Assert.Equal(2, (await other.GetAsync(added.Id))?.Version);
        }
    }

    [SkippableFact]
    public async Task Updates_of_contacts_the_batch_found_wait_for_one_statement_and_are_checked_when_made()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var other = schema.Contacts(schema.NewDatabase());
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000301"));
        var bob = await store.AddAsync(Make.Contact(phone: "+8613800000302", name: "Bob"));
        var batch = await ((IBulkContactStore)store).BeginBatchAsync();
        await using (batch)
        {
            var found = await batch.FindManyAsync([new(IdentityKind.Phone, "+8613800000301"), new(IdentityKind.Phone, "+8613800000302"), new(IdentityKind.Email, "ann@new.example")]);
            var annFound = found[new(IdentityKind.Phone, "+8613800000301")];
            var once = await batch.UpdateAsync(annFound with { Name = "once", Identities = annFound.Identities with { Email = "ann@new.example" } });
            var twice = await batch.UpdateAsync(once with { Name = "twice" });
            Assert.Equal((2L, 3L), (once.Version, twice.Version));
            Assert.Equal("twice", (await batch.GetAsync(ann.Id))?.Name);

            // Checked when made, though written later: a stale version, an identity a waiting update took.
            await Assert.ThrowsAsync<ConcurrencyException>(() => batch.UpdateAsync(once with { Name = "stale" }));
            var bobFound = found[new(IdentityKind.Phone, "+8613800000302")];
            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.UpdateAsync(bobFound with { Identities = bobFound.Identities with { Email = "ann@new.example" } }));
            await Assert.ThrowsAsync<DuplicateEntityException>(() => batch.AddAsync(Make.Contact(email: "ann@new.example")));

            // The batch's reads see the waiting updates; nobody else does before the commit.
            Assert.Equal("twice", (await batch.FindAsync(IdentityKind.Email, "ann@new.example"))?.Name);
            Assert.Null(await batch.FindAsync(IdentityKind.Email, ann.Identities.Email!));
            Assert.Equal(("Ann", 1L), ((await other.GetAsync(ann.Id))?.Name, (await other.GetAsync(ann.Id))!.Version));
            Assert.Null(await other.FindAsync(IdentityKind.Email, "ann@new.example"));
            Assert.Equal(2, batch.PendingWrites);
            await batch.CommitAsync();
        }

        var after = await other.FindAsync(IdentityKind.Email, "ann@new.example");
        Assert.Equal((ann.Id, "twice", 3L), (after?.Id, after?.Name, after?.Version));
        Assert.Equal(ann.Id, (await other.FindAsync(IdentityKind.Phone, "+8613800000301"))?.Id);
        Assert.Null(await other.FindAsync(IdentityKind.Email, ann.Identities.Email!));
        Assert.Equal(("Bob", 1L), ((await other.GetAsync(bob.Id))?.Name, (await other.GetAsync(bob.Id))!.Version));
    }
}
