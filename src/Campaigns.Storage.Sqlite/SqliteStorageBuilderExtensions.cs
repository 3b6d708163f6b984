using Campaigns;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Storage;
using Campaigns.Storage.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Stores everything the Campaigns SDK keeps in one SQLite file.</summary>
public static class SqliteStorageBuilderExtensions
{
    /// <summary>
    /// Replaces every in-memory store registered by <c>AddCampaigns</c> with its SQLite counterpart, on the database
    /// file the options name. Options are validated at start (messages name <c>Campaigns:Storage:Sqlite:*</c>); the
    /// database is migrated when the host starts (or on first use without a host).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UseSqliteStorage(this ICampaignsBuilder builder, Action<SqliteStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<SqliteStorageOptions>().Configure(configure);
        return AddSqlite(builder);
    }

    /// <summary>Like <see cref="UseSqliteStorage(ICampaignsBuilder, Action{SqliteStorageOptions})"/>, bound from a section (e.g. <c>Campaigns:Storage:Sqlite</c>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configuration">The section with <c>Path</c> or <c>ConnectionString</c>, and optionally <c>BusyTimeout</c>, <c>Durability</c>, <c>InitializeOnStart</c>.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UseSqliteStorage(this ICampaignsBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.AddOptions<SqliteStorageOptions>().Bind(configuration);
        return AddSqlite(builder);
    }

    /// <summary>Like <see cref="UseSqliteStorage(ICampaignsBuilder, Action{SqliteStorageOptions})"/> for a database file path or a connection string.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="pathOrConnectionString">A file path (<c>data/campaigns.db</c>) or a connection string (<c>Data Source=data/campaigns.db</c>: text with '=').</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UseSqliteStorage(this ICampaignsBuilder builder, string pathOrConnectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        return builder.UseSqliteStorage(o =>
        {
            if (pathOrConnectionString.Contains('=', StringComparison.Ordinal))
            {
                o.ConnectionString = pathOrConnectionString;
            }
            else
            {
                o.Path = pathOrConnectionString;
            }
        });
    }

    private static ICampaignsBuilder AddSqlite(ICampaignsBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SqliteStorageOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqliteStorageOptions>, SqliteStorageOptionsValidator>());
        services.TryAddSingleton(static sp => new SqliteDatabase(
            sp.GetRequiredService<IOptions<SqliteStorageOptions>>().Value,
            sp.GetRequiredService<IPersonalDataProtector>()));

        // Replace, not TryAdd: AddCampaigns registered the in-memory stores already.
        services.Replace(ServiceDescriptor.Singleton<IContactStore, SqliteContactStore>());
        services.Replace(ServiceDescriptor.Singleton<IEventStore, SqliteEventStore>());
        services.Replace(ServiceDescriptor.Singleton<ICampaignStore, SqliteCampaignStore>());
        services.Replace(ServiceDescriptor.Singleton<IParticipantStore, SqliteParticipantStore>());
        services.Replace(ServiceDescriptor.Singleton<IJourneyRunStore, SqliteJourneyRunStore>());
        services.Replace(ServiceDescriptor.Singleton<IIdempotencyStore, SqliteIdempotencyStore>());
        services.Replace(ServiceDescriptor.Singleton<IFrequencyCapStore, SqliteFrequencyCapStore>());
        services.TryAddSingleton<SqliteDoNotContactList>();
        services.Replace(ServiceDescriptor.Singleton<IDoNotContactList>(static sp => sp.GetRequiredService<SqliteDoNotContactList>()));
        services.Replace(ServiceDescriptor.Singleton<IExecutionRecords, SqliteExecutionRecords>());
        services.Replace(ServiceDescriptor.Singleton<IDefinitionStore, SqliteDefinitionStore>());
        services.Replace(ServiceDescriptor.Singleton<IScoringModelStore>(static sp => new SqliteScoringModelStore(
            sp.GetRequiredService<SqliteDatabase>(),
            new FilterContext(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts.Schema ?? ContactsOptions.DefaultSchema))));
        services.Replace(ServiceDescriptor.Singleton<IScoreLedgerStore, SqliteScoreLedgerStore>());
        services.Replace(ServiceDescriptor.Singleton<IProviderMessageIndex>(static sp => new SqliteProviderMessageIndex(
            sp.GetRequiredService<SqliteDatabase>(),
            NodaTime.Duration.FromTimeSpan(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Delivery.ProviderMessageRetention))));

        // The stored definitions load at start (inserted first, then pushed back by the initializer inserted before it).
        builder.AddDurableDefinitions();

        // First of the hosted services, so the schema is ready before any worker starts.
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(SqliteStorageInitializer)))
        {
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, SqliteStorageInitializer>());
        }

        return builder;
    }
}
