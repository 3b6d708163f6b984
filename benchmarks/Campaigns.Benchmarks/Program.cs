using System.Diagnostics;
using BenchmarkDotNet.Running;
using Campaigns.Benchmarks.Contacts;
using Campaigns.Benchmarks.Segmentation;

if (args is ["build-stats", var n, ..])
{
    // Index build time and memory per contact for the generated base. Third argument: columnar (default),
    // contacts (SegmentIndexBuilder.Add(Contact), records created on the fly) or upsert (SegmentIndex.Upsert per contact).
    var count = int.Parse(n, System.Globalization.CultureInfo.InvariantCulture);
    var path = args.Length > 2 ? args[2] : "columnar";
    // Only the build is timed: generating the columns (and the ids) happens before the stopwatch starts. Next to the wall
    // time: the building thread's CPU time, the whole process's CPU time (GC threads included), allocations and collections
    // during the build (load on a shared machine inflates the wall time, much less the CPU times and not the counts).
    var genWatch = Stopwatch.StartNew();
    var data = new ContactBaseGenerator(count);
    var generation = genWatch.Elapsed.TotalSeconds;
    var before = GC.GetTotalMemory(true);
    var (gen0, gen1, gen2, pause, allocated) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes(true));
    var processCpu = Process.GetCurrentProcess().TotalProcessorTime;
    var threadCpu = ThreadCpu.Now();
    var sw = Stopwatch.StartNew();
    var index = path switch
    {
        "contacts" => data.BuildIndexFromContacts(),
        "upsert" => data.BuildIndexByUpsert(),
        _ => data.BuildIndex(),
    };
    sw.Stop();
    var buildThreadCpu = (ThreadCpu.Now() - threadCpu) / 1e9;
    var buildProcessCpu = (Process.GetCurrentProcess().TotalProcessorTime - processCpu).TotalSeconds;
    var gcs = $"gc={GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2} pause={(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0}ms allocated={(GC.GetTotalAllocatedBytes(true) - allocated) / 1e6:F0}MB";
    var after = GC.GetTotalMemory(true);
    Console.WriteLine($"path={path} contacts={count} build={sw.Elapsed.TotalSeconds:F2}s index={(after - before) / 1e6:F1}MB bytes/contact={(double)(after - before) / count:F1} threads={Environment.ProcessorCount}");
    Console.WriteLine($"build thread-cpu={buildThreadCpu:F2}s process-cpu={buildProcessCpu:F2}s {gcs} (generation, not timed: {generation:F2}s)");
    sw.Restart();
    var narrow = index.Evaluate(SegmentationBenchmarks.Narrow, ContactBaseGenerator.Now).Count;
    var broad = index.Evaluate(SegmentationBenchmarks.Broad, ContactBaseGenerator.Now).Count;
    Console.WriteLine($"narrow={narrow} broad={broad} first-evaluations={sw.Elapsed.TotalMilliseconds:F1}ms");
    foreach (var (name, filter) in new[] { ("narrow", SegmentationBenchmarks.Narrow), ("broad", SegmentationBenchmarks.Broad) })
    {
        var times = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            sw.Restart();
            _ = index.Evaluate(filter, ContactBaseGenerator.Now).Count;
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine($"{name}: min={times[0]:F3}ms median={times[15]:F3}ms");
    }
    GC.KeepAlive(index);
    return;
}

