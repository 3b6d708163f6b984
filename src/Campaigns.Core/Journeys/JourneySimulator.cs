using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>What to simulate: test contacts, scripted events and the simulated period (F-6.6 dry run).</summary>
public sealed record JourneySimulationRequest
{
    /// <summary>The test contacts (copied into the simulation's own contact store; the host's store is not read or written).</summary>
    public required IReadOnlyList<Contact> Contacts { get; init; }

    /// <summary>
    /// Scripted behaviour events (e.g. a contact opens an e-mail at start + 1 day, another purchases at start + 3 days).
    /// Events at or after <see cref="Start"/> are fed to the simulated runner at their <see cref="BehaviourEvent.OccurredAt"/>
    /// (event triggers, wait-for-event, goals); earlier ones are history, visible to conditions from the start.
    /// </summary>
    public IReadOnlyList<BehaviourEvent> Events { get; init; } = [];

    /// <summary>The instant the simulated clock starts at (the journey is published then).</summary>
    public required Instant Start { get; init; }

    /// <summary>The instant the simulation stops; runs still waiting then are reported as they stand.</summary>
    public required Instant End { get; init; }

    /// <summary>
    /// Whether every contact enters at <see cref="Start"/>. Null (default): by the trigger; API and segment-entry
    /// journeys enter every contact at the start, event-triggered journeys enter on the scripted events, and
    /// schedule-triggered ones on their occurrences.
    /// </summary>
    public bool? EnterAllAtStart { get; init; }
}

/// <summary>A message the dry run would have sent, as rendered.</summary>
/// <param name="At">When (simulated).</param>
/// <param name="ContactId">To whom.</param>
/// <param name="NodeId">The journey node that sent it.</param>
/// <param name="TemplateId">The template rendered.</param>
/// <param name="Channel">The channel it would go through.</param>
/// <param name="Message">The rendered message (recipient, subject, text, HTML) exactly as the channel would get it.</param>
public sealed record SimulatedMessage(Instant At, ContactId ContactId, string NodeId, string TemplateId, string Channel, ChannelMessage Message);

/// <summary>
/// The timeline of a dry run: every step of every run in order (sends, deferrals with the gate's reason, suppressions,
/// waits, branch decisions, exits), the messages as rendered and the runs as they stood at the end.
/// </summary>
public sealed record JourneySimulation
{
    /// <summary>The journey.</summary>
    public required string JourneyId { get; init; }

    /// <summary>The simulated start.</summary>
    public required Instant Start { get; init; }

    /// <summary>The simulated end.</summary>
    public required Instant End { get; init; }

    /// <summary>Every step, in the order the simulated runner took them.</summary>
    public required IReadOnlyList<JourneyStep> Steps { get; init; }

    /// <summary>Every message that would have been sent, in order.</summary>
    public required IReadOnlyList<SimulatedMessage> Messages { get; init; }

    /// <summary>Each contact's latest run at the end (ended, or waiting with its due instant).</summary>
    public required IReadOnlyList<JourneyRun> Runs { get; init; }

    /// <summary>The steps of one contact.</summary>
    /// <param name="contactId">The contact.</param>
    /// <returns>Its steps, in order.</returns>
    public IReadOnlyList<JourneyStep> StepsOf(ContactId contactId) => [.. Steps.Where(s => s.ContactId == contactId)];

    /// <summary>The deferrals and suppressions, each with its reason (quiet hours, caps, consent, address).</summary>
    public IReadOnlyList<JourneyStep> Held => [.. Steps.Where(s => s.Kind is JourneyStepKind.Deferred or JourneyStepKind.Suppressed)];
}

