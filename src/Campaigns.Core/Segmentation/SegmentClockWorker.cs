using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// The hosted worker (opt in with <c>AddSegmentClockWorker()</c>) that lets time act on live segments: it calls
/// <see cref="SegmentRegistry.AdvanceTo"/> with the clock's instant, so memberships that depend on time (<c>within 7d</c>,
/// behaviour windows, tag expiry) flip at the instant they are due, then sleeps until <see cref="SegmentRegistry.NextDue"/>
/// or the poll interval, whichever is sooner. No contact is rescanned: the registry keeps a queue of due contacts. Every
/// <c>trimInterval</c> it also calls <see cref="SegmentRegistry.TrimEvents"/>. Sleeps go through the
/// <see cref="TimeProvider"/> service so tests can drive them; a failing round is logged and retried after the poll interval.
/// </summary>
/// <remarks>Thread safety: the host runs one loop; <see cref="RunOnce"/> may be called from any thread (the registry serializes).</remarks>
public sealed class SegmentClockWorker : BackgroundService
{
    private readonly SegmentRegistry _registry;
    private readonly IClock _clock;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly Duration _trimInterval;
    private readonly ILogger<SegmentClockWorker> _logger;
    private Instant? _lastTrim;

    /// <summary>The sleep after a round in which something is still due but nothing was done.</summary>
    private static readonly TimeSpan MinimumSleep = TimeSpan.FromSeconds(1);

    /// <summary>Called after each round of the hosted loop with the sleep that follows (tests wait on it).</summary>
    internal Action<TimeSpan>? RoundCompleted { get; set; }

    /// <summary>Creates the worker (resolved from DI).</summary>
    /// <param name="registry">The live segments.</param>
    /// <param name="clock">The clock whose instant is passed to the registry.</param>
    /// <param name="time">The time provider used for sleeping.</param>
    /// <param name="pollInterval">The longest sleep between rounds; positive.</param>
    /// <param name="trimInterval">How often events outside every live window are dropped; positive.</param>
    /// <param name="logger">A logger.</param>
    /// <exception cref="ArgumentOutOfRangeException">An interval is not positive.</exception>
    public SegmentClockWorker(SegmentRegistry registry, IClock clock, TimeProvider time, TimeSpan pollInterval, TimeSpan trimInterval, ILogger<SegmentClockWorker> logger)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pollInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(trimInterval, TimeSpan.Zero);
        _registry = registry;
        _clock = clock;
        _time = time;
        _pollInterval = pollInterval;
        _trimInterval = Duration.FromTimeSpan(trimInterval);
        _logger = logger;
    }

    /// <summary>Runs one round: advances the registry to the clock's instant (and trims events when due).</summary>
    /// <returns>How long to sleep before the next round.</returns>
    public TimeSpan RunOnce()
    {
        var now = _clock.GetCurrentInstant();
        var worked = _registry.AdvanceTo(now);
        if (_lastTrim is not { } last || now - last >= _trimInterval)
        {
            _registry.TrimEvents(now);
            _lastTrim = now;
        }

        if (_registry.NextDue is not { } next)
        {
            return _pollInterval;
        }

        var until = (next - _clock.GetCurrentInstant()).ToTimeSpan();
        if (until <= TimeSpan.Zero)
        {
            // Still due: go again at once while rounds make progress; if this one did nothing, do not spin.
            return worked > 0 ? TimeSpan.Zero : (MinimumSleep < _pollInterval ? MinimumSleep : _pollInterval);
        }

        return until < _pollInterval ? until : _pollInterval;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan sleep;
            try
            {
                sleep = RunOnce();
            }
#pragma warning disable CA1031 // A worker must survive a failing round; the failure is logged and retried.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.LogError(ex, "Advancing live segments failed; retrying in {PollInterval}.", _pollInterval);
                sleep = _pollInterval;
            }

            RoundCompleted?.Invoke(sleep);
            if (sleep > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(sleep, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
