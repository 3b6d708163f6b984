using System.Diagnostics;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Storage.PostgreSql;
using Campaigns.Storage.PostgreSql.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NodaTime;
using Npgsql;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// PostgreSQL storage figures (issue 8), each on a fresh schema dropped afterwards, against CAMPAIGNS_POSTGRES_CONNECTION:
/// <c>pg-steps N I [P] [sync] [sample]</c> — N due one-send journey steps claimed and completed end to end by I instances at once
/// (MaxParallelism P; <c>sync</c> turns <see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/> off; <c>sample</c> samples
/// <c>pg_stat_activity</c> every ~25 ms);
/// <c>pg-ready N</c> — host start to first (empty) claim and look-ahead with N pending timers;
/// <c>pg-copy N</c> — N new contacts written with binary COPY.
/// </summary>
internal static class PostgreSqlStats
{
    public static async Task RunAsync(string[] args)
    {
        var cs = Environment.GetEnvironmentVariable("CAMPAIGNS_POSTGRES_CONNECTION")
            ?? throw new InvalidOperationException("Set CAMPAIGNS_POSTGRES_CONNECTION (e.g. Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres).");
        if (args[0] == "pg-steps-child")
        {
            await PostgreSqlProcesses.ChildAsync(cs, args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), args[4] == "defer", args[5]);
            return;
        }

        if (args[0] == "pg-victim")
        {
            await PostgreSqlTakeover.VictimAsync(cs, args[1], args[2], int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        var schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
        var n = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            switch (args[0])
            {
                case "pg-steps":
                    await StepsAsync(cs, schema, n, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1, args.Contains("sample"), !args.Contains("sync"));
                    break;
                case "pg-steps-procs":
                    await PostgreSqlProcesses.RunAsync(cs, schema, n, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1, !args.Contains("sync"), args.Contains("sample"));
                    break;
                case "pg-takeover":
                    await PostgreSqlTakeover.RunAsync(cs, schema, n, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 300);
                    break;
                case "pg-ops":
                    await PostgreSqlOps.RunAsync(cs, schema, n);
                    break;
                case "pg-ready":
                    await ReadyAsync(cs, schema, n);
                    break;
                default:
                    await CopyAsync(cs, schema, n);
                    break;
            }
        }
        finally
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static async Task StepsAsync(string cs, string schema, int steps, int instances, int parallelism, bool sample, bool deferFlush)
    {
        await using var fleet = await JourneyFleet.StartAsync(cs, schema, instances, o => o.MaxParallelism = parallelism, poolSize: Math.Max(10, parallelism + 10), storage: o => o.DeferPostSendFlush = deferFlush);
        ProviderLatency.Apply(fleet);
        var seed = Stopwatch.StartNew();
        // PG_WARMUP=W: first drain W other steps (due a minute earlier, recipients of their own) outside the measurement,
        // so the figures show the steady state rather than the JIT's tiering of the step path (a separate row; 0 by default).
        var warmup = int.TryParse(Environment.GetEnvironmentVariable("PG_WARMUP"), out var w) && w > 0 ? w : 0;
        await fleet.SeedDueStepsAsync(steps, dueAt: warmup > 0 ? JourneyFleet.T0 + Duration.FromMinutes(1) : null);
        if (warmup > 0)
        {
            await fleet.SeedDueStepsAsync(warmup, dueAt: JourneyFleet.T0, firstNumber: steps);
        }

        Console.WriteLine($"seeded {steps} due steps in {seed.Elapsed.TotalSeconds:F1}s");
        fleet.Clock.Advance(Duration.FromSeconds(1));
        if (warmup > 0)
        {
            var warm = Stopwatch.StartNew();
            var warmed = (await fleet.DrainAsync(instances)).Sum();
            Console.WriteLine($"warm-up: drained {warmed} steps in {warm.Elapsed.TotalSeconds:F1}s (not measured)");
            fleet.Clock.Advance(Duration.FromMinutes(1));
        }

        using var roundTrips = new RoundTripCounter();
        var commits = await CommitsAsync(cs);
        var walSyncs = await WalSyncsAsync(cs);
        await using var probe = await PostgreSqlProbe.StartAsync(cs, sample);
        // PG_ALLOC set: also sample which types the drain allocates (AllocationSampler; its own work is in the CPU figure).
        using var sampler = Environment.GetEnvironmentVariable("PG_ALLOC") is { Length: > 0 } ? new AllocationSampler() : null;
        sampler?.Start();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var workItems = ThreadPool.CompletedWorkItemCount;
        var sw = Stopwatch.StartNew();
        var claimed = await fleet.DrainAsync(instances);
        sw.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        workItems = ThreadPool.CompletedWorkItemCount - workItems;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var (serverCpu, activity) = probe is null ? (double.NaN, "") : await probe.StopAsync();
        var trips = roundTrips.Count;
        var calls = fleet.CallsByRecipient();
        var duplicates = calls.Values.Count(c => c > 1);
        var lost = steps + warmup - calls.Count;

        // Backends report their commits when idle or when they exit: close the pools first.
        await fleet.DisposeAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        commits = await CommitsAsync(cs) - commits - 1;
        walSyncs = await WalSyncsAsync(cs) - walSyncs;
        Console.WriteLine($"instances={instances} steps={steps} elapsed={sw.Elapsed.TotalSeconds:F2}s steps/s={steps / sw.Elapsed.TotalSeconds:F0} per-instance=[{string.Join(", ", claimed)}] duplicates={duplicates} lost={lost} client-cpu/step={cpu.TotalMilliseconds * 1000 / steps:F0}us round-trips/step={(double)trips / steps:F2} commits/step={(double)commits / steps:F2} wal-flushes/step={(double)walSyncs / steps:F2} parallelism={parallelism} defer-post-send-flush={deferFlush} {HostSettings.Describe()}{ProviderLatency.Describe()}");
        PrintShares(sw.Elapsed.TotalSeconds, cpu.TotalSeconds, serverCpu, steps, activity);
        Console.WriteLine($"allocated/step={allocated / steps}B thread-pool-work-items/step={(double)workItems / steps:F1}");
        sampler?.Stop();
        sampler?.Print(allocated, steps);
        if (roundTrips.Statements is { } statements)
        {
            foreach (var (text, count) in statements.OrderByDescending(p => p.Value))
            {
                Console.WriteLine($"{(double)count / steps,6:F3}/step  {text}");
            }
        }
    }

    /// <summary>Server CPU per step and the share of the machine's cores the run used (client + server CPU over wall × cores).</summary>
    internal static void PrintShares(double wall, double clientCpu, double serverCpu, int steps, string activity)
    {
        Console.WriteLine($"server-cpu/step={serverCpu * 1e6 / steps:F0}us client-cpu={clientCpu:F2}s server-cpu={serverCpu:F2}s cores-used={(clientCpu + serverCpu) / wall:F2} of {Environment.ProcessorCount} (u={(clientCpu + serverCpu) / wall / Environment.ProcessorCount:F2}) load={File.ReadAllText("/proc/loadavg").Trim()}");
        if (activity.Length > 0)
        {
            Console.WriteLine(activity);
        }
    }

    /// <summary>Committed transactions of the database so far (server statistics, flushed before reading).</summary>
    internal static async Task<long> CommitsAsync(string cs)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_stat_force_next_flush(); SELECT pg_stat_clear_snapshot(); SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        do
        {
            while (await reader.ReadAsync())
            {
                if (reader.GetName(0) == "xact_commit")
                {
                    return reader.GetInt64(0);
                }
            }
        }
        while (await reader.NextResultAsync());
        return 0;
    }

