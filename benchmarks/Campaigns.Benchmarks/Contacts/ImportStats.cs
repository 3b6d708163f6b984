using System.Diagnostics;
using System.Globalization;
using System.Text;
using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Benchmarks.Contacts;

/// <summary>
/// The <c>import-stats ROWS [memory|discard|sqlite [PATH]|postgresql]</c> console mode: generates a CSV of ROWS contacts (about 3% repeated
/// phones → merges, 1% invalid phones → flags, 20% empty industry → default), imports it once through
/// <see cref="IContactImporter.ImportCsvAsync"/> and prints elapsed time, the report's counts, and the working set and
/// managed heap every 10% of the rows plus <see cref="Process.PeakWorkingSet64"/>. <c>memory</c> (default) keeps the
/// contacts in the default in-memory store, so memory grows with the contacts stored; <c>discard</c> uses a store that
/// keeps nothing, isolating the importer's own memory (it must stay flat); <c>sqlite</c> imports into a fresh SQLite file
/// (default <c>campaigns-import.db</c> in the temp directory) through the store's batched path; <c>postgresql</c> into a
/// fresh schema <c>bench_import</c> of <c>CAMPAIGNS_POSTGRES_CONNECTION</c> through the same batched path (binary COPY per
/// commit). A trailing <c>aes</c> argument protects personal data with AES-GCM and HMAC lookup keys
/// (<c>UseAesGcmDataProtection</c>) instead of the plain-text default, to measure the protector's cost; <c>pipelined</c>
/// turns the importer's pipeline on (<see cref="ContactImportMapping.Pipelined"/>), to compare.
/// </summary>
internal static class ImportStats
{
    private static readonly string[] Industries = ["制造", "金融", "零售", "互联网", ""];
    private static readonly string[] Regions = ["华东", "华北", "华南", "西南", "华中"];