if (args is ["query-stats", var qn, ..])
{
    // Issue 5 queries on ONE thread, timed by the thread's CPU time (load on a shared machine does not inflate it the way it
    // inflates wall time): min and median of 30 evaluations each. Extra arguments: filter texts to time as well (prefixes of
    // NARROW/BROAD show what each operand costs). CAMPAIGNS_QUERY_ROUNDS (default 30) evaluations per filter, more for a profiler.
    var count = int.Parse(qn, System.Globalization.CultureInfo.InvariantCulture);
    var queryRounds = int.Parse(Environment.GetEnvironmentVariable("CAMPAIGNS_QUERY_ROUNDS") ?? "30", System.Globalization.CultureInfo.InvariantCulture);
    var index = new ContactBaseGenerator(count).BuildIndex();
    index.MaxDegreeOfParallelism = 1;
    var context = new Campaigns.Segmentation.FilterContext(ContactBaseGenerator.Schema);
    // CAMPAIGNS_QUERY_DEFAULTS=0: only the filter texts given (to profile one of them).
    var filters = Environment.GetEnvironmentVariable("CAMPAIGNS_QUERY_DEFAULTS") == "0"
        ? new List<(string Name, Campaigns.Segmentation.Filter Filter)>()
        : new List<(string Name, Campaigns.Segmentation.Filter Filter)> { ("narrow", SegmentationBenchmarks.Narrow), ("broad", SegmentationBenchmarks.Broad) };
    filters.AddRange(args.Skip(2).Select(t => (t, Campaigns.Segmentation.FilterParser.Parse(t, context))));
    foreach (var (name, filter) in filters)
    {
        var members = index.Evaluate(filter, ContactBaseGenerator.Now).Count;
        var cpu = new List<double>();
        for (var i = 0; i < queryRounds; i++)
        {
            var start = ThreadCpu.Now();
            _ = index.Evaluate(filter, ContactBaseGenerator.Now).Count;
            cpu.Add((ThreadCpu.Now() - start) / 1e6);
        }

        cpu.Sort();
        Console.WriteLine($"{name}: members={members} one-thread cpu min={cpu[0]:F3}ms median={cpu[cpu.Count / 2]:F3}ms");
    }

    GC.KeepAlive(index);
    return;
}

if (args is ["linq-stats", var ln, ..])
{
    // The two LINQ baselines of issue 5 at one size, on one thread, timed by the thread's CPU time (min and median of
    // CAMPAIGNS_QUERY_ROUNDS, default 5): a tight record per contact (SegmentationBenchmarks.Row, the BDN baseline) and the
    // SDK's own Contact records (SegmentationBenchmarks.NarrowLinqContacts/BroadLinqContacts). Prints the heap each list
    // holds per contact, so the memory 10M would need can be read off a 1M run.
    var count = int.Parse(ln, System.Globalization.CultureInfo.InvariantCulture);
    var linqRounds = int.Parse(Environment.GetEnvironmentVariable("CAMPAIGNS_QUERY_ROUNDS") ?? "5", System.Globalization.CultureInfo.InvariantCulture);
    var bench = new SegmentationBenchmarks { Contacts = count };
    var heap0 = GC.GetTotalMemory(true);
    bench.SetupLinq();
    var heap1 = GC.GetTotalMemory(true);
    bench.SetupContacts();
    var heap2 = GC.GetTotalMemory(true);
    Console.WriteLine($"contacts={count} rows={(heap1 - heap0) / (double)count:F0} B/contact, Contact records={(heap2 - heap1) / (double)count:F0} B/contact ({(heap2 - heap1) / 1e9:F2} GB)");
    foreach (var (name, query) in new (string, Func<int>)[]
    {
        ("narrow linq rows", bench.NarrowLinq), ("narrow linq contacts", bench.NarrowLinqContacts),
        ("broad linq rows", bench.BroadLinq), ("broad linq contacts", bench.BroadLinqContacts),
    })
    {
        var members = query();
        var cpu = new List<double>();
        var wall = new List<double>();
        for (var i = 0; i < linqRounds; i++)
        {
            var sw = Stopwatch.StartNew();
            var start = ThreadCpu.Now();
            _ = query();
            cpu.Add((ThreadCpu.Now() - start) / 1e6);
            wall.Add(sw.Elapsed.TotalMilliseconds);
        }

        cpu.Sort();
        wall.Sort();
        Console.WriteLine($"{name}: members={members} one-thread cpu min={cpu[0]:F1}ms median={cpu[cpu.Count / 2]:F1}ms wall min={wall[0]:F1}ms");
    }

    bench.Cleanup();
    return;
}

