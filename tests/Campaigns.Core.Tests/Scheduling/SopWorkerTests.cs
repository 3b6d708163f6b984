using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using NodaTime;

namespace Campaigns.Tests.Scheduling;

/// <summary>The hosted SOP worker (AddSopWorker) on a fake time provider: start, due sends, sleep until the next due instant, stop.</summary>
public sealed class SopWorkerTests
{
    private static readonly DateTimeZone Shanghai = DateTimeZoneProviders.Tzdb["Asia/Shanghai"];

    private static Instant At(int y, int m, int d, int h, int min) => new LocalDateTime(y, m, d, h, min).InZoneStrictly(Shanghai).ToInstant();

    /// <summary>An <see cref="IClock"/> that reads the fake time provider, so the worker's clock and its sleeps agree.</summary>
    private sealed class ProviderClock(TimeProvider time) : IClock
    {
        public Instant GetCurrentInstant() => Instant.FromDateTimeOffset(time.GetUtcNow());
    }

    /// <summary>A fake time provider that reports each timer the worker creates (its sleeps) and the delay asked for.</summary>
    private sealed class WatchedTime(DateTimeOffset start) : FakeTimeProvider(start), IDisposable
    {
        private readonly SemaphoreSlim _created = new(0);
        private readonly List<TimeSpan> _delays = [];
        private int _read;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            lock (_delays)
            {
                _delays.Add(dueTime);
            }

            _created.Release();
            return timer;
        }

        /// <summary>
        /// Waits (liveness guard only, not a timing assertion) for the worker's next sleep and returns its length; short
        /// timers (the delivery pipeline's timeouts) are skipped: every sleep of this test is hours long.
        /// </summary>
        public async Task<TimeSpan> NextSleepAsync()
        {
            while (true)
            {
                Assert.True(await _created.WaitAsync(TimeSpan.FromSeconds(30)), "the worker did not go to sleep");
                lock (_delays)
                {
                    var delay = _delays[_read++];
                    if (delay > TimeSpan.FromHours(1))
                    {
                        return delay;
                    }
                }
            }
        }

