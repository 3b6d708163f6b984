using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Testing.Storage;
using Microsoft.Data.Sqlite;

namespace Campaigns.Storage.Sqlite.Tests;

public sealed class SqliteDatabaseTests : IDisposable
{
    private readonly TempDatabase _file = new();

    public void Dispose() => _file.Dispose();

    [Fact]
    public void Initialize_applies_every_migration_once_and_turns_on_wal()
    {
        using var db = _file.Open();
        Assert.Equal(0, db.GetSchemaVersion());

        db.Initialize();
        db.Initialize();
        using var again = _file.Open();
        again.Initialize();

        Assert.Equal(SqliteDatabase.LatestSchemaVersion, db.GetSchemaVersion());
        Assert.Equal(SqliteDatabase.LatestSchemaVersion, Scalar<long>("SELECT COUNT(*) FROM schema_version;"));
        Assert.Equal("wal", Scalar<string>("PRAGMA journal_mode;"));
        Assert.Equal("plain", Scalar<string>("SELECT value FROM metadata WHERE key = 'protection_scheme';"));
    }

    [Fact]
    public async Task Concurrent_starts_on_one_file_migrate_it_once()
    {
        var starts = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            using var db = _file.Open();
            db.Initialize();
            return db.GetSchemaVersion();
        }));

        var versions = await Task.WhenAll(starts);

        Assert.All(versions, v => Assert.Equal(SqliteDatabase.LatestSchemaVersion, v));
        Assert.Equal(SqliteDatabase.LatestSchemaVersion, Scalar<long>("SELECT COUNT(*) FROM schema_version;"));
        Assert.Equal(1, Scalar<long>("SELECT COUNT(*) FROM metadata;"));
    }

    [Fact]
    public void A_newer_schema_is_refused_with_a_clear_message()
    {
        using (var db = _file.Open())
        {
            db.Initialize();
        }

        Execute($"INSERT INTO schema_version (version, name, applied_at) VALUES ({SqliteDatabase.LatestSchemaVersion + 1}, 'future', 'now');");
        using var newer = _file.Open();
        var ex = Assert.Throws<InvalidOperationException>(newer.Initialize);
        Assert.Contains($"schema version {SqliteDatabase.LatestSchemaVersion + 1}, newer than this version", ex.Message, StringComparison.Ordinal);
        Assert.Contains(_file.Path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_protection_scheme_is_refused_with_a_clear_message()
    {
        using (var db = _file.Open())
        {
            await new SqliteContactStore(db).AddAsync(new Contact { Id = ContactId.New(), CreatedAt = default, Identities = new ContactIdentities { Phone = "+8613800138000" } });
        }

        using var encrypted = _file.Open(SqliteEncryptedContactStoreContractTests.Protector);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => new SqliteContactStore(encrypted).CountAsync());
        Assert.Contains("protection scheme 'plain'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(SqliteEncryptedContactStoreContractTests.Protector.Scheme, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Personal_data_is_encrypted_at_rest_and_identities_are_indexed_by_lookup_keys()
    {
        var protector = SqliteEncryptedContactStoreContractTests.Protector;
        using (var db = _file.Open(protector))
        {
            var store = new SqliteContactStore(db);
            var stored = await store.AddAsync(PersonalDataSamples.Contact());
            await store.UpdateAsync(stored with { Name = stored.Name + " " }); // a rewrite is protected too
            var batch = await store.BeginBatchAsync();
            await using (batch)
            {
                await batch.AddAsync(PersonalDataSamples.Contact() with { Identities = new ContactIdentities { Phone = "+8613912345670", Email = "copy.zhang.secret@example.com" } });
                await batch.CommitAsync();
            }

            var participants = new SqliteParticipantStore(db);
            var participant = await participants.AddAsync(PersonalDataSamples.Participant(CampaignId.New()));

            var back = (await store.FindAsync(IdentityKind.Email, "zw.secret@example.org"))!;
            Assert.Equal("139-1234-BAD", Assert.Single(back.QualityFlags).Value);
            Assert.Equal("wmSecretExternal789", back.Identities.WeComExternalUserId);
            Assert.Equal("王芳保密", (await participants.GetAsync(participant.Id))!.Name);
        }

        Assert.Equal(1L, Scalar<long>($"SELECT COUNT(*) FROM contact_identities WHERE kind = 0 AND lookup_key = '{protector.ComputeLookupKey("phone", "+8613912345678")}';"));
        SqliteConnection.ClearAllPools();
        var files = new[] { _file.Path, _file.Path + "-wal" }.Where(File.Exists).ToList();
        var text = string.Concat(files.Select(path => System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(path))));
        Assert.Contains("crm-public-1", text, StringComparison.Ordinal); // the scan does see the rows (the CRM id is not protected)
        foreach (var secret in PersonalDataSamples.PlainValues)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }

    private T Scalar<T>(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_file.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_file.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