if (args is ["duckdb-explain", var dn])
{
    // The DuckDB baseline's plans, counts next to the engine's, and warm timings (median of 10) for the notes.
    var count = int.Parse(dn, System.Globalization.CultureInfo.InvariantCulture);
    var data = new ContactBaseGenerator(count);
    var index = data.BuildIndex();
    using var duck = DuckDbBase.Load(data);
    foreach (var (name, sql, filter) in new[]
    {
        ("narrow", DuckDbBase.NarrowSql(SegmentationBenchmarks.From(7), SegmentationBenchmarks.Today), SegmentationBenchmarks.Narrow),
        ("broad", DuckDbBase.BroadSql(SegmentationBenchmarks.From(30), SegmentationBenchmarks.Today), SegmentationBenchmarks.Broad),
    })
    {
        Console.WriteLine($"-- {name}: engine={index.Evaluate(filter, ContactBaseGenerator.Now).Count} duckdb={DuckDbBase.Count(duck, sql)}");
        Console.WriteLine(DuckDbBase.Explain(duck, sql));
        var times = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            var sw = Stopwatch.StartNew();
            DuckDbBase.Count(duck, sql);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine($"{name} duckdb: min={times[0]:F1}ms median={times[5]:F1}ms threads={Environment.ProcessorCount}");
    }

    return;
}

if (args is ["incremental-stats", ..])
{
    // The IncrementalBenchmarks case in a loop, for profilers: median of 20 rounds of 10,000 upserts.
    var bench = new IncrementalBenchmarks();
    bench.Setup();
    var rounds = new List<double>();
    var cpuRounds = new List<double>(); // thread CPU time: not inflated by other processes' load the way wall time is
    for (var r = 0; r < 20; r++)
    {
        var sw = Stopwatch.StartNew();
        var cpuStart = ThreadCpu.Now();
        for (var i = 0; i < 10_000; i++)
        {
            bench.UpsertOneContactAgainst100Segments();
        }

        cpuRounds.Add((ThreadCpu.Now() - cpuStart) / 1e3 / 10_000);
        rounds.Add(sw.Elapsed.TotalMicroseconds / 10_000);
    }

    rounds.Sort();
    cpuRounds.Sort();
    Console.WriteLine($"upsert vs 100 segments: min={rounds[0]:F2}us median={rounds[10]:F2}us; thread cpu min={cpuRounds[0]:F2}us median={cpuRounds[10]:F2}us");

    // A change of the scores alone (no segment reads them): the index writes the score columns, nothing is re-evaluated.
    // "incremental-stats scores": this loop alone, 200 rounds (for a profiler).
    var scoreCpu = new List<double>();
    for (var r = 0; r < (args.Contains("scores") ? 200 : 20); r++)
    {
        var cpuStart = ThreadCpu.Now();
        for (var i = 0; i < 10_000; i++)
        {
            bench.ScoreOnlyChangeAgainst100Segments();
        }

        scoreCpu.Add((ThreadCpu.Now() - cpuStart) / 1e3 / 10_000);
    }

    scoreCpu.Sort();
    Console.WriteLine($"score-only change vs 100 segments: thread cpu min={scoreCpu[0]:F2}us median={scoreCpu[scoreCpu.Count / 2]:F2}us");
    if (args.Contains("scores"))
    {
        return;
    }

    // The same two contact versions written to a bare index (no segments): the index's share of the cost.
    var data = new ContactBaseGenerator(100_000);
    var bare = data.BuildIndex();
    var a = data.ContactAt(12_345);
    var b = a with
    {
        Attributes = new Dictionary<string, Campaigns.Modeling.FieldValue>(a.Attributes) { ["region"] = new Campaigns.Modeling.ChoiceValue("reg1"), ["budget"] = new Campaigns.Modeling.NumberValue(30) },
        Tags = [.. a.Tags, new Campaigns.Contacts.ContactTag { Tag = "tag0", AssignedAt = ContactBaseGenerator.Now }],
    };
    var indexRounds = new List<double>();
    var indexCpu = new List<double>();
    for (var r = 0; r < 20; r++)
    {
        var sw = Stopwatch.StartNew();
        var cpuStart = ThreadCpu.Now();
        for (var i = 0; i < 10_000; i++)
        {
            bare.Upsert((i & 1) == 0 ? a : b);
        }

        indexCpu.Add((ThreadCpu.Now() - cpuStart) / 1e3 / 10_000);
        indexRounds.Add(sw.Elapsed.TotalMicroseconds / 10_000);
    }

    indexRounds.Sort();
    indexCpu.Sort();
    Console.WriteLine($"index upsert alone: min={indexRounds[0]:F2}us median={indexRounds[10]:F2}us; thread cpu min={indexCpu[0]:F2}us median={indexCpu[10]:F2}us");

    // As a live system calls it: every upsert at a later instant (1 s apart), so the 100 plans move their "now" each time.
    var moving = new IncrementalBenchmarks();
    moving.Setup();
    var movingRounds = new List<double>();
    var at = ContactBaseGenerator.Now;
    for (var r = 0; r < 20; r++)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 2_000; i++)
        {
            at += NodaTime.Duration.FromSeconds(1);
            moving.UpsertAt(at);
        }

        movingRounds.Add(sw.Elapsed.TotalMicroseconds / 2_000);
    }

    movingRounds.Sort();
    Console.WriteLine($"upsert vs 100 segments, now moving 1 s per upsert: min={movingRounds[0]:F2}us median={movingRounds[10]:F2}us");
    return;
}

