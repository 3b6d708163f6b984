using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Campaigns.Benchmarks.Contacts;

/// <summary>
/// With <c>CAMPAIGNS_GC_REASONS=1</c>, <c>import-stats</c> prints why each GC ran (generation and reason from the runtime's
/// GCStart events) and, sampled every ~100 KB by the runtime's AllocationTick events, which types are allocated on the
/// large-object heap (the usual cause of gen2 collections with a small heap) and on the small-object heap. Diagnostics only.
/// </summary>
internal sealed class GcReasons : EventListener
{
    private static readonly string[] ReasonNames =
        ["AllocSmall", "Induced", "LowMemory", "Empty", "AllocLarge", "OutOfSpaceSOH", "OutOfSpaceLOH", "InducedNotForced", "Internal", "InducedLowMemory", "InducedCompacting", "LowMemoryHost", "PMFullGC", "LowMemoryHostBlocking"];

    private readonly ConcurrentDictionary<string, int> _starts = new();
    private readonly ConcurrentDictionary<string, long> _large = new();
    private readonly ConcurrentDictionary<string, long> _small = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCStart", StringComparison.Ordinal) == true && eventData.Payload is { } p)
        {
            var depth = Convert.ToInt32(p[eventData.PayloadNames!.IndexOf("Depth")], System.Globalization.CultureInfo.InvariantCulture);
            var reason = Convert.ToInt32(p[eventData.PayloadNames!.IndexOf("Reason")], System.Globalization.CultureInfo.InvariantCulture);
            var key = $"gen{depth} {(reason < ReasonNames.Length ? ReasonNames[reason] : reason.ToString(System.Globalization.CultureInfo.InvariantCulture))}";
            _starts.AddOrUpdate(key, 1, (_, n) => n + 1);
        }
        else if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && eventData.Payload is { } a)
        {
            var kind = Convert.ToInt32(a[eventData.PayloadNames!.IndexOf("AllocationKind")], System.Globalization.CultureInfo.InvariantCulture);
            var type = eventData.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? a[t]?.ToString() ?? "?" : "?";
            (kind == 1 ? _large : _small).AddOrUpdate(type, 1, (_, n) => n + 1);
        }
    }

    public void Print()
    {
        foreach (var (key, count) in _starts.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"  gc {key}: {count}");
        }

        foreach (var (type, count) in _large.OrderByDescending(k => k.Value).Take(12))
        {
            Console.WriteLine($"  loh ~{count * 100} KB: {type}");
        }

        foreach (var (type, count) in _small.OrderByDescending(k => k.Value).Take(25))
        {
            Console.WriteLine($"  soh ~{count / 10.0:F1} MB: {type}");
        }
    }
}
