using System.Diagnostics;
using System.Globalization;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Benchmarks.Journeys;

/// <summary>
/// Issue 7's journey scale targets, measured once (a BenchmarkDotNet job would rebuild a million contacts per iteration):
/// <c>journey-stats N</c> — N contacts enter a segment-entry journey and its first send step completes (target ≤ 10 s
/// for 1M), with memory per waiting contact; <c>timer-stats N</c> — N pending timers in the in-memory run store
/// (target ≤ 100 bytes per timer at 10M), by <see cref="GC.GetTotalMemory(bool)"/> deltas.
/// </summary>
internal static class JourneyStats
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0);

    /// <summary>The journey of the benchmark: welcome e-mail, wait two days, reminder.</summary>
    internal static JourneyDefinition Journey() => new()
    {
        Id = "new-leads-welcome",
        Name = "New leads welcome",
        Trigger = new SegmentEntryTrigger("new-leads"),
        StartNodeId = "welcome",
        Nodes =
        [
            new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait" },
            new WaitNode { Id = "wait", Duration = Duration.FromDays(2), Next = "reminder" },
            new SendMessageNode { Id = "reminder", Channel = "email", TemplateId = "reminder" },
        ],
    };

    internal static Contact Contact(int i) => new()
    {
        Id = new ContactId(new Guid(i + 1, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8)),
        Name = "C" + i.ToString(CultureInfo.InvariantCulture),
        CreatedAt = T0 - Duration.FromDays(1),
        TimeZoneId = "Asia/Shanghai",
        Identities = new ContactIdentities { Email = "c" + i.ToString(CultureInfo.InvariantCulture) + "@example.com" },
        Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0 - Duration.FromDays(1)) },
    };

    /// <summary>
    /// A provider with in-memory stores, a recording e-mail channel (a <see cref="CountingChannel"/> with
    /// <paramref name="counting"/>) and the journey published.
    /// </summary>
    internal static (ServiceProvider Services, JourneyRunner Runner, IChannel Email, InMemoryContactStore Contacts) Host(int parallelism, bool counting)
    {
        var capabilities = new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true };
        IChannel email = counting ? new CountingChannel("email", capabilities) : new RecordingChannel("email", capabilities);
        var contacts = new InMemoryContactStore();
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(new ControllableClock(T0));
        services.AddSingleton<IContactStore>(contacts);
        services.AddSingleton<IJourneyTemplateResolver>(new InMemoryJourneyTemplates()
            .Add("welcome", new MessageTemplate("{name}, welcome!", subject: "Welcome"))
            .Add("reminder", new MessageTemplate("{name}, have a look", subject: "Reminder")));
        services.AddCampaigns(o => o.Delivery.Channels["email"] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } })
            .AddChannel("email", (_, _) => email);
        services.Configure<JourneyOptions>(o => o.MaxParallelism = parallelism);
        var sp = services.BuildServiceProvider();
        var runner = sp.GetRequiredService<JourneyRunner>();
        runner.Catalog.Publish(Journey(), new JourneyValidationContext { Channels = sp.GetRequiredService<IChannelRegistry>(), Templates = sp.GetRequiredService<IJourneyTemplateResolver>() }, T0);
        return (sp, runner, email, contacts);
    }

    public static async Task EntryAsync(int count, int parallelism, bool sample = false, bool counting = false)
    {
        var (sp, runner, email, contacts) = Host(parallelism, counting);
        var ids = new ContactId[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = (await contacts.AddAsync(Contact(i)).ConfigureAwait(false)).Id;
        }

        var before = GC.GetTotalMemory(true);
        using var sampler = sample ? new AllocationSampler() : null;
        sampler?.Start();
        var gcs = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var pause = GC.GetTotalPauseDuration();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var threadCpu = ThreadCpu.Now();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var entered = await runner.OnSegmentEnteredAsync("new-leads", ids).ConfigureAwait(false);
        var enterTime = sw.Elapsed;
        var enterThreadCpu = ThreadCpu.Now() - threadCpu;
        var enterAllocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var claimed = 0;
        for (int n; (n = await runner.RunDueAsync(T0, 1000).ConfigureAwait(false)) > 0;)
        {
            claimed += n;
        }

        sw.Stop();
        var claimTime = sw.Elapsed - enterTime;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        threadCpu = ThreadCpu.Now() - threadCpu;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        pause = GC.GetTotalPauseDuration() - pause;
        gcs = (GC.CollectionCount(0) - gcs.Item1, GC.CollectionCount(1) - gcs.Item2, GC.CollectionCount(2) - gcs.Item3);
        sampler?.Stop();
        var afterAll = GC.GetTotalMemory(true);
        var sent = email is CountingChannel countingChannel ? countingChannel.Accepted : ((RecordingChannel)email).Accepted.Count;
        (email as RecordingChannel)?.Reset(); // the recording channel's copies of the messages are the benchmark's, not the journey's
        var afterState = GC.GetTotalMemory(true);
        var store = (InMemoryJourneyRunStore)sp.GetRequiredService<IJourneyRunStore>();
        Console.WriteLine($"channel={(counting ? "counting" : "recording")} parallelism={parallelism} contacts={count} entered={entered} first-step-runs={claimed} sent={sent} waiting-timers={store.PendingTimers}");
        Console.WriteLine($"enter={enterTime.TotalSeconds:F2}s enter+first-send={sw.Elapsed.TotalSeconds:F2}s ({count / sw.Elapsed.TotalSeconds:F0} contacts/s); process CPU time {cpu.TotalSeconds:F2}s");
        Console.WriteLine($"main thread CPU {(parallelism == 1 ? $"{threadCpu / 1e9:F2}s" : "n/a (P > 1: steps run on pool threads)")} (enter {enterThreadCpu / 1e9:F2}s); GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}{(System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.Batch ? " non-concurrent" : " concurrent")}, gen0/1/2 collections {gcs.Item1}/{gcs.Item2}/{gcs.Item3}, pauses {pause.TotalSeconds:F2}s");
        Console.WriteLine($"allocated: enter {(double)enterAllocated / count:F0} B per contact, first step {(double)(allocated - enterAllocated) / count:F0} B per contact");
        sampler?.Print(allocated, count);
        Console.WriteLine($"memory: with recorded messages {(afterAll - before) / 1e6:F1}MB; journey + delivery state {(afterState - before) / 1e6:F1}MB = {(double)(afterState - before) / count:F0} bytes per waiting contact");
        // The same sends straight through the pipeline (no journey), for the share of the journey's own work.
        var pipeline = sp.GetRequiredService<IDeliveryPipeline>();
        var template = sp.GetRequiredService<IJourneyTemplateResolver>().FindTemplate("reminder")!;
        var probe = Math.Min(count, 100_000);
        sw.Restart();
        for (var i = 0; i < probe; i++)
        {
            var contact = (await contacts.GetAsync(ids[i]).ConfigureAwait(false))!;
            await pipeline.DeliverAsync(
                new DeliveryRequest
                {
                    IdempotencyKey = "probe/" + i.ToString(CultureInfo.InvariantCulture),
                    Contact = contact,
                    Channel = "email",
                    Template = template,
                    Variables = new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = contact.Name! },
                    TaskId = "probe",
                },
                CancellationToken.None).ConfigureAwait(false);
        }

        Console.WriteLine($"pipeline alone: {sw.Elapsed.TotalMilliseconds * 1000 / probe:F1} us per send ({probe} sends); journey entry + first step: {(enterTime + claimTime).TotalMilliseconds * 1000 / count:F1} us per contact");
        GC.KeepAlive(runner);
        await sp.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The run store's share of <c>journey-stats</c>: N runs due now, then claim 1,000 at a time, read each run and
    /// write it back waiting two days (what a send step does to the store), timed on the main thread's CPU clock.
    /// </summary>
    public static async Task StoreStepsAsync(int count)
    {
        var store = new InMemoryJourneyRunStore();
        for (var i = 0; i < count; i++)
        {
            var run = new JourneyRun
            {
                JourneyId = "new-leads-welcome",
                ContactId = new ContactId(new Guid(i + 1, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8)),
                RunNumber = 1,
                NodeId = "welcome",
                EnteredAt = T0,
                NodeEnteredAt = T0,
                DueAt = T0,
            };
            _ = await store.TryCreateAsync(run).ConfigureAwait(false);
        }

        var none = new HashSet<string>(StringComparer.Ordinal);
        var later = T0 + Duration.FromDays(2);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var cpu = ThreadCpu.Now();
        var steps = 0;
        for (IReadOnlyList<JourneyTimer> timers; (timers = await store.ClaimDueAsync(T0, 1000, Duration.FromMinutes(5), none).ConfigureAwait(false)).Count > 0;)
        {
            foreach (var timer in timers)
            {
                var run = (await store.GetLatestAsync(timer.JourneyId, timer.ContactId).ConfigureAwait(false))!;
                _ = await store.TryUpdateAsync(run with { NodeId = "wait", Step = 1, DueAt = later, Version = run.Version + 1 }, run.Version).ConfigureAwait(false);
                steps++;
            }
        }

        cpu = ThreadCpu.Now() - cpu;
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine($"store steps={steps} (claim, read, write back waiting): {cpu / 1e3 / steps:F2} us thread CPU per step, {(double)allocated / steps:F0} B allocated per step; waiting timers {store.PendingTimers}");
    }

    public static async Task TimersAsync(int count)
    {
        var store = new InMemoryJourneyRunStore();
        var random = new Random(42);
        var before = GC.GetTotalMemory(true);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = T0 + Duration.FromSeconds(random.Next(0, 30 * 86_400));
            var run = new JourneyRun
            {
                JourneyId = (i % 4) switch { 0 => "welcome", 1 => "nurture", 2 => "webinar-follow-up", _ => "win-back" },
                ContactId = new ContactId(new Guid(i + 1, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8)),
                RunNumber = 1,
                NodeId = "wait-2d",
                Step = 2,
                Touches = 1,
                EnteredAt = T0,
                NodeEnteredAt = T0,
                DueAt = due,
            };
            if (await store.TryCreateAsync(run).ConfigureAwait(false) is null)
            {
                throw new InvalidOperationException("not created");
            }
        }

        var fill = sw.Elapsed;
        var after = GC.GetTotalMemory(true);
        sw.Restart();
        var claimed = await store.ClaimDueAsync(T0 + Duration.FromDays(1), 10_000, Duration.FromMinutes(1), new HashSet<string>(StringComparer.Ordinal)).ConfigureAwait(false);
        var claim = sw.Elapsed;
        Console.WriteLine($"timers={store.PendingTimers} fill={fill.TotalSeconds:F2}s memory={(after - before) / 1e6:F1}MB bytes/timer={(double)(after - before) / count:F1}");
        Console.WriteLine($"claim of {claimed.Count} due timers from {count}: {claim.TotalMilliseconds:F1}ms; next due {await store.GetNextDueAsync().ConfigureAwait(false)}");
        GC.KeepAlive(store);
    }
}

/// <summary>
/// The benchmark's counting e-mail channel (<c>journey-stats N P counting</c>): accepts every message with a provider id
/// shaped as the recording channel's (<c>recording-N</c>, so the delivery state kept per send is the same) and keeps only
/// the count, where <see cref="RecordingChannel"/> keeps every message and result (about 340 bytes per send that the
/// garbage collector promotes with the library's state). Thread-safe.
/// </summary>
internal sealed class CountingChannel(string name, ChannelCapabilities capabilities) : IChannel
{
    private int _accepted;

    public string Name { get; } = name;

    public ChannelCapabilities Capabilities { get; } = capabilities;

    /// <summary>How many messages were accepted.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken) =>
        new(DeliveryResult.Accepted("recording-" + Interlocked.Increment(ref _accepted).ToString(CultureInfo.InvariantCulture)));
}
