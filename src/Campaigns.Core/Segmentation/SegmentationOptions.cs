using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// Settings of audience segmentation (section <c>Campaigns:Segmentation</c>): the business calendar that filters use and
/// the shape of the <see cref="SegmentIndex"/> registered in DI. The attribute schema is the contacts' one
/// (<c>Campaigns:Contacts:Schema</c>), so the evaluator of tag rules and journeys, the index and the registry agree.
/// </summary>
/// <remarks>Thread safety: a plain settings object; do not change it after the host has started.</remarks>
public sealed class SegmentationOptions
{
    /// <summary>
    /// The IANA zone whose calendar says what "today" is for date attributes (<c>within 7d</c>) and which day an instant
    /// such as <c>created_at</c> falls on, for the registered <see cref="FilterEvaluator"/> and <see cref="SegmentIndex"/>
    /// alike (default <c>UTC</c>; set the business's zone, e.g. <c>Asia/Shanghai</c>).
    /// </summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>The number of contacts the registered index reserves room for (0 = grow as contacts arrive).</summary>
    public int InitialCapacity { get; set; }

    /// <summary>The threads one evaluation may use (<see cref="SegmentIndex.MaxDegreeOfParallelism"/>); null = one per processor.</summary>
    public int? MaxDegreeOfParallelism { get; set; }

    /// <summary>The zone of <see cref="TimeZone"/>.</summary>
    /// <exception cref="InvalidOperationException">The id is not a tzdb zone (validation at start reports it first).</exception>
    public DateTimeZone Zone() =>
        DateTimeZoneProviders.Tzdb.GetZoneOrNull(TimeZone ?? string.Empty)
        ?? throw new InvalidOperationException($"Campaigns:Segmentation:TimeZone: '{TimeZone}' is not an IANA time zone id known to tzdb.");

    internal static void Validate(SegmentationOptions options, string prefix, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(options.TimeZone) || DateTimeZoneProviders.Tzdb.GetZoneOrNull(options.TimeZone) is null)
        {
            failures.Add($"{prefix}:TimeZone: '{options.TimeZone}' is not an IANA time zone id known to tzdb (e.g. UTC, Asia/Shanghai).");
        }

        if (options.InitialCapacity < 0)
        {
            failures.Add($"{prefix}:InitialCapacity: {options.InitialCapacity} is negative; use 0 to grow as contacts arrive.");
        }

        if (options.MaxDegreeOfParallelism is < 1)
        {
            failures.Add($"{prefix}:MaxDegreeOfParallelism: {options.MaxDegreeOfParallelism} is less than 1; leave it empty for one thread per processor.");
        }
    }
}
