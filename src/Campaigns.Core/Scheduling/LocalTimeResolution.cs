using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>
/// The one DST policy of the SDK (F-6.2): a local date and time is turned into an instant
/// deterministically. A local time inside a gap (clocks jump forward) is shifted forward by the length of the
/// gap (02:30 on a 02:00→03:00 spring-forward day becomes 03:30); a local time inside an overlap (clocks fall
/// back) takes the earlier of the two instants (the first 01:30). This is NodaTime's lenient resolver.
/// </summary>
public static class LocalTimeResolution
{
    /// <summary>Resolves a local date and time in a zone with the SDK's DST policy.</summary>
    /// <param name="local">The local date and time.</param>
    /// <param name="zone">The zone.</param>
    public static Instant ToInstant(LocalDateTime local, DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return local.InZoneLeniently(zone).ToInstant();
    }

    /// <summary>Gets a zone from tzdb by its IANA id.</summary>
    /// <param name="timeZoneId">The IANA id, e.g. <c>Asia/Shanghai</c>.</param>
    /// <param name="paramName">The name of the setting or argument, for the message.</param>
    /// <exception cref="ArgumentException">The id is not known to tzdb; the message names <paramref name="paramName"/>.</exception>
    public static DateTimeZone GetZone(string timeZoneId, string paramName = "timeZoneId") =>
        (timeZoneId is null ? null : DateTimeZoneProviders.Tzdb.GetZoneOrNull(timeZoneId))
        ?? throw new ArgumentException($"'{timeZoneId}' is not an IANA time zone id known to tzdb (e.g. Asia/Shanghai, Europe/London).", paramName);
}
