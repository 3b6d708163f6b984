using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace Campaigns.Benchmarks.Contacts;

/// <summary>
/// With <c>CAMPAIGNS_JIT_LOG=1</c>, <c>import-stats</c> prints how many methods the JIT compiled in each 5 s of the import
/// (the runtime's MethodLoadVerbose events), how many of them were dynamic methods, and the methods compiled most often
/// (tier-0, instrumented, tier-1 and on-stack-replacement versions of one method count separately). Diagnostics only:
/// it shows whether the importer keeps the JIT busy after its warm-up.
/// </summary>
internal sealed class JitLog : EventListener
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<int, int> _perBucket = new();
    private readonly ConcurrentDictionary<int, int> _dynamicPerBucket = new();
    private readonly ConcurrentDictionary<string, int> _methods = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x10);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("MethodLoadVerbose", StringComparison.Ordinal) != true || eventData.Payload is not { } p)
        {
            return;
        }

        var names = eventData.PayloadNames!;
        var bucket = (int)(_clock.Elapsed.TotalSeconds / 5);
        var flags = Convert.ToInt64(p[names.IndexOf("MethodFlags")], System.Globalization.CultureInfo.InvariantCulture);
        _perBucket.AddOrUpdate(bucket, 1, (_, n) => n + 1);
        if ((flags & 0x1) != 0)
        {
            _dynamicPerBucket.AddOrUpdate(bucket, 1, (_, n) => n + 1);
        }

        var name = $"{p[names.IndexOf("MethodNamespace")]}::{p[names.IndexOf("MethodName")]}";
        _methods.AddOrUpdate(name, 1, (_, n) => n + 1);
    }

    public void Print()
    {
        foreach (var (bucket, count) in _perBucket.OrderBy(b => b.Key))
        {
            Console.WriteLine($"  jit {bucket * 5,3}-{bucket * 5 + 5,3}s: {count} methods ({_dynamicPerBucket.GetValueOrDefault(bucket)} dynamic)");
        }

        foreach (var (method, count) in _methods.OrderByDescending(m => m.Value).Take(15))
        {
            Console.WriteLine($"  jit x{count}: {method}");
        }
    }
}
