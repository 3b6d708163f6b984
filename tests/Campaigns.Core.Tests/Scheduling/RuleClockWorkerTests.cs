using Campaigns.Contacts;
using Campaigns.Scheduling;
using Campaigns.Scoring;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Scheduling;

public class RuleClockWorkerTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 6, 1, 0, 0);

    private sealed class FakeEngines : ITagEngine, IScoringEngine, IDisposable
    {
        private readonly SemaphoreSlim _advanced = new(0);

        public List<(string Engine, Instant Now)> Calls { get; } = [];

        public Instant? TagDue { get; set; }

        public Instant? ScoreDue { get; set; }

        Instant? ITagEngine.NextDue => TagDue;

        Instant? IScoringEngine.NextDue => ScoreDue;

        ValueTask<int> ITagEngine.AdvanceAsync(Instant now, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add(("tags", now));
            }

            // Like the real engine: what was due is processed and leaves the schedule.
            var processed = TagDue <= now && ProcessDue;
            if (processed)
            {
                TagDue = null;
            }

            return ValueTask.FromResult(processed ? 1 : 0);
        }

        public bool ProcessDue { get; set; } = true;

        ValueTask<int> IScoringEngine.AdvanceAsync(Instant now, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add(("scores", now));
            }

            _advanced.Release();
            return ValueTask.FromResult(0);
        }

        public Task<bool> WaitForRoundAsync() => WaitForRoundAsync(TimeSpan.FromSeconds(10));

        public Task<bool> WaitForRoundAsync(TimeSpan timeout) => _advanced.WaitAsync(timeout);

        public void Dispose() => _advanced.Dispose();

        public ValueTask<Contact> EvaluateAsync(ContactId contactId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<TagUsageReport> ReportAsync(Duration? staleAfter = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<ContactScores> GetScoresAsync(ContactId contactId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<ScoreExplanation> ExplainAsync(ContactId contactId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<ContactScores> RescoreAsync(ContactId contactId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<RescoreProgress> RescoreAllAsync(IProgress<RescoreProgress>? progress = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }

    private static RuleClockWorker Worker(FakeEngines engines, FakeClock clock, TimeProvider time) =>
        new(engines, engines, clock, time, TimeSpan.FromMinutes(1), NullLogger<RuleClockWorker>.Instance);

    [Fact]
    public async Task A_round_advances_both_engines_to_the_clock_and_sleeps_until_the_earliest_due_instant()
    {
        using var engines = new FakeEngines { TagDue = T0 + Duration.FromSeconds(20), ScoreDue = T0 + Duration.FromSeconds(45) };
        var sleep = await Worker(engines, new FakeClock(T0), new FakeTimeProvider()).RunOnceAsync();
        Assert.Equal([("tags", T0), ("scores", T0)], engines.Calls);
        Assert.Equal(TimeSpan.FromSeconds(20), sleep);
    }

    [Theory]
    [InlineData(null, null, 60)]      // nothing scheduled: the poll interval
    [InlineData(600, null, 60)]       // due later than the poll interval: the poll interval
    [InlineData(null, -5, 1)]         // still due but nothing was done: a second, not a spin
    [InlineData(-5, null, 60)]        // the due tag is processed, nothing left: the poll interval
    [InlineData(null, 30, 30)]
    public async Task Sleep_is_the_due_instant_capped_by_the_poll_interval(int? tagDueSeconds, int? scoreDueSeconds, int expectedSeconds)
    {
        using var engines = new FakeEngines
        {
            TagDue = tagDueSeconds is { } t ? T0 + Duration.FromSeconds(t) : null,
            ScoreDue = scoreDueSeconds is { } s ? T0 + Duration.FromSeconds(s) : null,
        };
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), await Worker(engines, new FakeClock(T0), new FakeTimeProvider()).RunOnceAsync());
    }

    [Fact]
    public async Task The_hosted_loop_runs_again_when_the_time_provider_passes_the_sleep()
    {
        using var engines = new FakeEngines { TagDue = T0 + Duration.FromSeconds(30) };
        var clock = new FakeClock(T0);
        var time = new FakeTimeProvider();
        using var worker = Worker(engines, clock, time);
        await worker.StartAsync(CancellationToken.None);
        Assert.True(await engines.WaitForRoundAsync());
        clock.AdvanceSeconds(30);

        // The round signals before the worker registers its sleep with the time provider; an advance that lands
        // in between is not seen by the sleep, so advance again until the next round runs (bounded).
        var ranAgain = false;
        for (var attempt = 0; attempt < 50 && !ranAgain; attempt++)
        {
            time.Advance(TimeSpan.FromSeconds(30));
            ranAgain = await engines.WaitForRoundAsync(TimeSpan.FromMilliseconds(200));
        }

        Assert.True(ranAgain);
        await worker.StopAsync(CancellationToken.None);
        Assert.Contains(("tags", T0 + Duration.FromSeconds(30)), engines.Calls);
    }

    [Fact]
    public void AddRuleClockWorker_registers_one_hosted_service_and_rejects_a_bad_interval()
    {
        var services = new ServiceCollection();
        var builder = services.AddCampaigns();
        builder.AddRuleClockWorker().AddRuleClockWorker(TimeSpan.FromSeconds(5));
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddRuleClockWorker(TimeSpan.Zero));
    }
}
