using System.Collections.Concurrent;
using System.Text.Json;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Serialization;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using Npgsql;
using NpgsqlTypes;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// Several journey "host instances" on one PostgreSQL schema: each is its own service provider (own pool, runner,
/// catalog, pipeline) sharing only the database, the clock and one recording channel, the provider whose calls are
/// counted. Used by the multi-instance tests and, linked, by the benchmarks. Public API only.
/// </summary>
public sealed class JourneyFleet : IAsyncDisposable
{
    /// <summary>Wednesday 10:00 in Shanghai: inside any default window.</summary>
    public static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0);

    /// <summary>The journey: one e-mail, then the end.</summary>
    public static JourneyDefinition OneSend(string id = "fleet") => new()
    {
        Id = id,
        Name = "One send",
        Trigger = new ApiTrigger(),
        StartNodeId = "hello",
        Nodes = [new SendMessageNode { Id = "hello", Channel = "email", TemplateId = "hello" }],
    };

    private readonly List<ServiceProvider> _providers = [];

    private readonly string _connectionString;

    private JourneyFleet(NodaTime.Testing.FakeClock clock, string connectionString)
    {
        Clock = clock;
        _connectionString = connectionString;
    }

    /// <summary>The provider every instance sends through; records every call (thread-safe).</summary>
    public RecordingChannel Channel { get; } = new("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });

    /// <summary>The shared clock.</summary>
    public NodaTime.Testing.FakeClock Clock { get; }

    /// <summary>The instances' runners.</summary>
    public List<JourneyRunner> Runners { get; } = [];

    /// <summary>The instances' service providers.</summary>
    public IReadOnlyList<ServiceProvider> Providers => _providers;

    /// <summary>Starts <paramref name="instances"/> instances on a schema (migrated by the first) with the journey published on each.</summary>
    /// <param name="connectionString">The server.</param>
    /// <param name="schema">The schema.</param>
    /// <param name="instances">How many instances.</param>
    /// <param name="journeys">Changes the journey options of every instance, or null.</param>
    /// <param name="poolSize">Each instance's <c>Maximum Pool Size</c>.</param>
    /// <param name="clock">The instances' clock instead of the shared fake <see cref="Clock"/> (e.g. real time), or null.</param>
    /// <param name="delivery">Changes the delivery options, or null.</param>
    /// <param name="channel">The e-mail provider instead of <see cref="Channel"/>, or null.</param>
    /// <param name="instancePrefix">The instances' names are this plus their index.</param>
    /// <param name="storage">Changes the storage options of every instance (after the fleet's own), or null.</param>
    public static async Task<JourneyFleet> StartAsync(
        string connectionString,
        string schema,
        int instances,
        Action<JourneyOptions>? journeys = null,
        int poolSize = 10,
        IClock? clock = null,
        Action<DeliveryOptions>? delivery = null,
        IChannel? channel = null,
        string instancePrefix = "instance-",
        Action<PostgreSqlStorageOptions>? storage = null)
    {
        var fleet = new JourneyFleet(new NodaTime.Testing.FakeClock(T0), connectionString);
        var templates = new InMemoryJourneyTemplates().Add("hello", new MessageTemplate("{name}, hello", subject: "Hello"));
        for (var i = 0; i < instances; i++)
        {
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton(clock ?? fleet.Clock);
            services.AddSingleton<IJourneyTemplateResolver>(templates);
            if (journeys is not null)
            {
                services.Configure(journeys);
            }

            services.AddCampaigns(o =>
                {
                    o.Delivery.Channels["email"] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
                    delivery?.Invoke(o.Delivery);
                })
                .AddChannel("email", (_, _) => channel ?? fleet.Channel)
                .UsePostgreSqlStorage(o =>
                {
                    o.ConnectionString = connectionString + ";Maximum Pool Size=" + poolSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    o.Schema = schema;
                    o.InstanceName = instancePrefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    storage?.Invoke(o);
                });
            var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
            fleet._providers.Add(provider);
            await provider.GetRequiredService<PostgreSqlDatabase>().EnsureReadyAsync();
            var runner = provider.GetRequiredService<JourneyRunner>();
            runner.Catalog.Publish(OneSend(), new JourneyValidationContext { Channels = provider.GetRequiredService<IChannelRegistry>(), Templates = templates }, T0);
            fleet.Runners.Add(runner);
        }

        return fleet;
    }

    /// <summary>
    /// Writes <paramref name="count"/> contacts (binary COPY through the bulk writer) and one active run each of
    /// <see cref="OneSend"/>, due at <see cref="T0"/>, with its timer (COPY), as if each had just entered. Contacts are
    /// numbered from <paramref name="firstNumber"/> (name <c>c{n}</c>, address <c>c{n}@example.com</c>), so two seedings
    /// with disjoint numbers have distinct recipients.
    /// </summary>
    public async Task<IReadOnlyList<ContactId>> SeedDueStepsAsync(int count, string journeyId = "fleet", Instant? dueAt = null, int firstNumber = 0)
    {
        var provider = _providers[0];
        var due = dueAt ?? T0;
        var contacts = Enumerable.Range(firstNumber, count).Select(i => new Contact
        {
            Id = ContactId.New(),
            Name = "c" + i,
            CreatedAt = T0,
            TimeZoneId = "Asia/Shanghai",
            Identities = new ContactIdentities { Email = $"c{i}@example.com" },
            Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0) },
        }).ToList();
        await provider.GetRequiredService<PostgreSqlContactStore>().WriteNewAsync(contacts.ToAsyncEnumerable());
        var db = provider.GetRequiredService<PostgreSqlDatabase>();
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using (var runs = await connection.BeginBinaryImportAsync($"COPY {db.Schema}.journey_runs (journey_id, contact_id, run_number, status, version, doc) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var c in contacts)
            {
                var run = new JourneyRun { JourneyId = journeyId, ContactId = c.Id, RunNumber = 1, NodeId = "hello", EnteredAt = T0, NodeEnteredAt = T0, DueAt = due, Version = 1 };
                await runs.StartRowAsync();
                await runs.WriteAsync(journeyId, NpgsqlDbType.Text);
                await runs.WriteAsync(c.Id.Value, NpgsqlDbType.Uuid);
                await runs.WriteAsync(1, NpgsqlDbType.Integer);
                await runs.WriteAsync((short)0, NpgsqlDbType.Smallint);
                await runs.WriteAsync(1L, NpgsqlDbType.Bigint);
                await runs.WriteAsync(JsonSerializer.Serialize(run, CampaignsJson.Options), NpgsqlDbType.Jsonb);
            }

            await runs.CompleteAsync();
        }

        await using (var timers = await connection.BeginBinaryImportAsync($"COPY {db.Schema}.journey_timers (journey_id, contact_id, run_number, run_version, due_at, available_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var c in contacts)
            {
                await timers.StartRowAsync();
                await timers.WriteAsync(journeyId, NpgsqlDbType.Text);
                await timers.WriteAsync(c.Id.Value, NpgsqlDbType.Uuid);
                await timers.WriteAsync(1, NpgsqlDbType.Integer);
                await timers.WriteAsync(1L, NpgsqlDbType.Bigint);
                await timers.WriteAsync(due.ToUnixTimeTicks(), NpgsqlDbType.Bigint);
                await timers.WriteAsync(due.ToUnixTimeTicks(), NpgsqlDbType.Bigint);
            }

            await timers.CompleteAsync();
        }

        await using (var analyze = new NpgsqlCommand($"ANALYZE {db.Schema}.journey_timers; ANALYZE {db.Schema}.journey_runs; ANALYZE {db.Schema}.contacts", connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        return [.. contacts.Select(c => c.Id)];
    }

    /// <summary>The SDK on the same schema as an application host (hosted services start the storage), for start-up timing.</summary>
    public static Microsoft.Extensions.Hosting.IHost BuildHost(string connectionString, string schema)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<IJourneyTemplateResolver>(new InMemoryJourneyTemplates().Add("hello", new MessageTemplate("{name}, hello", subject: "Hello")));
        builder.Services.AddCampaigns()
            .AddChannel("email", (_, _) => new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true }))
            .UsePostgreSqlStorage(o =>
            {
                o.ConnectionString = connectionString;
                o.Schema = schema;
            });
        return builder.Build();
    }

    /// <summary>Runs the given instances' runners concurrently until none claims anything more at the clock's instant.</summary>
    /// <returns>How many timers each instance claimed.</returns>
    public async Task<long[]> DrainAsync(int instances, int batchSize = 200)
    {
        var now = Clock.GetCurrentInstant();
        var claimed = new long[instances];
        await Task.WhenAll(Enumerable.Range(0, instances).Select(i => Task.Run(async () =>
        {
            int n;
            while ((n = await Runners[i].RunDueAsync(now, batchSize)) > 0)
            {
                claimed[i] += n;
            }
        })));
        return claimed;
    }

    /// <summary>Recipients by how many provider calls they got.</summary>
    public ConcurrentDictionary<string, int> CallsByRecipient()
    {
        var calls = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        foreach (var send in Channel.Sends)
        {
            calls.AddOrUpdate(send.Message.Recipient, 1, static (_, n) => n + 1);
        }

        return calls;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }
}
