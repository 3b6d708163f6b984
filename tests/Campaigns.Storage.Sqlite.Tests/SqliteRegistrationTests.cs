using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Storage.Sqlite.Tests;

public sealed class SqliteRegistrationTests : IDisposable
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly TempDatabase _file = new();

    public void Dispose() => _file.Dispose();

    [Fact]
    public void Every_in_memory_store_is_replaced()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().UseSqliteStorage(_file.Path);
        services.AddCampaigns(); // a second AddCampaigns (another package) must not bring the in-memory stores back
        using var provider = services.BuildServiceProvider();

        Assert.IsType<SqliteContactStore>(provider.GetRequiredService<IContactStore>());
        Assert.IsType<SqliteEventStore>(provider.GetRequiredService<IEventStore>());
        Assert.IsType<SqliteCampaignStore>(provider.GetRequiredService<ICampaignStore>());
        Assert.IsType<SqliteParticipantStore>(provider.GetRequiredService<IParticipantStore>());
        Assert.IsType<SqliteJourneyRunStore>(provider.GetRequiredService<IJourneyRunStore>());
        Assert.IsType<SqliteIdempotencyStore>(provider.GetRequiredService<IIdempotencyStore>());
        Assert.IsType<SqliteFrequencyCapStore>(provider.GetRequiredService<IFrequencyCapStore>());
        Assert.IsType<SqliteDoNotContactList>(provider.GetRequiredService<IDoNotContactList>());
        Assert.IsType<SqliteExecutionRecords>(provider.GetRequiredService<IExecutionRecords>());
        Assert.IsType<SqliteScoringModelStore>(provider.GetRequiredService<IScoringModelStore>());
        Assert.IsType<SqliteScoreLedgerStore>(provider.GetRequiredService<IScoreLedgerStore>());
        Assert.IsType<SqliteDefinitionStore>(provider.GetRequiredService<IDefinitionStore>());
        var hosted = provider.GetServices<IHostedService>().Select(h => h.GetType().Name).ToList();
        Assert.Equal(["SqliteStorageInitializer", "DurableDefinitionsService"], hosted.Take(2)); // the schema first, then the definitions, then the rest
        Assert.Single(hosted, n => n == "DurableDefinitionsService");
        Assert.Equal(NodaTime.Duration.FromDays(30), Assert.IsType<SqliteProviderMessageIndex>(provider.GetRequiredService<IProviderMessageIndex>()).Retention);
        Assert.Single(services, d => d.ServiceType == typeof(IContactStore));
        Assert.Single(services, d => d.ServiceType == typeof(IProviderMessageIndex));
        Assert.Equal(_file.Path, provider.GetRequiredService<SqliteDatabase>().DataSource);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_order_of_storage_and_protection_calls_does_not_matter(bool storageFirst)
    {
        var services = new ServiceCollection();
        var builder = services.AddCampaigns();
        if (storageFirst)
        {
            builder.UseSqliteStorage(o => o.Path = _file.Path).UseAesGcmDataProtection(o => o.Key = Key);
        }
        else
        {
            builder.UseAesGcmDataProtection(o => o.Key = Key).UseSqliteStorage(o => o.Path = _file.Path);
        }

        using var provider = services.BuildServiceProvider();
        Assert.IsType<AesGcmPersonalDataProtector>(provider.GetRequiredService<SqliteDatabase>().Protector);
        Assert.IsType<SqliteContactStore>(provider.GetRequiredService<IContactStore>());
    }

    [Fact]
    public async Task Host_start_migrates_the_file_and_state_survives_a_restart()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Storage:Sqlite:Path"] = _file.Path,
            ["Campaigns:Storage:Sqlite:Durability"] = "Full",
        }).Build();
        var contact = new Contact { Id = ContactId.New(), CreatedAt = default, Identities = new ContactIdentities { Phone = "+8613800138000" } };

        using (var host = BuildHost(b => b.UseSqliteStorage(config.GetSection("Campaigns:Storage:Sqlite"))))
        {
            await host.StartAsync();
            Assert.Equal(SqliteDatabase.LatestSchemaVersion, host.Services.GetRequiredService<SqliteDatabase>().GetSchemaVersion());
            await host.Services.GetRequiredService<IContactStore>().AddAsync(contact);
            await host.Services.GetRequiredService<IProviderMessageIndex>().RecordAsync("ses-1", new ProviderMessage(contact.Id.ToString(), "email", "k-1", NodaTime.Instant.FromUtc(2026, 5, 1, 0, 0)), default);
            await host.StopAsync();
        }

        using (var again = BuildHost(b => b.UseSqliteStorage($"Data Source={_file.Path}")))
        {
            await again.StartAsync();
            Assert.Equal(contact.Id, (await again.Services.GetRequiredService<IContactStore>().FindAsync(IdentityKind.Phone, "+8613800138000"))?.Id);
            Assert.Equal(contact.Id.ToString(), (await again.Services.GetRequiredService<IProviderMessageIndex>().FindAsync("email", "ses-1", default))?.ContactId); // receipts for sends before the restart
            await again.StopAsync();
        }
    }

    [Theory]
    [InlineData(null, null, "Campaigns:Storage:Sqlite:Path: the database file is required")]
    [InlineData("a.db", "Data Source=b.db", "Campaigns:Storage:Sqlite:Path and Campaigns:Storage:Sqlite:ConnectionString are both set")]
    [InlineData(null, "Mode=Memory", "Campaigns:Storage:Sqlite:ConnectionString: it names no Data Source")]
    [InlineData(null, "Nonsense Key=1", "Campaigns:Storage:Sqlite:ConnectionString: it is not a SQLite connection string")]
    public async Task Bad_options_fail_the_host_start_naming_the_setting(string? path, string? connectionString, string expected)
    {
        using var host = BuildHost(b => b.UseSqliteStorage(o =>
        {
            o.Path = path;
            o.ConnectionString = connectionString;
        }));
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_protection_mismatch_fails_the_host_start()
    {
        using (var plain = BuildHost(b => b.UseSqliteStorage(_file.Path)))
        {
            await plain.StartAsync();
            await plain.StopAsync();
        }

        using var encrypted = BuildHost(b => b.UseSqliteStorage(_file.Path).UseAesGcmDataProtection(o => o.Key = Key));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => encrypted.StartAsync());
        Assert.Contains("protection scheme 'plain'", ex.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(Action<ICampaignsBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        configure(builder.Services.AddCampaigns());
        return builder.Build();
    }
}