/// <summary>
/// Dry run (F-6.6): simulates a journey over test contacts and scripted events on a simulated clock and returns the
/// timeline, without sending anything and without touching the host's stores. It runs the real
/// <see cref="JourneyRunner"/> and delivery pipeline (same gate: consent, do-not-contact, frequency caps, send windows,
/// content rules) over fresh in-memory stores, with stand-in channels that have the names and capabilities of the
/// host's channels and only record. Thread-safe: each simulation has its own stores.
/// </summary>
public sealed class JourneySimulator
{
    private readonly IChannelRegistry _channels;
    private readonly IJourneyTemplateResolver _templates;
    private readonly IOptions<CampaignsOptions> _options;
    private readonly IOptions<JourneyOptions> _journeyOptions;
    private readonly TimeProvider _timeProvider;
    private readonly JourneyCatalog _catalog;

    /// <summary>Creates a simulator (usually resolved from DI).</summary>
    /// <param name="channels">The host's channels: only their names and capabilities are read; nothing is sent.</param>
    /// <param name="templates">The message templates.</param>
    /// <param name="options">The SDK options (delivery gate, default zone, contact settings).</param>
    /// <param name="journeyOptions">The runner settings.</param>
    /// <param name="timeProvider">The time provider of the delivery resilience pipelines.</param>
    /// <param name="catalog">The host's published journeys (to simulate one by id; read only).</param>
    public JourneySimulator(IChannelRegistry channels, IJourneyTemplateResolver templates, IOptions<CampaignsOptions> options, IOptions<JourneyOptions> journeyOptions, TimeProvider timeProvider, JourneyCatalog catalog)
    {
        _channels = channels;
        _templates = templates;
        _options = options;
        _journeyOptions = journeyOptions;
        _timeProvider = timeProvider;
        _catalog = catalog;
    }

    /// <summary>Simulates a published journey.</summary>
    /// <param name="journeyId">The published journey's id.</param>
    /// <param name="request">Contacts, events and period.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The timeline.</returns>
    /// <exception cref="KeyNotFoundException">The journey is not published.</exception>
    public ValueTask<JourneySimulation> SimulatePublishedAsync(string journeyId, JourneySimulationRequest request, CancellationToken cancellationToken = default) =>
        SimulateAsync(_catalog.Find(journeyId) ?? throw new KeyNotFoundException($"The journey '{journeyId}' is not published."), request, cancellationToken);

    /// <summary>Simulates a journey definition (published or not; it is validated first).</summary>
    /// <param name="journey">The journey.</param>
    /// <param name="request">Contacts, events and period.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The timeline.</returns>
    /// <exception cref="JourneyValidationException">The journey is not valid.</exception>
    /// <exception cref="ArgumentException">The period is empty or a contact appears twice.</exception>
    public async ValueTask<JourneySimulation> SimulateAsync(JourneyDefinition journey, JourneySimulationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journey);
        ArgumentNullException.ThrowIfNull(request);
        if (request.End < request.Start)
        {
            throw new ArgumentException($"The simulation ends ({request.End}) before it starts ({request.Start}).", nameof(request));
        }

        var clock = new SimulatedClock(request.Start);
        var standIns = new StandInRegistry(_channels.Names.Select(n => (IChannel)new StandInChannel(n, _channels.GetChannel(n).Capabilities)));
        var pipelineOptions = Options.Create(new CampaignsOptions
        {
            DefaultTimeZone = _options.Value.DefaultTimeZone,
            Delivery = JourneyDeliveryOptions.ForSimulation(_options.Value.Delivery, standIns.Names),
        });
        var records = new InMemoryExecutionRecords();
        using var pipeline = new DeliveryPipeline(standIns, clock, _timeProvider, new InMemoryIdempotencyStore(), new InMemoryFrequencyCapStore(), new InMemoryDoNotContactList(), records, [], pipelineOptions);

        var contacts = new InMemoryContactStore();
        foreach (var contact in request.Contacts)
        {
            await contacts.AddAsync(contact, cancellationToken).ConfigureAwait(false);
        }

