using Campaigns.Contacts;
using Campaigns.Segmentation;
using Campaigns.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Sample;

/// <summary>
/// <c>AddLiveSegments()</c> in the sample host: the segment index was rebuilt from the SQLite file as the host started
/// (so a second run starts with the first run's contacts), and a segment defined now grows as the contacts demo imports.
/// </summary>
internal sealed class LiveSegmentsDemo(SegmentRegistry registry, IClock clock, int before)
{
    private const string SegmentId = "manufacturing";

    public static async Task<LiveSegmentsDemo> StartAsync(IServiceProvider services, TextWriter o)
    {
        var report = services.GetRequiredService<SegmentIndexLoader>().Completion.Result; // the host has started: loaded
        var registry = services.GetRequiredService<SegmentRegistry>();
        var clock = services.GetRequiredService<IClock>();
        var schema = services.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts.Schema;
        // Through the durable definitions: stored in the SQLite file (a second run finds it loaded at start and writes nothing).
        var stored = await services.GetRequiredService<DurableDefinitions>().DefineSegmentAsync(
            new SegmentDefinition { Id = SegmentId, Name = "制造业线索", Filter = FilterParser.Parse("industry = \"manufacturing\"", new FilterContext(schema)) }).ConfigureAwait(false);
        o.WriteLine();
        o.WriteLine($"== Live segments: index rebuilt from the store at start: {report.Contacts:N0} contacts, {report.Events:N0} events in {report.Elapsed.TotalMilliseconds:0} ms");
        var before = registry.SizeOf(SegmentId);
        o.WriteLine($"  segment '{SegmentId}' (industry = \"manufacturing\", stored definition version {stored.Version}): {before:N0} members before the import");
        return new LiveSegmentsDemo(registry, clock, before);
    }

    public void PrintAfterImport(TextWriter o) =>
        o.WriteLine($"  segment '{SegmentId}': {registry.SizeOf(SegmentId):N0} members after the import (+{registry.SizeOf(SegmentId) - before:N0}, kept live by the contact listener at {clock.GetCurrentInstant()})");
}
