using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>
/// Executes journeys (F-6.5): enters contacts, claims due timers in batches and advances each run one committed step
/// at a time. Every step is a write of the run and its next timer guarded by the run's version, so of two hosts racing
/// on one run exactly one advances it; messages go through <see cref="IDeliveryPipeline"/> with the key
/// <c>journey/{journey}/{contact}/{run}/{node}/{step}</c>, so a step executed twice (a crash between the send and the
/// commit) sends once. Thread-safe; any number of runners may share one store.
/// </summary>
public sealed class JourneyRunner
{
    private readonly JourneyCatalog _catalog;
    private readonly IJourneyRunStore _store;
    private readonly IContactReadingJourneyRunStore? _runsWithContacts; // reads a due run and its contact in one round trip, when it covers the registered contact store
    private readonly IReadAheadJourneyRunStore? _readAhead; // with _runsWithContacts, at MaxParallelism 1 and no observers: a run's update and the next run's read in one round trip
    private readonly IBookkeepingJourneyRunStore? _bookkeepingRuns; // with _readAhead, when it covers the pipeline's bookkeeping: a send's bookkeeping and the run's update in one round trip
    private readonly DeliveryPipeline? _holdingPipeline; // the pipeline that hands a send's bookkeeping to _bookkeepingRuns
    private readonly IDeliveryPipeline _pipeline;
    private readonly IContactStore _contacts;
    private readonly IContactService _contactService;
    private readonly IEventStore _events;
    private readonly IJourneyTemplateResolver _templates;
    private readonly IClock _clock;
    private readonly IJourneyObserver[] _observers;
    private readonly JourneyOptions _options;
    private readonly DateTimeZone _defaultZone;
    private readonly FilterEvaluator _evaluator;
    private readonly ILogger _logger;
    private readonly IExecutionRecords _records;
    private readonly IContactEvents _contactEvents;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Journey, string Node), string> _taskIds = new();

    /// <summary>Creates a runner (usually resolved from DI).</summary>
    /// <param name="catalog">The published journeys.</param>
    /// <param name="store">Runs and timers.</param>
    /// <param name="pipeline">The delivery pipeline for messages.</param>
    /// <param name="contacts">Contacts (read).</param>
    /// <param name="contactService">Contacts (actions: tags, score, owner, attributes).</param>
    /// <param name="events">Behaviour events (goals, wait-for-event, conditions).</param>
    /// <param name="templates">Message templates by id.</param>
    /// <param name="clock">The clock.</param>
    /// <param name="observers">Told about every step.</param>
    /// <param name="options">Runner settings.</param>
    /// <param name="campaignsOptions">The SDK options (the default time zone).</param>
    /// <param name="records">The delivery execution records (resuming a journey resumes its paused sending tasks).</param>
    /// <param name="contactEvents">Event ingestion (score changes are ingested as idempotent adjustment events).</param>
    /// <param name="logger">A logger, or null.</param>
    public JourneyRunner(
        JourneyCatalog catalog,
        IJourneyRunStore store,
        IDeliveryPipeline pipeline,
        IContactStore contacts,
        IContactService contactService,
        IEventStore events,
        IJourneyTemplateResolver templates,
        IClock clock,
        IEnumerable<IJourneyObserver> observers,
        IOptions<JourneyOptions> options,
        IOptions<CampaignsOptions> campaignsOptions,
        IExecutionRecords records,
        IContactEvents contactEvents,
        ILogger<JourneyRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(campaignsOptions);
        _catalog = catalog;
        _store = store;
        _pipeline = pipeline;
        _contacts = contacts;
        _contactService = contactService;
        _events = events;
        _templates = templates;
        _clock = clock;
        _observers = [.. observers];
        _options = options.Value;
        if (_options.MaxParallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxParallelism, "Campaigns:Journeys:MaxParallelism must be 1 or more (1 advances the runs of a batch one after the other).");
        }

        _defaultZone = LocalTimeResolution.GetZone(campaignsOptions.Value.DefaultTimeZone, "Campaigns:DefaultTimeZone");
        _evaluator = new FilterEvaluator(_defaultZone);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _records = records;
        _contactEvents = contactEvents;
        _runsWithContacts = store is IContactReadingJourneyRunStore merged && merged.ReadsContactsOf(contacts) ? merged : null;

        // Only where the next run would be read right after the update anyway: steps one after the other, and no observer
        // told about the step in between (an observer could change the next run or its contact before its read).
        _readAhead = _runsWithContacts is IReadAheadJourneyRunStore ahead && _options.MaxParallelism == 1 && _observers.Length == 0 ? ahead : null;
        if (_readAhead is IBookkeepingJourneyRunStore bookkeepingRuns && pipeline is DeliveryPipeline holding && holding.Bookkeeping is { } bookkeeping && bookkeepingRuns.WritesBookkeepingOf(bookkeeping))
        {
            _bookkeepingRuns = bookkeepingRuns;
            _holdingPipeline = holding;
        }
    }

    /// <summary>The published journeys this runner executes.</summary>
    public JourneyCatalog Catalog => _catalog;

    /// <summary>
    /// Enters a contact into a journey (API triggers; also used by the other triggers). The first step is due at once
    /// and runs at the next <see cref="RunDueAsync"/>. Refused (null) when the journey is not active, the contact has
    /// an active run, or the re-entry policy forbids another run.
    /// </summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The new run, or null when the contact did not enter.</returns>
    public async ValueTask<JourneyRun?> EnterAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        if (_catalog.Find(journeyId) is not { } journey || _catalog.GetState(journeyId) != JourneyState.Active)
        {
            return null;
        }

        return (await EnterCoreAsync(journey, contactId, needRun: true, cancellationToken).ConfigureAwait(false)).Run;
    }

    /// <summary>
    /// Enters a contact into an active journey already looked up (the batch entry resolves the journey once per call).
    /// When the caller only counts (<paramref name="needRun"/> false) and the store is the in-memory one, the run is
    /// written field by field (<see cref="InMemoryJourneyRunStore.TryStart"/>): no <see cref="JourneyRun"/> is built.
    /// </summary>
    private async ValueTask<(bool Started, JourneyRun? Run)> EnterCoreAsync(JourneyDefinition journey, ContactId contactId, bool needRun, CancellationToken cancellationToken)
    {
        var journeyId = journey.Id;
        var now = _clock.GetCurrentInstant();
        var latest = await _store.GetLatestAsync(journeyId, contactId, cancellationToken).ConfigureAwait(false);
        if (latest is not null)
        {
            if (!latest.IsEnded || !journey.ReEntry.Allowed || (journey.ReEntry.Cooldown is { } cooldown && latest.EndedAt + cooldown > now))
            {
                return (false, null);
            }
        }

        if (journey.Exit.EndsAt is { } ends && now >= ends)
        {
            return (false, null);
        }

        var contact = await _contacts.ReadAsync(contactId, cancellationToken).ConfigureAwait(false);
        if (contact is null)
        {
            return (false, null);
        }

        var (due, waitingFor) = DueAtNode(journey, journey.StartNodeId, contact, now);
        var runNumber = (latest?.RunNumber ?? 0) + 1;
        if (!needRun && _store is InMemoryJourneyRunStore memory)
        {
            if (!memory.TryStart(journeyId, contactId, runNumber, journey.StartNodeId, now, due, waitingFor))
            {
                return (false, null);
            }

            if (_observers.Length > 0)
            {
                await NotifyAsync(new JourneyStep(now, journeyId, contactId, runNumber, null, JourneyStepKind.Entered, $"entered by {journey.Trigger.GetType().Name}"), cancellationToken).ConfigureAwait(false);
            }

            return (true, null);
        }

        // The run at its start node (step 0), built once: at version 1 already, so the store keeps this instance.
        var run = new JourneyRun
        {
            JourneyId = journey.Id,
            ContactId = contactId,
            RunNumber = runNumber,
            EnteredAt = now,
            NodeId = journey.StartNodeId,
            Step = 0,
            NodeEnteredAt = now,
            DueAt = due,
            WaitingForEvent = waitingFor,
            Version = 1,
        };
        var stored = await _store.TryCreateAsync(run, cancellationToken).ConfigureAwait(false);
        if (stored is not null && _observers.Length > 0)
        {
            await NotifyAsync(new JourneyStep(now, journeyId, contactId, stored.RunNumber, null, JourneyStepKind.Entered, $"entered by {journey.Trigger.GetType().Name}"), cancellationToken).ConfigureAwait(false);
        }

        return (stored is not null, stored);
    }

    /// <summary>The segment engine (or host) reports contacts that entered a segment: they enter every active journey triggered by it.</summary>
    /// <param name="segmentId">The segment.</param>
    /// <param name="contactIds">The contacts that entered it.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many runs were started.</returns>
    public async ValueTask<int> OnSegmentEnteredAsync(string segmentId, IEnumerable<ContactId> contactIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contactIds);
        var journeys = _catalog.Journeys.Where(j => j.Trigger is SegmentEntryTrigger s && string.Equals(s.SegmentId, segmentId, StringComparison.Ordinal)).ToList();
        var started = 0;
        foreach (var contactId in contactIds)
        {
            foreach (var journey in journeys)
            {
                // The state is read per contact (a journey paused mid-batch stops taking contacts), the definition once.
                if (_catalog.GetState(journey.Id) == JourneyState.Active
                    && (await EnterCoreAsync(journey, contactId, needRun: false, cancellationToken).ConfigureAwait(false)).Started)
                {
                    started++;
                }
            }
        }

        return started;
    }

    /// <summary>
    /// A behaviour event arrived (see <see cref="JourneyEventListener"/>): enters the contact into event-triggered
    /// journeys, and wakes its runs that wait for this kind or have it as their goal, so they move on at the next
    /// <see cref="RunDueAsync"/>.
    /// </summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="cancellationToken">Cancels.</param>
    public async ValueTask OnEventAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        var now = _clock.GetCurrentInstant();
        foreach (var journey in _catalog.Journeys)
        {
            var run = await _store.GetLatestAsync(journey.Id, behaviourEvent.ContactId, cancellationToken).ConfigureAwait(false);
            if (run is { IsEnded: false } && string.Equals(journey.Exit.GoalEventKind, behaviourEvent.Kind, StringComparison.Ordinal)
                && behaviourEvent.OccurredAt >= run.EnteredAt)
            {
                var reason = $"goal:{behaviourEvent.Kind}";
                if (await _store.TryUpdateAsync(End(run, JourneyRunStatus.Exited, reason, now), run.Version, cancellationToken).ConfigureAwait(false) is { } exited)
                {
                    await NotifyAsync(new JourneyStep(now, journey.Id, exited.ContactId, exited.RunNumber, run.NodeId, JourneyStepKind.Exited, reason), cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (run is { Status: JourneyRunStatus.Active } && run.DueAt > now
                && string.Equals(run.WaitingForEvent, behaviourEvent.Kind, StringComparison.Ordinal))
            {
                await _store.TryUpdateAsync(run with { DueAt = now }, run.Version, cancellationToken).ConfigureAwait(false);
            }

            if (journey.Trigger is EventTrigger trigger && string.Equals(trigger.EventKind, behaviourEvent.Kind, StringComparison.Ordinal)
                && (run is null || run.IsEnded))
            {
                if (trigger.Where is { } where)
                {
                    var contact = await _contacts.ReadAsync(behaviourEvent.ContactId, cancellationToken).ConfigureAwait(false);
                    if (contact is null || !_evaluator.Matches(where, contact, await EventsAsync(contact.Id, null, cancellationToken).ConfigureAwait(false), now))
                    {
                        continue;
                    }
                }

                await EnterAsync(journey.Id, behaviourEvent.ContactId, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Claims up to <paramref name="batchSize"/> timers due at <paramref name="now"/> and executes their runs until
    /// each waits, ends, or is deferred; also enters the audiences of schedule triggers whose occurrence has come
    /// (several missed occurrences fire once). Overdue timers (after downtime) fire once, still through the send
    /// windows and caps of the pipeline, or are skipped per <see cref="JourneyOptions.SkipIfOlderThan"/>.
    /// </summary>
    /// <param name="now">The current instant (usually the clock's).</param>
    /// <param name="batchSize">At most this many timers (1 or more).</param>
    /// <param name="cancellationToken">Cancels between runs; a run interrupted mid-step is retried after its lease.</param>
    /// <returns>How many timers were claimed (fewer than <paramref name="batchSize"/> means none is left due).</returns>
    public async ValueTask<int> RunDueAsync(Instant now, int batchSize, CancellationToken cancellationToken = default)
    {
        await RunSchedulesAsync(now, cancellationToken).ConfigureAwait(false);
        var timers = await _store.ClaimDueAsync(now, batchSize, Duration.FromTimeSpan(_options.Lease), _catalog.PausedIds, cancellationToken).ConfigureAwait(false);
        if (_options.MaxParallelism > 1 && timers.Count > 1)
        {
            // min(P, count) workers take the next timer of the batch by index (one interlocked increment per step, no
            // enumerator lock or per-item delegate as with Parallel.ForEachAsync); each worker advances its runs one after
            // the other, so a synchronous store and pipeline run a step without any task switch.
            var workers = new Task[Math.Min(_options.MaxParallelism, timers.Count)];
            var cursor = new BatchCursor(timers);
            for (var w = 0; w < workers.Length; w++)
            {
                workers[w] = Task.Run(() => DrainAsync(cursor, now, cancellationToken), cancellationToken);
            }

            await Task.WhenAll(workers).ConfigureAwait(false);
            return timers.Count;
        }

        // One after the other. With a read-ahead store, the update that ends a run's turn also reads the next timer's run
        // and contact (the read it would make next anyway), so a step costs one round trip less.
        // With a bookkeeping store, a step's completed send is counted and recorded in the same round trip as the update.
        JourneyRunWithContact? ahead = null;
        var held = _bookkeepingRuns is null ? null : new HeldSend();
        for (var i = 0; i < timers.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var nextTimer = _readAhead is not null && i + 1 < timers.Count ? timers[i + 1] : (JourneyTimer?)null;
            ahead = await ProcessGuardedAsync(timers[i], ahead, nextTimer, held, now, cancellationToken).ConfigureAwait(false);
        }

        return timers.Count;
    }

    /// <summary>One worker of a parallel batch: advances the runs of the timers it takes from the cursor until none is left.</summary>
    private async Task DrainAsync(BatchCursor cursor, Instant now, CancellationToken cancellationToken)
    {
        while (cursor.TryTake(out var timer))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await ProcessGuardedAsync(timer, null, null, null, now, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A send's bookkeeping on its way from the pipeline to the run's update (one per serial batch; not thread-safe).</summary>
    private sealed class HeldSend
    {
        public SendBookkeeping? Value { get; set; }
    }

    /// <summary>The shared position in a claimed batch: each timer is taken by exactly one worker. Thread-safe.</summary>
    private sealed class BatchCursor(IReadOnlyList<JourneyTimer> timers)
    {
        private int _next = -1;

        public bool TryTake(out JourneyTimer timer)
        {
            var i = Interlocked.Increment(ref _next);
            if (i < timers.Count)
            {
                timer = timers[i];
                return true;
            }

            timer = default;
            return false;
        }
    }

    /// <summary>Advances one timer's run; never throws but for cancellation.</summary>
    /// <param name="timer">The claimed timer.</param>
    /// <param name="read">Its run and contact when already read (with the previous run's update), or null to read them.</param>
    /// <param name="nextTimer">The batch's next timer, whose run and contact to read with this run's final update; null for none.</param>
    /// <param name="held">Where a send hands its bookkeeping to the run's update, or null to let the pipeline write it.</param>
    /// <param name="now">The batch's instant.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The next timer's run and contact when they were read, else null.</returns>
    private async ValueTask<JourneyRunWithContact?> ProcessGuardedAsync(JourneyTimer timer, JourneyRunWithContact? read, JourneyTimer? nextTimer, HeldSend? held, Instant now, CancellationToken cancellationToken)
    {
        try
        {
            return await ProcessAsync(timer, read, nextTimer, held, now, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The lease expires and another claim retries the step (idempotent through its key).
            _logger.LogError(ex, "Journey {JourneyId}: the step of contact {ContactId} failed; it is retried after the lease.", timer.JourneyId, timer.ContactId);
            return null;
        }
    }

    /// <summary>Pauses a journey: no one enters and its timers stay put (they fire, late, after <see cref="ResumeJourney"/>).</summary>
    /// <param name="journeyId">The journey.</param>
    /// <exception cref="KeyNotFoundException">It is not published.</exception>
    public void PauseJourney(string journeyId) => _catalog.SetState(journeyId, JourneyState.Paused);

    /// <summary>Resumes a paused journey.</summary>
    /// <param name="journeyId">The journey.</param>
    /// <exception cref="KeyNotFoundException">It is not published.</exception>
    public void ResumeJourney(string journeyId) => _catalog.SetState(journeyId, JourneyState.Active);

    /// <summary>
    /// Resumes a paused journey (e.g. one paused by a delivery alert, see <see cref="JourneyOptions.PauseOnDeliveryAlert"/>)
    /// and the delivery tasks of its message nodes (<c>journey/{journey}/{node}</c>): a task that was paused or alerted
    /// restarts its counts (<see cref="IExecutionRecords.StartAsync"/>), so its alert is re-armed and measures what is
    /// sent from now on. Observers are
    /// told through <see cref="IJourneyObserver.OnJourneyStateChangedAsync"/>. Timers that came due meanwhile fire once.
    /// </summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="reason">Why, for observers (e.g. <c>provider fixed</c>).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <exception cref="KeyNotFoundException">It is not published.</exception>
    public async ValueTask ResumeJourneyAsync(string journeyId, string reason = "resumed", CancellationToken cancellationToken = default)
    {
        var journey = _catalog.Find(journeyId) ?? throw new KeyNotFoundException($"The journey '{journeyId}' is not published.");
        foreach (var node in journey.Nodes.OfType<JourneyMessageNode>())
        {
            var taskId = $"journey/{journeyId}/{node.Id}";
            if (await _records.GetAsync(taskId, cancellationToken).ConfigureAwait(false) is { } record && (record.IsPaused || record.AlertRaisedAt is not null))
            {
                // Restart the task's counts: the alert then measures the fixed provider, not the failures that paused it.
                await _records.StartAsync(taskId, record.TargetCount, _clock.GetCurrentInstant(), cancellationToken).ConfigureAwait(false);
            }
        }

        _catalog.SetState(journeyId, JourneyState.Active);
        var change = new JourneyStateChange(_clock.GetCurrentInstant(), journeyId, JourneyState.Active, reason);
        foreach (var observer in _observers)
        {
            await observer.OnJourneyStateChangedAsync(change, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Cancels a journey and every run of it that has not ended.</summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many runs were cancelled.</returns>
    /// <exception cref="KeyNotFoundException">It is not published.</exception>
    public async ValueTask<int> CancelJourneyAsync(string journeyId, CancellationToken cancellationToken = default)
    {
        _catalog.SetState(journeyId, JourneyState.Cancelled);
        var cancelled = 0;
        await foreach (var run in _store.ListAsync(journeyId, cancellationToken).ConfigureAwait(false))
        {
            if (await CancelRunAsync(journeyId, run.ContactId, cancellationToken).ConfigureAwait(false))
            {
                cancelled++;
            }
        }

        return cancelled;
    }

    /// <summary>Pauses one contact's run: its timer is removed (its due instant kept) until <see cref="ResumeRunAsync"/>.</summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether an active run was paused.</returns>
    public ValueTask<bool> PauseRunAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) =>
        ChangeRunAsync(journeyId, contactId, r => r.Status == JourneyRunStatus.Active, r => r with { Status = JourneyRunStatus.Paused }, JourneyStepKind.Paused, "paused", cancellationToken);

    /// <summary>Resumes a paused run: its timer is restored (due at once when its instant has passed).</summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether a paused run was resumed.</returns>
    public ValueTask<bool> ResumeRunAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) =>
        ChangeRunAsync(journeyId, contactId, r => r.Status == JourneyRunStatus.Paused, r => r with { Status = JourneyRunStatus.Active }, JourneyStepKind.Paused, "resumed", cancellationToken);

    /// <summary>Cancels one contact's run (active or paused).</summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether a run was cancelled.</returns>
    public ValueTask<bool> CancelRunAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        var now = _clock.GetCurrentInstant();
        return ChangeRunAsync(journeyId, contactId, r => !r.IsEnded, r => End(r, JourneyRunStatus.Cancelled, "cancelled", now), JourneyStepKind.Cancelled, "cancelled", cancellationToken);
    }

    private async ValueTask<bool> ChangeRunAsync(string journeyId, ContactId contactId, Func<JourneyRun, bool> applies, Func<JourneyRun, JourneyRun> change, JourneyStepKind kind, string detail, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var run = await _store.GetLatestAsync(journeyId, contactId, cancellationToken).ConfigureAwait(false);
            if (run is null || !applies(run))
            {
                return false;
            }

            if (await _store.TryUpdateAsync(change(run), run.Version, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                await NotifyAsync(new JourneyStep(_clock.GetCurrentInstant(), journeyId, contactId, stored.RunNumber, stored.NodeId ?? run.NodeId, kind, detail), cancellationToken).ConfigureAwait(false);
                return true;
            }
        }

        throw new ConcurrencyException("journey run", $"{journeyId}/{contactId}", 0, null);
    }

    private async ValueTask RunSchedulesAsync(Instant now, CancellationToken cancellationToken)
    {
        foreach (var journey in _catalog.Journeys)
        {
            if (journey.Trigger is not ScheduleTrigger trigger || _catalog.GetState(journey.Id) != JourneyState.Active)
            {
                continue;
            }

            var context = new ScheduleContext { TimeZoneId = journey.TimeZoneId ?? _defaultZone.Id };
            var last = _catalog.LastScheduleCheck(journey.Id);
            Instant? occurrence = null;
            for (var next = ScheduleResolver.Resolve(trigger.Schedule, context, last); next is { } n && n <= now; next = ScheduleResolver.Resolve(trigger.Schedule, context, n))
            {
                occurrence = n;
                if (trigger.Schedule is AbsoluteSchedule)
                {
                    break;
                }
            }

            if (occurrence is not { } fired)
            {
                continue;
            }

            _catalog.SetLastScheduleCheck(journey.Id, fired);
            await foreach (var contact in _contacts.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                if (trigger.Audience is null || _evaluator.Matches(trigger.Audience, contact, await EventsAsync(contact.Id, null, cancellationToken).ConfigureAwait(false), now))
                {
                    await EnterAsync(journey.Id, contact.Id, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async ValueTask<JourneyRunWithContact?> ProcessAsync(JourneyTimer timer, JourneyRunWithContact? read, JourneyTimer? nextTimer, HeldSend? held, Instant now, CancellationToken cancellationToken)
    {
        held?.Value = null; // a step that failed before its update left nothing for this one
        JourneyRun? run;
        Contact? contact = null;
        if (read is { } known)
        {
            (run, contact) = known; // read with the previous run's update, at the point of the flow where it would be read now
        }
        else if (_runsWithContacts is not null)
        {
            (run, contact) = await _runsWithContacts.GetLatestWithContactAsync(timer.JourneyId, timer.ContactId, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            run = await _store.GetLatestAsync(timer.JourneyId, timer.ContactId, cancellationToken).ConfigureAwait(false);
        }

        if (run is null || run.RunNumber != timer.RunNumber || run.Version != timer.RunVersion || run.Status != JourneyRunStatus.Active)
        {
            return null; // Stale: the run moved on since the timer was written.
        }

        var journey = _catalog.Find(run.JourneyId);
        if (_runsWithContacts is null)
        {
            contact = await _contacts.ReadAsync(run.ContactId, cancellationToken).ConfigureAwait(false);
        }

        JourneyRunWithContact? nextRead = null;
        for (var steps = 0; steps < _options.MaxStepsPerClaim; steps++)
        {
            var state = journey is null ? null : _catalog.GetState(journey.Id);
            if (state == JourneyState.Paused)
            {
                return null; // Paused meanwhile (e.g. by a delivery alert): the run stays where it is, its timer fires after resuming.
            }

            var (next, step) = journey is null || state == JourneyState.Cancelled
                ? (End(run, JourneyRunStatus.Cancelled, "the journey is cancelled or no longer published", now), null)
                : contact is null
                    ? (End(run, JourneyRunStatus.Exited, "the contact no longer exists", now), null)
                    : await ExitCheckAsync(journey, run, contact, now, cancellationToken).ConfigureAwait(false) is { } exit
                        ? (End(run, JourneyRunStatus.Exited, exit, now), null)
                        : await ExecuteAsync(journey, run, contact, now, timer.DueAt, held, cancellationToken).ConfigureAwait(false);

            // The run's turn ends with this update unless the run is due again at once (and steps are left): then, with a
            // read-ahead store, the next timer's run and contact are read in the update's round trip.
            // (The same conditions as the returns below; should a store answer differently, the loop goes on and the
            // read is dropped, never used late.)
            JourneyRun? stored;
            var endsTurn = next.IsEnded || next.DueAt > now || steps + 1 >= _options.MaxStepsPerClaim;
            if (held?.Value is { } bookkeeping)
            {
                // The send's bookkeeping (committed first, on its own), the update (only if the bookkeeping committed) and,
                // at the turn's end, the next run's read: one round trip. Then what the pipeline does after its own write.
                // Not cancellable: the message is sent, and a host shutting down still records it (else it is in doubt).
                held.Value = null;
                var readNext = endsTurn && nextTimer is not null;
                var written = await _bookkeepingRuns!.TryUpdateWithBookkeepingAsync(bookkeeping, next, run.Version, readNext ? nextTimer!.Value.JourneyId : null, readNext ? nextTimer!.Value.ContactId : default, CancellationToken.None).ConfigureAwait(false);
                await _holdingPipeline!.CompleteHeldAsync(bookkeeping, written.Record, cancellationToken).ConfigureAwait(false);
                if (written.UpdateError is { } error)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
                }

                stored = written.Stored;
                nextRead = readNext ? written.Next : null;
            }
            else if (nextTimer is { } upcoming && _readAhead is not null && endsTurn)
            {
                (stored, nextRead) = await _readAhead.TryUpdateAndReadNextAsync(next, run.Version, upcoming.JourneyId, upcoming.ContactId, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                nextRead = null;
                stored = await _store.TryUpdateAsync(next, run.Version, cancellationToken).ConfigureAwait(false);
            }

            if (stored is null)
            {
                return nextRead; // Another host advanced the run first; its result stands.
            }

            if (step is not null)
            {
                await NotifyAsync(step, cancellationToken).ConfigureAwait(false);
            }

            if (stored.IsEnded)
            {
                if (_observers.Length == 0)
                {
                    return nextRead;
                }

                await NotifyAsync(new JourneyStep(now, stored.JourneyId, stored.ContactId, stored.RunNumber, run.NodeId, stored.Status switch
                {
                    JourneyRunStatus.Completed => JourneyStepKind.Completed,
                    JourneyRunStatus.Cancelled => JourneyStepKind.Cancelled,
                    _ => JourneyStepKind.Exited,
                }, stored.EndReason ?? string.Empty), cancellationToken).ConfigureAwait(false);
                return nextRead;
            }

            if (stored.DueAt > now)
            {
                if (_observers.Length > 0 && step?.Kind is not JourneyStepKind.Deferred and not JourneyStepKind.Failed)
                {
                    await NotifyAsync(new JourneyStep(now, stored.JourneyId, stored.ContactId, stored.RunNumber, stored.NodeId, JourneyStepKind.Waiting, stored.WaitingForEvent is { } kind ? $"waiting for '{kind}' until {stored.DueAt}" : $"waiting until {stored.DueAt}") { DueAt = stored.DueAt }, cancellationToken).ConfigureAwait(false);
                }

                return nextRead;
            }

            run = stored;
        }

        return nextRead; // the steps allowed per claim are used up; the run's timer fires again at the next claim
    }

    private async ValueTask<string?> ExitCheckAsync(JourneyDefinition journey, JourneyRun run, Contact contact, Instant now, CancellationToken cancellationToken)
    {
        var exit = journey.Exit;
        if (exit.EndsAt is { } ends && now >= ends)
        {
            return $"the journey ended at {ends}";
        }

        if (exit.MaxTouches is { } max && run.Touches >= max)
        {
            return $"max touches ({max})";
        }

        if (exit.GoalEventKind is { } goal)
        {
            await foreach (var e in _events.ListAsync(contact.Id, run.EnteredAt, now + Duration.Epsilon, cancellationToken).ConfigureAwait(false))
            {
                if (string.Equals(e.Kind, goal, StringComparison.Ordinal))
                {
                    return $"goal:{goal}";
                }
            }
        }

        return null;
    }

    private async ValueTask<(JourneyRun Next, JourneyStep? Step)> ExecuteAsync(JourneyDefinition journey, JourneyRun run, Contact contact, Instant now, Instant lateSince, HeldSend? held, CancellationToken cancellationToken)
    {
        if (run.NodeId is null || journey.FindNode(run.NodeId) is not { } node)
        {
            return (End(run, JourneyRunStatus.Cancelled, $"the node '{run.NodeId}' no longer exists", now), null);
        }

        switch (node)
        {
            case JourneyMessageNode message:
                return await SendAsync(journey, run, contact, message, now, lateSince, held, cancellationToken).ConfigureAwait(false);
            case WaitNode or WaitUntilNode:
                return (Arrive(journey, run, ((JourneyActionNode)node).Next, contact, now), null);
            case WaitForEventNode wait:
                var arrived = await HasEventAsync(contact.Id, wait.EventKind, run.NodeEnteredAt, now, cancellationToken).ConfigureAwait(false);
                return (Arrive(journey, run, arrived ? wait.OnEvent : wait.OnTimeout, contact, now), BranchStep(now, run, JourneyStepKind.Branched, arrived ? $"'{wait.EventKind}' arrived → {wait.OnEvent}" : $"no '{wait.EventKind}' before the timeout → {wait.OnTimeout}"));
            case ConditionNode condition:
                var events = await EventsAsync(contact.Id, null, cancellationToken).ConfigureAwait(false);
                var matches = _evaluator.Matches(condition.Condition, contact, events, now);
                return (Arrive(journey, run, matches ? condition.Then : condition.Else, contact, now), BranchStep(now, run, JourneyStepKind.Branched, matches ? $"condition true → {condition.Then}" : $"condition false → {condition.Else}"));
            case SplitNode split:
                var arm = JourneySplit.Choose(journey.Id, split, contact.Id);
                return arm.Holdout
                    ? (End(run, JourneyRunStatus.Exited, $"holdout ({arm.Name})", now), BranchStep(now, run, JourneyStepKind.Branched, $"arm '{arm.Name}' (holdout)"))
                    : (Arrive(journey, run, arm.Next, contact, now), BranchStep(now, run, JourneyStepKind.Branched, $"arm '{arm.Name}' → {arm.Next}"));
            case ExitNode exit:
                return (End(run, JourneyRunStatus.Exited, exit.Reason, now), null);
            case JourneyActionNode action:
                var detail = await ApplyActionAsync(journey, run, contact, action, now, cancellationToken).ConfigureAwait(false);
                return (Arrive(journey, run, action.Next, contact, now), BranchStep(now, run, JourneyStepKind.Action, detail));
            default:
                return (End(run, JourneyRunStatus.Cancelled, $"the node '{node.Id}' has an unknown type", now), null);
        }
    }

    private async ValueTask<(JourneyRun Next, JourneyStep? Step)> SendAsync(JourneyDefinition journey, JourneyRun run, Contact contact, JourneyMessageNode node, Instant now, Instant lateSince, HeldSend? held, CancellationToken cancellationToken)
    {
        var key = StepKey(run, node.Id);
        var observed = _observers.Length > 0; // without observers the steps of the hot path are not built
        if (_options.SkipIfOlderThan is { } skip && now - lateSince > Duration.FromTimeSpan(skip))
        {
            return (Advance(journey, run, node, contact, now, sent: false), SendStep(now, run, node, key, JourneyStepKind.Skipped, $"overdue since {lateSince} (more than {skip}); skipped"));
        }

        var template = _templates.FindTemplate(node.TemplateId);
        if (template is null)
        {
            return (Advance(journey, run, node, contact, now, sent: false), SendStep(now, run, node, key, JourneyStepKind.Failed, $"the template '{node.TemplateId}' does not exist"));
        }

        var request = new DeliveryRequest
        {
            IdempotencyKey = key,
            Contact = contact,
            Channel = node.Channel,
            Template = template,
            Variables = StepVariables.For(contact, node),
            TaskId = TaskIdOf(run.JourneyId, node.Id),
            CampaignId = journey.CampaignId,
            Recipient = node switch
            {
                NotifySalesNode n => n.Recipient ?? contact.OwnerId,
                CallWebhookNode w => w.Url.ToString(),
                _ => null,
            },
        };
        DeliveryOutcome outcome;
        if (held is not null)
        {
            // A completed send's bookkeeping comes back unwritten: the run's update writes it (ProcessAsync).
            (outcome, held.Value) = await _holdingPipeline!.DeliverHoldingBookkeepingAsync(request, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            outcome = await _pipeline.DeliverAsync(request, cancellationToken).ConfigureAwait(false);
        }

        switch (outcome.Status)
        {
            case DeliveryStatus.Sent:
                return (Advance(journey, run, node, contact, now, sent: true), observed ? SendStep(now, run, node, key, JourneyStepKind.Sent, outcome.IsReplay ? $"sent via {outcome.Channel} (replay: already sent)" : $"sent via {outcome.Channel}") with { Channel = outcome.Channel } : null);
            case DeliveryStatus.Deferred:
                return (run with { DueAt = outcome.DeferredUntil }, SendStep(now, run, node, key, JourneyStepKind.Deferred, Refusal(outcome) ?? "outside the send window", outcome.DeferredUntil));
            case DeliveryStatus.Paused:
            case DeliveryStatus.InProgress:
                // A key held by another host is either being sent now or was orphaned by a crash just before this timer's
                // lease expired (the key is claimed a little after the timer): look again after a sixth of the lease, so a
                // takeover completes within about lease + lease/6 instead of two leases.
                var retryAt = now + (outcome.Status == DeliveryStatus.Paused ? Duration.FromTimeSpan(_options.PausedRetryInterval) : Duration.FromTimeSpan(_options.Lease) / 6);
                return (run with { DueAt = retryAt }, SendStep(now, run, node, key, JourneyStepKind.Deferred, outcome.Status == DeliveryStatus.Paused ? "the sending task is paused" : outcome.Result?.Detail ?? "another host is sending this step", retryAt));
            case DeliveryStatus.Suppressed:
                return (Advance(journey, run, node, contact, now, sent: false), SendStep(now, run, node, key, JourneyStepKind.Suppressed, $"suppressed by {outcome.SuppressedBy}: {Refusal(outcome)}"));
            case DeliveryStatus.Unknown:
                return (Advance(journey, run, node, contact, now, sent: true), SendStep(now, run, node, key, JourneyStepKind.Unknown, outcome.Result?.Detail ?? "in doubt: sent once or not at all") with { Channel = outcome.Channel });
            default:
                if (outcome.Result is { IsRetryable: true } && run.Attempts + 1 < _options.MaxSendAttempts)
                {
                    var again = now + Duration.FromTimeSpan(_options.RetryDelay);
                    return (run with { Attempts = run.Attempts + 1, DueAt = again }, SendStep(now, run, node, key, JourneyStepKind.Failed, $"failed: {outcome.Result}; retrying", again));
                }

                return (Advance(journey, run, node, contact, now, sent: false), SendStep(now, run, node, key, JourneyStepKind.Failed, $"failed: {outcome.Result}"));
        }
    }

    /// <summary>The step record of a branch or action node (built only when it is reported).</summary>
    private static JourneyStep BranchStep(Instant now, JourneyRun run, JourneyStepKind kind, string detail) =>
        new(now, run.JourneyId, run.ContactId, run.RunNumber, run.NodeId, kind, detail);

    /// <summary>The step record of a message node (static: the send path allocates no closure).</summary>
    private static JourneyStep SendStep(Instant now, JourneyRun run, JourneyMessageNode node, string key, JourneyStepKind kind, string detail, Instant? due = null) =>
        new(now, run.JourneyId, run.ContactId, run.RunNumber, node.Id, kind, detail) { Channel = node.Channel, IdempotencyKey = key, DueAt = due };

    /// <summary>The run after a message node: on to the node's next, a touch counted for a sent message, ended at the touch limit.</summary>
    private JourneyRun Advance(JourneyDefinition journey, JourneyRun run, JourneyMessageNode node, Contact contact, Instant now, bool sent)
    {
        var touch = sent && node is SendMessageNode;
        var next = Arrive(journey, run, node.Next, contact, now, touch ? run.Touches + 1 : run.Touches);
        if (touch && journey.Exit.MaxTouches is { } max && next.Touches >= max && !next.IsEnded)
        {
            next = End(next, JourneyRunStatus.Exited, $"max touches ({max})", now);
        }

        return next;
    }

    /// <summary>The detail of the refusal that ended the gate (the last decision that did not pass), or null.</summary>
    private static string? Refusal(DeliveryOutcome outcome)
    {
        var decisions = outcome.Decisions;
        for (var i = decisions.Count - 1; i >= 0; i--)
        {
            if (!decisions[i].Passed)
            {
                return decisions[i].Detail;
            }
        }

        return null;
    }

    /// <summary>The delivery task of a message node, <c>journey/{journey}/{node}</c>, built once per node (up to 4,096 nodes).</summary>
    private string TaskIdOf(string journeyId, string nodeId)
    {
        if (_taskIds.TryGetValue((journeyId, nodeId), out var taskId))
        {
            return taskId;
        }

        taskId = $"journey/{journeyId}/{nodeId}";
        if (_taskIds.Count < 4096)
        {
            _taskIds.TryAdd((journeyId, nodeId), taskId);
        }

        return taskId;
    }

    /// <summary>The idempotency key of a step: <c>journey/{journey}/{contact}/{run}/{node}/{step}</c>.</summary>
    private static string StepKey(JourneyRun run, string nodeId) =>
        string.Create(CultureInfo.InvariantCulture, $"journey/{run.JourneyId}/{run.ContactId.Value:D}/{run.RunNumber}/{nodeId}/{run.Step}"); // the GUID formatted in place, as ContactId.ToString() does

    internal static Dictionary<string, string> Variables(Contact contact, JourneyMessageNode node)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in contact.Attributes)
        {
            var text = value switch
            {
                TextValue t => t.Value,
                ChoiceValue c => c.Value,
                NumberValue n => n.Value.ToString(CultureInfo.InvariantCulture),
                DateValue d => d.Value.ToString("uuuu-MM-dd", CultureInfo.InvariantCulture),
                _ => null,
            };
            if (text is not null)
            {
                values[name] = text;
            }
        }

        if (contact.Name is { } contactName)
        {
            values["name"] = contactName;
        }

        foreach (var (name, value) in node.Variables)
        {
            values[name] = value;
        }

        return values;
    }

    /// <summary>
    /// Applies a non-send action so that executing the same step twice (a crash between the action and the commit)
    /// changes the contact once: a score change is a <see cref="ScoreAdjustment"/> event whose id is the step key (a
    /// repeat is a duplicate); tags, owner and attributes are set-like and compared with the contact's current state first
    /// (a repeat finds them done and writes nothing).
    /// </summary>
    private async ValueTask<string> ApplyActionAsync(JourneyDefinition journey, JourneyRun run, Contact contact, JourneyActionNode action, Instant now, CancellationToken cancellationToken)
    {
        try
        {
            switch (action)
            {
                case AddTagNode tag:
                    var name = tag.Tag.Trim();
                    if (contact.Tags.Any(t => string.Equals(t.Tag, name, StringComparison.Ordinal) && t.CampaignId == journey.CampaignId))
                    {
                        return $"tag '{tag.Tag}' already present";
                    }

                    await _contactService.AddTagAsync(contact.Id, tag.Tag, $"journey:{journey.Id}", campaignId: journey.CampaignId, source: TagSource.Campaign, cancellationToken: cancellationToken).ConfigureAwait(false);
                    return $"tag '{tag.Tag}' added";
                case RemoveTagNode tag:
                    if (!contact.Tags.Any(t => string.Equals(t.Tag, tag.Tag.Trim(), StringComparison.Ordinal)))
                    {
                        return $"tag '{tag.Tag}' not present";
                    }

                    await _contactService.RemoveTagAsync(contact.Id, tag.Tag, null, cancellationToken).ConfigureAwait(false);
                    return $"tag '{tag.Tag}' removed";
                case ChangeScoreNode score:
                    var key = StepKey(run, action.Id);
                    var ingested = await _contactEvents.IngestAsync(ScoreAdjustment.Create(key, contact.Id, score.Delta, now, $"journey:{journey.Id}/{action.Id}"), cancellationToken).ConfigureAwait(false);
                    return ingested.Status switch
                    {
                        IngestStatus.Accepted => $"behaviour score {score.Delta:+0.##;-0.##} (event {key})",
                        IngestStatus.Duplicate => $"behaviour score {score.Delta:+0.##;-0.##} already applied (event {key})",
                        _ => $"failed: {ingested.Reason}",
                    };
                case AssignLeadNode assign:
                    if (string.Equals(contact.OwnerId, assign.OwnerId?.Trim(), StringComparison.Ordinal))
                    {
                        return $"already assigned to '{assign.OwnerId}'";
                    }

                    await _contactService.AssignOwnerAsync(contact.Id, assign.OwnerId, cancellationToken).ConfigureAwait(false);
                    return $"assigned to '{assign.OwnerId}'";
                case UpdateAttributeNode update:
                    if (contact.Attributes.TryGetValue(update.Field, out var current) ? Equals(current, update.Value) : update.Value is null)
                    {
                        return $"attribute '{update.Field}' already set";
                    }

                    await _contactService.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?>(StringComparer.Ordinal) { [update.Field] = update.Value }, cancellationToken).ConfigureAwait(false);
                    return $"attribute '{update.Field}' set";
                default:
                    return "nothing to do";
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Journey {JourneyId}: action {NodeId} failed for contact {ContactId}; the journey goes on.", journey.Id, action.Id, contact.Id);
            return $"failed: {ex.Message}";
        }
    }

    /// <summary>The run arriving at a node: waits set their timer now; other nodes are due at once; no node completes the run.</summary>
    private JourneyRun Arrive(JourneyDefinition journey, JourneyRun run, string? nodeId, Contact contact, Instant now) =>
        Arrive(journey, run, nodeId, contact, now, run.Touches);

    /// <summary>
    /// As <see cref="Arrive(JourneyDefinition, JourneyRun, string?, Contact, Instant)"/>, with the run's touches set (one
    /// copy of the run). The copy carries the version the store gives it on a successful update (the run's + 1), so an
    /// in-memory store keeps the instance instead of copying it again; stores set the version themselves either way.
    /// </summary>
    private JourneyRun Arrive(JourneyDefinition journey, JourneyRun run, string? nodeId, Contact contact, Instant now, int touches)
    {
        if (nodeId is null)
        {
            return run with { Status = JourneyRunStatus.Completed, EndReason = "completed", EndedAt = now, DueAt = null, WaitingForEvent = null, Step = run.Step + 1, Touches = touches, Version = run.Version + 1 };
        }

        var (due, waitingFor) = DueAtNode(journey, nodeId, contact, now);
        return run with { NodeId = nodeId, Step = run.Step + 1, Attempts = 0, NodeEnteredAt = now, DueAt = due, WaitingForEvent = waitingFor, Touches = touches, Version = run.Version + 1 };
    }

    /// <summary>When a run arriving at a node is due there (waits set their timer; other nodes are due at once) and the event it waits for.</summary>
    private (Instant Due, string? WaitingFor) DueAtNode(JourneyDefinition journey, string nodeId, Contact contact, Instant now) =>
        journey.FindNode(nodeId) switch
        {
            WaitNode w => (now + w.Duration, null),
            WaitUntilNode u => (NextLocal(u, ZoneOf(journey, contact), now), null),
            WaitForEventNode e => (now + e.Timeout, e.EventKind),
            _ => (now, (string?)null),
        };

    private DateTimeZone ZoneOf(JourneyDefinition journey, Contact contact) =>
        (contact.TimeZoneId is { } id ? DateTimeZoneProviders.Tzdb.GetZoneOrNull(id) : null)
        ?? (journey.TimeZoneId is { } jid ? DateTimeZoneProviders.Tzdb.GetZoneOrNull(jid) : null)
        ?? _defaultZone;

    /// <summary>The first instant strictly after <paramref name="now"/> whose local time is the node's, on an allowed day.</summary>
    internal static Instant NextLocal(WaitUntilNode node, DateTimeZone zone, Instant now)
    {
        var date = now.InZone(zone).Date;
        for (var i = 0; i < 8; i++, date = date.PlusDays(1))
        {
            if (node.Days.Count > 0 && !node.Days.Contains(date.DayOfWeek))
            {
                continue;
            }

            var at = LocalTimeResolution.ToInstant(date + node.At, zone);
            if (at > now)
            {
                return at;
            }
        }

        throw new InvalidOperationException($"The wait '{node.Id}' allows no day.");
    }

    private static JourneyRun End(JourneyRun run, JourneyRunStatus status, string reason, Instant now) =>
        run with { Status = status, EndReason = reason, EndedAt = now, DueAt = null, WaitingForEvent = null, NodeId = run.NodeId };

    private async ValueTask<bool> HasEventAsync(ContactId contactId, string kind, Instant since, Instant until, CancellationToken cancellationToken)
    {
        await foreach (var e in _events.ListAsync(contactId, since, until + Duration.Epsilon, cancellationToken).ConfigureAwait(false))
        {
            if (string.Equals(e.Kind, kind, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private async ValueTask<List<BehaviourEvent>> EventsAsync(ContactId contactId, Instant? since, CancellationToken cancellationToken)
    {
        var events = new List<BehaviourEvent>();
        await foreach (var e in _events.ListAsync(contactId, since, null, cancellationToken).ConfigureAwait(false))
        {
            events.Add(e);
        }

        return events;
    }

    private async ValueTask NotifyAsync(JourneyStep step, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnStepAsync(step, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Feeds behaviour events to the <see cref="JourneyRunner"/> (event triggers, wait-for-event, goals). Registered as an <see cref="IContactChangeListener"/>.</summary>
public sealed class JourneyEventListener : IContactChangeListener
{
    private readonly IServiceProvider _services;
    private JourneyRunner? _runner;

    /// <summary>Creates the listener; the runner is resolved lazily (it depends on the contact services that call this).</summary>
    /// <param name="services">The service provider.</param>
    public JourneyEventListener(IServiceProvider services) => _services = services;

    /// <inheritdoc />
    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) =>
        Runner.OnEventAsync(behaviourEvent, cancellationToken);

    /// <summary>
    /// The runner, resolved on the first event and kept (not looked up in the provider on every event). It is a singleton,
    /// so two threads racing on the first event resolve the same instance and either write is correct.
    /// </summary>
    internal JourneyRunner Runner =>
        Volatile.Read(ref _runner) ?? Interlocked.CompareExchange(ref _runner, (JourneyRunner)_services.GetService(typeof(JourneyRunner))!, null) ?? _runner!;
}