        var events = new InMemoryEventStore();
        var scripted = new List<BehaviourEvent>();
        foreach (var e in request.Events.OrderBy(e => e.OccurredAt))
        {
            if (e.OccurredAt < request.Start)
            {
                await events.AppendAsync(e, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                scripted.Add(e);
            }
        }

        var catalog = new JourneyCatalog();
        catalog.Publish(journey, new JourneyValidationContext { Channels = standIns, Templates = _templates }, request.Start);
        var log = new StepCollector();
        var contactService = new ContactService(contacts, clock, new ContactChangeNotifier([]), _options);
        var runs = new InMemoryJourneyRunStore();
        var runner = new JourneyRunner(catalog, runs, pipeline, contacts, contactService, events, _templates, clock, [log], _journeyOptions, _options, records, new ContactEvents(events, contacts, clock, new ContactChangeNotifier([]), _options));

        if (request.EnterAllAtStart ?? journey.Trigger is ApiTrigger or SegmentEntryTrigger)
        {
            foreach (var contact in request.Contacts)
            {
                await runner.EnterAsync(journey.Id, contact.Id, cancellationToken).ConfigureAwait(false);
            }
        }

        await DriveAsync(runner, runs, events, clock, scripted, request.End, cancellationToken).ConfigureAwait(false);

        var sends = standIns.Sent.ToDictionary(s => s.Message.IdempotencyKey, StringComparer.Ordinal);
        var messages = new List<SimulatedMessage>();
        foreach (var step in log.Steps.Where(s => s.Kind == JourneyStepKind.Sent))
        {
            if (step.IdempotencyKey is { } key && sends.TryGetValue(key, out var send) && journey.FindNode(step.NodeId ?? string.Empty) is JourneyMessageNode node)
            {
                messages.Add(new SimulatedMessage(step.At, step.ContactId, node.Id, node.TemplateId, send.Channel, send.Message));
            }
        }

        var latest = new List<JourneyRun>();
        foreach (var contact in request.Contacts)
        {
            if (await runs.GetLatestAsync(journey.Id, contact.Id, cancellationToken).ConfigureAwait(false) is { } run)
            {
                latest.Add(run);
            }
        }

        return new JourneySimulation { JourneyId = journey.Id, Start = request.Start, End = request.End, Steps = log.Steps, Messages = messages, Runs = latest };
    }

    private static async ValueTask DriveAsync(JourneyRunner runner, InMemoryJourneyRunStore runs, InMemoryEventStore events, SimulatedClock clock, List<BehaviourEvent> scripted, Instant end, CancellationToken cancellationToken)
    {
        var nextEvent = 0;
        for (var guard = 0; guard < 10_000_000; guard++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var now = clock.Now;
            while (nextEvent < scripted.Count && scripted[nextEvent].OccurredAt <= now)
            {
                var e = scripted[nextEvent++];
                if (await events.AppendAsync(e, cancellationToken).ConfigureAwait(false))
                {
                    await runner.OnEventAsync(e, cancellationToken).ConfigureAwait(false);
                }
            }

            if (await runner.RunDueAsync(now, 500, cancellationToken).ConfigureAwait(false) > 0)
            {
                continue;
            }

            var due = await runs.GetNextDueAsync(cancellationToken).ConfigureAwait(false);
            Instant? next = nextEvent < scripted.Count ? scripted[nextEvent].OccurredAt : null;
            if (due is { } d && (next is null || d < next))
            {
                next = d;
            }

            if (next is not { } n || n > end)
            {
                clock.Now = end;
                return;
            }

            // A due instant in the past is a leased timer (a step that threw): the lease moves the clock on.
            clock.Now = n > now ? n : now + Duration.FromSeconds(1);
        }

        throw new InvalidOperationException("The simulated journey did not settle (too many steps).");
    }

    private sealed class StepCollector : IJourneyObserver
    {
        private readonly List<JourneyStep> _steps = [];

        public IReadOnlyList<JourneyStep> Steps => [.. _steps];

