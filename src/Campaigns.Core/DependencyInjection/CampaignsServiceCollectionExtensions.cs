using Campaigns;
using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Campaigns.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Campaigns SDK in a service collection.</summary>
public static class CampaignsServiceCollectionExtensions
{
    /// <summary>Registers the SDK with default options.</summary>
    /// <param name="services">The host's services.</param>
    /// <returns>A builder to add channels and stores.</returns>
    public static ICampaignsBuilder AddCampaigns(this IServiceCollection services) => services.AddCampaigns(static _ => { });

    /// <summary>Registers the SDK, configuring <see cref="CampaignsOptions"/> in code.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets options.</param>
    /// <returns>A builder to add channels and stores.</returns>
    public static ICampaignsBuilder AddCampaigns(this IServiceCollection services, Action<CampaignsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<CampaignsOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>Registers the SDK, binding <see cref="CampaignsOptions"/> from a configuration section (e.g. <c>configuration.GetSection("Campaigns")</c>).</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <returns>A builder to add channels and stores.</returns>
    public static ICampaignsBuilder AddCampaigns(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<CampaignsOptions>().Bind(configuration);
        return AddCore(services);
    }

    /// <summary>Adds a catalogue document (campaign types and forms) of the host's own, merged after the built-in catalogue and the configured files.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="document">The document; checked when the catalogue is first resolved.</param>
    /// <param name="source">A name for error messages.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddCatalogue(this ICampaignsBuilder builder, CatalogueDocument document, string source = "code")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(document);
        builder.Services.AddSingleton(new CatalogueRegistration(source, document));
        return builder;
    }

