using System.Diagnostics;
using System.Threading.Channels;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>What a <see cref="SegmentIndexLoader"/> loaded.</summary>
/// <param name="Contacts">The contacts read from the contact store.</param>
/// <param name="Events">The behaviour events recorded in the index (duplicates and events of unknown contacts not counted).</param>
/// <param name="Segments">The live segments re-evaluated over the loaded base.</param>
/// <param name="Elapsed">The wall time of the load.</param>
public sealed record SegmentIndexLoadReport(int Contacts, long Events, int Segments, TimeSpan Elapsed);

/// <summary>
/// Rebuilds the shared <see cref="SegmentIndex"/> from the durable stores at start (F-5.3 with the storage packages):
/// streams every contact of the <see cref="IContactStore"/> through a <see cref="SegmentIndexBuilder"/>, then every
/// behaviour event (in one pass when the event store implements <see cref="IEventLogReader"/>, else contact by contact),
/// then re-evaluates the live segments already defined on the <see cref="SegmentRegistry"/> — silently: contacts that are
/// members at start raise no <see cref="SegmentRegistry.MembershipChanged"/>. Registered by <c>AddLiveSegments()</c>,
/// which runs it as the host starts. Contact changes and events stored before or during the load are kept in memory and
/// applied right after it, so a host must start (run its hosted services) for them to reach the index.
/// </summary>
/// <remarks>Thread-safe; the load runs once (later calls return the first load's result).</remarks>
public sealed class SegmentIndexLoader
{
    private readonly SegmentIndex _index;
    private readonly SegmentRegistry _registry;
    private readonly IContactStore _contacts;
    private readonly IEventStore _events;
    private readonly IClock _clock;
    private readonly TaskCompletionSource<SegmentIndexLoadReport> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _pendingGate = new();
    private List<object>? _pending = [];
    private int _started;

    /// <summary>Creates a loader.</summary>
    /// <param name="index">The index to load; empty until the load.</param>
    /// <param name="registry">The registry over <paramref name="index"/>.</param>
    /// <param name="contacts">The contact store read.</param>
    /// <param name="events">The event store read.</param>
    /// <param name="clock">The clock segments are re-evaluated at.</param>
    public SegmentIndexLoader(SegmentIndex index, SegmentRegistry registry, IContactStore contacts, IEventStore events, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(contacts);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(clock);
        _index = index;
        _registry = registry;
        _contacts = contacts;
        _events = events;
        _clock = clock;
    }

    /// <summary>Completes with the load's report when the index is loaded, or faults when the load failed.</summary>
    public Task<SegmentIndexLoadReport> Completion => _done.Task;

    /// <summary>Loads the index (once; a second call waits for the first).</summary>
    /// <param name="cancellationToken">Stops the load; the index is then left partial and <see cref="Completion"/> is canceled.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The index already held contacts written around the loader.</exception>
    public async Task<SegmentIndexLoadReport> LoadAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return await _done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var report = await LoadCoreAsync(cancellationToken).ConfigureAwait(false);
            _done.TrySetResult(report);
            return report;
        }
        catch (OperationCanceledException ex)
        {
            _done.TrySetCanceled(ex.CancellationToken);
            throw;
        }
        catch (Exception ex)
        {
            _done.TrySetException(ex);
            throw;
        }
    }

    private async Task<SegmentIndexLoadReport> LoadCoreAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var builder = new SegmentIndexBuilder(_index);
        var log = _events as IEventLogReader;
        List<ContactId>? ids = log is null ? [] : null;
        var contacts = 0;
        await foreach (var contact in _contacts.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            builder.Add(contact);
            ids?.Add(contact.Id);
            contacts++;
        }

        long events = 0;
        if (log is not null)
        {
            await foreach (var e in log.ReadAllAsync(null, cancellationToken).ConfigureAwait(false))
            {
                events += builder.Apply(e) ? 1 : 0;
            }
        }
        else
        {
            foreach (var id in ids!)
            {
                await foreach (var e in _events.ListAsync(id, null, null, cancellationToken).ConfigureAwait(false))
                {
                    events += builder.Apply(e) ? 1 : 0;
                }
            }
        }

        builder.Build();
        var now = _clock.GetCurrentInstant();
        var segments = _registry.SegmentIds;
        foreach (var id in segments)
        {
            _registry.Define(_registry.Definition(id), now);
        }

        // Changes written while the load ran were deferred; apply them now (idempotent when the load saw them too),
        // in the order they were stored, and from here on the listener writes through at once.
        lock (_pendingGate)
        {
            foreach (var change in _pending!)
            {
                Write(change, _clock.GetCurrentInstant());
            }

            _pending = null;
        }

        return new SegmentIndexLoadReport(contacts, events, segments.Count, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Writes a stored change through the registry, or defers it while the load has not finished.</summary>
    /// <param name="change">A <see cref="ContactChange"/> or a <see cref="BehaviourEvent"/>.</param>
    internal void WriteOrDefer(object change)
    {
        lock (_pendingGate)
        {
            if (_pending is not null)
            {
                _pending.Add(change);
                return;
            }
        }

        Write(change, _clock.GetCurrentInstant());
    }

    private void Write(object change, Instant now)
    {
        switch (change)
        {
            case ContactChange c:
                // The index holds c.Previous when changes of a contact arrive in the order they were stored (what keeping the
                // index live relies on anyway). A change deferred during the load may find a later version loaded: a family
                // the change left alone then holds its final value already, and a family it changed is compared and written.
                // So families the change shares by reference with c.Previous are not even compared.
                _registry.Upsert(c.Current, c.Previous, now);
                break;
            case BehaviourEvent e:
                _registry.Apply(e, now);
                break;
        }
    }
}

