// The Campaigns sample host: loads the built-in catalogue, creates an offline seminar and a live stream
// from templates, walks them through approval to Scheduled, registers participants through the forms
// (bad submissions are rejected with reasons), records what participants do, and prints a summary.
// The segment index is rebuilt from the SQLite file at start and kept live (AddLiveSegments, LiveSegmentsDemo.cs).
// Then it sends the seminar's registration-success notice through the delivery pipeline (DeliveryDemo.cs),
// builds the seed 004 audiences over a generated contact base (SegmentationDemo.cs) and scores a few leads (ScoringDemo.cs).
// Last, a live stream's SOPs and a nurture journey run on a simulated clock (JourneyDemo.cs, its own service provider).
// `--quick` runs the same flow with fewer generated participants and contacts (CI uses it).
// State is kept in a SQLite file (Campaigns:Storage:Sqlite:Path in appsettings.json, relative to the working directory),
// so a second run finds the first run's campaigns, contacts and sends; `--quick` uses a fresh temporary file instead,
// so CI never depends on what an earlier run left.
using Campaigns.Sample;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var quick = args.Contains("--quick", StringComparer.Ordinal);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args.Where(a => a != "--quick").ToArray(),
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json sits beside the executable
});
var campaigns = builder.Services.AddCampaigns(builder.Configuration.GetSection("Campaigns")).AddLiveSegments();
var quickDatabase = quick ? Path.Combine(Path.GetTempPath(), $"campaigns-sample-{Guid.NewGuid():N}.db") : null;
if (quickDatabase is not null)
{
    campaigns.UseSqliteStorage(quickDatabase);
}
else
{
    campaigns.UseSqliteStorage(builder.Configuration.GetSection("Campaigns:Storage:Sqlite"));
}

DeliveryDemo.AddEmailChannel(campaigns, builder.Configuration);
builder.Services.AddSingleton<SampleRun>();
builder.Services.AddSingleton<ContactsDemo>();
builder.Services.AddSingleton<DeliveryDemo>();
builder.Services.AddSingleton<SegmentationDemo>();
builder.Services.AddSingleton<ScoringDemo>();
ScoringDemo.AddLeadInbox(builder.Services);

using var host = builder.Build();
await host.StartAsync();
var sample = host.Services.GetRequiredService<SampleRun>();
var exitCode = await sample.RunAsync(quick ? 8 : 40, Console.Out);
var liveSegments = await LiveSegmentsDemo.StartAsync(host.Services, Console.Out);   // rebuilt from the SQLite file at start
await host.Services.GetRequiredService<ContactsDemo>().RunAsync(quick ? 20 : 2_000, Console.Out);
liveSegments.PrintAfterImport(Console.Out);                               // grew live as the import stored contacts
await host.Services.GetRequiredService<DeliveryDemo>().RunAsync(sample.SeminarId, Console.Out);
host.Services.GetRequiredService<SegmentationDemo>().Run(quick ? 50_000 : 1_000_000, Console.Out);
await host.Services.GetRequiredService<ScoringDemo>().RunAsync(5, Console.Out);
await JourneyDemo.RunAsync(quick, Console.Out);
await host.StopAsync();
if (quickDatabase is not null)
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    foreach (var file in new[] { quickDatabase, quickDatabase + "-wal", quickDatabase + "-shm" }.Where(File.Exists))
    {
        File.Delete(file);
    }
}

return exitCode;
