using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Segmentation;

/// <summary>Segmentation options in DI, the hosted clock worker, and event trimming.</summary>
public sealed class SegmentationHostingTests
{
    // 2026-03-15 17:00 UTC is already 2026-03-16 01:00 in Shanghai: "today" differs between UTC and the business zone.
    private static readonly Instant Now = Instant.FromUtc(2026, 3, 15, 17, 0);

    private static readonly AttributeSchema Schema = new()
    {
        Attributes = [.. Campaigns.Contacts.ContactsOptions.DefaultSchema.Attributes, new AttributeDefinition { Name = "last_visit", Type = AttributeType.Date }, new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal }],
    };

    [Fact]
    public void OneConfiguredZoneAndSchemaReachTheEvaluatorIndexAndRegistry()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Segmentation:TimeZone"] = "Asia/Shanghai",
            ["Campaigns:Segmentation:MaxDegreeOfParallelism"] = "1",
            ["Campaigns:Segmentation:InitialCapacity"] = "1000",
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns(configuration.GetSection("Campaigns"));
        services.Configure<CampaignsOptions>(o => o.Contacts.Schema = Schema);
        using var sp = services.BuildServiceProvider();
        var evaluator = sp.GetRequiredService<FilterEvaluator>();
        var index = sp.GetRequiredService<SegmentIndex>();
        var registry = sp.GetRequiredService<SegmentRegistry>();
        Assert.Equal("Asia/Shanghai", evaluator.DefaultZone.Id);
        Assert.Equal("Asia/Shanghai", index.Zone.Id);
        Assert.Same(Schema, index.Schema);
        Assert.Equal(1, index.MaxDegreeOfParallelism);

        // Visited on 2026-03-16 (Shanghai's today, UTC's tomorrow): "within 1d" holds in the business calendar for both.
        var contact = new Contact { Id = new ContactId(Guid.NewGuid()), CreatedAt = Now, Attributes = new Dictionary<string, FieldValue> { ["last_visit"] = new DateValue(new LocalDate(2026, 3, 16)) } };
        var filter = new DateFilter("last_visit", DateOperator.Within, Window: Window.Days(1));
        Assert.True(evaluator.Matches(filter, contact, [], Now));
        registry.Upsert(contact, Now);
        registry.Define(new SegmentDefinition { Id = "recent", Name = "recent", Filter = filter }, Now);
        Assert.Equal(1, registry.SizeOf("recent"));
        Assert.False(FilterEvaluator.Default.Matches(filter, contact, [], Now)); // UTC: a future date
    }

    [Fact]
    public void TheDefaultZoneIsUtc()
    {
        using var sp = new ServiceCollection().AddCampaigns().Services.BuildServiceProvider();
        Assert.Equal(DateTimeZone.Utc.Id, sp.GetRequiredService<FilterEvaluator>().DefaultZone.Id);
        Assert.Equal(DateTimeZone.Utc.Id, sp.GetRequiredService<SegmentIndex>().Zone.Id);
    }

    [Fact]
    public async Task TheClockWorkerFlipsMembershipAtTheDueInstant()
    {
        var clock = new FakeClock(Now);
        var time = new FakeTimeProvider(Now.ToDateTimeOffset());
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddSingleton<TimeProvider>(time);
        services.AddLogging();
        services.AddCampaigns(o => o.Contacts.Schema = Schema).AddSegmentClockWorker(TimeSpan.FromHours(1));
        using var sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<SegmentRegistry>();
        var id = new ContactId(Guid.NewGuid());
        registry.Upsert(new Contact { Id = id, CreatedAt = Now - Duration.FromDays(1) }, Now);
        registry.Define(new SegmentDefinition { Id = "new", Name = "new", Filter = new DateFilter(BuiltInFields.CreatedAt, DateOperator.Within, Window: Window.Days(2)) }, Now);
        Assert.Equal(1, registry.SizeOf("new"));
        var due = Now + Duration.FromDays(1) + Duration.FromTicks(1);
        Assert.Equal(due, registry.NextDue);
        var exited = new TaskCompletionSource<Instant>(TaskCreationOptions.RunContinuationsAsynchronously);
        registry.MembershipChanged += (_, e) => exited.TrySetResult(e.At);

        var worker = Assert.Single(sp.GetServices<IHostedService>().OfType<SegmentClockWorker>());
        using var rounds = new SemaphoreSlim(0);
        worker.RoundCompleted = _ => rounds.Release();
        await worker.StartAsync(CancellationToken.None);
        try
        {
            Assert.True(await rounds.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.False(exited.Task.IsCompleted);

            // The clock passes the due instant; each hour of the time provider wakes the loop for another round.
            clock.Reset(due);
            for (var i = 0; i < 10 && !exited.Task.IsCompleted; i++)
            {
                time.Advance(TimeSpan.FromHours(1));
                await rounds.WaitAsync(TimeSpan.FromSeconds(2));
            }

            Assert.Equal(due, await exited.Task.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, registry.SizeOf("new"));
            Assert.Null(registry.NextDue);
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void RunOnceSleepsUntilTheNextDueInstantOrThePollInterval()
    {
        var clock = new FakeClock(Now);
        var registry = new SegmentRegistry(new SegmentIndex(Schema));
        var worker = new SegmentClockWorker(registry, clock, new FakeTimeProvider(), TimeSpan.FromHours(1), TimeSpan.FromHours(1), NullLogger<SegmentClockWorker>.Instance);
        Assert.Equal(TimeSpan.FromHours(1), worker.RunOnce()); // nothing scheduled
        registry.Upsert(new Contact { Id = new ContactId(Guid.NewGuid()), CreatedAt = Now - Duration.FromDays(2) + Duration.FromMinutes(10) }, Now);
        registry.Define(new SegmentDefinition { Id = "new", Name = "new", Filter = new DateFilter(BuiltInFields.CreatedAt, DateOperator.Within, Window: Window.Days(2)) }, Now);
        Assert.Equal(TimeSpan.FromMinutes(10) + TimeSpan.FromTicks(1), worker.RunOnce());
        clock.AdvanceMinutes(11);
        Assert.Equal(TimeSpan.FromHours(1), worker.RunOnce());
        Assert.Equal(0, registry.SizeOf("new"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentClockWorker(registry, clock, TimeProvider.System, TimeSpan.Zero, TimeSpan.FromHours(1), NullLogger<SegmentClockWorker>.Instance));
    }

    [Fact]
    public void TrimmingDropsOnlyEventsOutsideEveryLiveWindowAndKeepsMemberships()
    {
        var index = new SegmentIndex(Schema);
        var registry = new SegmentRegistry(index);
        var ids = Enumerable.Range(0, 20).Select(i => new ContactId(new Guid(i + 1, 0, 0, new byte[8]))).ToList();
        foreach (var id in ids)
        {
            registry.Upsert(new Contact { Id = id, CreatedAt = Now }, Now);
        }

        var n = 0;
        BehaviourEvent Event(ContactId id, string kind, int daysAgo) => new()
        {
            EventId = "e" + n++,
            ContactId = id,
            Kind = kind,
            OccurredAt = Now - Duration.FromDays(daysAgo),
            Properties = new Dictionary<string, string>(),
        };
        for (var i = 0; i < ids.Count; i++)
        {
            foreach (var days in new[] { 1, 5, 20, 40, 100 })
            {
                registry.Apply(Event(ids[i], "page_view", days + i), Now);
                registry.Apply(Event(ids[i], "purchase", days + i), Now);
                registry.Apply(Event(ids[i], "download", days + i), Now);
            }
        }

        var defs = new[]
        {
            new SegmentDefinition { Id = "viewers", Name = "viewers", Filter = new BehaviourFilter("page_view", [], CompareOperator.GreaterOrEqual, [2], Window.Days(7)) },
            new SegmentDefinition { Id = "active", Name = "active", Filter = new BehaviourFilter("page_view", [], CompareOperator.GreaterOrEqual, [3], Window.Days(30)) },
            new SegmentDefinition { Id = "buyers", Name = "buyers", Filter = new BehaviourFilter("purchase", [], CompareOperator.GreaterOrEqual, [5]) },
        };
        foreach (var d in defs)
        {
            registry.Define(d, Now);
        }

        var before = defs.ToDictionary(d => d.Id, d => registry.Members(d.Id, Now).ToList());
        var events = index.EventCount;

        // page_view: longest window 30d; purchase: all time (kept); download: read by no segment (kept).
        var dropped = registry.TrimEvents(Now);
        var expectedDropped = ids.Select((_, i) => new[] { 1, 5, 20, 40, 100 }.Count(d => Now - Duration.FromDays(d + i) < Now - Duration.FromDays(30))).Sum();
        Assert.Equal(expectedDropped, dropped);
        Assert.Equal(events - dropped, index.EventCount);
        foreach (var d in defs)
        {
            Assert.Equal(before[d.Id], index.Evaluate(d.Filter, Now).ToList());
            Assert.Equal(before[d.Id], registry.Members(d.Id, Now).ToList());
        }

        Assert.Equal(ids.Count, index.Evaluate(new BehaviourFilter("download", [], CompareOperator.Equal, [5], null), Now).Count);
        Assert.Equal(ids.Count, index.Evaluate(new BehaviourFilter("purchase", [], CompareOperator.Equal, [5], null), Now).Count);
        Assert.False(registry.Apply(Event(ids[0], "page_view", 31), Now)); // older than the cut: refused
        Assert.True(registry.Apply(Event(ids[0], "page_view", 29), Now));
        Assert.Equal(0, registry.TrimEvents(Now)); // nothing new to drop
    }
}