if (args is ["ingest-stats", ..])
{
    // Issue 4: the IngestBenchmarks Sdk case, one-shot per round: thread CPU time and bytes allocated per event
    // (both undistorted by other processes' load), median of the rounds (default 5). Setup is not measured.
    var roundCount = args.Length > 1 && char.IsDigit(args[1][0]) ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
    // "live": the host also keeps live segments with its loader started (IngestBenchmarks.LiveSegments).
    var bench = new IngestBenchmarks { LiveSegments = args.Contains("live") };
    var cpu = new List<double>();
    var bytes = new List<double>();
    // "alloc": also sample which types the measured rounds allocate (AllocationSampler; the sampler's own work is in the CPU figure).
    using var ingestSampler = args.Contains("alloc") ? new Campaigns.Benchmarks.AllocationSampler() : null;
    long sampledBytes = 0;
    // The first rounds run partly in tier-0 code (tiering finishes late on a loaded machine): 4 rounds warm up (were 1).
    const int WarmUp = 4;
    for (var r = 0; r < WarmUp + roundCount; r++)
    {
        bench.Setup();
        if (args.Contains("no-tags"))
        {
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Campaigns.Tags.ITagCatalog>(bench.Services)
                .SetModel(new Campaigns.Tags.TagModel { Id = "behaviour", Name = "behaviour" });
        }

        if (args.Contains("no-scoring"))
        {
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Campaigns.Scoring.IScoringModelStore>(bench.Services)
                .Replace(new Campaigns.Scoring.ScoringModel());
        }

        GC.Collect();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var (gen0, gen1, gen2, pause) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        if (r >= WarmUp)
        {
            ingestSampler?.Start();
        }

        var start = ThreadCpu.Now();
        var accepted = bench.Sdk().GetAwaiter().GetResult();
        ingestSampler?.Stop();
        if (args.Contains("settled"))
        {
            // Charge the round with collecting what it allocated: nearly everything ingested stays alive, so where the one or
            // two collections of a round fall decides how much promotion lands inside the window; a full collection at the
            // end (a constant for the fresh host's setup data) makes the figure independent of that.
            GC.Collect();
        }

        var perEvent = (ThreadCpu.Now() - start) / 1000.0 / IngestBenchmarks.Events;
        var gcs = $"gc={GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2} pause={(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F1}ms";
        var perEventBytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)IngestBenchmarks.Events;
        if (r >= WarmUp)
        {
            cpu.Add(perEvent);
            bytes.Add(perEventBytes);
            sampledBytes += (long)(perEventBytes * IngestBenchmarks.Events);
        }

        Console.WriteLine($"round {r}: accepted={accepted} cpu={perEvent:F3}us/event alloc={perEventBytes:F0}B/event {gcs}");
    }

    bench.Cleanup();
    cpu.Sort();
    bytes.Sort();
    var median = cpu[cpu.Count / 2];
    Console.WriteLine($"ingest: median thread CPU {median:F3} us/event = {1e6 / median:F0} events/s; allocated {bytes[bytes.Count / 2]:F0} B/event (rounds={cpu.Count})");
    ingestSampler?.Print(sampledBytes, (double)cpu.Count * IngestBenchmarks.Events);
    return;
}

