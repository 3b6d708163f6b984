using Campaigns.Contacts;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>The contact document (issue 8; json since schema 4, jsonb before): no version, no empty collections, and older full documents still read.</summary>
public sealed class ContactDocumentTests
{
    private static readonly Instant At = Instant.FromUtc(2026, 11, 26, 2, 0);

    [SkippableFact]
    public async Task A_new_contact_document_leaves_out_its_version_and_empty_collections_and_reads_back_equal()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var contacts = schema.Contacts();
        var bare = await contacts.AddAsync(new Contact { Id = ContactId.New(), Name = "Bare", Identities = new ContactIdentities { Email = "bare@example.com" }, CreatedAt = At });
        var full = await contacts.AddAsync(new Contact
        {
            Id = ContactId.New(),
            Identities = new ContactIdentities { Phone = "+8613800000001", AdditionalEmails = ["second@example.com"] },
            Tags = [new ContactTag { Tag = "vip", AssignedAt = At }],
            Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", At) },
            StageHistory = [new StageChange(LifecycleStage.New, LifecycleStage.Mql, At)],
            CreatedAt = At,
        });
        var copied = await CopyAsync(contacts, new Contact { Id = ContactId.New(), Identities = new ContactIdentities { Email = "copied@example.com" }, CreatedAt = At });

        var bareDoc = await DocumentAsync(schema, bare.Id);
        foreach (var left in new[] { "\"version\"", "\"tags\"", "\"consents\"", "\"attributes\"", "\"stageHistory\"", "\"qualityFlags\"", "\"additionalEmails\"", "\"additionalPhones\"" })
        {
            Assert.DoesNotContain(left, bareDoc, StringComparison.Ordinal);
            Assert.DoesNotContain(left, await DocumentAsync(schema, copied.Id), StringComparison.Ordinal);
        }

        var fullDoc = await DocumentAsync(schema, full.Id);
        Assert.Contains("\"tags\"", fullDoc, StringComparison.Ordinal);
        Assert.Contains("\"additionalEmails\"", fullDoc, StringComparison.Ordinal);
        Assert.DoesNotContain("\"additionalPhones\"", fullDoc, StringComparison.Ordinal);

        var bareBack = (await contacts.GetAsync(bare.Id))!;
        Assert.Equal(1, bareBack.Version);
        Assert.Empty(bareBack.Tags);
        Assert.Empty(bareBack.Consents);
        Assert.Empty(bareBack.Attributes);
        Assert.Empty(bareBack.StageHistory);
        Assert.Empty(bareBack.QualityFlags);
        Assert.Empty(bareBack.Identities.AdditionalPhones);
        Assert.Equal("Bare", bareBack.Name);
        var fullBack = (await contacts.GetAsync(full.Id))!;
        Assert.Equal("vip", Assert.Single(fullBack.Tags).Tag);
        Assert.True(fullBack.Consents["email"].Granted);
        Assert.Equal(LifecycleStage.Mql, Assert.Single(fullBack.StageHistory).To);
        Assert.Equal("second@example.com", Assert.Single(fullBack.Identities.AdditionalEmails));
        Assert.Equal(1, (await contacts.GetAsync(copied.Id))!.Version);

        // A rewrite keeps the version in its column only, and the version read back is the column's.
        var updated = await contacts.UpdateAsync(bareBack with { Name = "Bare 2" });
        Assert.Equal(2, updated.Version);
        Assert.DoesNotContain("\"version\"", await DocumentAsync(schema, bare.Id), StringComparison.Ordinal);
        Assert.Equal(2, (await contacts.GetAsync(bare.Id))!.Version);
    }

    [SkippableFact]
    public async Task A_document_written_before_with_its_version_and_empty_collections_still_reads_and_updates()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var contacts = schema.Contacts();
        var stored = await contacts.AddAsync(new Contact { Id = ContactId.New(), Name = "Old", Identities = new ContactIdentities { Email = "old@example.com" }, CreatedAt = At });
        var oldDoc =
            $$"""
            {"id": "{{stored.Id}}", "name": "Old", "tags": [], "stage": "new", "version": 7, "consents": {}, "createdAt": "2026-11-26T02:00:00Z", "attributes": {}, "identities": {"email": "old@example.com", "additionalEmails": [], "additionalPhones": []}, "qualityFlags": [], "stageHistory": []}
            """;
        await using (var connection = new NpgsqlConnection(schema.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"UPDATE {schema.Schema}.contacts SET doc = @doc::jsonb WHERE id = @id", connection);
            command.Parameters.AddWithValue("doc", oldDoc);
            command.Parameters.AddWithValue("id", stored.Id.Value);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var back = (await contacts.FindAsync(IdentityKind.Email, "old@example.com"))!;
        Assert.Equal(stored.Id, back.Id);
        Assert.Equal(1, back.Version); // the column's version, not the document's
        Assert.Equal("Old", back.Name);
        Assert.Empty(back.Tags);
        Assert.Empty(back.Identities.AdditionalEmails);
        var updated = await contacts.UpdateAsync(back with { Name = "Old 2" });
        Assert.Equal(2, updated.Version);
        Assert.Equal("Old 2", (await contacts.GetAsync(stored.Id))!.Name);
    }

    private static async Task<Contact> CopyAsync(IContactStore contacts, Contact contact)
    {
        var batch = await ((IBulkContactStore)contacts).BeginBatchAsync();
        await using (batch)
        {
            var added = await batch.AddAsync(contact);
            await batch.CommitAsync();
            return added;
        }
    }

    private static async Task<string> DocumentAsync(PostgreSqlTestSchema schema, ContactId id)
    {
        await using var connection = new NpgsqlConnection(schema.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT doc::text FROM {schema.Schema}.contacts WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", id.Value);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
