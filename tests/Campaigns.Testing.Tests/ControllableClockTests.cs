using Campaigns.Testing;
using NodaTime;

namespace Campaigns.Tests;

public class ControllableClockTests
{
    [Fact]
    public void Advance_moves_forward_and_returns_the_new_instant()
    {
        var clock = new ControllableClock(Instant.FromUtc(2026, 5, 1, 0, 0));
        var now = clock.Advance(Duration.FromHours(3));
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 3, 0), now);
        Assert.Equal(now, clock.GetCurrentInstant());
    }

    [Fact]
    public void Going_back_is_refused()
    {
        var clock = new ControllableClock(Instant.FromUtc(2026, 5, 1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(Duration.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.AdvanceTo(Instant.FromUtc(2026, 4, 30, 0, 0)));
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 0, 0), clock.GetCurrentInstant());
    }

    [Fact]
    public void AtLocal_uses_the_zone_offset()
    {
        var clock = ControllableClock.AtLocal(new LocalDateTime(2026, 5, 1, 8, 0), "Asia/Shanghai");
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 0, 0), clock.GetCurrentInstant());
    }

    [Fact]
    public void SetLocal_in_a_DST_gap_shifts_forward()
    {
        // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00 EST->EDT).
        var clock = new ControllableClock(Instant.FromUtc(2026, 3, 1, 0, 0));
        clock.SetLocal(new LocalDateTime(2026, 3, 8, 2, 30), "America/New_York");
        Assert.Equal(Instant.FromUtc(2026, 3, 8, 7, 30), clock.GetCurrentInstant());
    }
}
