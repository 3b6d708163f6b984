using Campaigns.Modeling;
using Campaigns.Scheduling;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Tests.Scheduling;

public class ScheduleResolverTests
{
    private static readonly InstantPattern Iso = InstantPattern.ExtendedIso;

    private static Instant I(string text) => Iso.Parse(text).GetValueOrThrow();

    // A live stream in Shanghai (UTC+8, no DST): 2026-06-18 19:30–21:00 local.
    private static readonly ScheduleContext Live = new()
    {
        TimeZoneId = "Asia/Shanghai",
        EventStart = I("2026-06-18T11:30:00Z"),
        LiveStart = I("2026-06-18T11:30:00Z"),
        EventEnd = I("2026-06-18T13:00:00Z"),
        RegistrationSucceeded = I("2026-06-01T02:15:00Z"),
    };

    public static TheoryData<SopAnchor, string, string?, string> SeedSops() => new()
    {
        // registration success + 0: at once
        { SopAnchor.RegistrationSucceeded, "P0D", null, "2026-06-01T02:15:00Z" },
        // event day at 08:00 local = 00:00 UTC
        { SopAnchor.EventDay, "P0D", "08:00:00", "2026-06-18T00:00:00Z" },
        // T-1 day at 10:00 local
        { SopAnchor.EventDay, "P-1D", "10:00:00", "2026-06-17T02:00:00Z" },
        // live start − 10 minutes
        { SopAnchor.LiveStart, "PT-10M", null, "2026-06-18T11:20:00Z" },
        // after the event + 1 day, same local time
        { SopAnchor.EventEnd, "P1D", null, "2026-06-19T13:00:00Z" },
        // after the event + 1 day at 10:00 local (a time part in the offset is ignored when a time is given)
        { SopAnchor.EventEnd, "P1DT5H", "10:00:00", "2026-06-19T02:00:00Z" },
        // event day without a time: start of the local day plus the offset
        { SopAnchor.EventDay, "PT9H", null, "2026-06-18T01:00:00Z" },
    };

    [Theory]
    [MemberData(nameof(SeedSops))]
    public void Seed_SOP_moments_resolve_in_the_campaign_zone(SopAnchor anchor, string offset, string? at, string expected)
    {
        var spec = new RelativeSchedule(anchor, PeriodPattern.Roundtrip.Parse(offset).GetValueOrThrow(), at is null ? null : LocalTimePattern.ExtendedIso.Parse(at).GetValueOrThrow());
        Assert.Equal(I(expected), ScheduleResolver.Resolve(spec, Live, Instant.MinValue));
    }

    [Fact]
    public void An_anchor_that_is_not_set_resolves_to_null()
    {
        var sop = new SopDefinition { Key = "k", Name = "n", Anchor = SopAnchor.Interaction };
        Assert.Null(ScheduleResolver.Resolve(sop, Live));
        Assert.Equal(I("2026-06-18T11:30:00Z"), ScheduleResolver.Resolve(sop with { Anchor = SopAnchor.LiveStart }, Live));
    }

    [Fact]
    public void Context_from_a_campaign_schedule_carries_its_moments()
    {
        var context = ScheduleContext.For(new CampaignSchedule { TimeZoneId = "Europe/London", StartsAt = I("2026-03-01T10:00:00Z"), EndsAt = I("2026-03-01T12:00:00Z") });
        Assert.Equal(("Europe/London", I("2026-03-01T10:00:00Z"), I("2026-03-01T12:00:00Z"), (Instant?)null), (context.TimeZoneId, context.EventStart!.Value, context.EventEnd!.Value, context.LiveStart));
    }

