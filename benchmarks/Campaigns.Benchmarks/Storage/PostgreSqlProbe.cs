using System.Globalization;
using Npgsql;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// Server-side measurements around a run on a local PostgreSQL (diagnostics for <c>pg-steps</c>): the CPU of the
/// postmaster's whole process tree (live children's utime + stime plus the postmaster's own and reaped children's, from
/// <c>/proc</c>, so backends that exit during the run are counted too), and <c>pg_stat_activity</c> sampled every
/// ~25 ms (state and wait event of every backend but the sampler's own).
/// </summary>
internal sealed class PostgreSqlProbe : IAsyncDisposable
{
    private readonly int _postmaster;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task? _sampler;
    private readonly Dictionary<string, long> _states = new(StringComparer.Ordinal);
    private long _samples;

    private PostgreSqlProbe(int postmaster, string? sampleConnection)
    {
        _postmaster = postmaster;
        StartTicks = ServerTicks();
        if (sampleConnection is not null)
        {
            _sampler = Task.Run(() => SampleAsync(sampleConnection));
        }
    }

    /// <summary>Server CPU ticks (1/100 s) of the process tree at the start.</summary>
    public long StartTicks { get; }

    /// <summary>Finds the postmaster of the server behind <paramref name="cs"/> (the parent of a backend) and starts measuring.</summary>
    public static async Task<PostgreSqlProbe?> StartAsync(string cs, bool sample)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        var backend = (int)(await command.ExecuteScalarAsync())!;
        var stat = $"/proc/{backend}/stat";
        if (!File.Exists(stat))
        {
            return null; // not a local server
        }

        var fields = Fields(File.ReadAllText(stat));
        var postmaster = int.Parse(fields[1], CultureInfo.InvariantCulture); // ppid (field 4)
        var sampleCs = new NpgsqlConnectionStringBuilder(cs) { Multiplexing = false, ApplicationName = "probe", Pooling = false }.ConnectionString;
        return new PostgreSqlProbe(postmaster, sample ? sampleCs : null);
    }

    /// <summary>Stops sampling; returns the server CPU seconds since the start and the sampled shares.</summary>
    public async Task<(double CpuSeconds, string Activity)> StopAsync()
    {
        var ticks = ServerTicks() - StartTicks;
        await _stop.CancelAsync();
        if (_sampler is not null)
        {
            try
            {
                await _sampler;
            }
            catch (OperationCanceledException)
            {
            }
        }

        var activity = _samples == 0 ? "" : string.Join(" ", _states.OrderByDescending(p => p.Value).Select(p => $"{p.Key}={(double)p.Value / _samples:F2}"));
        return (ticks / 100.0, _samples == 0 ? "" : $"samples={_samples} avg backends by state/wait: {activity}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }

    private async Task SampleAsync(string cs)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync(_stop.Token);
        await using var command = new NpgsqlCommand(
            "SELECT backend_type, coalesce(state, ''), coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '') FROM pg_stat_activity " +
            "WHERE pid <> pg_backend_pid() AND (backend_type <> 'client backend' OR datname = current_database()) AND (backend_type <> 'client backend' OR application_name <> 'probe')",
            connection);
        await command.PrepareAsync(_stop.Token);
        while (!_stop.IsCancellationRequested)
        {
            await using (var reader = await command.ExecuteReaderAsync(_stop.Token))
            {
                while (await reader.ReadAsync(_stop.Token))
                {
                    var type = reader.GetString(0);
                    var state = reader.GetString(1);
                    var waitType = reader.GetString(2);
                    var wait = reader.GetString(3);
                    string key;
                    if (type == "client backend")
                    {
                        key = state == "active" ? $"active:{waitType}:{wait}" : state;
                    }
                    else
                    {
                        if (waitType == "Activity")
                        {
                            continue; // background processes sleeping in their main loop
                        }

                        key = $"{type}:{waitType}:{wait}";
                    }

                    _states[key] = _states.GetValueOrDefault(key) + 1;
                }
            }

            _samples++;
            await Task.Delay(25, _stop.Token);
        }
    }

    private long ServerTicks()
    {
        long total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
            {
                continue;
            }

            try
            {
                var f = Fields(File.ReadAllText(Path.Combine(dir, "stat")));
                var pid = int.Parse(name, CultureInfo.InvariantCulture);
                var ppid = int.Parse(f[1], CultureInfo.InvariantCulture);
                if (pid == _postmaster)
                {
                    // utime, stime, cutime, cstime (fields 14–17): itself and its reaped children.
                    total += long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)
                        + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
                }
                else if (ppid == _postmaster)
                {
                    total += long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // exited meanwhile: counted in the postmaster's reaped children on the next read
            }
        }

        return total;
    }

    /// <summary>The fields after "(comm)": index 0 = state (field 3), 1 = ppid (field 4), 11 = utime (field 14).</summary>
    private static string[] Fields(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
}
