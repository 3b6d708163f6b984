using System.Diagnostics;
using System.Globalization;
using Campaigns.Storage.PostgreSql.Tests;
using NodaTime;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// <c>pg-steps-procs N I [P] [sync] [sample]</c>: as <c>pg-steps</c>, but each of the I instances runs in its own child
/// process (<c>pg-steps-child</c>: own runtime, GC and thread pool, own recording provider whose recipients it writes
/// to a file), so nothing but the database and the machine is shared. The parent seeds, starts the children, waits
/// until each is ready, then times from "go" until every child has drained; duplicates and lost are counted over the
/// children's files. Client CPU is the children's processor time (each measures its own drain). <c>PG_WARMUP=W</c> (as
/// for <c>pg-steps</c>): W × I other steps, due a minute earlier, are drained by the children before they say "ready"
/// (about W each), so the timed drain shows their steady state rather than the JIT's tiering. <c>PG_CHILD_CPUS=C</c>:
/// each child runs limited to C cores (<see cref="CpuLimit"/>).
/// </summary>
internal static class PostgreSqlProcesses
{
    public static async Task RunAsync(string cs, string schema, int steps, int instances, int parallelism, bool deferFlush, bool sample)
    {
        var warmup = Warmup();
        await using (var seeder = await JourneyFleet.StartAsync(cs, schema, 1))
        {
            await seeder.SeedDueStepsAsync(steps, dueAt: warmup > 0 ? JourneyFleet.T0 + Duration.FromMinutes(1) : null);
            if (warmup > 0)
            {
                await seeder.SeedDueStepsAsync(warmup * instances, dueAt: JourneyFleet.T0, firstNumber: steps);
            }
        }

        Console.WriteLine($"seeded {steps} due steps" + (warmup > 0 ? $" (+ {warmup * instances} warm-up steps drained by the children before the timing)" : string.Empty));
        var children = new List<(Process Process, string File)>();
        var limits = new List<CpuLimit>();
        for (var i = 0; i < instances; i++)
        {
            var file = Path.Combine(Path.GetTempPath(), $"steps-{schema}-{i}.txt");
            var process = Process.Start(new ProcessStartInfo(Environment.ProcessPath!)
            {
                ArgumentList = { typeof(PostgreSqlProcesses).Assembly.Location, "pg-steps-child", schema, i.ToString(CultureInfo.InvariantCulture), parallelism.ToString(CultureInfo.InvariantCulture), deferFlush ? "defer" : "sync", file },
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            })!;
            if (CpuLimit.Cores is { } cores)
            {
                limits.Add(CpuLimit.Apply(process.Id, cores));
            }

            children.Add((process, file));
        }

        foreach (var (process, _) in children)
        {
            var line = await process.StandardOutput.ReadLineAsync();
            if (line != "ready")
            {
                throw new InvalidOperationException($"child {process.Id} said '{line}' instead of 'ready'");
            }
        }

        var commits = await PostgreSqlStats.CommitsAsync(cs);
        var walSyncs = await PostgreSqlStats.WalSyncsAsync(cs);
        await using var probe = await PostgreSqlProbe.StartAsync(cs, sample);
        var sw = Stopwatch.StartNew();
        foreach (var (process, _) in children)
        {
            await process.StandardInput.WriteLineAsync("go");
            await process.StandardInput.FlushAsync();
        }

        var results = new List<string>();
        foreach (var (process, _) in children)
        {
            results.Add(await process.StandardOutput.ReadLineAsync() ?? "");
        }

        sw.Stop();
        var (serverCpu, activity) = probe is null ? (double.NaN, "") : await probe.StopAsync();
        foreach (var (process, _) in children)
        {
            await process.WaitForExitAsync();
        }

        var throttled = limits.Sum(l => l.ThrottledSeconds());
        foreach (var limit in limits)
        {
            limit.Dispose();
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        commits = await PostgreSqlStats.CommitsAsync(cs) - commits - 1;
        walSyncs = await PostgreSqlStats.WalSyncsAsync(cs) - walSyncs;
        var calls = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (_, file) in children)
        {
            foreach (var recipient in File.ReadAllLines(file))
            {
                calls[recipient] = calls.GetValueOrDefault(recipient) + 1;
            }

            File.Delete(file);
        }

        // Each child: "claimed=N cpu-ms=X round-trips=Y".
        var parsed = results.Select(r => r.Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => double.Parse(kv[1], CultureInfo.InvariantCulture))).ToList();
        var cpu = parsed.Sum(p => p["cpu-ms"]) / 1000;
        var trips = parsed.Sum(p => p["round-trips"]);
        Console.WriteLine($"processes={instances} steps={steps} elapsed={sw.Elapsed.TotalSeconds:F2}s steps/s={steps / sw.Elapsed.TotalSeconds:F0} per-instance=[{string.Join(", ", parsed.Select(p => p["claimed"]))}] duplicates={calls.Values.Count(c => c > 1)} lost={steps - calls.Count} client-cpu/step={cpu * 1e6 / steps:F0}us round-trips/step={trips / steps:F2} commits/step={(double)commits / steps:F2} wal-flushes/step={(double)walSyncs / steps:F2} parallelism={parallelism} defer-post-send-flush={deferFlush} {HostSettings.Describe()}{ProviderLatency.Describe()}" + (CpuLimit.Cores is { } c ? string.Create(CultureInfo.InvariantCulture, $" cpu-limit-per-process={c} throttled={throttled:F1}s") : string.Empty));
        PostgreSqlStats.PrintShares(sw.Elapsed.TotalSeconds, cpu, serverCpu, steps, activity);
        Console.WriteLine("children: " + string.Join(" | ", results));
    }

    private static int Warmup() => int.TryParse(Environment.GetEnvironmentVariable("PG_WARMUP"), out var w) && w > 0 ? w : 0;

    /// <summary>One instance in this process: waits for "go" on stdin, drains, writes its recipients to a file, prints its figures.</summary>
    public static async Task ChildAsync(string cs, string schema, int index, int parallelism, bool deferFlush, string file)
    {
        await using var fleet = await JourneyFleet.StartAsync(cs, schema, 1, o => o.MaxParallelism = parallelism, poolSize: Math.Max(10, parallelism + 10), instancePrefix: $"process-{index}-", storage: o => o.DeferPostSendFlush = deferFlush);
        ProviderLatency.Apply(fleet);
        fleet.Clock.Advance(Duration.FromSeconds(1));
        var warmed = 0;
        if (Warmup() > 0)
        {
            // Only the warm-up steps are due yet; the measured ones come due with the clock's next minute.
            await fleet.DrainAsync(1);
            warmed = fleet.Channel.Sends.Count;
            fleet.Clock.Advance(Duration.FromMinutes(1));
        }

        Console.WriteLine("ready");
        if (await Console.In.ReadLineAsync() != "go")
        {
            return;
        }

        using var roundTrips = new RoundTripCounter();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var claimed = await fleet.DrainAsync(1);
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var trips = roundTrips.Count;
        await File.WriteAllLinesAsync(file, fleet.Channel.Sends.Skip(warmed).Select(s => s.Message.Recipient));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"claimed={claimed[0]} cpu-ms={cpu.TotalMilliseconds:F0} round-trips={trips}"));
    }
}