if (args is ["phone-stats", ..])
{
    // Phone normalization, 1M numbers, process CPU and allocations: plain 11-digit CN mobiles (the fast path, memoized
    // per five-digit prefix) and the same numbers written "138 0013 8000" (libphonenumber), each twice (the first warms up).
    var plain = Enumerable.Range(0, 1_000_000).Select(i => "138" + i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    var spaced = plain.Select(p => $"{p[..3]} {p[3..7]} {p[7..]}").ToArray();
    foreach (var (name, numbers) in new[] { ("plain 13800000000", plain), ("spaced 138 0000 0000", spaced) })
    {
        for (var round = 1; round <= 2; round++)
        {
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            var cpu = process.TotalProcessorTime;
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var valid = 0;
            foreach (var number in numbers)
            {
                if (Campaigns.Contacts.ContactIdentityNormalizer.TryNormalizePhone(number, "CN", out _))
                {
                    valid++;
                }
            }

            process.Refresh();
            Console.WriteLine($"{name} round {round}: valid={valid} cpu={(process.TotalProcessorTime - cpu).TotalSeconds:F2}s alloc={(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6:F0}MB");
        }
    }

    return;
}

if (args is ["import-stats", var rows, ..])
{
    // One import of a generated CSV through IContactImporter: elapsed time, working set over time, peak working set.
    // A trailing "aes" encrypts personal data at rest (AES-GCM + HMAC lookup keys) instead of the plain-text default;
    // "pipelined" anywhere after ROWS turns the importer's pipeline on (ContactImportMapping.Pipelined = true).
    var pipelined = args.Skip(2).Contains("pipelined");
    var a = args.Where((x, i) => i < 2 || x != "pipelined").ToArray();
    var aes = a.Length > 3 && a[^1] == "aes";
    var sqlite = a is [_, _, "sqlite", ..] ? (a.Length > 3 && a[3] != "aes" ? a[3] : Path.Combine(Path.GetTempPath(), "campaigns-import.db")) : null;
    var postgres = a is [_, _, "postgresql", ..]
        ? Environment.GetEnvironmentVariable("CAMPAIGNS_POSTGRES_CONNECTION") ?? throw new InvalidOperationException("import-stats N postgresql needs CAMPAIGNS_POSTGRES_CONNECTION.")
        : null;
    await ImportStats.RunAsync(int.Parse(rows, System.Globalization.CultureInfo.InvariantCulture), a is [_, _, "discard"], sqlite, postgres, aes, pipelined).ConfigureAwait(false);
    return;
}

if (args is ["rebuild-stats", ..])
{
    // The start-up rebuild of the segment index from a durable store (issue 8): see Storage/RebuildStats.cs.
    await Campaigns.Benchmarks.Storage.RebuildStats.RunAsync(args).ConfigureAwait(false);
    return;
}

if (args is ["delivery-profile", ..])
{
    // A quick per-message figure for each DeliveryBenchmarks variant: the thread's CPU time (not wall time, so other
    // processes on a loaded machine do not count) and allocations, on one thread (every await completes synchronously).
    var bench = new Campaigns.Benchmarks.DeliveryBenchmarks();
    bench.Setup();
    var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200;
    var variants = new (string, Func<Task<int>>)[] { ("HandWritten", bench.HandWritten), ("Pipeline", bench.Pipeline), ("GateRenderRecording", bench.GateRenderRecording) };
    if (args is [_, _, "reverse"])
    {
        variants = [variants[0], variants[2], variants[1]];
    }

    foreach (var (_, run) in variants)
    {
        for (var i = 0; i < 30; i++)
        {
            await run().ConfigureAwait(false);
        }
    }

    var best = new double[variants.Length];
    var wall = new double[variants.Length];
    var bytes = new double[variants.Length];
    Array.Fill(best, double.MaxValue);
    Array.Fill(wall, double.MaxValue);
    for (var r = 0; r < 7; r++)
    {
        for (var v = 0; v < variants.Length; v++)
        {
            var run = variants[v].Item2;
            var before = GC.GetAllocatedBytesForCurrentThread();
            var cpu = ThreadCpu.Now();
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < rounds / 7; i++)
            {
                await run().ConfigureAwait(false);
            }

            var messages = (double)(rounds / 7) * Campaigns.Benchmarks.DeliveryBenchmarks.Batch;
            wall[v] = Math.Min(wall[v], sw.Elapsed.TotalMicroseconds / messages);
            best[v] = Math.Min(best[v], (ThreadCpu.Now() - cpu) / 1e3 / messages);
            bytes[v] = (GC.GetAllocatedBytesForCurrentThread() - before) / messages;
        }
    }

    for (var v = 0; v < variants.Length; v++)
    {
        Console.WriteLine($"{variants[v].Item1,-20} cpu {best[v],7:F3} us/msg = {1e6 / best[v],9:F0} msg/s   wall {wall[v],7:F3} us/msg   {bytes[v],6:F0} B/msg   ratio {best[v] / best[0]:F2}");
    }

    bench.Cleanup();
    return;
}

