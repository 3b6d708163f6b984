using NodaTime;

namespace Campaigns.Testing;

/// <summary>
/// An <see cref="IClock"/> for host tests that only moves when told to. Thread-safe.
/// Register it in place of the system clock (<c>services.AddSingleton&lt;IClock&gt;(clock)</c>) and move time with
/// <see cref="Advance"/>, <see cref="AdvanceTo"/> or <see cref="SetLocal"/>.
/// </summary>
public sealed class ControllableClock : IClock
{
    private readonly Lock _gate = new();
    private Instant _now;

    /// <summary>Creates a clock at the given instant.</summary>
    /// <param name="start">The initial instant.</param>
    public ControllableClock(Instant start) => _now = start;

    /// <summary>Creates a clock at a local date and time in an IANA zone (gaps shift forward, overlaps take the earlier offset).</summary>
    /// <param name="local">The local date and time.</param>
    /// <param name="timeZoneId">The IANA zone id, e.g. <c>Asia/Shanghai</c>.</param>
    /// <exception cref="NodaTime.TimeZones.DateTimeZoneNotFoundException">Unknown zone id.</exception>
    public static ControllableClock AtLocal(LocalDateTime local, string timeZoneId) =>
        new(ToInstant(local, timeZoneId));

    /// <inheritdoc />
    public Instant GetCurrentInstant()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    /// <summary>Moves the clock forward.</summary>
    /// <param name="by">How far; not negative.</param>
    /// <returns>The new instant.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="by"/> is negative.</exception>
    public Instant Advance(Duration by)
    {
        if (by < Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(by), by, "A clock only moves forward; use a new clock to go back.");
        }

        lock (_gate)
        {
            _now += by;
            return _now;
        }
    }

    /// <summary>Moves the clock to an instant at or after the current one.</summary>
    /// <param name="instant">The target instant.</param>
    /// <exception cref="ArgumentOutOfRangeException">The instant is before the current one.</exception>
    public void AdvanceTo(Instant instant)
    {
        lock (_gate)
        {
            if (instant < _now)
            {
                throw new ArgumentOutOfRangeException(nameof(instant), instant, $"The clock is at {_now}; it only moves forward.");
            }

            _now = instant;
        }
    }

    /// <summary>Moves the clock to a local date and time in a zone (gaps shift forward, overlaps take the earlier offset).</summary>
    /// <param name="local">The local date and time.</param>
    /// <param name="timeZoneId">The IANA zone id.</param>
    public void SetLocal(LocalDateTime local, string timeZoneId) => AdvanceTo(ToInstant(local, timeZoneId));

    private static Instant ToInstant(LocalDateTime local, string timeZoneId) =>
        local.InZoneLeniently(DateTimeZoneProviders.Tzdb[timeZoneId]).ToInstant();
}
