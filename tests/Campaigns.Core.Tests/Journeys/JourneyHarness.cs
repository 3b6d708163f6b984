using System.Collections.Concurrent;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Segmentation;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Journeys;

/// <summary>The state that survives a restart: stores and channels (the "database" and the providers).</summary>
internal sealed class SharedState
{
    public FakeClock Clock { get; } = new(JourneyHarness.T0);

    public InMemoryJourneyRunStore Runs { get; } = new();

    public InMemoryContactStore Contacts { get; } = new();

    public InMemoryEventStore Events { get; } = new();

    public InMemoryIdempotencyStore Idempotency { get; } = new();

    public RecordingChannel Email { get; } = new("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });

    public RecordingChannel Sms { get; } = new("sms", new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone });

    public InMemoryJourneyTemplates Templates { get; } = new InMemoryJourneyTemplates()
        .Add("welcome", new MessageTemplate("{name}, welcome!", subject: "Welcome"))
        .Add("reminder", new MessageTemplate("{name}, have a look", subject: "Reminder"))
        .Add("coupon", new MessageTemplate("{name}: coupon 50 off"))
        .Add("final", new MessageTemplate("{name}, last chance", subject: "Last chance"));
}

internal sealed class StepLog : IJourneyObserver
{
    public ConcurrentQueue<JourneyStep> Steps { get; } = new();

    public ValueTask OnStepAsync(JourneyStep journeyStep, CancellationToken cancellationToken)
    {
        Steps.Enqueue(journeyStep);
        return ValueTask.CompletedTask;
    }

    public ConcurrentQueue<JourneyStateChange> StateChanges { get; } = new();

    public ValueTask OnJourneyStateChangedAsync(JourneyStateChange change, CancellationToken cancellationToken)
    {
        StateChanges.Enqueue(change);
        return ValueTask.CompletedTask;
    }
}

internal sealed class JourneyHarness : IDisposable
{
    public static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0); // Wednesday 10:00 in Shanghai

    private static int _phone;

    private readonly ServiceProvider _services;

    public JourneyHarness(SharedState? shared = null, Action<DeliveryOptions>? delivery = null, Func<IJourneyRunStore, IJourneyRunStore>? wrapStore = null, Action<JourneyOptions>? journeys = null, bool observe = true)
    {
        State = shared ?? new SharedState();
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(State.Clock);
        services.AddSingleton(wrapStore?.Invoke(State.Runs) ?? State.Runs);
        services.AddSingleton<IContactStore>(State.Contacts);
        services.AddSingleton<IEventStore>(State.Events);
        services.AddSingleton<IIdempotencyStore>(State.Idempotency);
        services.AddSingleton<IJourneyTemplateResolver>(State.Templates);
        if (observe)
        {
            services.AddSingleton<IJourneyObserver>(Log);
        }

        services.AddLogging();
        services.AddCampaigns(o =>
            {
                o.Delivery.Channels["email"] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
                o.Delivery.Channels["sms"] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
                delivery?.Invoke(o.Delivery);
            })
            .AddChannel("email", (_, _) => State.Email).AddChannel("sms", (_, _) => State.Sms);
        if (journeys is not null)
        {
            services.Configure(journeys);
        }

        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        Runner = _services.GetRequiredService<JourneyRunner>();
        Store = _services.GetRequiredService<IJourneyRunStore>();
        Context = new JourneyValidationContext { Channels = _services.GetRequiredService<IChannelRegistry>(), Templates = State.Templates };
    }

    public SharedState State { get; }

    public FakeClock Clock => State.Clock;

    public JourneyRunner Runner { get; }

    public IJourneyRunStore Store { get; }

    public StepLog Log { get; } = new();

    public JourneyValidationContext Context { get; }

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public void Publish(JourneyDefinition journey) => Runner.Catalog.Publish(journey, Context, Clock.GetCurrentInstant());

    public async Task<Contact> AddContactAsync(string name, string zone = "Asia/Shanghai")
    {
        var contact = new Contact
        {
            Id = ContactId.New(),
            Name = name,
            CreatedAt = T0 - Duration.FromDays(10),
            TimeZoneId = zone,
            Identities = new ContactIdentities { Email = $"{name.ToLowerInvariant()}@example.com", Phone = $"+86138{Interlocked.Increment(ref _phone):D8}" },
            Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0 - Duration.FromDays(10)), ["sms"] = new(true, "form", T0 - Duration.FromDays(10)) },
        };
        return await State.Contacts.AddAsync(contact);
    }

    public async Task EventAsync(Contact contact, string kind)
    {
        var e = new BehaviourEvent { EventId = Guid.NewGuid().ToString(), ContactId = contact.Id, Kind = kind, OccurredAt = Clock.GetCurrentInstant() };
        await State.Events.AppendAsync(e);
        await Runner.OnEventAsync(e);
    }

    /// <summary>Runs due steps, jumping the clock from due instant to due instant, until nothing is due before <paramref name="until"/>.</summary>
    public async Task DriveAsync(Instant until, int batchSize = 50)
    {
        for (var guard = 0; guard < 100_000; guard++)
        {
            var now = Clock.GetCurrentInstant();
            if (await Runner.RunDueAsync(now, batchSize) > 0)
            {
                continue;
            }

            var next = await Store.GetNextDueAsync();
            if (next is not { } due || due > until || due <= now) // due <= now and nothing claimed: a paused journey's timer
            {
                if (until > now)
                {
                    Clock.Reset(until);
                }

                return;
            }

            if (due > now)
            {
                Clock.Reset(due);
            }
        }

        throw new InvalidOperationException("The journey did not settle.");
    }

    public void Dispose() => _services.Dispose();

    /// <summary>Seed 004: welcome → wait 2 days → opened? → reminder (loop) / coupon → wait 1 day → last chance; exit on purchase or after 3 touches.</summary>
    public static JourneyDefinition Seed004(string id = "welcome-flow") => new()
    {
        Id = id,
        Name = "New user activation",
        Trigger = new ApiTrigger(),
        StartNodeId = "welcome",
        Nodes =
        [
            new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait-2d" },
            new WaitNode { Id = "wait-2d", Duration = Duration.FromDays(2), Next = "opened" },
            new ConditionNode { Id = "opened", Condition = new BehaviourFilter(EventKinds.EmailOpen, [], CompareOperator.GreaterOrEqual, [1]), Then = "coupon", Else = "reminder" },
            new SendMessageNode { Id = "reminder", Channel = "email", TemplateId = "reminder", Next = "wait-2d" },
            new SendMessageNode { Id = "coupon", Channel = "sms", TemplateId = "coupon", Next = "wait-1d" },
            new WaitNode { Id = "wait-1d", Duration = Duration.FromDays(1), Next = "final" },
            new SendMessageNode { Id = "final", Channel = "email", TemplateId = "final" },
        ],
        Exit = new JourneyExitConditions { GoalEventKind = EventKinds.Purchase, MaxTouches = 3 },
    };
}