    /// <summary>WAL flushes (fsync/fdatasync calls) of the whole server so far (<c>pg_stat_wal.wal_sync</c>, every database and the WAL writer).</summary>
    internal static async Task<long> WalSyncsAsync(string cs)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using (var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", connection))
        {
            await flush.ExecuteNonQueryAsync();
        }

        await using var command = new NpgsqlCommand("SELECT wal_sync FROM pg_stat_wal", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ReadyAsync(string cs, string schema, int timers)
    {
        await using (var fleet = await JourneyFleet.StartAsync(cs, schema, 1))
        {
            var seed = Stopwatch.StartNew();
            await fleet.SeedDueStepsAsync(timers, dueAt: JourneyFleet.T0 + Duration.FromDays(2));
            Console.WriteLine($"seeded {timers} pending timers in {seed.Elapsed.TotalSeconds:F1}s");
        }

        for (var round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            using var host = JourneyFleet.BuildHost(cs, schema);
            await host.StartAsync();
            var started = sw.Elapsed;
            var runner = host.Services.GetRequiredService<JourneyRunner>();
            var claimed = await runner.RunDueAsync(JourneyFleet.T0, 200);
            var next = await host.Services.GetRequiredService<IJourneyRunStore>().GetNextDueAsync();
            sw.Stop();
            Console.WriteLine($"pending={timers} host-start={started.TotalMilliseconds:F0}ms ready(start+first claim+look-ahead)={sw.Elapsed.TotalMilliseconds:F0}ms claimed={claimed} next-due={next}");
            await host.StopAsync();
        }
    }

    private static async Task CopyAsync(string cs, string schema, int count)
    {
        using var host = JourneyFleet.BuildHost(cs, schema);
        await host.StartAsync();
        var writer = host.Services.GetRequiredService<PostgreSqlContactStore>();
        var t0 = Instant.FromUtc(2026, 1, 1, 0, 0);
        static async IAsyncEnumerable<Contact> Generate(int count, Instant at)
        {
            for (var i = 0; i < count; i++)
            {
                yield return new Contact
                {
                    Id = ContactId.New(),
                    Name = "Contact " + i,
                    CreatedAt = at,
                    TimeZoneId = "Asia/Shanghai",
                    Identities = new ContactIdentities { Phone = $"+86138{i:D8}", Email = $"c{i}@example.com" },
                    Attributes = new Dictionary<string, Modeling.FieldValue> { ["industry"] = new Modeling.TextValue(i % 2 == 0 ? "retail" : "manufacturing"), ["region"] = new Modeling.TextValue("east") },
                    Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "import", at), ["sms"] = new(true, "import", at) },
                };
            }

            await Task.CompletedTask;
        }

        // The client's share first: generating the contacts, their jsonb documents (protector included) and lookup keys,
        // with nothing sent. The COPY below does the same work plus Npgsql's binary encoding and the socket writes.
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var dry = Stopwatch.StartNew();
        long bytes = 0;
        await foreach (var contact in Generate(count, t0))
        {
            bytes += writer.Protection.ToDocument(contact with { Version = 1 }).Length;
            bytes += writer.Protection.KeysOf(contact.Identities).Count;
        }

        dry.Stop();
        process.Refresh();
        var cpu1 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var written = await writer.WriteNewAsync(Generate(count, t0));
        sw.Stop();
        process.Refresh();
        var cpu2 = process.TotalProcessorTime;
        var store = host.Services.GetRequiredService<IContactStore>();
        Console.WriteLine($"serialize-only: {dry.Elapsed.TotalSeconds:F2}s wall, {(cpu1 - cpu0).TotalSeconds:F2}s cpu ({bytes / count} chars/doc)");
        Console.WriteLine($"copied={written} elapsed={sw.Elapsed.TotalSeconds:F2}s client-cpu={(cpu2 - cpu1).TotalSeconds:F2}s contacts/s={written / sw.Elapsed.TotalSeconds:F0} count={await store.CountAsync()} find-last={(await store.FindAsync(IdentityKind.Phone, $"+86138{count - 1:D8}"))?.Name}");
        await host.StopAsync();
    }
}