    /// <summary>
    /// Adds the hosted <see cref="Campaigns.Scheduling.RuleClockWorker"/>, which lets time act on rule tags and scores
    /// (windows closing, tags expiring, decayed scores leaving a threshold) without rescanning contacts.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="pollInterval">The longest sleep between rounds; null for one minute.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddRuleClockWorker(this ICampaignsBuilder builder, TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var interval = pollInterval ?? TimeSpan.FromMinutes(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(pollInterval));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, Campaigns.Scheduling.RuleClockWorker>(sp =>
            new Campaigns.Scheduling.RuleClockWorker(
                sp.GetRequiredService<Campaigns.Tags.ITagEngine>(),
                sp.GetRequiredService<Campaigns.Scoring.IScoringEngine>(),
                sp.GetRequiredService<IClock>(),
                sp.GetRequiredService<TimeProvider>(),
                interval,
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Campaigns.Scheduling.RuleClockWorker>>())));
        return builder;
    }

    /// <summary>
    /// Adds the hosted <see cref="SegmentClockWorker"/>, which advances the registered <see cref="SegmentRegistry"/> at the
    /// instant time-relative memberships flip (<c>within 7d</c>, behaviour windows, tag expiry) and trims events that no
    /// live segment's window reaches any more.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="pollInterval">The longest sleep between rounds; null for one minute.</param>
    /// <param name="trimInterval">How often events are trimmed; null for one hour.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddSegmentClockWorker(this ICampaignsBuilder builder, TimeSpan? pollInterval = null, TimeSpan? trimInterval = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var interval = pollInterval ?? TimeSpan.FromMinutes(1);
        var trim = trimInterval ?? TimeSpan.FromHours(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(pollInterval));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(trim, TimeSpan.Zero, nameof(trimInterval));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, SegmentClockWorker>(sp =>
            new SegmentClockWorker(
                sp.GetRequiredService<SegmentRegistry>(),
                sp.GetRequiredService<IClock>(),
                sp.GetRequiredService<TimeProvider>(),
                interval,
                trim,
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SegmentClockWorker>>())));
        return builder;
    }

    /// <summary>
    /// Makes the shared <see cref="SegmentRegistry"/> live in a host: at start the <see cref="SegmentIndexLoader"/>
    /// rebuilds the segment index from the contact and event stores (the host's start waits for it); afterwards every
    /// stored contact change and new behaviour event updates the index and re-evaluates the segments that read it;
    /// contacts entering a segment enter the journeys it triggers (<see cref="SegmentEntryTrigger"/>); and the
    /// <see cref="SegmentClockWorker"/> lets time act on time-relative segments. Define segments on the registry after
    /// the host has started (or before: the load re-evaluates them).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddLiveSegments(this ICampaignsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.TryAddSingleton(static sp => new SegmentIndexLoader(
            sp.GetRequiredService<SegmentIndex>(),
            sp.GetRequiredService<SegmentRegistry>(),
            sp.GetRequiredService<IContactStore>(),
            sp.GetRequiredService<IEventStore>(),
            sp.GetRequiredService<IClock>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, SegmentIndexLoaderService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IContactChangeListener, LiveSegmentListener>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, SegmentJourneyBridge>());
        return builder.AddSegmentClockWorker();
    }

    /// <summary>
    /// Makes the host's definitions durable (<see cref="DurableDefinitions"/>): when the host starts, the tag models, live
    /// segments, journeys (with their state) and scoring model kept in the <see cref="IDefinitionStore"/> are loaded into
    /// the catalogs (the start waits; a stored definition that no longer validates is logged and skipped), and then the
    /// store is polled every <c>Campaigns:Definitions:PollInterval</c> for other instances' changes. Write definitions
    /// through <see cref="DurableDefinitions"/>. <c>UseSqliteStorage</c> and <c>UsePostgreSqlStorage</c> call this; with
    /// the in-memory store it only keeps the catalogs in step within the process.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddDurableDefinitions(this ICampaignsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(DurableDefinitionsService)))
        {
            // Early among the hosted services, so journeys and segments are back before the workers start; the storage
            // packages call this before inserting their schema initializer at 0, which so runs first.
            services.Insert(0, ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, DurableDefinitionsService>());
        }

        return builder;
    }

    /// <summary>
    /// Opts in to the hosted journey worker (<see cref="JourneyWorker"/>), which runs due journey steps in batches on
    /// the clock. Without it, call <see cref="JourneyRunner.RunDueAsync"/> yourself.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets <see cref="JourneyOptions"/>, or null.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddJourneyWorker(this ICampaignsBuilder builder, Action<JourneyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (configure is not null)
        {
            builder.Services.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, JourneyWorker>());
        return builder;
    }

    /// <summary>
    /// Opts in to SOPs (F-6.1): registers the <see cref="Campaigns.Scheduling.SopRunner"/> and the
    /// <see cref="Campaigns.Scheduling.SopApprovalCheck"/>, so that from now on submitting or approving a campaign whose
    /// SOPs name an unregistered channel (e.g. <c>wechat-template</c>), use a variable without a value, or are relative to
    /// a moment the campaign does not set is refused with every finding named. Call <see cref="Campaigns.Scheduling.SopRunner.RunDueAsync(NodaTime.Instant, CancellationToken)"/>
    /// yourself, or add <see cref="AddSopWorker"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets <see cref="Campaigns.Scheduling.SopOptions"/> (section <c>Campaigns:Sops</c>), or null.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddSopRunner(this ICampaignsBuilder builder, Action<Campaigns.Scheduling.SopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<Campaigns.Scheduling.SopOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Campaigns.Scheduling.SopOptions>, Campaigns.Scheduling.SopOptionsValidator>());
        builder.Services.TryAddSingleton<Campaigns.Scheduling.SopRunner>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ICampaignApprovalCheck, Campaigns.Scheduling.SopApprovalCheck>());
        return builder;
    }

    /// <summary>Opts in to SOPs (<see cref="AddSopRunner"/>) and the hosted <see cref="Campaigns.Scheduling.SopWorker"/> that runs them on the clock.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets <see cref="Campaigns.Scheduling.SopOptions"/>, or null.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddSopWorker(this ICampaignsBuilder builder, Action<Campaigns.Scheduling.SopOptions>? configure = null)
    {
        AddSopRunner(builder, configure);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, Campaigns.Scheduling.SopWorker>());
        return builder;
    }

    private static CampaignsBuilder AddCore(IServiceCollection services)
    {
        services.AddOptions<CampaignsOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CampaignsOptions>, CampaignsOptionsValidator>());
        services.AddOptions<ChannelRegistrationCheck>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ChannelRegistrationCheck>, ChannelRegistrationValidator>());
        services.TryAddSingleton<IChannelRegistry, ChannelRegistry>();
#pragma warning disable RS0030 // The one place that names the system clock: the replaceable default.
        services.TryAddSingleton<IClock>(SystemClock.Instance);
