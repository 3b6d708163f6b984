using Campaigns;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Storage;
using Campaigns.Storage.PostgreSql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts every store of the Campaigns SDK on PostgreSQL.</summary>
public static class PostgreSqlStorageBuilderExtensions
{
    /// <summary>The configuration section the options are documented under: <c>Campaigns:Storage:PostgreSql</c>.</summary>
    public const string DefaultSection = "Campaigns:Storage:PostgreSql";

    /// <summary>Stores everything in PostgreSQL, configured in code.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configure">Sets the options; validated at start (messages name <c>Campaigns:Storage:PostgreSql:*</c>).</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UsePostgreSqlStorage(this ICampaignsBuilder builder, Action<PostgreSqlStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<PostgreSqlStorageOptions>().Configure(configure);
        return Register(builder);
    }

    /// <summary>Stores everything in PostgreSQL, with options bound from a configuration section (e.g. <c>Campaigns:Storage:PostgreSql</c>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UsePostgreSqlStorage(this ICampaignsBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var path = configuration is IConfigurationSection section ? section.Path : DefaultSection;
        builder.Services.AddOptions<PostgreSqlStorageOptions>().Configure(o => o.ConfigurationPath = path).Bind(configuration);
        return Register(builder);
    }

    /// <summary>Stores everything in PostgreSQL at a connection string, with the other options at their defaults.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="connectionString">The Npgsql connection string.</param>
    /// <param name="schema">The schema, or null for <c>campaigns</c>.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UsePostgreSqlStorage(this ICampaignsBuilder builder, string connectionString, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.UsePostgreSqlStorage(o =>
        {
            o.ConnectionString = connectionString;
            if (schema is not null)
            {
                o.Schema = schema;
            }
        });
    }

    private static ICampaignsBuilder Register(ICampaignsBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<PostgreSqlStorageOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlStorageOptions>, PostgreSqlStorageOptionsValidator>());
        services.TryAddSingleton<PostgreSqlDatabase>();

        // AddCampaigns registered the in-memory stores with TryAdd: replace them.
        services.Replace(ServiceDescriptor.Singleton<PostgreSqlContactStore, PostgreSqlContactStore>());
        services.Replace(ServiceDescriptor.Singleton<IContactStore>(static sp => sp.GetRequiredService<PostgreSqlContactStore>()));
        services.Replace(ServiceDescriptor.Singleton<IEventStore, PostgreSqlEventStore>());
        services.Replace(ServiceDescriptor.Singleton<ICampaignStore, PostgreSqlCampaignStore>());
        services.Replace(ServiceDescriptor.Singleton<IParticipantStore, PostgreSqlParticipantStore>());
        services.Replace(ServiceDescriptor.Singleton<IJourneyRunStore, PostgreSqlJourneyRunStore>());
        services.Replace(ServiceDescriptor.Singleton<IIdempotencyStore, PostgreSqlIdempotencyStore>());
        services.Replace(ServiceDescriptor.Singleton<IFrequencyCapStore, PostgreSqlFrequencyCapStore>());
        services.Replace(ServiceDescriptor.Singleton<PostgreSqlDoNotContactList, PostgreSqlDoNotContactList>());
        services.Replace(ServiceDescriptor.Singleton<IDoNotContactList>(static sp => sp.GetRequiredService<PostgreSqlDoNotContactList>()));
        services.Replace(ServiceDescriptor.Singleton<IExecutionRecords, PostgreSqlExecutionRecords>());
        services.Replace(ServiceDescriptor.Singleton<IDefinitionStore, PostgreSqlDefinitionStore>());
        services.Replace(ServiceDescriptor.Singleton<IScoreLedgerStore, PostgreSqlScoreLedgerStore>());
        services.Replace(ServiceDescriptor.Singleton<IProviderMessageIndex>(static sp => new PostgreSqlProviderMessageIndex(
            sp.GetRequiredService<PostgreSqlDatabase>(),
            NodaTime.Duration.FromTimeSpan(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Delivery.ProviderMessageRetention))));
        services.Replace(ServiceDescriptor.Singleton<IScoringModelStore>(static sp => new PostgreSqlScoringModelStore(
            sp.GetRequiredService<PostgreSqlDatabase>(),
            new FilterContext(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts.Schema ?? ContactsOptions.DefaultSchema),
            sp.GetService<TimeProvider>() ?? TimeProvider.System)));

        // The stored definitions load at start (inserted first, then pushed back by the startup inserted before it).
        builder.AddDurableDefinitions();

        // Migrate and check the protector scheme when the host starts: first of the hosted services (as on SQLite), so the
        // schema is ready before any worker registered earlier (AddJourneyWorker, AddSopWorker, …) starts claiming.
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(PostgreSqlStorageStartup)))
        {
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, PostgreSqlStorageStartup>());
        }

        return builder;
    }
}
