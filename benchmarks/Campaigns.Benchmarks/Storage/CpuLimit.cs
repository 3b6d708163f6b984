using System.Globalization;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// <c>PG_CHILD_CPUS=C</c> for <c>pg-steps-procs</c>: each child process (one host instance) gets a CPU quota of C cores
/// in its own Linux cgroup (v2 <c>cpu.max</c>, or v1 <c>cpu.cfs_quota_us</c>; needs root), as a host instance in a
/// container with a CPU limit would. On a 2-core machine that also runs the database, one unlimited instance and the
/// database already use most of the cores, so "2 instances vs 1" measures the machine; with each instance limited to
/// a fixed share, it measures whether the claim protocol lets a second instance add its share (issue 8, session 12).
/// The figure line says which limit it ran with.
/// </summary>
internal sealed class CpuLimit : IDisposable
{
    private const int PeriodMicroseconds = 100_000;
    private readonly string directory;

    private CpuLimit(string directory) => this.directory = directory;

    /// <summary>The quota per child in cores, or null when <c>PG_CHILD_CPUS</c> is not set.</summary>
    public static double? Cores =>
        double.TryParse(Environment.GetEnvironmentVariable("PG_CHILD_CPUS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && c > 0 ? c : null;

    /// <summary>Moves the process into a new cgroup limited to <paramref name="cores"/> cores.</summary>
    public static CpuLimit Apply(int processId, double cores)
    {
        var quota = ((int)(cores * PeriodMicroseconds)).ToString(CultureInfo.InvariantCulture);
        var name = $"campaigns-bench-{processId}";
        string directory;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            directory = Path.Combine("/sys/fs/cgroup", name);
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, "cpu.max"), $"{quota} {PeriodMicroseconds}");
        }
        else if (Directory.Exists("/sys/fs/cgroup/cpu"))
        {
            directory = Path.Combine("/sys/fs/cgroup/cpu", name);
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, "cpu.cfs_period_us"), PeriodMicroseconds.ToString(CultureInfo.InvariantCulture));
            File.WriteAllText(Path.Combine(directory, "cpu.cfs_quota_us"), quota);
        }
        else
        {
            throw new InvalidOperationException("PG_CHILD_CPUS needs a cgroup cpu controller under /sys/fs/cgroup (v2 with cpu enabled, or v1 cpu) and root.");
        }

        File.WriteAllText(Path.Combine(directory, "cgroup.procs"), processId.ToString(CultureInfo.InvariantCulture));
        return new CpuLimit(directory);
    }

    /// <summary>The throttled time the kernel counted for this cgroup, in seconds (NaN if unreadable).</summary>
    public double ThrottledSeconds()
    {
        try
        {
            foreach (var line in File.ReadAllLines(Path.Combine(directory, "cpu.stat")))
            {
                var parts = line.Split(' ');
                if (parts[0] == "throttled_usec")
                {
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) / 1e6;
                }

                if (parts[0] == "throttled_time")
                {
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) / 1e9;
                }
            }
        }
        catch (IOException)
        {
        }

        return double.NaN;
    }

    /// <summary>Removes the cgroup (the process has exited).</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"could not remove {directory}: {e.Message}");
        }
    }
}
