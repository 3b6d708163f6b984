using System.Diagnostics;
using Campaigns.Segmentation;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// "rebuild-stats sqlite PATH" / "rebuild-stats postgresql [SCHEMA]": the start-up rebuild of the segment index from a
/// durable store filled before (e.g. by "import-stats N sqlite PATH" or "import-stats N postgresql", schema
/// bench_import): wall time, CPU time, contacts and events loaded, index memory. <c>REBUILD_READ_ONLY=1</c>: only the
/// store's part (every contact read and decoded, nothing indexed), to split the rebuild's time.
/// </summary>
internal static class RebuildStats
{
    public static async Task RunAsync(string[] args)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var campaigns = services.AddCampaigns().AddLiveSegments();
        string store;
        if (args is [_, "sqlite", var path, ..])
        {
            campaigns.UseSqliteStorage(path);
            store = "sqlite " + path;
        }
        else if (args is [_, "postgresql", ..])
        {
            var connection = Environment.GetEnvironmentVariable("CAMPAIGNS_POSTGRES_CONNECTION") ?? throw new InvalidOperationException("rebuild-stats postgresql needs CAMPAIGNS_POSTGRES_CONNECTION.");
            var schema = args.Length > 2 ? args[2] : "bench_import";
            campaigns.UsePostgreSqlStorage(connection, schema);
            store = "postgresql " + schema;
        }
        else
        {
            throw new ArgumentException("usage: rebuild-stats sqlite PATH | rebuild-stats postgresql [SCHEMA]");
        }

        await using var provider = services.BuildServiceProvider();
        if (Environment.GetEnvironmentVariable("REBUILD_READ_ONLY") == "1")
        {
            // The store's part alone: every contact read and decoded, nothing indexed.
            var contacts = provider.GetRequiredService<Campaigns.Contacts.IContactStore>();
            await provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>().First().StartAsync(CancellationToken.None); // the storage start-up
            using var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var read = Stopwatch.StartNew();
            var count = 0;
            await foreach (var _ in contacts.ListAsync())
            {
                count++;
            }

            self.Refresh();
            Console.WriteLine($"read-only store={store} contacts={count} elapsed={read.Elapsed.TotalSeconds:F2}s cpu={(self.TotalProcessorTime - cpuBefore).TotalSeconds:F2}s");
            return;
        }

        var loader = provider.GetRequiredService<SegmentIndexLoader>();
        GC.Collect();
        var heapBefore = GC.GetTotalMemory(true);
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;

        // Start the host's services as a host would: the storage start-up (migrations), then the loader's own service.
        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }

        var report = await loader.Completion.ConfigureAwait(false);
        process.Refresh();
        var heapAfter = GC.GetTotalMemory(true);
        var index = provider.GetRequiredService<SegmentIndex>();
        Console.WriteLine($"store={store} contacts={report.Contacts} events={report.Events} elapsed={report.Elapsed.TotalSeconds:F2}s cpu={(process.TotalProcessorTime - cpu).TotalSeconds:F2}s contacts/s={report.Contacts / report.Elapsed.TotalSeconds:F0} index+heap growth={(heapAfter - heapBefore) / 1e6:F0}MB ({(double)(heapAfter - heapBefore) / Math.Max(1, index.Count):F1} B/contact) peak-ws={process.PeakWorkingSet64 / 1e6:F0}MB");
        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>().Reverse())
        {
            await hosted.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
