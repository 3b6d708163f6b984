using Campaigns.Contacts;
using Campaigns.Modeling;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// Schema version 4: contact documents are <c>json</c> and <c>contact_identities</c> has no index on <c>contact_id</c>, so
/// every write deletes the identity rows a contact gave up by their primary key (computed from the contact's previous
/// identities). These check that no row is left behind (a freed identity can be taken by another contact) on every path
/// that changes a stored contact's identities.
/// </summary>
public sealed class IdentityRowsTests
{
    [SkippableFact]
    public async Task An_update_frees_the_identities_the_contact_gave_up_and_claims_the_new_ones()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000301", email: "ann301@example.com"));
        var changed = await store.UpdateAsync(ann with { Identities = ann.Identities with { Phone = "+8613800000302" } });

        Assert.Equal(2, changed.Version);
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800000301"));
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000302"))?.Id);
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Email, "ann301@example.com"))?.Id);
        Assert.Equal(2L, await RowsOfAsync(schema, ann.Id));

        // The freed phone is free for real: another contact takes it.
        var bob = await store.AddAsync(Make.Contact(phone: "+8613800000301"));
        Assert.Equal(bob.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000301"))?.Id);

        // Giving up every identity leaves no row; a stale update changes nothing.
        var bare = await store.UpdateAsync(changed with { Identities = new ContactIdentities() });
        Assert.Equal(0L, await RowsOfAsync(schema, ann.Id));
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(changed with { Identities = changed.Identities with { Phone = "+8613800000303" } }));
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800000303"));
        Assert.Equal(3, (await store.GetAsync(ann.Id))?.Version);
        Assert.Equal(3, bare.Version);
    }

    [SkippableFact]
    public async Task A_batch_update_of_a_found_contact_frees_its_database_identities_even_after_several_updates()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000311", email: "ann311@example.com"));
        await using (var batch = await ((IBulkContactStore)store).BeginBatchAsync())
        {
            var found = await ((IBulkContactLookup)batch).FindManyAsync([new ContactIdentityKey(IdentityKind.Phone, "+8613800000311")]);
            var held = found.Values.Single();

            // Two waiting updates (merges): the second one's previous identities are still the database's.
            var first = await batch.UpdateAsync(held with { Identities = held.Identities with { Phone = "+8613800000312", AdditionalPhones = ["+8613800000313"] } });
            var second = await batch.UpdateAsync(first with { Identities = first.Identities with { AdditionalPhones = [] } });

            // A new contact of the same batch takes the phone the stored one gave up.
            await batch.AddAsync(Make.Contact(phone: "+8613800000311"));
            await batch.CommitAsync();
            Assert.Equal(3, second.Version);
        }

        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000312"))?.Id);
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800000313"));
        Assert.NotEqual(ann.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000311"))?.Id);
        Assert.Equal(2L, await RowsOfAsync(schema, ann.Id));
        Assert.Equal(3, (await store.GetAsync(ann.Id))?.Version);
    }

    [SkippableFact]
    public async Task A_batch_update_of_a_contact_it_did_not_find_frees_the_old_identities_too()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000321", email: "ann321@example.com"));
        await using (var batch = await ((IBulkContactStore)store).BeginBatchAsync())
        {
            // Read with GetAsync (not locked): the update runs at once, under a savepoint.
            var read = (await batch.GetAsync(ann.Id))!;
            await batch.UpdateAsync(read with { Identities = read.Identities with { Email = "ann322@example.com" } });
            Assert.Null(await batch.FindAsync(IdentityKind.Email, "ann321@example.com"));
            await batch.CommitAsync();
        }

        Assert.Null(await store.FindAsync(IdentityKind.Email, "ann321@example.com"));
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Email, "ann322@example.com"))?.Id);
        Assert.Equal(2L, await RowsOfAsync(schema, ann.Id));
    }

    [SkippableFact]
    public async Task An_import_that_merges_rows_into_stored_contacts_leaves_exactly_their_identities()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000331", email: "ann331@example.com"));
        await using (var batch = await ((IBulkContactStore)store).BeginBatchAsync())
        {
            // The importer's merge: find by one identity, add the row's others, keep the contact's.
            var found = (await ((IBulkContactLookup)batch).FindManyAsync([new ContactIdentityKey(IdentityKind.Email, "ann331@example.com")])).Values.Single();
            await batch.UpdateAsync(found with { Identities = found.Identities with { AdditionalPhones = ["+8613800000332"] } });
            await batch.CommitAsync();
        }

        Assert.Equal(3L, await RowsOfAsync(schema, ann.Id));
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000332"))?.Id);
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000331"))?.Id);
    }

    [SkippableFact]
    public async Task A_schema_at_version_3_with_contacts_migrates_to_json_documents_without_the_contact_index()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var protection = new ContactProtection(schema.Protector);
        var ann = Make.Contact(phone: "+8613800000341", email: "ann341@example.com", name: "Ann Version3") with { Version = 1 };
        var bob = Make.Contact(phone: "+8613800000342", email: "bob342@example.com", name: "Bob Version3") with { Version = 1 };

        // A database as version 3 of the package left it: migrations 1-3 only, jsonb documents, the contact_id index.
        await using (var connection = new NpgsqlConnection(schema.ConnectionString))
        {
            await connection.OpenAsync();
            var sql = $"CREATE SCHEMA {schema.Schema}; CREATE TABLE {schema.Schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());";
            foreach (var (version, name) in new[] { (1, "0001_initial"), (2, "0002_provider_messages"), (3, "0003_definitions") })
            {
                using var stream = typeof(PostgreSqlDatabase).Assembly.GetManifestResourceStream($"Campaigns.Storage.PostgreSql.Migrations.{name}.sql")!;
                using var text = new StreamReader(stream);
                sql += (await text.ReadToEndAsync()).Replace("{schema}", schema.Schema, StringComparison.Ordinal);
                sql += $"; INSERT INTO {schema.Schema}.schema_migrations (version, name) VALUES ({version}, '{name}');";
            }

            await using (var create = new NpgsqlCommand(sql, connection))
            {
                await create.ExecuteNonQueryAsync();
            }

            foreach (var contact in new[] { ann, bob })
            {
                await using var insert = new NpgsqlCommand(
                    $"INSERT INTO {schema.Schema}.contacts (id, version, doc) VALUES (@id, 1, @doc::jsonb); " +
                    $"INSERT INTO {schema.Schema}.contact_identities (kind, lookup_key, contact_id) SELECT k, v, @id FROM unnest(@kinds::smallint[], @keys::text[]) AS t(k, v)",
                    connection);
                var keys = protection.KeysOf(contact.Identities);
                insert.Parameters.AddWithValue("id", contact.Id.Value);
                insert.Parameters.AddWithValue("doc", protection.ToDocument(contact));
                insert.Parameters.AddWithValue("kinds", keys.Select(k => (short)k.Kind).ToArray());
                insert.Parameters.AddWithValue("keys", keys.Select(k => k.Key).ToArray());
                await insert.ExecuteNonQueryAsync();
            }
        }

        Assert.Equal("jsonb", await schema.ScalarAsync("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'contacts' AND column_name = 'doc'"));
        await schema.Database.EnsureReadyAsync();

        Assert.Equal(4, await schema.ScalarAsync("SELECT max(version) FROM schema_migrations"));
        Assert.Equal("json", await schema.ScalarAsync("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'contacts' AND column_name = 'doc'"));
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'contact_identities_contact'"));

        // The converted documents read as they were written, and the stores work on them.
        var store = schema.Contacts();
        var back = (await store.FindAsync(IdentityKind.Email, "ann341@example.com"))!;
        Assert.Equal((ann.Id, "Ann Version3", 1L, "+8613800000341"), (back.Id, back.Name, back.Version, back.Identities.Phone));
        Assert.Equal(new TextValue("retail"), back.Attributes["industry"]);
        Assert.Equal("vip", Assert.Single(back.Tags).Tag);
        Assert.True(back.Consents["email"].Granted);
        Assert.Equal(2L, await store.CountAsync());
        var listed = new List<Contact>();
        await foreach (var contact in store.ListAsync())
        {
            listed.Add(contact);
        }

        Assert.Equal(["Ann Version3", "Bob Version3"], listed.Select(c => c.Name).Order());
        await store.UpdateAsync(back with { Identities = back.Identities with { Phone = "+8613800000343" } });
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800000341"));
        Assert.Equal(bob.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000342"))?.Id);
        Assert.Equal(2L, await RowsOfAsync(schema, ann.Id));
    }

    private static async Task<long> RowsOfAsync(PostgreSqlTestSchema schema, ContactId id) =>
        (long)(await schema.ScalarAsync($"SELECT count(*) FROM contact_identities WHERE contact_id = '{id.Value}'"))!;
}
