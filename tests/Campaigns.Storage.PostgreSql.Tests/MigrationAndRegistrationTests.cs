using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

public sealed class MigrationTests
{
    [SkippableFact]
    public async Task Four_instances_migrating_an_empty_database_at_once_make_one_schema_without_error()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var databases = Enumerable.Range(0, 4).Select(_ => schema.NewDatabase()).ToList();
        using var go = new ManualResetEventSlim();
        var starts = databases.Select(db => Task.Run(async () =>
        {
            go.Wait();
            await db.EnsureReadyAsync();
        })).ToList();
        go.Set();
        await Task.WhenAll(starts);

        Assert.Equal((long)PostgreSqlDatabase.LatestVersion, await schema.ScalarAsync("SELECT count(*) FROM schema_migrations"));
        Assert.Equal(PostgreSqlDatabase.LatestVersion, await schema.ScalarAsync("SELECT max(version) FROM schema_migrations"));
        Assert.Equal("plain", await schema.ScalarAsync("SELECT value FROM metadata WHERE key = 'protector_scheme'"));

        // Starting again is a no-op.
        await schema.NewDatabase().EnsureReadyAsync();
        Assert.Equal((long)PostgreSqlDatabase.LatestVersion, await schema.ScalarAsync("SELECT count(*) FROM schema_migrations"));
    }

    [SkippableFact]
    public async Task A_schema_newer_than_the_code_refuses_to_start()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await schema.Database.EnsureReadyAsync();
        await schema.ScalarAsync("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future')");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => schema.NewDatabase().EnsureReadyAsync());
        Assert.Contains("version 999, newer than", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Storage:PostgreSql:Schema", ex.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task With_migrations_off_an_unmigrated_schema_refuses_to_start()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => schema.NewDatabase(o => o.ApplyMigrations = false).EnsureReadyAsync());
        Assert.Contains("ApplyMigrations is false", ex.Message, StringComparison.Ordinal);
        await schema.Database.EnsureReadyAsync();
        await schema.NewDatabase(o => o.ApplyMigrations = false).EnsureReadyAsync();
    }

    [SkippableFact]
    public async Task Another_protector_scheme_refuses_to_start()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector("aes-gcm-v1"));
        await schema.Database.EnsureReadyAsync();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => schema.NewDatabase(protector: PlainTextPersonalDataProtector.Instance).EnsureReadyAsync());
        Assert.Contains("'aes-gcm-v1'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'plain'", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class RegistrationTests
{
    [Theory]
    [InlineData(null, "campaigns", "Campaigns:Storage:PostgreSql:ConnectionString is required")]
    [InlineData("Host=db;Database=x", "Bad-Schema", "Campaigns:Storage:PostgreSql:Schema 'Bad-Schema' is not a valid schema name")]
    [InlineData("Database=x", "campaigns", "Campaigns:Storage:PostgreSql:ConnectionString names no Host")]
    [InlineData("Host=db;NoSuchKeyword=1", "campaigns", "Campaigns:Storage:PostgreSql:ConnectionString is not a valid Npgsql connection string")]
    public async Task Bad_options_fail_the_host_start_naming_the_key(string? connectionString, string schema, string message)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Storage:PostgreSql:ConnectionString"] = connectionString,
            ["Campaigns:Storage:PostgreSql:Schema"] = schema,
        });
        builder.Services.AddCampaigns().UsePostgreSqlStorage(builder.Configuration.GetSection("Campaigns:Storage:PostgreSql"));
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_store_is_replaced_by_its_postgresql_implementation_and_the_data_source_is_owned()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCampaigns().UsePostgreSqlStorage("Host=127.0.0.1;Port=1;Database=none", "custom_schema");
        services.AddCampaigns(); // a second AddCampaigns (another package) must not bring the in-memory stores back
        services.Configure<CampaignsOptions>(o => o.Delivery.ProviderMessageRetention = TimeSpan.FromDays(3));
        PostgreSqlDatabase db;
        using (var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }))
        {
            Assert.IsType<PostgreSqlContactStore>(sp.GetRequiredService<IContactStore>());
            Assert.IsAssignableFrom<IBulkContactStore>(sp.GetRequiredService<IContactStore>());
            Assert.IsType<PostgreSqlEventStore>(sp.GetRequiredService<IEventStore>());
            Assert.IsType<PostgreSqlCampaignStore>(sp.GetRequiredService<ICampaignStore>());
            Assert.IsType<PostgreSqlParticipantStore>(sp.GetRequiredService<IParticipantStore>());
            Assert.IsType<PostgreSqlJourneyRunStore>(sp.GetRequiredService<IJourneyRunStore>());
            Assert.IsType<PostgreSqlIdempotencyStore>(sp.GetRequiredService<IIdempotencyStore>());
            Assert.IsType<PostgreSqlFrequencyCapStore>(sp.GetRequiredService<IFrequencyCapStore>());
            Assert.IsType<PostgreSqlDoNotContactList>(sp.GetRequiredService<IDoNotContactList>());
            Assert.IsType<PostgreSqlExecutionRecords>(sp.GetRequiredService<IExecutionRecords>());
            Assert.IsType<PostgreSqlScoringModelStore>(sp.GetRequiredService<IScoringModelStore>());
            Assert.IsType<PostgreSqlDefinitionStore>(sp.GetRequiredService<IDefinitionStore>());
            Assert.Equal(["PostgreSqlStorageStartup", "DurableDefinitionsService"], sp.GetServices<Microsoft.Extensions.Hosting.IHostedService>().Select(h => h.GetType().Name).Take(2));
            Assert.IsType<PostgreSqlScoreLedgerStore>(sp.GetRequiredService<IScoreLedgerStore>());
            Assert.Equal(NodaTime.Duration.FromDays(3), Assert.IsType<PostgreSqlProviderMessageIndex>(sp.GetRequiredService<IProviderMessageIndex>()).Retention);
            Assert.Single(services, d => d.ServiceType == typeof(IContactStore));
            Assert.Single(services, d => d.ServiceType == typeof(IProviderMessageIndex));
            db = sp.GetRequiredService<PostgreSqlDatabase>();
            Assert.Equal("custom_schema", db.Schema);
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => db.DataSource.OpenConnectionAsync().AsTask());
    }

    [SkippableFact]
    public async Task The_host_start_migrates_and_the_sdk_runs_on_postgresql()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var builder = Host.CreateApplicationBuilder();
        schema.Configure(builder.Services.AddCampaigns());
        using var host = builder.Build();
        await host.StartAsync();
        Assert.Equal((long)PostgreSqlDatabase.LatestVersion, await schema.ScalarAsync("SELECT count(*) FROM schema_migrations"));
        var contacts = host.Services.GetRequiredService<IContactService>();
        Assert.NotNull(contacts);
        await host.Services.GetRequiredService<IContactStore>().AddAsync(Make.Contact());
        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM contacts"));
        await host.StopAsync();
    }
}
