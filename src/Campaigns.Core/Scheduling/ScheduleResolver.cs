using Campaigns.Modeling;
using Cronos;
using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>Thrown when a schedule cannot be resolved: a bad cron expression or time zone. The message names the part at fault.</summary>
public sealed class ScheduleException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public ScheduleException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// Turns <see cref="ScheduleSpec"/>s into instants (F-6.2). Pure and thread-safe. Every local time is resolved with
/// the SDK's DST policy (<see cref="LocalTimeResolution"/>), cron recurrences included, so a schedule behaves the same
/// in every zone: a time in a spring-forward gap moves forward by the gap; a time in a fall-back overlap happens once,
/// at the earlier instant.
/// </summary>
public static class ScheduleResolver
{
    /// <summary>
    /// The instant a schedule resolves to: for relative and absolute schedules the one instant (null when the anchor is
    /// not set in the context); for cron, the first occurrence strictly after <paramref name="after"/> (null when it never occurs).
    /// Relative schedules: with a local time, the anchor's local date plus the offset's date part at that time; for
    /// <see cref="SopAnchor.EventDay"/> without one, the start of the event's local day plus the offset; otherwise the
    /// anchor's local date-time plus the offset.
    /// </summary>
    /// <param name="spec">The schedule.</param>
    /// <param name="context">The campaign moments and zone.</param>
    /// <param name="after">For cron: occurrences after this instant.</param>
    /// <exception cref="ScheduleException">Unknown zone or bad cron expression.</exception>
    public static Instant? Resolve(ScheduleSpec spec, ScheduleContext context, Instant after)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        return spec switch
        {
            RelativeSchedule r => ResolveRelative(r, context),
            AbsoluteSchedule a => LocalTimeResolution.ToInstant(a.Local, Zone(a.TimeZoneId ?? context.TimeZoneId)),
            CronSchedule c => Occurrences(c, context.TimeZoneId, after).Select(static i => (Instant?)i).FirstOrDefault(),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec, "Unknown schedule kind."),
        };
    }

    /// <summary>Resolves an SOP step of a campaign (its anchor, offset and local time) against the campaign's moments.</summary>
    /// <param name="sop">The SOP step.</param>
    /// <param name="context">The campaign moments and zone.</param>
    /// <returns>The instant, or null when the SOP's anchor is not set (e.g. no live start).</returns>
    public static Instant? Resolve(SopDefinition sop, ScheduleContext context)
    {
        ArgumentNullException.ThrowIfNull(sop);
        return ResolveRelative(new RelativeSchedule(sop.Anchor, sop.Offset, sop.LocalTime), context);
    }

    /// <summary>
    /// The occurrences of a cron schedule strictly after <paramref name="after"/>, in order, without end.
    /// The expression is matched against local date-times of the zone; each match is resolved with the DST policy;
    /// a local time that occurs twice (overlap) yields one occurrence.
    /// </summary>
    /// <param name="cron">The schedule.</param>
    /// <param name="defaultTimeZoneId">The zone used when the schedule names none.</param>
    /// <param name="after">The instant to start after.</param>
    /// <exception cref="ScheduleException">Unknown zone or bad cron expression.</exception>
    public static IEnumerable<Instant> Occurrences(CronSchedule cron, string defaultTimeZoneId, Instant after)
    {
        ArgumentNullException.ThrowIfNull(cron);
        var zone = Zone(cron.TimeZoneId ?? defaultTimeZoneId);
        CronExpression expression;
        try
        {
            expression = CronExpression.Parse(cron.Expression, CronFormat.Standard);
        }
        catch (CronFormatException ex)
        {
            throw new ScheduleException($"cron expression '{cron.Expression}' is not valid: {ex.Message} Expected 5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * *'.", ex);
        }

        return Enumerate(expression, zone, after);
    }

    private static IEnumerable<Instant> Enumerate(CronExpression expression, DateTimeZone zone, Instant after)
    {
        // Cronos walks local wall-clock time (treated as UTC so it applies no zone rules of its own);
        // NodaTime resolves each local match with the SDK's single DST policy.
        var local = after.InZone(zone).LocalDateTime;
        var last = after;
        for (var guard = 0; guard < 10_000_000; guard++)
        {
            var next = expression.GetNextOccurrence(DateTime.SpecifyKind(local.ToDateTimeUnspecified(), DateTimeKind.Utc), inclusive: false);
            if (next is null)
            {
                yield break;
            }

            local = LocalDateTime.FromDateTime(next.Value);
            var instant = LocalTimeResolution.ToInstant(local, zone);
            if (instant > last)
            {
                last = instant;
                yield return instant;
            }
        }
    }

    private static Instant? ResolveRelative(RelativeSchedule r, ScheduleContext context)
    {
        var zone = Zone(context.TimeZoneId);
        Instant? anchor = r.Anchor switch
        {
            SopAnchor.RegistrationSucceeded => context.RegistrationSucceeded,
            SopAnchor.EventDay or SopAnchor.EventStart => context.EventStart,
            SopAnchor.LiveStart => context.LiveStart,
            SopAnchor.EventEnd => context.EventEnd,
            SopAnchor.Interaction => context.Interaction,
            _ => throw new ArgumentOutOfRangeException(nameof(r), r.Anchor, "Unknown SOP anchor."),
        };
        if (anchor is null)
        {
            return null;
        }

        var local = anchor.Value.InZone(zone).LocalDateTime;
        var datePart = new PeriodBuilder { Years = r.Offset.Years, Months = r.Offset.Months, Weeks = r.Offset.Weeks, Days = r.Offset.Days }.Build();
        local = r.At is { } at
            ? local.Date.Plus(datePart).At(at)
            : r.Anchor == SopAnchor.EventDay ? local.Date.AtMidnight().Plus(r.Offset) : local.Plus(r.Offset);
        return LocalTimeResolution.ToInstant(local, zone);
    }

    private static DateTimeZone Zone(string id) =>
        (id is null ? null : DateTimeZoneProviders.Tzdb.GetZoneOrNull(id))
        ?? throw new ScheduleException($"time zone '{id}' is not an IANA id known to tzdb (e.g. Asia/Shanghai).");
}