if (args is ["delivery-stats", ..])
{
    // One DeliveryBenchmarks variant (default GateRenderRecording) for N invocations of 1,024 messages after 30 warm-up
    // invocations, counting everything a host pays for, not the best round: this thread's CPU, the whole process's CPU
    // (GC threads included), GC pauses and collections, allocations and the heap kept. CPU times and counts are far less
    // distorted by other processes than wall time.
    var invocations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 300;
    var variant = args.Length > 2 ? args[2] : "GateRenderRecording";
    var bench = new Campaigns.Benchmarks.DeliveryBenchmarks();
    bench.Setup();
    Func<Task<int>> run = variant switch
    {
        "HandWritten" => bench.HandWritten,
        "Pipeline" => bench.Pipeline,
        _ => bench.GateRenderRecording,
    };
    for (var i = 0; i < 30; i++)
    {
        await run().ConfigureAwait(false);
    }

    GC.Collect();
    var process = Process.GetCurrentProcess();
    var gen = new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) };
    var pause = GC.GetTotalPauseDuration();
    var processCpu = process.TotalProcessorTime;
    var threadCpu = ThreadCpu.Now();
    var allocated = GC.GetAllocatedBytesForCurrentThread();
    var wallClock = Stopwatch.StartNew();
    for (var i = 0; i < invocations; i++)
    {
        await run().ConfigureAwait(false);
    }

    wallClock.Stop();
    var msgs = (double)invocations * Campaigns.Benchmarks.DeliveryBenchmarks.Batch;
    process.Refresh();
    var threadUs = (ThreadCpu.Now() - threadCpu) / 1e3 / msgs;
    var processUs = (process.TotalProcessorTime - processCpu).TotalMicroseconds / msgs;
    Console.WriteLine($"{variant} x {msgs:F0} messages: thread cpu {threadUs:F3} us/msg ({1e6 / threadUs:F0} msg/s), process cpu {processUs:F3} us/msg ({1e6 / processUs:F0} msg/s), wall {wallClock.Elapsed.TotalMicroseconds / msgs:F3} us/msg");
    Console.WriteLine($"  GC pause {(GC.GetTotalPauseDuration() - pause).TotalMicroseconds / msgs:F3} us/msg; collections gen0 {GC.CollectionCount(0) - gen[0]}, gen1 {GC.CollectionCount(1) - gen[1]}, gen2 {GC.CollectionCount(2) - gen[2]}; allocated {(GC.GetAllocatedBytesForCurrentThread() - allocated) / msgs:F0} B/msg; heap after {GC.GetTotalMemory(false) / 1048576.0:F1} MB");
    bench.Cleanup();
    return;
}