    [Theory]
    // New York spring forward 2026-03-08 02:00 → 03:00: 02:30 is in the gap → shifted forward by the gap (03:30 EDT = 07:30Z).
    [InlineData("America/New_York", "2026-03-08T02:30:00", "2026-03-08T07:30:00Z")]
    // New York fall back 2026-11-01 02:00 → 01:00: 01:30 happens twice → the earlier (EDT, 05:30Z).
    [InlineData("America/New_York", "2026-11-01T01:30:00", "2026-11-01T05:30:00Z")]
    // London spring forward 2026-03-29 01:00 → 02:00.
    [InlineData("Europe/London", "2026-03-29T01:15:00", "2026-03-29T01:15:00Z")]
    // London fall back 2026-10-25 02:00 → 01:00: 01:30 twice → earlier (BST, 00:30Z).
    [InlineData("Europe/London", "2026-10-25T01:30:00", "2026-10-25T00:30:00Z")]
    // Lord Howe shifts by 30 minutes: 2026-10-04 02:00 → 02:30 (+10:30 → +11): 02:15 → 02:45 (+11) = 15:45Z the day before.
    [InlineData("Australia/Lord_Howe", "2026-10-04T02:15:00", "2026-10-03T15:45:00Z")]
    // Lord Howe fall back 2026-04-05 02:00 → 01:30: 01:45 twice → earlier (+11) = 14:45Z the day before.
    [InlineData("Australia/Lord_Howe", "2026-04-05T01:45:00", "2026-04-04T14:45:00Z")]
    // Shanghai has no DST.
    [InlineData("Asia/Shanghai", "2026-03-08T02:30:00", "2026-03-07T18:30:00Z")]
    public void Absolute_local_times_follow_the_DST_policy(string zone, string local, string expected)
    {
        var spec = new AbsoluteSchedule(LocalDateTimePattern.ExtendedIso.Parse(local).GetValueOrThrow(), zone);
        Assert.Equal(I(expected), ScheduleResolver.Resolve(spec, Live, Instant.MinValue));
    }

    [Fact]
    public void Cron_every_day_at_nine_in_the_campaign_zone()
    {
        var occurrences = ScheduleResolver.Occurrences(new CronSchedule("0 9 * * *"), "Asia/Shanghai", I("2026-06-01T01:00:00Z")).Take(3).ToList();
        Assert.Equal([I("2026-06-02T01:00:00Z"), I("2026-06-03T01:00:00Z"), I("2026-06-04T01:00:00Z")], occurrences);
        Assert.Equal(I("2026-06-02T01:00:00Z"), ScheduleResolver.Resolve(new CronSchedule("0 9 * * *"), Live, I("2026-06-01T01:00:00Z")));
    }

    [Fact]
    public void Cron_across_spring_forward_shifts_the_missing_time_and_keeps_the_rest()
    {
        // 02:30 daily in New York: on 2026-03-08 02:30 does not exist → 03:30 EDT (07:30Z); the next day 02:30 EDT (06:30Z).
        var occurrences = ScheduleResolver.Occurrences(new CronSchedule("30 2 * * *", "America/New_York"), "Asia/Shanghai", I("2026-03-07T12:00:00Z")).Take(3).ToList();
        Assert.Equal([I("2026-03-08T07:30:00Z"), I("2026-03-09T06:30:00Z"), I("2026-03-10T06:30:00Z")], occurrences);
    }

    [Fact]
    public void Cron_across_fall_back_fires_once_for_a_repeated_local_time()
    {
        // Every 30 minutes in New York around 2026-11-01 01:00–02:00, which happens twice.
        var occurrences = ScheduleResolver.Occurrences(new CronSchedule("*/30 * * * *", "America/New_York"), "UTC", I("2026-11-01T04:45:00Z")).Take(5).ToList();
        // 01:00 EDT (05:00Z), 01:30 EDT (05:30Z), then 02:00 EST (07:00Z): the second 01:00 and 01:30 do not fire again.
        Assert.Equal([I("2026-11-01T05:00:00Z"), I("2026-11-01T05:30:00Z"), I("2026-11-01T07:00:00Z"), I("2026-11-01T07:30:00Z"), I("2026-11-01T08:00:00Z")], occurrences);
        Assert.True(occurrences.Zip(occurrences.Skip(1)).All(p => p.First < p.Second));
    }

    [Fact]
    public void A_bad_cron_expression_or_zone_is_named()
    {
        var ex = Assert.Throws<ScheduleException>(() => ScheduleResolver.Occurrences(new CronSchedule("61 9 * * *"), "Asia/Shanghai", Instant.MinValue).First());
        Assert.Contains("'61 9 * * *'", ex.Message, StringComparison.Ordinal);
        var zex = Assert.Throws<ScheduleException>(() => ScheduleResolver.Resolve(new CronSchedule("0 9 * * *", "Moon/Base"), Live, Instant.MinValue));
        Assert.Contains("'Moon/Base'", zex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cron_that_never_fires_resolves_to_null() =>
        Assert.Null(ScheduleResolver.Resolve(new CronSchedule("0 0 30 2 *"), Live, I("2026-01-01T00:00:00Z")));
}
