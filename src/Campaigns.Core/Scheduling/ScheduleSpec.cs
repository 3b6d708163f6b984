using System.Text.Json.Serialization;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>
/// When something should happen (F-6.1, F-6.2), as data: relative to a campaign moment, at an absolute local
/// time, or on a cron recurrence in a time zone. Resolved to instants by <see cref="ScheduleResolver"/>.
/// Serialized with a <c>type</c> discriminator: <c>relative</c>, <c>absolute</c>, <c>cron</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(RelativeSchedule), "relative")]
[JsonDerivedType(typeof(AbsoluteSchedule), "absolute")]
[JsonDerivedType(typeof(CronSchedule), "cron")]
public abstract record ScheduleSpec
{
    private protected ScheduleSpec()
    {
    }
}

/// <summary>
/// Relative to a campaign moment. Without <see cref="At"/>: the anchor's local date and time plus
/// <see cref="Offset"/> (e.g. live start <c>PT-10M</c>; after the event <c>P1D</c> = same local time next day).
/// With <see cref="At"/>: the anchor's local date plus the offset's date part, at that local time
/// (e.g. event day at 08:00: offset <c>P0D</c>, at <c>08:00:00</c>; T-1 day at 10:00: offset <c>P-1D</c>, at <c>10:00:00</c>).
/// Local arithmetic happens in the campaign's zone and is resolved with <see cref="LocalTimeResolution"/>.
/// </summary>
/// <param name="Anchor">The campaign moment.</param>
/// <param name="Offset">The offset (negative = before).</param>
/// <param name="At">The local time of day, or null to keep the anchor's.</param>
public sealed record RelativeSchedule(SopAnchor Anchor, Period Offset, LocalTime? At = null) : ScheduleSpec;

/// <summary>An absolute local date and time in a zone (the campaign's when <see cref="TimeZoneId"/> is null).</summary>
/// <param name="Local">The local date and time.</param>
/// <param name="TimeZoneId">The IANA zone, or null for the campaign's.</param>
public sealed record AbsoluteSchedule(LocalDateTime Local, string? TimeZoneId = null) : ScheduleSpec;

/// <summary>
/// A recurrence from a 5-field cron expression (minute hour day-of-month month day-of-week; e.g. <c>0 9 * * *</c> =
/// every day at 09:00) evaluated in a time zone (the campaign's when <see cref="TimeZoneId"/> is null).
/// </summary>
/// <param name="Expression">The cron expression.</param>
/// <param name="TimeZoneId">The IANA zone, or null for the campaign's.</param>
public sealed record CronSchedule(string Expression, string? TimeZoneId = null) : ScheduleSpec;

/// <summary>The moments a schedule can be relative to: the campaign's schedule plus the triggering moment.</summary>
public sealed record ScheduleContext
{
    /// <summary>The campaign's zone (IANA id).</summary>
    public required string TimeZoneId { get; init; }

    /// <summary>The campaign start.</summary>
    public Instant? EventStart { get; init; }

    /// <summary>The campaign end.</summary>
    public Instant? EventEnd { get; init; }

    /// <summary>The live stream's start.</summary>
    public Instant? LiveStart { get; init; }

    /// <summary>When the registration succeeded (for <see cref="SopAnchor.RegistrationSucceeded"/>).</summary>
    public Instant? RegistrationSucceeded { get; init; }

    /// <summary>When the triggering interaction happened (for <see cref="SopAnchor.Interaction"/>).</summary>
    public Instant? Interaction { get; init; }

    /// <summary>Builds a context from a campaign's schedule.</summary>
    /// <param name="schedule">The campaign schedule.</param>
    public static ScheduleContext For(CampaignSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return new ScheduleContext
        {
            TimeZoneId = schedule.TimeZoneId,
            EventStart = schedule.StartsAt,
            EventEnd = schedule.EndsAt,
            LiveStart = schedule.LiveStartsAt,
        };
    }
}