        public ValueTask OnStepAsync(JourneyStep journeyStep, CancellationToken cancellationToken)
        {
            _steps.Add(journeyStep);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A clock the simulation moves by hand.</summary>
internal sealed class SimulatedClock(Instant start) : IClock
{
    public Instant Now { get; set; } = start;

    public Instant GetCurrentInstant() => Now;
}

/// <summary>A channel registry over given channel instances (the dry run's stand-ins, or test mode's channels).</summary>
internal sealed class StandInRegistry : IChannelRegistry
{
    private readonly Dictionary<string, IChannel> _channels;

    public StandInRegistry(IEnumerable<IChannel> channels)
    {
        _channels = channels.ToDictionary(c => c.Name, StringComparer.Ordinal);
        Names = [.. _channels.Keys];
    }

    public IReadOnlyList<string> Names { get; }

    public IEnumerable<(string Channel, ChannelMessage Message)> Sent =>
        _channels.Values.OfType<StandInChannel>().SelectMany(c => c.Sent.Select(m => (c.Name, m)));

    public IChannel GetChannel(string name) =>
        TryGetChannel(name, out var channel) ? channel : throw new KeyNotFoundException($"No channel is named '{name}'; the channels are: {string.Join(", ", Names)}.");

    public bool TryGetChannel(string name, [NotNullWhen(true)] out IChannel? channel) => _channels.TryGetValue(name, out channel);
}

/// <summary>The dry run's stand-in for a real channel: same name and capabilities, records and accepts, sends nothing.</summary>
internal sealed class StandInChannel(string name, ChannelCapabilities capabilities) : IChannel
{
    private readonly List<ChannelMessage> _sent = [];

    public string Name { get; } = name;

    public ChannelCapabilities Capabilities { get; } = capabilities;

    public IReadOnlyList<ChannelMessage> Sent
    {
        get
        {
            lock (_sent)
            {
                return [.. _sent];
            }
        }
    }

    public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_sent)
        {
            _sent.Add(message);
            return ValueTask.FromResult(DeliveryResult.Accepted(string.Create(CultureInfo.InvariantCulture, $"dry-run-{_sent.Count}")));
        }
    }
}

/// <summary>Copies of the host's delivery options for the dry run and test mode.</summary>
internal static class JourneyDeliveryOptions
{
    /// <summary>The dry run: the same gate (consent keys, windows, caps, content rules); no retries, breaker, rate limit or failover (stand-ins always accept).</summary>
    public static DeliveryOptions ForSimulation(DeliveryOptions host, IEnumerable<string> channels)
    {
        var copy = CopyBase(host);
        foreach (var name in channels)
        {
            var source = host.ForChannel(name);
            copy.Channels[name] = new ChannelDeliveryOptions
            {
                ConsentKey = source.ConsentKey,
                Window = source.Window,
                Resilience = new ChannelResilienceOptions { MaxRetryAttempts = 0, CircuitBreakerEnabled = false, UseJitter = false, RetryBaseDelay = TimeSpan.Zero },
            };
        }

        foreach (var cap in host.FrequencyCaps)
        {
            copy.FrequencyCaps.Add(cap);
        }

        return copy;
    }

    /// <summary>Test mode: the real channels' resilience and failover, consent and content rules; no send window (test sends go now) and no frequency caps.</summary>
    public static DeliveryOptions ForTest(DeliveryOptions host)
    {
        var copy = CopyBase(host);
        foreach (var (name, source) in host.Channels)
        {
            copy.Channels[name] = new ChannelDeliveryOptions { ConsentKey = source.ConsentKey, FailoverTo = source.FailoverTo, Resilience = source.Resilience };
        }

        return copy;
    }

    private static DeliveryOptions CopyBase(DeliveryOptions host) => new()
    {
        Sms = host.Sms,
        Email = host.Email,
        BannedWords = host.BannedWords,
        IdempotencyLease = host.IdempotencyLease,
        Alert = new DeliveryAlertOptions { PauseTask = false, MinimumSamples = int.MaxValue },
    };
}
