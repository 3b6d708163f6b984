using Campaigns.Scoring;
using Campaigns.Tags;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>
/// The hosted worker (opt in with <c>AddRuleClockWorker()</c>) that lets time act on rules: it calls
/// <see cref="ITagEngine.AdvanceAsync"/> (windowed and expiring rule tags) and <see cref="IScoringEngine.AdvanceAsync"/>
/// (decaying scores leaving a threshold) with the clock's instant, then sleeps until the earlier of the two engines'
/// <c>NextDue</c> instants or the poll interval, whichever is sooner. Neither engine rescans the contact base: each only
/// works through its own schedule of due contacts. Sleeps go through the <see cref="TimeProvider"/> service so tests can
/// drive them. A failing round is logged and retried after the poll interval; a round that finds work still due but
/// does none sleeps a second rather than spinning.
/// </summary>
public sealed class RuleClockWorker : BackgroundService
{
    private readonly ITagEngine _tags;
    private readonly IScoringEngine _scoring;
    private readonly IClock _clock;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly ILogger<RuleClockWorker> _logger;

    /// <summary>The sleep after a round in which something is still due but neither engine did any work.</summary>
    private static readonly TimeSpan MinimumSleep = TimeSpan.FromSeconds(1);

    /// <summary>Creates the worker (resolved from DI).</summary>
    /// <param name="tags">The tag engine.</param>
    /// <param name="scoring">The scoring engine.</param>
    /// <param name="clock">The clock whose instant is passed to the engines.</param>
    /// <param name="time">The time provider used for sleeping.</param>
    /// <param name="pollInterval">The longest sleep between rounds; positive.</param>
    /// <param name="logger">A logger.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pollInterval"/> is not positive.</exception>
    public RuleClockWorker(ITagEngine tags, IScoringEngine scoring, IClock clock, TimeProvider time, TimeSpan pollInterval, ILogger<RuleClockWorker> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pollInterval, TimeSpan.Zero);
        _tags = tags;
        _scoring = scoring;
        _clock = clock;
        _time = time;
        _pollInterval = pollInterval;
        _logger = logger;
    }

    /// <summary>Runs one round: advances both engines to the clock's instant.</summary>
    /// <param name="cancellationToken">Cancels the round.</param>
    /// <returns>How long to sleep before the next round.</returns>
    public async Task<TimeSpan> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var now = _clock.GetCurrentInstant();
        var worked = await _tags.AdvanceAsync(now, cancellationToken).ConfigureAwait(false);
        worked += await _scoring.AdvanceAsync(now, cancellationToken).ConfigureAwait(false);
        var next = Earliest(_tags.NextDue, _scoring.NextDue);
        if (next is null)
        {
            return _pollInterval;
        }

        var until = (next.Value - _clock.GetCurrentInstant()).ToTimeSpan();
        if (until <= TimeSpan.Zero)
        {
            // Still due: go again at once while the engines make progress; if they did nothing, do not spin.
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
                sleep = await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A worker must survive a failing round; the failure is logged and retried.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.LogError(ex, "Advancing tag and scoring rules failed; retrying in {PollInterval}.", _pollInterval);
                sleep = _pollInterval;
            }

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

    private static Instant? Earliest(Instant? a, Instant? b) => a is null ? b : b is null ? a : a < b ? a : b;
}
