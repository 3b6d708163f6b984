using System.Diagnostics;
using System.Globalization;
using Campaigns.Channels;
using Campaigns.Journeys;
using Campaigns.Storage.PostgreSql.Tests;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using Npgsql;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// <c>pg-takeover N [idempotency-lease-seconds]</c>: orphaned work taken over after a kill, in wall time. Two instances
/// run the real <see cref="JourneyWorker"/> on the real clock (lease 30 s, poll 1 s, batch 200, 32 steps at once) over N
/// due one-send steps: this process and a child process (<c>pg-victim</c>) that is SIGKILLed while it holds claims (and
/// sends in flight: it is killed once it holds at least 100 claimed timers and has sent 100). Prints how long after the kill the survivor had completed every run the victim held, and counts
/// provider calls across both processes (the victim appends each accepted recipient to a file before answering).
/// </summary>
internal static class PostgreSqlTakeover
{
    private static readonly Duration Lease = Duration.FromSeconds(30);

    public static async Task RunAsync(string cs, string schema, int steps, int idempotencyLeaseSeconds)
    {
        var clock = new RealClock();
        var sendsFile = Path.Combine(Path.GetTempPath(), $"victim-{schema}.txt");
        File.Delete(sendsFile);
        await using var fleet = await JourneyFleet.StartAsync(cs, schema, 1, Configure, poolSize: 50, clock: clock, delivery: d => d.IdempotencyLease = TimeSpan.FromSeconds(idempotencyLeaseSeconds), instancePrefix: "survivor-");
        await fleet.SeedDueStepsAsync(steps, dueAt: clock.GetCurrentInstant());
        Console.WriteLine($"seeded {steps} due steps; lease {Lease.TotalSeconds}s, idempotency lease {idempotencyLeaseSeconds}s");

        using var victim = Process.Start(new ProcessStartInfo(Environment.ProcessPath!)
        {
            ArgumentList = { typeof(PostgreSqlTakeover).Assembly.Location, "pg-victim", schema, sendsFile, idempotencyLeaseSeconds.ToString(CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        })!;
        using var stop = new CancellationTokenSource();
        var worker = ActivatorUtilities.CreateInstance<JourneyWorker>(fleet.Providers[0]);

        // Kill the victim once it has sent some and holds claims (so some of its sends are in flight).
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        var started = false;
        while (true)
        {
            var held = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.journey_timers WHERE claimed_by LIKE 'victim-%'");
            var victimSent = File.Exists(sendsFile) ? File.ReadAllLines(sendsFile).Length : 0;
            if (!started && held > 0)
            {
                await worker.StartAsync(stop.Token); // both instances now share the work
                started = true;
            }

            if (held >= 100 && victimSent >= 100)
            {
                break;
            }

            await Task.Delay(20);
        }

        victim.Kill();
        var kill = Stopwatch.StartNew();
        await victim.WaitForExitAsync();
        var orphanTimers = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.journey_timers WHERE claimed_by LIKE 'victim-%'");
        var orphanKeys = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.idempotency_keys WHERE claimed_by LIKE 'victim-%' AND outcome IS NULL");
        await using (var mark = new NpgsqlCommand($"CREATE TABLE {schema}.orphans AS SELECT journey_id, contact_id FROM {schema}.journey_timers WHERE claimed_by LIKE 'victim-%'", connection))
        {
            await mark.ExecuteNonQueryAsync();
        }

        Console.WriteLine($"killed the victim (pid {victim.Id}) mid-batch holding {orphanTimers} claimed timers, {orphanKeys} of them with a send in flight (idempotency key claimed, not completed)");
        TimeSpan? orphansDone = null;
        TimeSpan? keysDone = null;
        while (true)
        {
            var openOrphans = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.orphans o JOIN {schema}.journey_runs r USING (journey_id, contact_id) WHERE r.status < 2");
            var openKeys = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.idempotency_keys WHERE claimed_by LIKE 'victim-%' AND outcome IS NULL");
            var remaining = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.journey_timers");
            if (openKeys == 0 && keysDone is null)
            {
                keysDone = kill.Elapsed;
            }

            if (openOrphans == 0 && orphansDone is null)
            {
                orphansDone = kill.Elapsed;
            }

            if (orphansDone is not null && remaining == 0)
            {
                break;
            }

            if (kill.Elapsed > TimeSpan.FromMinutes(8))
            {
                Console.WriteLine($"gave up after 8 min: {openOrphans} orphaned runs open, {openKeys} keys in flight, {remaining} timers left");
                break;
            }

            await Task.Delay(100);
        }

        var allDone = kill.Elapsed;
        await stop.CancelAsync();
        await worker.StopAsync(CancellationToken.None);
        var calls = fleet.CallsByRecipient();
        foreach (var recipient in File.ReadAllLines(sendsFile))
        {
            calls.AddOrUpdate(recipient, 1, static (_, n) => n + 1);
        }

        var unknown = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.idempotency_keys WHERE lower(coalesce(outcome ->> 'status', outcome ->> 'Status')) = 'unknown'");
        var completed = await ScalarAsync(connection, $"SELECT count(*) FROM {schema}.journey_runs WHERE status = 2");
        Console.WriteLine(
            $"takeover: every orphaned run completed {orphansDone?.TotalSeconds:F1}s after the kill (in-flight keys settled at {keysDone?.TotalSeconds:F1}s), all {steps} runs at {allDone.TotalSeconds:F1}s; " +
            $"runs completed={completed} provider calls={calls.Values.Sum()} recipients={calls.Count} duplicates={calls.Values.Count(n => n > 1)} in-doubt (unknown)={unknown} not sent={steps - calls.Count}");
        File.Delete(sendsFile);
    }

    /// <summary>The child: one instance running the worker until it is killed.</summary>
    public static async Task VictimAsync(string cs, string schema, string sendsFile, int idempotencyLeaseSeconds)
    {
        using var channel = new AppendingChannel(sendsFile);
        await using var fleet = await JourneyFleet.StartAsync(cs, schema, 1, Configure, poolSize: 50, clock: new RealClock(), delivery: d => d.IdempotencyLease = TimeSpan.FromSeconds(idempotencyLeaseSeconds), channel: channel, instancePrefix: "victim-");
        var worker = ActivatorUtilities.CreateInstance<JourneyWorker>(fleet.Providers[0]);
        await worker.StartAsync(CancellationToken.None);
        await Task.Delay(Timeout.Infinite);
    }

    private static void Configure(JourneyOptions o)
    {
        o.Lease = Lease.ToTimeSpan();
        o.PollInterval = TimeSpan.FromSeconds(1);
        o.BatchSize = 200;
        o.MaxParallelism = 32;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed class RealClock : IClock
    {
        public Instant GetCurrentInstant() => Instant.FromDateTimeOffset(TimeProvider.System.GetUtcNow());
    }

    /// <summary>An e-mail provider that appends each recipient to a file (written before it answers, so a kill loses none).</summary>
    private sealed class AppendingChannel(string path) : IChannel, IDisposable
    {
        private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        private readonly Lock _gate = new();

        public string Name => "email";

        public ChannelCapabilities Capabilities { get; } = new() { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true };

        public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _writer.WriteLine(message.Recipient);
            }

            return ValueTask.FromResult(DeliveryResult.Accepted("p-" + message.IdempotencyKey));
        }

        public void Dispose() => _writer.Dispose();
    }
}
