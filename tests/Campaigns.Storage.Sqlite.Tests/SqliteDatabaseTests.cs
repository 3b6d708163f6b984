using Campaigns.Contacts;
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
            await store.AddAsync(new Contact
            {
                Id = ContactId.New(),
                CreatedAt = default,
                Name = "张伟",
                Identities = new ContactIdentities { Phone = "+8613800138000", Email = "zhang@example.com", AdditionalEmails = ["zw@example.org"] },
            });
            Assert.Equal("张伟", (await store.FindAsync(IdentityKind.Email, "zw@example.org"))?.Name);
        }

        var doc = Scalar<string>("SELECT doc FROM contacts;");
        foreach (var secret in new[] { "张伟", "13800138000", "zhang@example.com", "zw@example.org" })
        {
            Assert.DoesNotContain(secret, doc, StringComparison.Ordinal);
        }

        Assert.Equal(protector.ComputeLookupKey("phone", "+8613800138000"), Scalar<string>("SELECT lookup_key FROM contact_identities WHERE kind = 0;"));
        SqliteConnection.ClearAllPools();
        foreach (var path in new[] { _file.Path, _file.Path + "-wal" }.Where(File.Exists))
        {
            var text = System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(path));
            Assert.DoesNotContain("13800138000", text, StringComparison.Ordinal);
            Assert.DoesNotContain("zhang@example.com", text, StringComparison.Ordinal);
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