        public void Dispose() => _created.Dispose();
    }

    /// <summary>A recording channel that signals each accepted message.</summary>
    private sealed class SignalingChannel(string name, ChannelAddressKind kind) : IChannel, IDisposable
    {
        private readonly SemaphoreSlim _sent = new(0);

        public RecordingChannel Inner { get; } = new(name, new ChannelCapabilities { AddressKind = kind });

        public string Name => Inner.Name;

        public ChannelCapabilities Capabilities => Inner.Capabilities;

        public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
        {
            var result = await Inner.SendAsync(message, cancellationToken);
            _sent.Release();
            return result;
        }

        public async Task WaitForAsync(int accepted)
        {
            while (Inner.Accepted.Count < accepted)
            {
                Assert.True(await _sent.WaitAsync(TimeSpan.FromSeconds(30)), $"'{Name}' has {Inner.Accepted.Count} messages, not {accepted}");
            }
        }

        public void Dispose() => _sent.Dispose();
    }

    [Fact]
    public async Task The_worker_sends_due_sops_at_once_sleeps_until_the_next_due_send_and_stops_on_cancellation()
    {
        var t0 = At(2026, 6, 1, 9, 0);
        var liveStart = At(2026, 6, 10, 19, 30);
        using var time = new WatchedTime(t0.ToDateTimeOffset());
        using var sms = new SignalingChannel("sms", ChannelAddressKind.Phone);
        using var wechat = new SignalingChannel("wechat-template", ChannelAddressKind.WeChatOpenId);
        using var wecom = new SignalingChannel("wecom", ChannelAddressKind.WeComUserId);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<IClock>(new ProviderClock(time));
        services.AddLogging();
        var builder = services.AddCampaigns(o =>
        {
            foreach (var name in new[] { "sms", "wechat-template", "wecom" })
            {
                o.Delivery.Channels[name] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
            }

            o.Delivery.Sms.MaxLength = null;
            o.Delivery.Sms.MaxSegments = 4;
        });
        builder.AddChannel("sms", (_, _) => sms).AddChannel("wechat-template", (_, _) => wechat).AddChannel("wecom", (_, _) => wecom);
        builder.AddSopWorker(o =>
        {
            o.LinkTemplate = "https://m.example.com/c/{campaignId}?p={participantId}";
            o.PollInterval = TimeSpan.FromDays(30); // longer than the wait: the worker must wake at the due instant
        });
        await using var sp = services.BuildServiceProvider();

        var campaigns = sp.GetRequiredService<ICampaignService>();
        var draft = await campaigns.CreateFromTemplateAsync(
            new CreateCampaignRequest
            {
                TypeId = "live-stream",
                Name = "工业互联网专题直播",
                Topic = "工业互联网",
                Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai", StartsAt = liveStart, LiveStartsAt = liveStart, EndsAt = At(2026, 6, 10, 21, 0), Location = "online" },
            },
            new Actor("olivia", "operator"));
        await campaigns.SubmitAsync(draft.Id, new Actor("olivia", "operator"));
        await campaigns.ApproveAsync(draft.Id, new Actor("mark", "marketing-manager"));
        await campaigns.ApproveAsync(draft.Id, new Actor("ada", "admin"));
        var campaign = await campaigns.ScheduleAsync(draft.Id, new Actor("olivia", "operator"));
        var contact = await sp.GetRequiredService<IContactStore>().AddAsync(new Contact
        {
            Id = ContactId.New(),
            Name = "安娜",
            TimeZoneId = "Asia/Shanghai",
            OwnerId = "sales-li",
            CreatedAt = t0,
            Identities = new ContactIdentities { Phone = "+8613800000001", WeChatOpenId = "o-ann" },
            Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "form", t0), ["wechat-template"] = new(true, "form", t0) },
        });
        await sp.GetRequiredService<IParticipantStore>().AddAsync(new Participant
        {
            Id = ParticipantId.New(),
            CampaignId = campaign.Id,
            ContactId = contact.Id.ToString(),
            Name = "安娜",
            Phone = "+8613800000001",
            Status = RegistrationStatus.Registered,
            Activities = [new ParticipantActivity(ParticipantActivityKind.Registered, t0)],
        });

        var worker = Assert.Single(sp.GetServices<IHostedService>().OfType<SopWorker>());
        using var stop = new CancellationTokenSource();
        await worker.StartAsync(stop.Token);

        // Ready at once: the registration notice (sms + WeChat) and the sales notification go out without time passing.
        await sms.WaitForAsync(1);
        await wechat.WaitForAsync(1);
        await wecom.WaitForAsync(1);
        Assert.Equal("sales-li", wecom.Inner.Accepted[0].Recipient);

        // It then sleeps exactly until the next due send (live start − 10 min), not the 30-day poll interval.
        var liveNotice = At(2026, 6, 10, 19, 20);
        Assert.Equal((liveNotice - t0).ToTimeSpan(), await time.NextSleepAsync());
        Assert.Single(sms.Inner.Accepted);

        // Advancing to that instant wakes it: the live-start notice goes out on both channels, and it sleeps until the next one.
        time.Advance((liveNotice - t0).ToTimeSpan());
        await sms.WaitForAsync(2);
        await wechat.WaitForAsync(2);
        Assert.Contains("10分钟后开始", sms.Inner.Accepted[1].TextBody, StringComparison.Ordinal);
        Assert.Equal((At(2026, 6, 11, 21, 0) - liveNotice).ToTimeSpan(), await time.NextSleepAsync()); // the thank-you, the day after the end

        // Stops cleanly on cancellation, without an error, and sends nothing more.
        await stop.CancelAsync();
        await worker.StopAsync(CancellationToken.None);
        Assert.True(worker.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Equal(2, sms.Inner.Accepted.Count);
    }
}
