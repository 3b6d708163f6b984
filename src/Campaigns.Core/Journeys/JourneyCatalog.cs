using System.Collections.Concurrent;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>Whether a published journey runs.</summary>
public enum JourneyState
{
    /// <summary>Contacts enter and runs advance.</summary>
    Active = 0,

    /// <summary>No one enters and no timer fires; timers keep their due instants and fire (late) after resuming.</summary>
    Paused = 1,

    /// <summary>Ended: no one enters and every run is cancelled.</summary>
    Cancelled = 2,
}

/// <summary>
/// The published journeys of a host and their state. Publishing validates first. Thread-safe. In memory; to keep the
/// journeys and their state across restarts and share them between instances, publish through
/// <see cref="Storage.DurableDefinitions.PublishJourneyAsync"/> (state changes made here are then stored too).
/// </summary>
public sealed class JourneyCatalog
{
    private readonly ConcurrentDictionary<string, Entry> _journeys = new(StringComparer.Ordinal);
    private long _version;
    private Snapshot? _snapshot;

    /// <summary>The published journeys (a read-only snapshot, rebuilt only after a publish: every ingested event reads it).</summary>
    public IReadOnlyList<JourneyDefinition> Journeys
    {
        get
        {
            var version = Interlocked.Read(ref _version);
            if (Volatile.Read(ref _snapshot) is { } s && s.Version == version)
            {
                return s.Journeys;
            }

            // Built after reading the version: a publish meanwhile bumps it, so the next read rebuilds.
            var built = Array.AsReadOnly(_journeys.Values.Select(e => e.Definition).ToArray());
            Volatile.Write(ref _snapshot, new Snapshot(version, built));
            return built;
        }
    }

    /// <summary>The ids of paused journeys (their timers are not claimed).</summary>
    public IReadOnlySet<string> PausedIds => _journeys.Where(p => p.Value.State == JourneyState.Paused).Select(p => p.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>Publishes (or replaces) a journey after validating it; a replaced journey keeps its state.</summary>
    /// <param name="definition">The journey.</param>
    /// <param name="context">What it may name (channels, templates, segments).</param>
    /// <param name="publishedAt">Now: schedule triggers fire for occurrences after it.</param>
    /// <exception cref="JourneyValidationException">The journey is not valid; the message names each node.</exception>
    public void Publish(JourneyDefinition definition, JourneyValidationContext context, Instant publishedAt)
    {
        ArgumentNullException.ThrowIfNull(definition);
        JourneyValidator.Validate(definition, context).ThrowIfInvalid();
        _journeys.AddOrUpdate(definition.Id, _ => new Entry(definition, JourneyState.Active, publishedAt), (_, e) => e with { Definition = definition });
        Interlocked.Increment(ref _version);
    }

    /// <summary>A published journey, or null.</summary>
    /// <param name="journeyId">The journey's id.</param>
    public JourneyDefinition? Find(string journeyId) => _journeys.TryGetValue(journeyId, out var e) ? e.Definition : null;

    /// <summary>The state of a published journey, or null when it is not published.</summary>
    /// <param name="journeyId">The journey's id.</param>
    public JourneyState? GetState(string journeyId) => _journeys.TryGetValue(journeyId, out var e) ? e.State : null;

    internal void SetState(string journeyId, JourneyState state)
    {
        if (!_journeys.TryGetValue(journeyId, out var entry))
        {
            throw new KeyNotFoundException($"The journey '{journeyId}' is not published.");
        }

        _journeys[journeyId] = entry with { State = state };
        StateChanged?.Invoke(journeyId, state);
    }

    /// <summary>Raised after every <see cref="SetState"/> (pause, resume, cancel, alert), on the caller's thread: the durable definitions persist it.</summary>
    internal event Action<string, JourneyState>? StateChanged;

    internal Instant LastScheduleCheck(string journeyId) => _journeys[journeyId].LastScheduleCheck;

    internal void SetLastScheduleCheck(string journeyId, Instant at) =>
        _journeys.AddOrUpdate(journeyId, _ => throw new KeyNotFoundException(journeyId), (_, e) => e with { LastScheduleCheck = at });

    private sealed record Entry(JourneyDefinition Definition, JourneyState State, Instant LastScheduleCheck);

    private sealed record Snapshot(long Version, IReadOnlyList<JourneyDefinition> Journeys);
}

/// <summary>Settings of the journey runner (section <c>Campaigns:Journeys</c> when bound).</summary>
public sealed class JourneyOptions
{
    /// <summary>Timers claimed per batch (default 200).</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>How long a claimed timer is held by this host before another may take it (default 30 s).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest the worker sleeps between look-ahead reads (default 1 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Messages whose step is overdue by more than this (e.g. after downtime) are skipped rather than sent late; null
    /// (default) sends every overdue message once, still through send windows and caps.
    /// </summary>
    public TimeSpan? SkipIfOlderThan { get; set; }

