using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>
/// The hosted SOP worker (opt in with <c>AddSopWorker()</c>): calls <see cref="SopRunner.RunDueAsync(Instant, CancellationToken)"/>
/// with the clock's instant, then sleeps until the next due send or <see cref="SopOptions.PollInterval"/>, whichever is
/// sooner (new registrations are picked up at the next round). Sleeps go through the <see cref="TimeProvider"/> service
/// so tests can drive them. A failing round is logged and retried after the poll interval.
/// </summary>
public sealed class SopWorker : BackgroundService
{
    private readonly SopRunner _runner;
    private readonly IClock _clock;
    private readonly TimeProvider _time;
    private readonly SopOptions _options;
    private readonly ILogger<SopWorker> _logger;

    /// <summary>Creates the worker (resolved from DI).</summary>
    /// <param name="runner">The SOP runner.</param>
    /// <param name="clock">The clock whose instant is passed to the runner.</param>
    /// <param name="time">The time provider used for sleeping.</param>
    /// <param name="options">The poll interval.</param>
    /// <param name="logger">A logger.</param>
    public SopWorker(SopRunner runner, IClock clock, TimeProvider time, IOptions<SopOptions> options, ILogger<SopWorker> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _runner = runner;
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
            var sleep = _options.PollInterval;
            try
            {
                var result = await _runner.RunDueAsync(_clock.GetCurrentInstant(), stoppingToken).ConfigureAwait(false);
                if (result.NextDue is { } next)
                {
                    var until = (next - _clock.GetCurrentInstant()).ToTimeSpan();
                    sleep = until < sleep ? (until < TimeSpan.Zero ? TimeSpan.Zero : until) : sleep;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A worker must survive a failing round; the failure is logged and retried.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.LogError(ex, "The SOP round failed; retrying in {PollInterval}.", _options.PollInterval);
            }

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
