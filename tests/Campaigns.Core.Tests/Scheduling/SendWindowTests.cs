using Campaigns.Scheduling;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Tests.Scheduling;

public class SendWindowTests
{
    private static Instant I(string text) => InstantPattern.ExtendedIso.Parse(text).GetValueOrThrow();

    private static readonly DateTimeZone Shanghai = DateTimeZoneProviders.Tzdb["Asia/Shanghai"];
    private static readonly SendWindow EmailHours = SendWindow.Weekdays(new LocalTime(9, 0), new LocalTime(18, 0));

    [Theory]
    // Wednesday 10:00 local: open → unchanged.
    [InlineData("2026-06-17T02:00:00Z", "2026-06-17T02:00:00Z")]
    // Wednesday 07:00 local → 09:00 the same day.
    [InlineData("2026-06-16T23:00:00Z", "2026-06-17T01:00:00Z")]
    // Wednesday 18:00 local (closing is exclusive) → Thursday 09:00.
    [InlineData("2026-06-17T10:00:00Z", "2026-06-18T01:00:00Z")]
    // Friday 20:00 local → Monday 09:00.
    [InlineData("2026-06-19T12:00:00Z", "2026-06-22T01:00:00Z")]
    public void Email_weekdays_nine_to_six_defers_to_the_next_opening(string candidate, string expected) =>
        Assert.Equal(I(expected), EmailHours.NextAllowed(I(candidate), Shanghai));

    [Fact]
    public void Quiet_hours_across_midnight_defer_to_their_end()
    {
        var quiet = new SendWindow { QuietFrom = new LocalTime(22, 0), QuietUntil = new LocalTime(8, 0) };
        Assert.Equal(I("2026-06-18T00:00:00Z"), quiet.NextAllowed(I("2026-06-17T15:30:00Z"), Shanghai)); // 23:30 → 08:00
        Assert.Equal(I("2026-06-18T00:00:00Z"), quiet.NextAllowed(I("2026-06-17T19:00:00Z"), Shanghai)); // 03:00 → 08:00
        Assert.Equal(I("2026-06-17T13:59:00Z"), quiet.NextAllowed(I("2026-06-17T13:59:00Z"), Shanghai)); // 21:59 open
    }

    [Fact]
    public void A_window_opening_inside_a_DST_gap_opens_when_the_clock_lands()
    {
        // New York 2026-03-08 (Sunday): 02:00 → 03:00. A window opening 02:30 opens at 03:00 EDT (07:00Z).
        var window = new SendWindow { Opens = new LocalTime(2, 30), Closes = new LocalTime(5, 0) };
        var ny = DateTimeZoneProviders.Tzdb["America/New_York"];
        Assert.Equal(I("2026-03-08T07:00:00Z"), window.NextAllowed(I("2026-03-08T05:00:00Z"), ny));
    }

    [Fact]
    public void Validation_names_each_bad_setting()
    {
        Assert.Contains("sendWindow.closes", new SendWindow { Opens = new LocalTime(18, 0), Closes = new LocalTime(9, 0) }.Validate()[0], StringComparison.Ordinal);
        Assert.Contains("give both", new SendWindow { Opens = new LocalTime(9, 0) }.Validate()[0], StringComparison.Ordinal);
        Assert.Contains("quietUntil", new SendWindow { QuietFrom = new LocalTime(9, 0), QuietUntil = new LocalTime(9, 0) }.Validate()[0], StringComparison.Ordinal);
        var never = new SendWindow { Opens = new LocalTime(9, 0), Closes = new LocalTime(18, 0), QuietFrom = new LocalTime(8, 0), QuietUntil = new LocalTime(19, 0) };
        Assert.Contains("nothing could ever be sent", Assert.Single(never.Validate()), StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => never.NextAllowed(I("2026-06-17T02:00:00Z"), Shanghai));
        Assert.Empty(EmailHours.Validate());
    }

    private static readonly string[] Zones = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Shanghai", "America/Sao_Paulo", "Pacific/Chatham", "Asia/Kolkata"];

    private static Gen<SendWindow> Windows() =>
        from hasWindow in Gen.Elements(true, false)
        from opensMinute in Gen.Choose(0, 22 * 60)
        from length in Gen.Choose(30, 8 * 60)
        from hasQuiet in Gen.Elements(true, false)
        from quietFrom in Gen.Choose(0, 24 * 60 - 1)
        from quietLength in Gen.Choose(30, 10 * 60)
        from days in Gen.SubListOf(Enum.GetValues<IsoDayOfWeek>().Where(d => d != IsoDayOfWeek.None).ToArray())
        let opens = LocalTime.Midnight.PlusMinutes(opensMinute)
        let closes = LocalTime.Midnight.PlusMinutes(Math.Min(opensMinute + length, 24 * 60 - 1))
        select new SendWindow
        {
            Days = days.ToArray(),
            Opens = hasWindow ? opens : null,
            Closes = hasWindow ? closes : null,
            QuietFrom = hasQuiet ? LocalTime.Midnight.PlusMinutes(quietFrom) : null,
            QuietUntil = hasQuiet ? LocalTime.Midnight.PlusMinutes((quietFrom + quietLength) % (24 * 60)) : null,
        };

    [Fact]
    public void Property_next_allowed_is_open_not_earlier_and_the_first_open_minute()
    {
        // Candidates cluster around 2026's DST transitions so gaps and overlaps are hit often.
        var transitions = new[] { I("2026-03-08T07:00:00Z"), I("2026-03-29T01:00:00Z"), I("2026-04-04T15:00:00Z"), I("2026-10-03T15:30:00Z"), I("2026-10-25T01:00:00Z"), I("2026-11-01T06:00:00Z"), I("2026-04-05T02:45:00Z"), I("2026-09-27T14:00:00Z") };
        var gen =
            from window in Windows()
            from zone in Gen.Elements(Zones)
            from basis in Gen.Elements(transitions)
            from offsetSeconds in Gen.Choose(-3 * 86_400, 3 * 86_400)
            select (window, zone, candidate: basis + Duration.FromSeconds(offsetSeconds));
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (window, zoneId, candidate) = t;
            if (window.Validate().Count > 0)
            {
                return true;
            }

            var zone = DateTimeZoneProviders.Tzdb[zoneId];
            var next = window.NextAllowed(candidate, zone);
            if (next < candidate || !window.IsOpen(next, zone))
            {
                return false;
            }

            // Nothing open between candidate and next, checked minute by minute (all boundaries are whole minutes).
            var minute = Instant.FromUnixTimeSeconds((candidate.ToUnixTimeSeconds() / 60 * 60) + 60);
            for (var t2 = minute; t2 < next; t2 += Duration.FromMinutes(1))
            {
                if (window.IsOpen(t2, zone))
                {
                    return false;
                }
            }

            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }
}