/// <summary>Runs the <see cref="SegmentIndexLoader"/> as the host starts (the host's start waits for it).</summary>
internal sealed class SegmentIndexLoaderService(SegmentIndexLoader loader, ILogger<SegmentIndexLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var report = await loader.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (logger.IsEnabled(LogLevel.Information))
        {
            logger.LogInformation(
                "Segment index loaded: {Contacts} contacts, {Events} events, {Segments} segments in {Elapsed} ms.",
                report.Contacts,
                report.Events,
                report.Segments,
                (long)report.Elapsed.TotalMilliseconds);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Keeps the shared <see cref="SegmentRegistry"/> live: every stored contact change and every new behaviour event is
/// written through the registry (which re-evaluates only the segments that read what changed). Until the start-up load
/// has finished, changes are kept and applied right after it, so nothing written meanwhile is lost and no writer waits.
/// </summary>
internal sealed class LiveSegmentListener(SegmentIndexLoader loader) : IContactChangeListener
{
    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        loader.WriteOrDefer(change);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        loader.WriteOrDefer(behaviourEvent);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Enters contacts into journeys triggered by segment entry (<see cref="SegmentEntryTrigger"/>): membership changes
/// raised by the registry (contact changes, events, time passing) are queued in memory and handed to
/// <see cref="JourneyRunner.OnSegmentEnteredAsync"/> in batches. The queue is not durable: an entry raised just before a
/// crash may be lost (segment membership itself is rebuilt from the stores at start, silently).
/// </summary>
internal sealed class SegmentJourneyBridge(SegmentRegistry registry, SegmentIndexLoader loader, JourneyRunner runner, ILogger<SegmentJourneyBridge> logger) : BackgroundService
{
    private readonly Channel<(string Segment, ContactId Contact)> _entered = Channel.CreateUnbounded<(string, ContactId)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Raised after each batch handed to the runner (for tests): the number of journey runs started.</summary>
    internal Action<int>? BatchCompleted { get; set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribe before the host's start returns (ExecuteAsync may begin later on another thread), so no entry raised
        // right after start is missed; the silent start-up load raises none.
        registry.MembershipChanged += OnMembershipChanged;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.MembershipChanged -= OnMembershipChanged;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await loader.Completion.WaitAsync(stoppingToken).ConfigureAwait(false);
        var batch = new Dictionary<string, List<ContactId>>(StringComparer.Ordinal);
        while (await _entered.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
        {
            var taken = 0;
            while (taken++ < 1_000 && _entered.Reader.TryRead(out var item))
            {
                if (!batch.TryGetValue(item.Segment, out var list))
                {
                    batch[item.Segment] = list = [];
                }

                list.Add(item.Contact);
            }

            var started = 0;
            foreach (var (segment, contacts) in batch)
            {
                try
                {
                    started += await runner.OnSegmentEnteredAsync(segment, contacts, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Entering {Count} contacts of segment {Segment} into journeys failed.", contacts.Count, segment);
                }
            }

            batch.Clear();
            BatchCompleted?.Invoke(started);
        }
    }

    private void OnMembershipChanged(object? sender, SegmentMembershipChangedEventArgs e)
    {
        if (e.Entered)
        {
            _entered.Writer.TryWrite((e.SegmentId, e.ContactId));
        }
    }
}
