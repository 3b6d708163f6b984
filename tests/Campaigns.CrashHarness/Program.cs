using System.Globalization;
using Campaigns;
using Campaigns.Contacts;
using Campaigns.CrashHarness;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodaTime;

// Usage: Campaigns.CrashHarness seed <contacts> | run
// Environment: CRASH_DB (SQLite file), CRASH_DIR (the provider's files), CRASH_CAPABILITY (honours | neither),
// CRASH_POLICY (AtMostOnce | AtLeastOnce), CRASH_CLOCK_OFFSET_HOURS (this start's clock offset, so the leases of a
// killed predecessor have expired), CRASH_AT_ACCEPTED (optional: SIGKILL self right after the N-th delivery).
var command = args.Length > 0 ? args[0] : "run";
var db = Environment.GetEnvironmentVariable("CRASH_DB") ?? throw new InvalidOperationException("CRASH_DB is required.");
var dir = Environment.GetEnvironmentVariable("CRASH_DIR") ?? throw new InvalidOperationException("CRASH_DIR is required.");
var honours = Environment.GetEnvironmentVariable("CRASH_CAPABILITY") != "neither";
var policy = Enum.Parse<InDoubtPolicy>(Environment.GetEnvironmentVariable("CRASH_POLICY") ?? nameof(InDoubtPolicy.AtMostOnce));
var offset = Duration.FromHours(int.Parse(Environment.GetEnvironmentVariable("CRASH_CLOCK_OFFSET_HOURS") ?? "0", CultureInfo.InvariantCulture));
int? killAt = Environment.GetEnvironmentVariable("CRASH_AT_ACCEPTED") is { Length: > 0 } n ? int.Parse(n, CultureInfo.InvariantCulture) : null;

using var provider = new FileProvider(dir, honours, killAt);
var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton<IClock>(new OffsetClock(offset));
builder.Services.AddSingleton<IJourneyTemplateResolver>(new InMemoryJourneyTemplates().Add("hello", new MessageTemplate("Hello {name}", subject: "Hello")));
builder.Services.AddCampaigns(o => o.Delivery.Channels["provider"] = new ChannelDeliveryOptions { InDoubtPolicy = policy })
    .UseSqliteStorage(db)
    .AddChannel("provider", (_, _) => provider)
    .AddJourneyWorker(o =>
    {
        o.PollInterval = TimeSpan.FromMilliseconds(200);
        o.MaxParallelism = 1; // one send in flight at a kill: the at-most-once test bounds the unknowns by the kills
    });
using var host = builder.Build();

var runner = host.Services.GetRequiredService<JourneyRunner>();
var clock = host.Services.GetRequiredService<IClock>();
runner.Catalog.Publish(
    new JourneyDefinition
    {
        Id = "crash",
        Name = "One send",
        Trigger = new ApiTrigger(),
        StartNodeId = "hello",
        Nodes = [new SendMessageNode { Id = "hello", Channel = "provider", TemplateId = "hello" }],
    },
    new JourneyValidationContext { Channels = host.Services.GetRequiredService<Campaigns.Channels.IChannelRegistry>(), Templates = host.Services.GetRequiredService<IJourneyTemplateResolver>() },
    clock.GetCurrentInstant());

if (command == "seed")
{
    var count = int.Parse(args[1], CultureInfo.InvariantCulture);
    var ids = new List<ContactId>(count);
    var bulk = (IBulkContactStore)host.Services.GetRequiredService<IContactStore>();
    for (var start = 0; start < count; start += 2000)
    {
        await using var batch = await bulk.BeginBatchAsync();
        for (var i = start; i < Math.Min(count, start + 2000); i++)
        {
            var contact = new Contact
            {
                Id = ContactId.New(),
                Name = $"c{i}",
                CreatedAt = clock.GetCurrentInstant(),
                Identities = new ContactIdentities { Email = $"c{i}@example.com" },
                Consents = new Dictionary<string, ConsentRecord> { ["provider"] = new(true, "seed", clock.GetCurrentInstant()) },
            };
            await batch.AddAsync(contact);
            ids.Add(contact.Id);
        }

        await batch.CommitAsync();
    }

    foreach (var id in ids)
    {
        _ = await runner.EnterAsync("crash", id) ?? throw new InvalidOperationException($"{id} did not enter.");
    }

    await File.WriteAllLinesAsync(Path.Combine(dir, "contacts.txt"), ids.Select(i => i.ToString()));
    Console.Out.WriteLine($"seeded {count}");
    return 0;
}

await host.StartAsync();
Console.Out.WriteLine("ready");
var store = host.Services.GetRequiredService<IJourneyRunStore>();
while (await store.GetNextDueAsync() is not null)
{
    await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
}

await host.StopAsync();
Console.Out.WriteLine("done");
return 0;

/// <summary>The system clock shifted by an offset (each restart jumps ahead so the dead predecessor's leases have expired).</summary>
internal sealed class OffsetClock(Duration offset) : IClock
{
    public Instant GetCurrentInstant() => Instant.FromDateTimeOffset(TimeProvider.System.GetUtcNow()) + offset;
}