    /// <summary>The delay before a send that failed with a retryable error is tried again (default 5 min).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Send attempts per step before the journey moves on without the message (default 3).</summary>
    public int MaxSendAttempts { get; set; } = 3;

    /// <summary>How often a step whose sending task is paused (a delivery alert) is retried (default 1 min).</summary>
    public TimeSpan PausedRetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>At most this many steps of one run are executed per claim (default 100; a guard, loops need waits anyway).</summary>
    public int MaxStepsPerClaim { get; set; } = 100;

    /// <summary>
    /// Whether a delivery failure-rate alert on one of a journey's sending tasks (<c>journey/{journey}/{node}</c>, see
    /// <c>Campaigns:Delivery:Alert</c>) pauses the whole journey: no entries, no run advances, until
    /// <see cref="JourneyRunner.ResumeJourneyAsync"/> (default true).
    /// </summary>
    public bool PauseOnDeliveryAlert { get; set; } = true;

    /// <summary>
    /// How many runs of one claimed batch are advanced at the same time (default 1: one after the other, in due order).
    /// Runs of a batch are distinct, so any value is safe for the stores; above 1 the order of sends within a batch is
    /// not fixed and <see cref="IJourneyObserver"/>s are called concurrently. Set it to the host's core count when a
    /// large audience enters at once (see docs/benchmarks.md).
    /// </summary>
    public int MaxParallelism { get; set; } = 1;
}

/// <summary>Validates <see cref="JourneyOptions"/> when the host starts (and when the options are first read), naming each bad key.</summary>
internal sealed class JourneyOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<JourneyOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, JourneyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        void AtLeastOne(string key, int value)
        {
            if (value < 1)
            {
                errors.Add($"Campaigns:Journeys:{key}: {value} is not 1 or more.");
            }
        }

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"Campaigns:Journeys:{key}: {value} is not positive.");
            }
        }

        AtLeastOne(nameof(options.BatchSize), options.BatchSize);
        Positive(nameof(options.Lease), options.Lease);
        Positive(nameof(options.PollInterval), options.PollInterval);
        if (options.SkipIfOlderThan is { } skip && skip <= TimeSpan.Zero)
        {
            errors.Add($"Campaigns:Journeys:SkipIfOlderThan: {skip} is not positive; leave it empty to run every overdue step.");
        }

        if (options.RetryDelay < TimeSpan.Zero)
        {
            errors.Add($"Campaigns:Journeys:RetryDelay: {options.RetryDelay} is negative.");
        }

        AtLeastOne(nameof(options.MaxSendAttempts), options.MaxSendAttempts);
        Positive(nameof(options.PausedRetryInterval), options.PausedRetryInterval);
        AtLeastOne(nameof(options.MaxStepsPerClaim), options.MaxStepsPerClaim);
        if (options.MaxParallelism < 1)
        {
            errors.Add($"Campaigns:Journeys:MaxParallelism: {options.MaxParallelism} is not 1 or more (1 advances the runs of a batch one after the other).");
        }

        return errors.Count == 0 ? Microsoft.Extensions.Options.ValidateOptionsResult.Success : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>A change of a journey's state (paused by an alert, resumed), as told to <see cref="IJourneyObserver"/>s.</summary>
/// <param name="At">When (UTC instant).</param>
/// <param name="JourneyId">The journey.</param>
/// <param name="State">The new state.</param>
/// <param name="Reason">Why, in a sentence (e.g. the alert's failure rate and threshold).</param>
public sealed record JourneyStateChange(Instant At, string JourneyId, JourneyState State, string Reason)
{
    /// <summary>The delivery alert that paused the journey, when one did.</summary>
    public Campaigns.Delivery.DeliveryAlert? Alert { get; init; }
}

/// <summary>
/// Pauses a journey when the delivery pipeline raises a failure-rate alert on one of its sending tasks
/// (<see cref="JourneyOptions.PauseOnDeliveryAlert"/>). Registered by <c>AddCampaigns</c>. Thread-safe.
/// </summary>
internal sealed class JourneyAlertObserver(JourneyCatalog catalog, IEnumerable<IJourneyObserver> observers, Microsoft.Extensions.Options.IOptions<JourneyOptions> options) : Campaigns.Delivery.IDeliveryAlertObserver
{
    private readonly IJourneyObserver[] _observers = [.. observers];

