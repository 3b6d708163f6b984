using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The PostgreSQL server the tests use: <c>CAMPAIGNS_POSTGRES_CONNECTION</c> (set by .ci/run, which starts a throwaway
/// cluster). Without it the tests are skipped locally and fail in CI (CI=true).
/// </summary>
public static class PostgreSqlTestServer
{
    /// <summary>The environment variable holding the connection string.</summary>
    public const string Variable = "CAMPAIGNS_POSTGRES_CONNECTION";

    /// <summary>The connection string, or null.</summary>
    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } cs ? cs : null;

    /// <summary>Why the tests are skipped, or null when they run (always null in CI, where a missing server fails them).</summary>
    public static string? SkipReason =>
        ConnectionString is null && Environment.GetEnvironmentVariable("CI") != "true"
            ? $"{Variable} is not set: no PostgreSQL to test against (run .ci/run, which starts a throwaway cluster, or set it to e.g. 'Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres'). Skipped locally, fails in CI."
            : null;

    /// <summary>Skips the calling <c>[SkippableFact]</c> when no server is configured locally; fails in CI.</summary>
    public static string RequireConnectionString()
    {
        Skip.If(SkipReason is not null, SkipReason);
        return ConnectionString ?? throw new InvalidOperationException($"{Variable} is not set, and CI=true: .ci/run must start PostgreSQL and export it.");
    }
}

/// <summary>
/// A fresh, isolated store for one test: a new schema (<c>t_</c> + random suffix) in the test server's database, migrated
/// on first use and dropped (CASCADE) on dispose. Use <see cref="Database"/> and the store factories for direct tests,
/// or <see cref="Configure"/> / <see cref="CreateServices"/> for a whole SDK on this schema (e.g. to run the shared
/// store contract suite against PostgreSQL).
/// </summary>
public sealed class PostgreSqlTestSchema : IAsyncDisposable
{
    private readonly List<PostgreSqlDatabase> _databases = [];
    private readonly List<ServiceProvider> _providers = [];

    private PostgreSqlTestSchema(string connectionString, string schema, IPersonalDataProtector protector)
    {
        ConnectionString = connectionString;
        Schema = schema;
        Protector = protector;
        Database = NewDatabase();
    }

    /// <summary>The server's connection string.</summary>
    public string ConnectionString { get; }

    /// <summary>The schema of this test.</summary>
    public string Schema { get; }

    /// <summary>The protector the stores use.</summary>
    public IPersonalDataProtector Protector { get; }

    /// <summary>A database handle on the schema (more with <see cref="NewDatabase"/>: each is one "host instance").</summary>
    public PostgreSqlDatabase Database { get; }

    /// <summary>Creates a schema for one test (skips locally without a server).</summary>
    /// <param name="protector">The personal-data protector, or null for plain text.</param>
    public static Task<PostgreSqlTestSchema> CreateAsync(IPersonalDataProtector? protector = null)
    {
        var cs = PostgreSqlTestServer.RequireConnectionString();
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        return Task.FromResult(new PostgreSqlTestSchema(cs, schema, protector ?? PlainTextPersonalDataProtector.Instance));
    }

    /// <summary>A new database handle on this schema (its own pool and instance name), disposed with the schema.</summary>
    /// <param name="configure">Changes the options, or null.</param>
    /// <param name="protector">Another protector, or null for this schema's.</param>
    public PostgreSqlDatabase NewDatabase(Action<PostgreSqlStorageOptions>? configure = null, IPersonalDataProtector? protector = null)
    {
        // A small pool per "host": tests run in parallel against one server.
        var options = new PostgreSqlStorageOptions { ConnectionString = ConnectionString + ";Maximum Pool Size=10", Schema = Schema, InstanceName = "test-" + (_databases.Count + 1).ToString(CultureInfo.InvariantCulture) };
        configure?.Invoke(options);
        var db = new PostgreSqlDatabase(Options.Create(options), protector ?? Protector);
        _databases.Add(db);
        return db;
    }

    /// <summary>Points an SDK registration at this schema.</summary>
    /// <param name="builder">The builder from <c>AddCampaigns</c>.</param>
    public ICampaignsBuilder Configure(ICampaignsBuilder builder) =>
        builder.UsePostgreSqlStorage(o =>
        {
            o.ConnectionString = ConnectionString + ";Maximum Pool Size=10";
            o.Schema = Schema;
        });

    /// <summary>A service provider with the SDK on this schema (disposed with the schema).</summary>
    /// <param name="configure">Adds more services (clock, channels, ...) before the build, or null.</param>
    public ServiceProvider CreateServices(Action<IServiceCollection, ICampaignsBuilder>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = Configure(services.AddCampaigns());
        configure?.Invoke(services, builder);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        _providers.Add(provider);
        return provider;
    }

    internal IContactStore Contacts(PostgreSqlDatabase? db = null) => new PostgreSqlContactStore(db ?? Database);

    internal PostgreSqlContactStore BulkWriter(PostgreSqlDatabase? db = null) => new(db ?? Database);

    internal IEventStore Events(PostgreSqlDatabase? db = null) => new PostgreSqlEventStore(db ?? Database);

    internal ICampaignStore Campaigns(PostgreSqlDatabase? db = null) => new PostgreSqlCampaignStore(db ?? Database);

    internal IParticipantStore Participants(PostgreSqlDatabase? db = null) => new PostgreSqlParticipantStore(db ?? Database);

    internal PostgreSqlJourneyRunStore JourneyRuns(PostgreSqlDatabase? db = null) => new(db ?? Database);

    internal IIdempotencyStore Idempotency(PostgreSqlDatabase? db = null) => new PostgreSqlIdempotencyStore(db ?? Database);

    internal IFrequencyCapStore FrequencyCaps(PostgreSqlDatabase? db = null) => new PostgreSqlFrequencyCapStore(db ?? Database);

    internal PostgreSqlDoNotContactList DoNotContact(NodaTime.IClock clock, PostgreSqlDatabase? db = null) => new(db ?? Database, clock);

    internal IExecutionRecords ExecutionRecords(PostgreSqlDatabase? db = null) => new PostgreSqlExecutionRecords(db ?? Database);

    internal IScoreLedgerStore ScoreLedgers(PostgreSqlDatabase? db = null) => new PostgreSqlScoreLedgerStore(db ?? Database);

    internal IScoringModelStore ScoringModels(TimeProvider time, PostgreSqlDatabase? db = null) =>
        new PostgreSqlScoringModelStore(db ?? Database, new FilterContext(ContactsOptions.DefaultSchema), time);

    /// <summary>Runs SQL on the schema (search_path set to it) and returns the first column of the first row.</summary>
    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SET search_path TO {Schema}; {sql}", connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Disposes the providers and databases and drops the schema.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }

        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE", connection);
        await command.ExecuteNonQueryAsync();
    }
}