if (args is ["delivery-retained", ..])
{
    // Issue 6/7: the heap kept per completed send (idempotency store entry, provider message index entry, gate
    // decisions): N messages (default 204,800) through GateRenderRecording with one store that is never started afresh,
    // GC.GetTotalMemory(true) before and after, divided by N.
    var messages = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 204_800;
    var bench = new Campaigns.Benchmarks.DeliveryBenchmarks { RetainAll = true };
    bench.Setup();
    await bench.GateRenderRecording().ConfigureAwait(false);
    var before = GC.GetTotalMemory(true);
    var invocations = messages / Campaigns.Benchmarks.DeliveryBenchmarks.Batch;
    for (var i = 0; i < invocations; i++)
    {
        await bench.GateRenderRecording().ConfigureAwait(false);
    }

    var after = GC.GetTotalMemory(true);
    var sent = (double)invocations * Campaigns.Benchmarks.DeliveryBenchmarks.Batch;
    Console.WriteLine($"GateRenderRecording, {sent:F0} completed sends held: {(after - before) / sent:F0} B retained per send ({(after - before) / 1048576.0:F1} MB)");
    GC.KeepAlive(bench);
    bench.Cleanup();
    return;
}

if (args is ["alloc-profile", var what, ..])
{
    // Which types a hot path allocates, by sampling (AllocationSampler): "delivery" runs GateRenderRecording,
    // "pipeline" the default Pipeline variant; both 300 invocations of 1,024 messages after a warm-up.
    var bench = new Campaigns.Benchmarks.DeliveryBenchmarks();
    bench.Setup();
    Func<Task<int>> run = what == "pipeline" ? bench.Pipeline : bench.GateRenderRecording;
    for (var i = 0; i < 30; i++)
    {
        await run().ConfigureAwait(false);
    }

    using var sampler = new Campaigns.Benchmarks.AllocationSampler();
    var before = GC.GetAllocatedBytesForCurrentThread();
    sampler.Start();
    for (var i = 0; i < 300; i++)
    {
        await run().ConfigureAwait(false);
    }

    sampler.Stop();
    sampler.Print(GC.GetAllocatedBytesForCurrentThread() - before, 300.0 * Campaigns.Benchmarks.DeliveryBenchmarks.Batch);
    bench.Cleanup();
    return;
}

if (args is ["pg-steps" or "pg-steps-procs" or "pg-steps-child" or "pg-ready" or "pg-copy" or "pg-ops" or "pg-takeover" or "pg-victim", ..])
{
    // PostgreSQL storage figures (issue 8); needs CAMPAIGNS_POSTGRES_CONNECTION.
    await Campaigns.Benchmarks.Storage.PostgreSqlStats.RunAsync(args).ConfigureAwait(false);
    return;
}

if (args is ["journey-stats", var contacts, ..])
{
    // Issue 7: N contacts enter a segment-entry journey and its first send completes; memory per waiting contact.
    // An optional third argument sets JourneyOptions.MaxParallelism (default 1); a fourth, "sample", prints the types
    // allocated during the timed part (AllocationSampler); "counting" (fourth or fifth) replaces the recording e-mail channel,
    // which keeps every message, by one that only counts (a harness change: report it beside the recording figure).
    await Campaigns.Benchmarks.Journeys.JourneyStats.EntryAsync(int.Parse(contacts, System.Globalization.CultureInfo.InvariantCulture), args is [_, _, var p, ..] ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : 1, args.Skip(3).Contains("sample"), args.Skip(3).Contains("counting")).ConfigureAwait(false);
    return;
}

if (args is ["store-steps", var runs])
{
    // Issue 7: the in-memory run store's share of a journey step (claim, read, write back), thread CPU per step.
    await Campaigns.Benchmarks.Journeys.JourneyStats.StoreStepsAsync(int.Parse(runs, System.Globalization.CultureInfo.InvariantCulture)).ConfigureAwait(false);
    return;
}

if (args is ["timer-stats", var timers])
{
    // Issue 7: N pending timers in the in-memory run store, bytes per timer (GC.GetTotalMemory deltas).
    await Campaigns.Benchmarks.Journeys.JourneyStats.TimersAsync(int.Parse(timers, System.Globalization.CultureInfo.InvariantCulture)).ConfigureAwait(false);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>The calling thread's CPU time (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>), in nanoseconds.</summary>
internal static partial class ThreadCpu
{
    public static long Now()
    {
        _ = ClockGetTime(3, out var ts); // CLOCK_THREAD_CPUTIME_ID
        return (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec spec);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