    public async ValueTask OnAlertAsync(Campaigns.Delivery.DeliveryAlert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        const string Prefix = "journey/";
        var slash = alert.TaskId.LastIndexOf('/');
        if (!options.Value.PauseOnDeliveryAlert || !alert.TaskId.StartsWith(Prefix, StringComparison.Ordinal) || slash <= Prefix.Length)
        {
            return;
        }

        var journeyId = alert.TaskId[Prefix.Length..slash];
        if (catalog.GetState(journeyId) != JourneyState.Active)
        {
            return;
        }

        catalog.SetState(journeyId, JourneyState.Paused);
        var reason = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"paused by a delivery alert on {alert.TaskId}: failure rate {alert.FailureRate:P1} above {alert.Threshold:P1} ({alert.Record.Failed} failed of {alert.Record.Sent + alert.Record.Failed})");
        var change = new JourneyStateChange(alert.At, journeyId, JourneyState.Paused, reason) { Alert = alert };
        foreach (var observer in _observers)
        {
            await observer.OnJourneyStateChangedAsync(change, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>What happened at one step of a run.</summary>
public enum JourneyStepKind
{
    /// <summary>The contact entered.</summary>
    Entered = 0,

    /// <summary>A message was sent (or had been: a replay).</summary>
    Sent = 1,

    /// <summary>A message waits for the contact's send window.</summary>
    Deferred = 2,

    /// <summary>The gate refused a message (consent, do-not-contact, cap, address); the journey went on.</summary>
    Suppressed = 3,

    /// <summary>A message failed (after retries, or will be retried); see the detail.</summary>
    Failed = 4,

    /// <summary>An overdue message was skipped (<see cref="JourneyOptions.SkipIfOlderThan"/>).</summary>
    Skipped = 5,

    /// <summary>An action (tag, score, owner, attribute) was applied.</summary>
    Action = 6,

    /// <summary>The run waits (until <see cref="JourneyStep.DueAt"/>, or an event).</summary>
    Waiting = 7,

    /// <summary>A condition or split chose a branch.</summary>
    Branched = 8,

    /// <summary>The run exited early.</summary>
    Exited = 9,

    /// <summary>The run reached the end.</summary>
    Completed = 10,

    /// <summary>The run was cancelled.</summary>
    Cancelled = 11,

    /// <summary>The run was paused or resumed by an operator.</summary>
    Paused = 12,

    /// <summary>A message's outcome is unknown (<see cref="Delivery.DeliveryStatus.Unknown"/>: in doubt after a crash, at-most-once channel): sent once or not at all; counted as a touch; the journey went on.</summary>
    Unknown = 13,
}

/// <summary>One step of one run, as told to <see cref="IJourneyObserver"/>s and returned by the dry run.</summary>
/// <param name="At">When (the runner's clock, UTC instant).</param>
/// <param name="JourneyId">The journey.</param>
/// <param name="ContactId">The contact.</param>
/// <param name="RunNumber">The run number.</param>
/// <param name="NodeId">The node, or null (entry, exits before a node).</param>
/// <param name="Kind">What happened.</param>
/// <param name="Detail">Why, in a sentence (the gate's reason for a deferral, the branch taken, ...).</param>
public sealed record JourneyStep(Instant At, string JourneyId, ContactId ContactId, int RunNumber, string? NodeId, JourneyStepKind Kind, string Detail)
{
    /// <summary>For messages: the channel.</summary>
    public string? Channel { get; init; }

    /// <summary>For deferrals and waits: when the run continues.</summary>
    public Instant? DueAt { get; init; }

    /// <summary>For messages: the idempotency key.</summary>
    public string? IdempotencyKey { get; init; }
}

/// <summary>Told about every step of every run (for logs, analytics, timelines). Must be thread-safe and quick.</summary>
public interface IJourneyObserver
{
    /// <summary>A step happened (after it was committed, or, for a message, after the pipeline answered).</summary>
    /// <param name="journeyStep">The step.</param>
    /// <param name="cancellationToken">Cancels.</param>
    ValueTask OnStepAsync(JourneyStep journeyStep, CancellationToken cancellationToken);

    /// <summary>A journey was paused by a delivery alert or resumed (<see cref="JourneyRunner.ResumeJourneyAsync"/>). The default does nothing.</summary>
    /// <param name="change">The change.</param>
    /// <param name="cancellationToken">Cancels.</param>
    ValueTask OnJourneyStateChangedAsync(JourneyStateChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
