using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Campaigns.Storage.Sqlite.Tests;

/// <summary>
/// The crash test (issue 8): the journey worker runs as a child process (tests/Campaigns.CrashHarness) on a SQLite file
/// and is SIGKILLed (<see cref="Process.Kill(bool)"/>) again and again — at random points (after a random number of
/// deliveries of that start) and exactly in the window after the provider accepted and before the store recorded (the
/// harness kills itself right after the N-th provider write) — and restarted each time until the journey is done. The
/// provider's files on disk are the proof. Nothing here waits for time: progress is read from the child's output and
/// completion is the child's own exit; the token is only an overall guard.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(10);
    private readonly TempDatabase _db = new();
    private readonly List<string> _harnessLog = []; // the harness's other output lines (its warnings and errors), for a failure's message

    [Fact]
    public async Task Sigkilled_workers_deliver_every_message_exactly_once_through_a_provider_that_honours_keys()
    {
        var run = await RunAsync(contacts: 10_000, capability: "honours", randomKills: 18, windowKills: 6, seed: 8);

        Assert.True(run.Kills >= 20, $"only {run.Kills} kills happened");
        Assert.True(run.WindowKeys.Count >= 3, $"only {run.WindowKeys.Count} kills in the window");
        var perContact = run.Deliveries.GroupBy(d => d.Contact).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(0, perContact.Values.Count(c => c > 1));                  // 0 duplicates
        Assert.Equal(0, run.Contacts.Count(c => !perContact.ContainsKey(c)));  // 0 lost
        Assert.Equal(run.Contacts.Count, run.Deliveries.Count);
        Assert.All(run.Statuses.Values, s => Assert.Equal("sent", s));
        if (run.Contacts.Count != run.Statuses.Count)
        {
            Assert.Fail(Explain(run));
        }

        foreach (var key in run.WindowKeys)
        {
            // Killed after the provider took it: the next start resent it with the same key and the provider dropped it.
            Assert.True(run.Calls.Count(c => c.Key == key) >= 2, $"{key} was not resent after the kill in the window");
            Assert.Single(run.Deliveries, d => d.Key == key);
        }

        output.WriteLine($"honours keys: {run.Contacts.Count} messages, {run.Kills} kills ({run.WindowKeys.Count} in the window), {run.Starts} starts, "
            + $"{run.Calls.Count} provider calls, {run.Deliveries.Count} deliveries, {run.Calls.Count - run.Deliveries.Count} resends dropped by key, 0 duplicates, 0 lost");
    }

    [Fact]
    public async Task Sigkilled_workers_with_an_at_most_once_channel_surface_in_doubt_sends_as_unknown_and_never_send_twice()
    {
        var run = await RunAsync(contacts: 3_000, capability: "neither", randomKills: 7, windowKills: 4, seed: 88);

        Assert.True(run.Kills >= 10, $"only {run.Kills} kills happened");
        Assert.True(run.WindowKeys.Count >= 3, $"only {run.WindowKeys.Count} kills in the window");
        // This provider delivers every call, but a call and its delivery are two writes: a SIGKILL between them (the test's
        // kill lands a little after the line that triggered it, anywhere) leaves a call that was never delivered.
        Assert.Empty(run.Deliveries.Select(d => d.Key).Except(run.Calls.Select(c => c.Key), StringComparer.Ordinal)); // every delivery was called
        Assert.InRange(run.Calls.Count - run.Deliveries.Count, 0, run.Kills);  // at most one call cut off per kill
        var perContact = run.Deliveries.GroupBy(d => d.Contact).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(0, perContact.Values.Count(c => c > 1));                  // 0 duplicates, even in the window
        var unknown = run.Statuses.Where(s => s.Value == "unknown").Select(s => s.Key).ToHashSet(StringComparer.Ordinal);
        if (run.Contacts.Count != run.Statuses.Count)
        {
            Assert.Fail(Explain(run));
        }

        foreach (var (key, status) in run.Statuses)
        {
            var delivered = run.Deliveries.Count(d => d.Key == key);
            if (status == "sent")
            {
                Assert.Equal(1, delivered);                                    // recorded sent ⇒ delivered once
            }
            else
            {
                Assert.Equal("unknown", status);                               // not recorded ⇒ surfaced as unknown
                Assert.InRange(delivered, 0, 1);
            }
        }

        foreach (var key in run.WindowKeys)
        {
            Assert.Contains(key, unknown);                                     // killed in the window ⇒ unknown, delivered once
            Assert.Single(run.Deliveries, d => d.Key == key);
        }

        Assert.InRange(unknown.Count, run.WindowKeys.Count, run.Kills);        // at most one send in flight per kill
        var unknownDelivered = unknown.Count(k => run.Deliveries.Any(d => d.Key == k));
        output.WriteLine($"at most once: {run.Contacts.Count} messages, {run.Kills} kills ({run.WindowKeys.Count} in the window), {run.Starts} starts, "
            + $"{run.Deliveries.Count} deliveries, 0 duplicates; {unknown.Count} unknown ({unknownDelivered} had reached the provider, "
            + $"{unknown.Count - unknownDelivered} had not); {run.Contacts.Count - run.Deliveries.Count} not delivered, all of them unknown");
    }

    private sealed record Delivery(string Key, string Contact);

    private sealed record CrashRun(
        IReadOnlyList<string> Contacts,
        IReadOnlyList<Delivery> Calls,
        IReadOnlyList<Delivery> Deliveries,
        IReadOnlyDictionary<string, string> Statuses,
        IReadOnlyList<string> WindowKeys,
        int Kills,
        int Starts);

    private async Task<CrashRun> RunAsync(int contacts, string capability, int randomKills, int windowKills, int seed)
    {
        using var guard = new CancellationTokenSource(Guard);
        var ct = guard.Token;
        var random = new Random(seed);
        var env = new Dictionary<string, string> { ["CRASH_DB"] = _db.Path, ["CRASH_DIR"] = _db.Directory, ["CRASH_CAPABILITY"] = capability, ["CRASH_POLICY"] = "AtMostOnce" };

        var (seedCode, _, _) = await StartAsync(["seed", contacts.ToString(System.Globalization.CultureInfo.InvariantCulture)], env, null, ct);
        Assert.Equal(0, seedCode);

        // Kill points: random (after 0..2×mean deliveries of that start, mean spreading ~40 % of the messages over the
        // kills) and in the window (the harness kills itself right after its N-th provider write), shuffled. A SIGKILL
        // lands a little after the line that triggered it, so a start sends some more than planned: the 60 % margin keeps
        // every planned kill reachable however slow or fast the machine is.
        var mean = Math.Max(1, contacts * 4 / 10 / (randomKills + windowKills));
        var plan = Enumerable.Range(0, randomKills).Select(_ => (Window: false, At: random.Next(0, 2 * mean)))
            .Concat(Enumerable.Range(0, windowKills).Select(_ => (Window: true, At: random.Next(1, 2 * mean))))
            .OrderBy(_ => random.Next()).ToList();
        var kills = 0;
        var starts = 0;
        var windowKeys = new List<string>();
        foreach (var (window, at) in plan)
        {
            starts++;
            env["CRASH_CLOCK_OFFSET_HOURS"] = starts.ToString(System.Globalization.CultureInfo.InvariantCulture);
            env["CRASH_AT_ACCEPTED"] = window ? at.ToString(System.Globalization.CultureInfo.InvariantCulture) : "";
            var (code, killed, selfKilled) = await StartAsync(["run"], env, window ? null : at, ct);
            if ((killed || selfKilled is not null) && code != 0)
            {
                kills++;
            }
            else
            {
                Assert.Equal(0, code); // finished before its kill point
            }

            if (selfKilled is not null)
            {
                windowKeys.Add(selfKilled);
            }
        }

        starts++;
        env["CRASH_CLOCK_OFFSET_HOURS"] = starts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["CRASH_AT_ACCEPTED"] = "";
        var (last, _, _) = await StartAsync(["run"], env, null, ct);
        Assert.Equal(0, last); // exits 0 only when no journey timer is left: every run completed

        static Delivery Parse(string line)
        {
            var key = line[..line.IndexOf('\t', StringComparison.Ordinal)];
            return new Delivery(key, key.Split('/')[2]);
        }

        var calls = (await File.ReadAllLinesAsync(Path.Combine(_db.Directory, "calls.log"), ct)).Where(l => l.Contains('\t', StringComparison.Ordinal)).Select(Parse).ToList();
        var deliveries = (await File.ReadAllLinesAsync(Path.Combine(_db.Directory, "deliveries.log"), ct)).Where(l => l.Contains('\t', StringComparison.Ordinal)).Select(Parse).ToList();
        var seeded = await File.ReadAllLinesAsync(Path.Combine(_db.Directory, "contacts.txt"), ct);
        return new CrashRun(seeded, calls, deliveries, ReadStatuses(), windowKeys, kills, starts);
    }

    /// <summary>The recorded outcome status of every completed idempotency key, from the SQLite file.</summary>
    private Dictionary<string, string> ReadStatuses()
    {
        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        using var connection = new SqliteConnection($"Data Source={_db.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, outcome FROM idempotency_keys WHERE outcome IS NOT NULL;";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            using var doc = JsonDocument.Parse(reader.GetString(1));
            statuses[reader.GetString(0)] = doc.RootElement.EnumerateObject().First(p => p.Name.Equals("status", StringComparison.OrdinalIgnoreCase)).Value.GetString()!.ToLowerInvariant();
        }

        return statuses;
    }

    /// <summary>
    /// Why some seeded contacts have no recorded outcome: for each (at most 10), its run, its timer, its key rows and its
    /// provider calls, and the harness's warnings and errors.
    /// </summary>
    private string Explain(CrashRun run)
    {
        var text = new System.Text.StringBuilder();
        var recorded = run.Statuses.Keys.Select(k => k.Split('/')[2]).ToHashSet(StringComparer.Ordinal);
        var missing = run.Contacts.Where(c => !recorded.Contains(c)).ToList();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{run.Contacts.Count} contacts, {run.Statuses.Count} recorded outcomes; {missing.Count} contact(s) without one ({run.Kills} kills, {run.Starts} starts):");
        using var connection = new SqliteConnection($"Data Source={_db.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        text.Append("\n  runs by status ").Append(Rows(connection, "SELECT status, COUNT(*) FROM journey_runs WHERE $c IS NOT NULL GROUP BY status;", string.Empty))
            .Append("; timers ").Append(Rows(connection, "SELECT COUNT(*) FROM journey_timers WHERE $c IS NOT NULL;", string.Empty))
            .Append("; keys without an outcome ").Append(Rows(connection, "SELECT key, lease_until FROM idempotency_keys WHERE outcome IS NULL AND $c IS NOT NULL;", string.Empty));
        foreach (var contact in missing.Take(10))
        {
            text.Append("\n  ").Append(contact).Append(": run ").Append(Rows(connection, "SELECT status, version, doc FROM journey_runs WHERE contact_id = $c;", contact))
                .Append("; timer ").Append(Rows(connection, "SELECT run_number, due_at, run_version, lease_until, wake_at FROM journey_timers WHERE contact_id = $c;", contact))
                .Append("; keys ").Append(Rows(connection, "SELECT key, outcome, lease_until FROM idempotency_keys WHERE key LIKE '%/' || $c || '/%';", contact))
                .Append("; calls ").Append(run.Calls.Count(c => c.Contact == contact)).Append(", deliveries ").Append(run.Deliveries.Count(c => c.Contact == contact));
        }

        foreach (var line in _harnessLog)
        {
            text.Append("\n  harness: ").Append(line);
        }

        return text.ToString();

        static string Rows(SqliteConnection connection, string sql, string contact)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$c", contact);
            using var reader = command.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read())
            {
                rows.Add("(" + string.Join(", ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))) + ")");
            }

            return rows.Count == 0 ? "none" : string.Join(" ", rows);
        }
    }

    /// <summary>Runs the harness; with <paramref name="killAfter"/>, SIGKILLs it (whole tree) once it reported that many deliveries.</summary>
    /// <returns>The exit code, whether this test killed it, and the key of its self-kill in the window (if it reported one).</returns>
    private async Task<(int Code, bool Killed, string? SelfKilled)> StartAsync(string[] args, Dictionary<string, string> env, int? killAfter, CancellationToken ct)
    {
        var harness = typeof(CrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CrashHarness").Value!;
        Assert.True(File.Exists(harness), $"The crash harness is not built at {harness}; build tests/Campaigns.CrashHarness (dotnet build Campaigns.sln builds it).");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(harness);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in env)
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(ct);
        var accepted = 0;
        var killed = false;
        string? selfKilled = null;
        if (killAfter == 0)
        {
            process.Kill(entireProcessTree: true); // at start-up
            killed = true;
        }

        while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            if (line == "accepted" && ++accepted == killAfter && !killed)
            {
                process.Kill(entireProcessTree: true);
                killed = true;
            }
            else if (line.StartsWith("self-kill\t", StringComparison.Ordinal))
            {
                selfKilled = line["self-kill\t".Length..];
            }
            else if (line is not ("accepted" or "ready" or "done") && !line.StartsWith("seeded ", StringComparison.Ordinal) && _harnessLog.Count < 200)
            {
                _harnessLog.Add(line);
            }
        }

        await process.WaitForExitAsync(ct);
        var error = await stderr;
        if (!killed && selfKilled is null && process.ExitCode != 0)
        {
            output.WriteLine($"harness {string.Join(' ', args)} exited {process.ExitCode}: {error}");
        }

        return (process.ExitCode, killed, selfKilled);
    }

    public void Dispose() => _db.Dispose();
}
