// The Campaigns sample host: loads the built-in catalogue, creates an offline seminar and a live stream
// from templates, walks them through approval to Scheduled, registers participants through the forms
// (bad submissions are rejected with reasons), records what participants do, and prints a summary.
// `--quick` runs the same flow with fewer generated participants (CI uses it).
using Campaigns.Sample;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var quick = args.Contains("--quick", StringComparer.Ordinal);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args.Where(a => a != "--quick").ToArray(),
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json sits beside the executable
});
builder.Services.AddCampaigns(builder.Configuration.GetSection("Campaigns"));
builder.Services.AddSingleton<SampleRun>();
builder.Services.AddSingleton<ContactsDemo>();

using var host = builder.Build();
await host.StartAsync();
var exitCode = await host.Services.GetRequiredService<SampleRun>().RunAsync(quick ? 8 : 40, Console.Out);
await host.Services.GetRequiredService<ContactsDemo>().RunAsync(quick ? 20 : 2_000, Console.Out);
await host.StopAsync();
return exitCode;