#pragma warning restore RS0030
        services.TryAddSingleton<ICampaignCatalogue>(static sp => BuildCatalogue(sp));
        services.TryAddSingleton<ICampaignStore, InMemoryCampaignStore>();
        services.TryAddSingleton<ICampaignService, CampaignService>();
        services.TryAddSingleton<IParticipantStore, InMemoryParticipantStore>();
        services.TryAddSingleton<IParticipantService, ParticipantService>();
        services.TryAddSingleton<IContactStore, InMemoryContactStore>();
        services.TryAddSingleton<IEventStore, InMemoryEventStore>();
        services.TryAddSingleton<ContactChangeNotifier>();
        services.TryAddSingleton<IContactService, ContactService>();
        services.TryAddSingleton<IContactEvents, ContactEvents>();
        services.TryAddSingleton<IContactImporter, ContactImporter>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IIdempotencyStore, InMemoryIdempotencyStore>();
        services.TryAddSingleton<IPersonalDataProtector>(PlainTextPersonalDataProtector.Instance);
        services.TryAddSingleton<IFrequencyCapStore, InMemoryFrequencyCapStore>();
        services.TryAddSingleton<IDoNotContactList, InMemoryDoNotContactList>();
        services.TryAddSingleton<IExecutionRecords, InMemoryExecutionRecords>();
        services.TryAddSingleton<IDefinitionStore, InMemoryDefinitionStore>();
        services.TryAddSingleton(static sp =>
        {
            var o = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value;
            return new DurableDefinitions(
                sp.GetRequiredService<IDefinitionStore>(),
                sp.GetRequiredService<ITagCatalog>(),
                sp.GetRequiredService<SegmentRegistry>(),
                sp.GetRequiredService<JourneyCatalog>(),
                sp.GetRequiredService<IScoringModelStore>(),
                sp.GetRequiredService<IClock>(),
                RuleDefinitionException.ContextOf(o.Contacts),
                new JourneyValidationContext { Channels = sp.GetRequiredService<IChannelRegistry>(), Templates = sp.GetRequiredService<IJourneyTemplateResolver>() },
                Duration.FromTimeSpan((o.Definitions ?? new()).PollInterval),
                sp.GetService<Microsoft.Extensions.Logging.ILogger<DurableDefinitions>>());
        });
        services.TryAddSingleton<IProviderMessageIndex>(static sp =>
        {
            var delivery = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Delivery;
            return new InMemoryProviderMessageIndex(NodaTime.Duration.FromTimeSpan(delivery.ProviderMessageRetention), delivery.ProviderMessageCapacity);
        });
        services.TryAddSingleton<IDeliveryPipeline, DeliveryPipeline>();
        services.TryAddSingleton<IDeliveryReceiptSink, ContactReceiptSink>();
        services.AddOptions<JourneyOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JourneyOptions>, JourneyOptionsValidator>());
        services.TryAddSingleton<JourneyCatalog>();
        services.TryAddSingleton<IJourneyRunStore, InMemoryJourneyRunStore>();
        services.TryAddSingleton<IJourneyTemplateResolver, InMemoryJourneyTemplates>();
        services.TryAddSingleton<JourneyRunner>();
        services.TryAddSingleton<JourneySimulator>();
        services.TryAddSingleton<JourneyTestMode>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IContactChangeListener, JourneyEventListener>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeliveryAlertObserver, JourneyAlertObserver>());

        // One business calendar and schema for the evaluator (tag rules, journeys) and the segment index (Campaigns:Segmentation).
        services.TryAddSingleton(static sp =>
        {
            var o = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value;
            return new FilterEvaluator(o.Segmentation.Zone(), schema: o.Contacts.Schema);
        });
        services.TryAddSingleton(static sp =>
        {
            var o = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value;
            var index = new SegmentIndex(o.Contacts.Schema, o.Segmentation.InitialCapacity, o.Segmentation.Zone());
            if (o.Segmentation.MaxDegreeOfParallelism is { } dop)
            {
                index.MaxDegreeOfParallelism = dop;
            }

            return index;
        });
        services.TryAddSingleton(static sp => new SegmentRegistry(sp.GetRequiredService<SegmentIndex>()));
        services.TryAddSingleton(static sp => new TagCatalog(RuleDefinitionException.ContextOf(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts)));
        services.TryAddSingleton<ITagCatalog>(static sp => sp.GetRequiredService<TagCatalog>());
        services.TryAddSingleton<TagEngine>();
        services.TryAddSingleton<ITagEngine>(static sp => sp.GetRequiredService<TagEngine>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IContactChangeListener, LazyContactListener<TagEngine>>());
        services.TryAddSingleton<IScoringModelStore>(static sp => new InMemoryScoringModelStore(RuleDefinitionException.ContextOf(sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts)));
        services.TryAddSingleton<IScoreLedgerStore, InMemoryScoreLedgerStore>();
        services.TryAddSingleton<ScoringEngine>();
        services.TryAddSingleton<IScoringEngine>(static sp => sp.GetRequiredService<ScoringEngine>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IContactChangeListener, LazyContactListener<ScoringEngine>>());
        return new CampaignsBuilder(services);
    }

    private static CampaignCatalogue BuildCatalogue(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value;
        var documents = new List<(string, CatalogueDocument)>();
        if (options.IncludeBuiltInCatalogue)
        {
            documents.Add(("built-in", CampaignCatalogue.ReadBuiltIn()));
        }

        documents.AddRange(options.CatalogueFiles.Select(path => (path, CampaignCatalogue.ReadFile(path))));
        documents.AddRange(sp.GetServices<CatalogueRegistration>().Select(r => (r.Source, r.Document)));
        return new CampaignCatalogue(documents);
    }
}
