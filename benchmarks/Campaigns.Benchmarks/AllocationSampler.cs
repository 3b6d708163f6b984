using System.Diagnostics.Tracing;

namespace Campaigns.Benchmarks;

/// <summary>
/// A sampling allocation profiler: listens to the runtime's <c>GCAllocationTick</c> events (one per ~100 KB allocated,
/// naming the type of the allocation that crossed the mark) and prints the types by share of the samples. Used by the
/// <c>alloc-profile</c> mode to see what a hot path allocates without an external profiler.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly Dictionary<string, (long Samples, long Bytes)> _byType = new(StringComparer.Ordinal);
    private volatile bool _on;

    public void Start() => _on = true;

    public void Stop() => _on = false;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick at Verbose
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_on || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
        {
            return;
        }

        var type = eventData.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload[t] as string ?? "?" : "?";
        var amount = eventData.PayloadNames!.IndexOf("AllocationAmount") is var a and >= 0 ? Convert.ToInt64(eventData.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 0;
        lock (_byType)
        {
            _byType[type] = _byType.TryGetValue(type, out var s) ? (s.Samples + 1, s.Bytes + amount) : (1, amount);
        }
    }

    /// <summary>Prints the types by share of samples, scaled to bytes per operation.</summary>
    public void Print(double allocatedBytes, double operations, int top = 30)
    {
        lock (_byType)
        {
            var total = _byType.Values.Sum(v => v.Samples);
            Console.WriteLine($"{total} samples; {allocatedBytes / operations:F0} B/op allocated in all");
            foreach (var (type, (samples, _)) in _byType.OrderByDescending(kv => kv.Value.Samples).Take(top))
            {
                Console.WriteLine($"{100.0 * samples / total,6:F1}%  ~{allocatedBytes / operations * samples / total,6:F0} B/op  {type}");
            }
        }
    }
}
