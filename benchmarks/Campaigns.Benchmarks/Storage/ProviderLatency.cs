using System.Globalization;
using Campaigns.Storage.PostgreSql.Tests;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// <c>PG_PROVIDER_MS=M</c> for <c>pg-steps</c> and <c>pg-steps-procs</c>: each send waits M milliseconds in the recording
/// provider (<see cref="Campaigns.Testing.RecordingChannel.DelayEachSend"/>), as a real provider's answer does (an SMTP
/// relay or an HTTP API answers in milliseconds to hundreds of milliseconds). Without it the provider answers at once,
/// so a step is only the database's and the host's CPU, and on a 2-core machine that also runs the database the
/// instances' ratio measures the machine's cores (issue 8, session 12). The figure line says which latency it ran with.
/// </summary>
internal static class ProviderLatency
{
    /// <summary>The configured latency, or null when <c>PG_PROVIDER_MS</c> is not set.</summary>
    public static TimeSpan? Delay =>
        double.TryParse(Environment.GetEnvironmentVariable("PG_PROVIDER_MS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms > 0
            ? TimeSpan.FromMilliseconds(ms)
            : null;

    /// <summary>Makes the fleet's provider wait <see cref="Delay"/> on each send, when set.</summary>
    public static void Apply(JourneyFleet fleet)
    {
        if (Delay is { } delay)
        {
            fleet.Channel.DelayEachSend(delay);
        }
    }

    /// <summary>E.g. <c> provider-latency=5ms</c>, or empty when not set.</summary>
    public static string Describe() => Delay is { } d ? string.Create(CultureInfo.InvariantCulture, $" provider-latency={d.TotalMilliseconds}ms") : string.Empty;
}
