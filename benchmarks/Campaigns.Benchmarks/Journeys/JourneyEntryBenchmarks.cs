using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Benchmarks.Journeys;

/// <summary>
/// Issue 7's headline through BenchmarkDotNet: N contacts (default 1M; <c>CAMPAIGNS_JOURNEY_CONTACTS</c> overrides) enter
/// a segment-entry journey and its first send step completes, with in-memory stores and a recording e-mail channel — the
/// same host and journey as <c>journey-stats</c> (<see cref="JourneyStats"/>). Each iteration builds a fresh host and adds
/// the contacts in <see cref="IterationSetup"/> (not timed), so the monitoring strategy runs one operation per iteration.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class JourneyEntryBenchmarks
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0);

    private ServiceProvider? _services;
    private JourneyRunner _runner = null!;
    private RecordingChannel _email = null!;
    private ContactId[] _ids = [];

    /// <summary>Contacts entering the journey.</summary>
    public static int Contacts { get; } = int.Parse(Environment.GetEnvironmentVariable("CAMPAIGNS_JOURNEY_CONTACTS") ?? "1000000", System.Globalization.CultureInfo.InvariantCulture);

    [IterationSetup]
    public void IterationSetup()
    {
        var (services, runner, email, contacts) = JourneyStats.Host(parallelism: 1, counting: false);
        _services = services;
        _runner = runner;
        _email = (RecordingChannel)email;
        _ids = new ContactId[Contacts];
        for (var i = 0; i < Contacts; i++)
        {
            _ids[i] = contacts.AddAsync(JourneyStats.Contact(i)).GetAwaiter().GetResult().Id;
        }
    }

    [IterationCleanup]
    public void IterationCleanup()
    {
        var sent = _email.Accepted.Count;
        _services?.Dispose();
        _services = null;
        if (sent != Contacts)
        {
            throw new InvalidOperationException($"{sent} first sends for {Contacts} contacts.");
        }
    }

    /// <summary>Segment entry of every contact, then the due first steps run until none is left.</summary>
    [Benchmark]
    public async Task<int> EnterAndFirstSend()
    {
        await _runner.OnSegmentEnteredAsync("new-leads", _ids).ConfigureAwait(false);
        var claimed = 0;
        for (int n; (n = await _runner.RunDueAsync(T0, 1000).ConfigureAwait(false)) > 0;)
        {
            claimed += n;
        }

        return claimed;
    }
}