    public static async Task RunAsync(int rows, bool discard, string? sqlitePath = null, string? postgresConnection = null, bool aes = false, bool pipelined = false)
    {
        var path = Path.Combine(Path.GetTempPath(), $"campaigns-import-{rows}.csv");
        if (!File.Exists(path))
        {
            var gen = Stopwatch.StartNew();
            Generate(path, rows);
            Console.WriteLine($"generated {path} ({new FileInfo(path).Length / 1e6:F1} MB) in {gen.Elapsed.TotalSeconds:F1}s");
        }

        var services = new ServiceCollection();
        if (discard)
        {
            services.AddSingleton<IContactStore, DiscardingContactStore>();
        }

        var campaigns = services.AddCampaigns();
        if (aes)
        {
            campaigns.UseAesGcmDataProtection(o => o.Key = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        }
        if (sqlitePath is not null)
        {
            foreach (var file in new[] { sqlitePath, sqlitePath + "-wal", sqlitePath + "-shm" }.Where(File.Exists))
            {
                File.Delete(file);
            }

            campaigns.UseSqliteStorage(sqlitePath);
        }

        if (postgresConnection is not null)
        {
            await using (var connection = new Npgsql.NpgsqlConnection(postgresConnection))
            {
                await connection.OpenAsync().ConfigureAwait(false);
                await using var drop = new Npgsql.NpgsqlCommand("DROP SCHEMA IF EXISTS bench_import CASCADE", connection);
                await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            campaigns.UsePostgreSqlStorage(postgresConnection, "bench_import");
        }

        using var provider = services.BuildServiceProvider();
        var importer = provider.GetRequiredService<IContactImporter>();
        var mapping = new ContactImportMapping
        {
            Source = "bench.csv",
            ProgressInterval = rows / 10,
            Pipelined = pipelined,
            Columns =
            [
                ColumnMapping.ToName("姓名"),
                ColumnMapping.ToIdentity("手机号", IdentityKind.Phone) with { Required = true },
                ColumnMapping.ToIdentity("邮箱", IdentityKind.Email),
                ColumnMapping.ToAttribute("行业", "industry") with { ValueMap = new Dictionary<string, string> { ["制造"] = "manufacturing", ["金融"] = "finance", ["零售"] = "retail", ["互联网"] = "internet" } },
                ColumnMapping.ToAttribute("地区", "region"),
                ColumnMapping.ToAttribute("关注产品", "interested_products", MergePolicy.Union),
            ],
        };
        using var gcReasons = Environment.GetEnvironmentVariable("CAMPAIGNS_GC_REASONS") == "1" ? new GcReasons() : null;
        using var jitLog = Environment.GetEnvironmentVariable("CAMPAIGNS_JIT_LOG") == "1" ? new JitLog() : null;

        // CAMPAIGNS_ALLOC_SAMPLE=1: which types the import allocates (AllocationSampler; its own work is in the CPU figure).
        using var sampler = Environment.GetEnvironmentVariable("CAMPAIGNS_ALLOC_SAMPLE") == "1" ? new AllocationSampler() : null;
        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        Console.WriteLine($"pipelined={pipelined} protector={(aes ? "aes-gcm" : "plain")} store={(discard ? "discard" : sqlitePath is not null ? "sqlite " + sqlitePath : postgresConnection is not null ? "postgresql bench_import" : "in-memory")} before: ws={process.WorkingSet64 / 1e6:F0}MB heap={GC.GetTotalMemory(false) / 1e6:F0}MB");
        var workItems = ThreadPool.CompletedWorkItemCount;
        var contentions = Monitor.LockContentionCount;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        sampler?.Start();
        var sw = Stopwatch.StartNew();
        var progress = new SyncProgress(p =>
        {
            process.Refresh();
            Console.WriteLine($"  rows={p.RowsRead,9} t={sw.Elapsed.TotalSeconds,6:F1}s ws={process.WorkingSet64 / 1e6,6:F0}MB heap={GC.GetTotalMemory(false) / 1e6,6:F0}MB");
        });
        await using (var stream = File.OpenRead(path))
        {
            var report = await importer.ImportCsvAsync(stream, mapping, progress).ConfigureAwait(false);
            sw.Stop();
            process.Refresh();
            Console.WriteLine($"rows={report.RowsRead} created={report.Created} merged={report.Merged} flagged={report.Flagged} rejected={report.Rejected} contacts={report.ContactsCreated} issues={report.Issues.Count}+{report.IssuesOmitted}");
            Console.WriteLine($"elapsed={sw.Elapsed.TotalSeconds:F2}s cpu={process.TotalProcessorTime.TotalSeconds:F2}s rows/s={report.RowsRead / sw.Elapsed.TotalSeconds:F0} gc0/1/2={GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} gc-pause={GC.GetTotalPauseDuration().TotalSeconds:F2}s alloc={GC.GetTotalAllocatedBytes() / 1e9:F2}GB peak-ws={process.PeakWorkingSet64 / 1e6:F0}MB ws={process.WorkingSet64 / 1e6:F0}MB heap={GC.GetTotalMemory(false) / 1e6:F0}MB");
            Console.WriteLine($"threadpool-items={ThreadPool.CompletedWorkItemCount - workItems} ({(ThreadPool.CompletedWorkItemCount - workItems) * 1000.0 / Math.Max(1, report.RowsRead):F1} per 1,000 rows) threads={ThreadPool.ThreadCount} lock-contentions={Monitor.LockContentionCount - contentions}");
        }

        sampler?.Stop();
        sampler?.Print(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore, rows);
        gcReasons?.Print();
        jitLog?.Print();
        if (!discard)
        {
            Console.WriteLine($"stored contacts={await provider.GetRequiredService<IContactStore>().CountAsync().ConfigureAwait(false)}");
        }

        if (sqlitePath is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Console.WriteLine($"sqlite file={new FileInfo(sqlitePath).Length / 1e6:F0}MB");
        }
    }

    private static void Generate(string path, int rows)
    {
        var random = new Random(7);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(true), 1 << 16);
        writer.WriteLine("姓名,手机号,邮箱,行业,地区,关注产品");
        for (var i = 0; i < rows; i++)
        {
            // 3% repeat an earlier row's phone (a merge), 1% an invalid phone (a flag).
            var n = i > 100 && random.Next(100) < 3 ? random.Next(i) : i;
            var phone = random.Next(100) == 0 ? "12345" : "138" + n.ToString("D8", CultureInfo.InvariantCulture);
            var industry = Industries[random.Next(Industries.Length)];
            writer.Write("联系人");
            writer.Write(n.ToString(CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.Write(phone);
            writer.Write(",u");
            writer.Write(n.ToString(CultureInfo.InvariantCulture));
            writer.Write("@example.com,");
            writer.Write(industry);
            writer.Write(',');
            writer.Write(Regions[random.Next(Regions.Length)]);
            writer.Write(',');
            writer.Write("A产品;B产品".AsSpan(0, random.Next(2) == 0 ? 3 : 7));
            writer.WriteLine();
        }
    }

    /// <summary>Reports on the importer's thread (no synchronization context hop).</summary>
    private sealed class SyncProgress(Action<ImportProgress> report) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => report(value);
    }

    /// <summary>A store that keeps nothing: every row creates, nothing is found.</summary>
    private sealed class DiscardingContactStore : IContactStore
    {
        private long _count;

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => Task.FromResult<Contact?>(null);

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => Task.FromResult<Contact?>(null);

        public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
        {
            _count++;
            return Task.FromResult(contact);
        }

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => Task.FromResult(contact);

        public async IAsyncEnumerable<Contact> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask.ConfigureAwait(false);
            yield break;
        }

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => Task.FromResult(_count);
    }
}
