using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>
/// When messages may go out, in the recipient's local time (F-6.3): an optional allowed window on chosen
/// days (e.g. e-mail on weekdays 09:00–18:00) and optional quiet hours (e.g. 22:00–08:00, may cross midnight).
/// A message outside is deferred to <see cref="NextAllowed"/>, never dropped. Immutable and thread-safe.
/// </summary>
public sealed record SendWindow
{
    /// <summary>The days the window is open; empty means every day.</summary>
    public IReadOnlyList<IsoDayOfWeek> Days { get; init; } = [];

    /// <summary>When the window opens each allowed day (inclusive), or null for no window (any time of day).</summary>
    public LocalTime? Opens { get; init; }

    /// <summary>When the window closes each allowed day (exclusive); after <see cref="Opens"/>.</summary>
    public LocalTime? Closes { get; init; }

    /// <summary>When quiet hours start (inclusive), or null for none.</summary>
    public LocalTime? QuietFrom { get; init; }

    /// <summary>When quiet hours end (exclusive); may be earlier than <see cref="QuietFrom"/> to cross midnight.</summary>
    public LocalTime? QuietUntil { get; init; }

    /// <summary>Always open.</summary>
    public static SendWindow Always { get; } = new();

    /// <summary>Mondays to Fridays between two local times.</summary>
    /// <param name="opens">Opening time (inclusive).</param>
    /// <param name="closes">Closing time (exclusive).</param>
    public static SendWindow Weekdays(LocalTime opens, LocalTime closes) => new()
    {
        Days = [IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday],
        Opens = opens,
        Closes = closes,
    };

    /// <summary>Checks the settings: opens and closes given together with opens before closes; quiet hours given together and not equal; some time of the week left open.</summary>
    /// <returns>Errors naming the setting; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Opens.HasValue != Closes.HasValue)
        {
            errors.Add("sendWindow.opens/closes: give both or neither.");
        }
        else if (Opens >= Closes)
        {
            errors.Add($"sendWindow.closes: {Closes} is not after opens {Opens}.");
        }

        if (QuietFrom.HasValue != QuietUntil.HasValue)
        {
            errors.Add("sendWindow.quietFrom/quietUntil: give both or neither.");
        }
        else if (QuietFrom is not null && QuietFrom == QuietUntil)
        {
            errors.Add($"sendWindow.quietUntil: equals quietFrom {QuietFrom}; quiet hours need a length.");
        }

        if (errors.Count == 0 && !Enumerable.Range(0, 24 * 60).Any(m => IsOpenAt(LocalTime.Midnight.PlusMinutes(m))))
        {
            errors.Add("sendWindow: the quiet hours cover the whole window; nothing could ever be sent.");
        }

        return errors;
    }

    /// <summary>Whether a local date and time is inside the window and outside quiet hours.</summary>
    /// <param name="local">The recipient's local date and time.</param>
    public bool IsOpen(LocalDateTime local) =>
        (Days.Count == 0 || Days.Contains(local.DayOfWeek)) && IsOpenAt(local.TimeOfDay);

    /// <summary>Whether an instant is allowed for a recipient in <paramref name="zone"/>.</summary>
    /// <param name="instant">The instant.</param>
    /// <param name="zone">The recipient's zone.</param>
    public bool IsOpen(Instant instant, DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return IsOpen(instant.InZone(zone).LocalDateTime);
    }

    /// <summary>
    /// The earliest instant at or after <paramref name="candidate"/> whose local time in <paramref name="zone"/> is open.
    /// Around DST changes this is exact: a window opening at 02:30 on a day whose clocks jump from 02:00 to 03:00
    /// opens at 03:00 (the first open instant).
    /// </summary>
    /// <param name="candidate">When the message would go.</param>
    /// <param name="zone">The recipient's zone.</param>
    /// <exception cref="InvalidOperationException">The window has no open time (see <see cref="Validate"/>).</exception>
    public Instant NextAllowed(Instant candidate, DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (IsOpen(candidate, zone))
        {
            return candidate;
        }

        // The open set, in local time, starts only at: the window opening, the end of quiet hours, midnight (day
        // change), or a zone transition (the local clock jumps). Check those candidates in order for 8 days.
        var startDate = candidate.InZone(zone).Date;
        Instant? best = null;
        for (var d = 0; d <= 8 && best is null; d++)
        {
            var date = startDate.PlusDays(d);
            foreach (var time in Boundaries())
            {
                Consider(LocalTimeResolution.ToInstant(date.At(time), zone));
            }

            var dayStart = LocalTimeResolution.ToInstant(date.AtMidnight(), zone);
            var dayEnd = LocalTimeResolution.ToInstant(date.PlusDays(1).AtMidnight(), zone);
            for (var interval = zone.GetZoneInterval(dayStart); interval.HasEnd && interval.End < dayEnd; interval = zone.GetZoneInterval(interval.End))
            {
                Consider(interval.End);
            }
        }

        return best ?? throw new InvalidOperationException("The send window has no open time in the next 8 days; check it with Validate().");

        void Consider(Instant instant)
        {
            if (instant > candidate && (best is null || instant < best) && IsOpen(instant, zone))
            {
                best = instant;
            }
        }
    }

    private IEnumerable<LocalTime> Boundaries()
    {
        yield return LocalTime.Midnight;
        if (Opens is { } opens)
        {
            yield return opens;
        }

        if (QuietUntil is { } until)
        {
            yield return until;
        }
    }

    private bool IsOpenAt(LocalTime time)
    {
        if (Opens is { } opens && Closes is { } closes && (time < opens || time >= closes))
        {
            return false;
        }

        if (QuietFrom is { } from && QuietUntil is { } until)
        {
            var quiet = from < until ? time >= from && time < until : time >= from || time < until;
            return !quiet;
        }

        return true;
    }
}