/// <summary>Counts the commands (round trips: a command or a batch) Npgsql executes in this process, through its activity source.</summary>
internal sealed class RoundTripCounter : IDisposable
{
    private readonly ActivityListener _listener;
    private long _count;

    public RoundTripCounter()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
            ActivityStarted = activity =>
            {
                if (activity.OperationName != "connect" && !activity.DisplayName.StartsWith("connect", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _count);
                    if (Statements is { } statements)
                    {
                        var text = (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement"))?.ToString() ?? activity.DisplayName;
                        text = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                        statements.AddOrUpdate(text[..Math.Min(90, text.Length)], 1, static (_, n) => n + 1);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Round trips by statement text (its start), when the environment variable PG_STATEMENTS is set.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long>? Statements { get; } =
        Environment.GetEnvironmentVariable("PG_STATEMENTS") is null ? null : new(StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();
}

/// <summary>Client CPU per store call (diagnostics): <c>pg-ops N</c>.</summary>
internal static class PostgreSqlOps
{
    public static async Task RunAsync(string cs, string schema, int n)
    {
        await using var fleet = await JourneyFleet.StartAsync(cs, schema, 1);
        var ids = await fleet.SeedDueStepsAsync(n);
        var sp = fleet.Providers[0];
        var runs = sp.GetRequiredService<IJourneyRunStore>();
        var contacts = sp.GetRequiredService<IContactStore>();
        var idem = sp.GetRequiredService<Delivery.IIdempotencyStore>();
        var records = sp.GetRequiredService<Delivery.IExecutionRecords>();
        var dnc = sp.GetRequiredService<Delivery.IDoNotContactList>();
        async Task Measure(string name, Func<int, Task> op)
        {
            await op(0);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            for (var i = 1; i < n; i++)
            {
                await op(i);
            }

            cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            Console.WriteLine($"{name,-24} wall={sw.Elapsed.TotalMilliseconds * 1000 / n,8:F0}us cpu={cpu.TotalMilliseconds * 1000 / n,8:F0}us");
        }

        await Measure("select 1", async i => { await using var c = new NpgsqlConnection(cs); await c.OpenAsync(); await using var cmd = new NpgsqlCommand("select 1", c); await cmd.ExecuteScalarAsync(); });
        await Measure("runs.GetLatest", async i => await runs.GetLatestAsync("fleet", ids[i]));
        await Measure("contacts.Get", async i => await contacts.GetAsync(ids[i]));
        await Measure("dnc.IsListed", async i => await dnc.IsListedAsync(ids[i].ToString(), "email", default));
        await Measure("records.Get", async i => await records.GetAsync("t", default));
        await Measure("idem.TryClaim", async i => await idem.TryClaimAsync("k" + i, JourneyFleet.T0, Duration.FromMinutes(1), default));
        await Measure("runs.ClaimDue(1)", async i => await runs.ClaimDueAsync(JourneyFleet.T0, 1, Duration.FromMinutes(1), new HashSet<string>()));
    }
}
