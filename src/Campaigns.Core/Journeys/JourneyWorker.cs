using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>
/// The hosted worker (opt in with <c>AddJourneyWorker()</c>): ready at once whatever the backlog, it calls
/// <see cref="JourneyRunner.RunDueAsync"/> with the clock's instant, again at once while batches come back full, and
/// otherwise sleeps until the earliest due timer (the store's look-ahead read) or <see cref="JourneyOptions.PollInterval"/>,
/// whichever is sooner. Sleeps go through the <see cref="TimeProvider"/> service so tests can drive them.
/// </summary>
public sealed class JourneyWorker : BackgroundService
{
    private readonly JourneyRunner _runner;
    private readonly IJourneyRunStore _store;
    private readonly IClock _clock;
    private readonly TimeProvider _time;
    private readonly JourneyOptions _options;
    private readonly ILogger<JourneyWorker> _logger;

    /// <summary>Creates the worker (resolved from DI).</summary>
    /// <param name="runner">The runner.</param>
    /// <param name="store">The run store (look-ahead reads).</param>
    /// <param name="clock">The clock whose instant is passed to the runner.</param>
    /// <param name="time">The time provider used for sleeping.</param>
    /// <param name="options">Batch size and poll interval.</param>
    /// <param name="logger">A logger.</param>
    public JourneyWorker(JourneyRunner runner, IJourneyRunStore store, IClock clock, TimeProvider time, IOptions<JourneyOptions> options, ILogger<JourneyWorker> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _runner = runner;
        _store = store;
        _clock = clock;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await _runner.RunDueAsync(_clock.GetCurrentInstant(), _options.BatchSize, stoppingToken).ConfigureAwait(false);
                if (claimed >= _options.BatchSize)
                {
                    continue;
                }

                var poll = _options.PollInterval;
                if (await _store.GetNextDueAsync(stoppingToken).ConfigureAwait(false) is { } next)
                {
                    // Something overdue that was not claimed (a paused journey's timer, or one leased by another
                    // host) must not make the worker spin: then wait the poll interval.
                    var until = (next - _clock.GetCurrentInstant()).ToTimeSpan();
                    poll = until <= TimeSpan.Zero ? (claimed > 0 ? TimeSpan.Zero : poll) : until < poll ? until : poll;
                }

                if (poll > TimeSpan.Zero)
                {
                    await Task.Delay(poll, _time, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "The journey worker's batch failed; retrying after the poll interval.");
                await Task.Delay(_options.PollInterval, _time, stoppingToken).ConfigureAwait(false);
            }
        }
    }
}
