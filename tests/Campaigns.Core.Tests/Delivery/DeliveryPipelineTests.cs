using System.Diagnostics.Metrics;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Testing;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Delivery;

internal sealed class Harness : IDisposable
{
    public static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0); // Wednesday 10:00 in Shanghai

    private readonly ServiceProvider _services;

    public Harness(Action<DeliveryOptions>? configure = null, string smsName = "sms", Instant? now = null, IFrequencyCapStore? capStore = null, IIdempotencyStore? idempotency = null)
    {
        Clock = new FakeClock(now ?? T0);
        Sms = new RecordingChannel(smsName, new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone });
        Backup = new RecordingChannel("backup", new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone });
        Email = new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(Clock);
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<IDoNotContactList>(DoNotContact);
        services.AddSingleton<IDeliveryAlertObserver>(Alerts);
        if (capStore is not null)
        {
            services.AddSingleton(capStore);
        }

        if (idempotency is not null)
        {
            services.AddSingleton(idempotency);
        }
        services.AddCampaigns(o =>
            {
                foreach (var name in new[] { smsName, "backup", "email" })
                {
                    o.Delivery.Channels[name] = new ChannelDeliveryOptions { ConsentKey = name == smsName ? "sms" : null, Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false } };
                }

                configure?.Invoke(o.Delivery);
            })
            .AddChannel(smsName, (_, _) => Sms).AddChannel("backup", (_, _) => Backup).AddChannel("email", (_, _) => Email);
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        Pipeline = _services.GetRequiredService<IDeliveryPipeline>();
        Records = _services.GetRequiredService<IExecutionRecords>();
    }

    public FakeClock Clock { get; }

    public FakeTimeProvider Time { get; } = new();

    public RecordingChannel Sms { get; }

    public RecordingChannel Backup { get; }

    public RecordingChannel Email { get; }

    public InMemoryDoNotContactList DoNotContact { get; } = new();

    public AlertLog Alerts { get; } = new();

    public IDeliveryPipeline Pipeline { get; }

    public IExecutionRecords Records { get; }

    public IServiceProvider Services => _services;

    public static Contact Contact(string zone = "Asia/Shanghai", bool? smsConsent = true, string phone = "+8613800138000") => new()
    {
        Id = ContactId.New(),
        Name = "李雷",
        CreatedAt = T0 - Duration.FromDays(30),
        TimeZoneId = zone,
        Identities = new ContactIdentities { Phone = phone, Email = "li.lei@example.com" },
        Consents = smsConsent is { } granted
            ? new Dictionary<string, ConsentRecord> { ["sms"] = new(granted, granted ? "registration form" : "unsubscribe link", T0 - Duration.FromDays(1)), ["email"] = new(true, "registration form", T0 - Duration.FromDays(1)) }
            : new Dictionary<string, ConsentRecord>(),
    };

    public static readonly MessageTemplate Template = new("{name|朋友}您好，报名成功：{link}", subject: "报名成功：{name|朋友}", html: "<p>{name|朋友}您好</p>");

    public ValueTask<DeliveryOutcome> Send(Contact contact, string key, string channel = "sms", string? task = null) =>
        Pipeline.DeliverAsync(new DeliveryRequest
        {
            IdempotencyKey = key,
            Contact = contact,
            Channel = channel,
            Template = Template,
            Variables = new Dictionary<string, string> { ["name"] = contact.Name!, ["link"] = "https://e.x/r" },
            TaskId = task,
        }, CancellationToken.None);

    public void Dispose() => _services.Dispose();

    internal sealed class AlertLog : IDeliveryAlertObserver
    {
        public List<DeliveryAlert> Alerts { get; } = [];

        public ValueTask OnAlertAsync(DeliveryAlert alert, CancellationToken cancellationToken)
        {
            lock (Alerts)
            {
                Alerts.Add(alert);
            }

            return ValueTask.CompletedTask;
        }
    }
}

public class DeliveryGateTests
{
    [Fact]
    public async Task Sends_a_rendered_message_and_records_each_decision()
    {
        using var h = new Harness();
        var outcome = await h.Send(Harness.Contact(), "k1");
        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal([GateCheck.Consent, GateCheck.DoNotContact, GateCheck.Content], outcome.Decisions.Select(d => d.Check));
        Assert.All(outcome.Decisions, d => Assert.True(d.Passed));
        var message = Assert.Single(h.Sms.Messages);
        Assert.Equal(("k1", "+8613800138000", "李雷您好，报名成功：https://e.x/r"), (message.IdempotencyKey, message.Recipient, message.TextBody));
    }

    [Fact]
    public async Task Email_gets_subject_and_encoded_html()
    {
        using var h = new Harness();
        var contact = Harness.Contact() with { Name = "<b>Li</b>" };
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "e1", "email")).Status);
        var message = Assert.Single(h.Email.Messages);
        Assert.Equal(("报名成功：<b>Li</b>", "<p>&lt;b&gt;Li&lt;/b&gt;您好</p>"), (message.Subject, message.HtmlBody));
    }

    [Theory]
    [InlineData(false, "consent for 'sms' withdrawn")]
    [InlineData(null, "no consent for 'sms'")]
    public async Task Without_consent_nothing_is_sent(bool? consent, string detail)
    {
        using var h = new Harness();
        var outcome = await h.Send(Harness.Contact(smsConsent: consent), "k1");
        Assert.Equal((DeliveryStatus.Suppressed, GateCheck.Consent), (outcome.Status, outcome.SuppressedBy));
        Assert.Contains(detail, outcome.Decisions.Single().Detail, StringComparison.Ordinal);
        Assert.Empty(h.Sms.Sends);
    }

    [Fact]
    public async Task Do_not_contact_wins_over_consent()
    {
        using var h = new Harness();
        var contact = Harness.Contact();
        h.DoNotContact.Add(contact.Id.ToString());
        var outcome = await h.Send(contact, "k1");
        Assert.Equal(GateCheck.DoNotContact, outcome.SuppressedBy);
        Assert.Empty(h.Sms.Sends);
    }

    [Fact]
    public async Task Rolling_cap_one_sms_per_24_hours()
    {
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 1, Window = TimeSpan.FromHours(24) }));
        var contact = Harness.Contact();
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "a")).Status);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "other-channel", "email")).Status); // the cap is for sms
        h.Clock.Advance(Duration.FromHours(23));
        var capped = await h.Send(contact, "b");
        Assert.Equal((DeliveryStatus.Suppressed, GateCheck.FrequencyCap), (capped.Status, capped.SuppressedBy));
        h.Clock.Advance(Duration.FromHours(1));
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "c")).Status);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(Harness.Contact(), "d")).Status); // another contact
    }

    [Fact]
    public async Task A_failed_send_does_not_use_up_the_cap()
    {
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, Window = TimeSpan.FromHours(24) }));
        h.Sms.FailNext(1, DeliveryFailureReason.ContentRejected);
        var contact = Harness.Contact();
        Assert.Equal(DeliveryStatus.Failed, (await h.Send(contact, "a")).Status);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(contact, "b")).Status);
        Assert.Equal(GateCheck.FrequencyCap, (await h.Send(contact, "c", "email")).SuppressedBy); // global cap
    }

    [Fact]
    public async Task Calendar_day_cap_counts_from_local_midnight_in_the_contacts_zone()
    {
        // 23:30 in Shanghai (UTC+8) = 15:30 UTC.
        using var h = new Harness(o => o.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 1, PerCalendarDay = true }), now: Instant.FromUtc(2026, 6, 17, 15, 30));
        var shanghai = Harness.Contact();
        var london = Harness.Contact("Europe/London"); // 16:30 BST
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(shanghai, "s1")).Status);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(london, "l1")).Status);
        h.Clock.Advance(Duration.FromMinutes(40)); // 00:10 next day in Shanghai; 17:10 same day in London
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(shanghai, "s2")).Status);
        Assert.Equal(GateCheck.FrequencyCap, (await h.Send(london, "l2")).SuppressedBy);
        Assert.Equal(GateCheck.FrequencyCap, (await h.Send(shanghai, "s3")).SuppressedBy);
    }

    [Theory]
    [InlineData("Asia/Shanghai", "2026-06-18T00:00:00Z")] // 08:00 Shanghai
    [InlineData("America/New_York", "2026-06-17T12:00:00Z")] // 22:00 New York is now quiet → 08:00 EDT = 12:00Z
    public async Task Outside_quiet_hours_a_message_is_deferred_to_the_next_allowed_instant(string zone, string expected)
    {
        // 2026-06-17T02:00Z: 10:00 in Shanghai (open) — so use 15:00Z: 23:00 Shanghai (quiet), 11:00 New York (open).
        var now = zone == "Asia/Shanghai" ? Instant.FromUtc(2026, 6, 17, 15, 0) : Instant.FromUtc(2026, 6, 17, 2, 30); // 22:30 EDT the day before
        using var h = new Harness(
            o =>
            {
                o.Channels["sms"].Window = new SendWindowOptions { QuietFrom = "22:00", QuietUntil = "08:00" };
                o.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1, Window = TimeSpan.FromHours(24) });
            },
            now: now);
        var contact = Harness.Contact(zone);
        var outcome = await h.Send(contact, "k", task: "t");
        Assert.Equal(DeliveryStatus.Deferred, outcome.Status);
        Assert.Equal(NodaTime.Text.InstantPattern.ExtendedIso.Parse(expected).Value, outcome.DeferredUntil);
        Assert.False(outcome.Decisions[^1].Passed);
        Assert.Empty(h.Sms.Sends);
        Assert.Equal(1, (await h.Records.GetAsync("t", default))!.Deferred);

        h.Clock.Reset(outcome.DeferredUntil!.Value); // the scheduler calls again with the same key: not a replay, and the cap was not used
        var later = await h.Send(contact, "k", task: "t");
        Assert.Equal((DeliveryStatus.Sent, false), (later.Status, later.IsReplay));
        var record = (await h.Records.GetAsync("t", default))!;
        Assert.Equal((1L, 0L), (record.Sent, record.Deferred));
    }

    [Fact]
    public async Task A_missing_value_fails_the_send_naming_the_variable()
    {
        using var h = new Harness();
        var outcome = await h.Pipeline.DeliverAsync(new DeliveryRequest { IdempotencyKey = "k", Contact = Harness.Contact(), Channel = "sms", Template = new MessageTemplate("{product} 上市") }, default);
        Assert.Equal((DeliveryStatus.Failed, DeliveryFailureReason.ContentRejected), (outcome.Status, outcome.Result!.Value.FailureReason));
        Assert.Contains("{product}", outcome.Result.Value.Detail, StringComparison.Ordinal);
        Assert.Empty(h.Sms.Sends);
    }

    [Fact]
    public async Task Options_are_validated_at_start_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns(o =>
        {
            o.Delivery.Sms.MaxSegments = 0;
            o.Delivery.FrequencyCaps.Add(new FrequencyCapOptions { Limit = 1 });
            o.Delivery.Channels["sms"] = new ChannelDeliveryOptions { Window = new SendWindowOptions { Opens = "9h" } };
        });
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Delivery:Sms:MaxSegments: 0 is not a segment count", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Delivery:FrequencyCaps:0: give either Window", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Delivery:Channels:sms:Window: '9h' is not a time of day", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_bind_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Delivery:Sms:Signature"] = "【示例科技】",
            ["Campaigns:Delivery:Sms:MaxSegments"] = "2",
            ["Campaigns:Delivery:BannedWords:0"] = "顶级",
            ["Campaigns:Delivery:FrequencyCaps:0:Channel"] = "sms",
            ["Campaigns:Delivery:FrequencyCaps:0:Window"] = "1.00:00:00",
            ["Campaigns:Delivery:Channels:email:Window:Days:0"] = "Monday",
            ["Campaigns:Delivery:Channels:email:Window:Opens"] = "09:00",
            ["Campaigns:Delivery:Channels:email:Window:Closes"] = "18:00",
            ["Campaigns:Delivery:Channels:sms:FailoverTo"] = "sms-backup",
            ["Campaigns:Delivery:Channels:sms:Resilience:MaxRetryAttempts"] = "5",
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns(configuration.GetSection("Campaigns"));
        using var sp = services.BuildServiceProvider();
        var o = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Delivery;
        Assert.Equal(("【示例科技】", 2, "顶级"), (o.Sms.Signature, o.Sms.MaxSegments, Assert.Single(o.BannedWords!)));
        Assert.Equal(TimeSpan.FromHours(24), Assert.Single(o.FrequencyCaps).Window);
        var window = o.ForChannel("email").Window!.ToSendWindow();
        Assert.Equal([IsoDayOfWeek.Monday], window.Days);
        Assert.Equal((new LocalTime(9, 0), new LocalTime(18, 0)), (window.Opens!.Value, window.Closes!.Value));
        Assert.Equal(("sms-backup", 5), (o.ForChannel("sms").FailoverTo, o.ForChannel("sms").Resilience.MaxRetryAttempts));
    }

    [Fact]
    public void Frequency_caps_are_never_exceeded_over_random_send_sequences()
    {
        var gen = Gen.Choose(0, 600).ListOf().Select(xs => xs.ToArray());
        Prop.ForAll(gen.ToArbitrary(), gaps =>
        {
            var store = new InMemoryFrequencyCapStore();
            var window = Duration.FromHours(24);
            var accepted = new List<Instant>();
            var t = Harness.T0;
            foreach (var gap in gaps)
            {
                t += Duration.FromMinutes(gap * 10);
                if (store.TryAcquireAsync("c", "sms", t, [new CapWindow(null, t - window + Duration.Epsilon, 2)], default).AsTask().Result is null)
                {
                    accepted.Add(t);
                }
            }

            // Never more than 2 in any 24 h, and a send is refused only when 2 are already in the window.
            return accepted.All(a => accepted.Count(b => b <= a && b > a - window) <= 2);
        }).QuickCheckThrowOnFailure();
    }
}

public class DeliveryReliabilityTests
{
    [Fact]
    public async Task The_same_key_twice_sends_once_and_returns_the_first_result()
    {
        using var h = new Harness();
        var contact = Harness.Contact();
        var first = await h.Send(contact, "journey-7/step-2/contact-42");
        var second = await h.Send(contact, "journey-7/step-2/contact-42");
        Assert.Single(h.Sms.Sends);
        Assert.Equal((false, true), (first.IsReplay, second.IsReplay));
        Assert.Equal(first.Result, second.Result);
        Assert.Equal("recording-1", second.Result!.Value.ProviderMessageId);
    }

    [Fact]
    public async Task Concurrent_invocations_with_one_key_send_once()
    {
        using var h = new Harness();
        var contact = Harness.Contact();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () => await h.Send(contact, "same"))));
        Assert.Single(h.Sms.Sends);
        Assert.Single(outcomes, o => o.Status == DeliveryStatus.Sent && !o.IsReplay);
    }

    [Fact]
    public async Task Retries_retryable_failures_only()
    {
        using var h = new Harness();
        h.Sms.FailNext(2, DeliveryFailureReason.ProviderError);
        var sent = await h.Send(Harness.Contact(), "a");
        Assert.Equal(DeliveryStatus.Sent, sent.Status);
        Assert.Equal(3, h.Sms.Sends.Count);

        h.Sms.Reset();
        h.Sms.FailNext(1, DeliveryFailureReason.InvalidAddress);
        var failed = await h.Send(Harness.Contact(), "b");
        Assert.Equal((DeliveryStatus.Failed, DeliveryFailureReason.InvalidAddress), (failed.Status, failed.Result!.Value.FailureReason));
        Assert.Single(h.Sms.Sends);
    }

    [Fact]
    public async Task A_transient_failure_after_the_retries_releases_the_key()
    {
        using var h = new Harness(o => o.Channels["sms"].Resilience.MaxRetryAttempts = 1);
        h.Sms.FailNext(2, DeliveryFailureReason.ProviderError); // a timeout would leave the send in doubt (InDoubtAttemptTests)
        var contact = Harness.Contact();
        Assert.Equal(DeliveryStatus.Failed, (await h.Send(contact, "k")).Status);
        var again = await h.Send(contact, "k");
        Assert.Equal((DeliveryStatus.Sent, false), (again.Status, again.IsReplay));
    }

    [Fact]
    public async Task Retry_after_is_honoured_on_the_injected_time_provider()
    {
        using var h = new Harness();
        h.Sms.FailNext(1, DeliveryFailureReason.RateLimited, retryAfter: Duration.FromSeconds(30));
        var pending = h.Send(Harness.Contact(), "k").AsTask();
        Assert.Single(h.Sms.Sends);
        h.Time.Advance(TimeSpan.FromSeconds(29));
        await Task.Yield();
        Assert.False(pending.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var outcome = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(2, h.Sms.Sends.Count);
    }

    [Fact]
    public async Task The_breaker_opens_and_the_secondary_sends()
    {
        using var h = new Harness(o =>
        {
            var sms = o.Channels["sms"];
            sms.FailoverTo = "backup";
            sms.Resilience.MaxRetryAttempts = 0;
            sms.Resilience.MinimumThroughput = 2;
            sms.Resilience.FailureRatio = 0.5;
        });
        h.Sms.FailNext(100, DeliveryFailureReason.ProviderError);
        var outcomes = new List<DeliveryOutcome>();
        for (var i = 0; i < 4; i++)
        {
            outcomes.Add(await h.Send(Harness.Contact(), $"k{i}"));
        }

        Assert.All(outcomes, o => Assert.Equal((DeliveryStatus.Sent, "backup", true), (o.Status, o.Channel, o.FailedOver)));
        Assert.Equal(2, h.Sms.Sends.Count); // the circuit opened after two provider errors: the primary is no longer called
        Assert.Equal(4, h.Backup.Sends.Count);
    }

    [Fact]
    public async Task The_attempt_timeout_fails_with_timeout_where_a_resend_is_allowed()
    {
        using var h = new Harness(o =>
        {
            o.Channels["sms"].InDoubtPolicy = InDoubtPolicy.AtLeastOnce; // else the send is left in doubt (InDoubtAttemptTests)
            o.Channels["sms"].Resilience.MaxRetryAttempts = 0;
            o.Channels["sms"].Resilience.AttemptTimeout = TimeSpan.FromSeconds(5);
        });
        h.Sms.DelayEachSend(Timeout.InfiniteTimeSpan);
        var pending = h.Send(Harness.Contact(), "k").AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(5));
        var outcome = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((DeliveryStatus.Failed, DeliveryFailureReason.Timeout), (outcome.Status, outcome.Result!.Value.FailureReason));
    }
}

public class ExecutionRecordTests
{
    [Fact]
    public async Task Counts_add_up_to_the_target()
    {
        using var h = new Harness(o => o.Channels["email"].Window = new SendWindowOptions { Opens = "09:00", Closes = "10:00" }, now: Harness.T0 + Duration.FromHours(2));
        await h.Records.StartAsync("task-1", 5, h.Clock.GetCurrentInstant(), default);
        await h.Send(Harness.Contact(), "1", task: "task-1");
        await h.Send(Harness.Contact(), "2", task: "task-1");
        await h.Send(Harness.Contact(smsConsent: false), "3", task: "task-1");
        await h.Send(Harness.Contact(phone: "not-a-phone"), "4", task: "task-1");
        await h.Send(Harness.Contact(), "5", "email", task: "task-1");
        await h.Send(Harness.Contact(), "1", task: "task-1"); // a replay is not counted twice

        var r = (await h.Records.GetAsync("task-1", default))!;
        Assert.Equal((5, 2L, 1L, 1L, 1L), (r.TargetCount, r.Sent, r.Deferred, r.Suppressed, r.Failed));
        Assert.Equal(1L, r.FailedBy[DeliveryFailureReason.InvalidAddress]);
        Assert.Equal(1L, r.SuppressedBy[GateCheck.Consent]);
        Assert.Equal(r.TargetCount, r.Sent + r.Deferred + r.Suppressed + r.Failed);
    }

    [Fact]
    public async Task The_alert_fires_above_the_threshold_once_and_pauses_the_task()
    {
        using var h = new Harness(o => o.Alert = new DeliveryAlertOptions { FailureRateThreshold = 0.05, MinimumSamples = 4 });
        for (var i = 0; i < 3; i++)
        {
            await h.Send(Harness.Contact(), $"ok{i}", task: "t");
        }

        Assert.Empty(h.Alerts.Alerts);
        await h.Send(Harness.Contact(phone: "bad"), "bad", task: "t");
        var alert = Assert.Single(h.Alerts.Alerts);
        Assert.Equal(("t", 0.25, true), (alert.TaskId, alert.FailureRate, alert.TaskPaused));

        var paused = await h.Send(Harness.Contact(), "after", task: "t");
        Assert.Equal(DeliveryStatus.Paused, paused.Status);
        Assert.Equal(4, h.Sms.Sends.Count);

        await h.Records.SetPausedAsync("t", false, default);
        Assert.Equal(DeliveryStatus.Sent, (await h.Send(Harness.Contact(), "after", task: "t")).Status);
    }

    [Fact]
    public async Task Metrics_are_recorded()
    {
        const string Channel = "metrics-sms";
        var measurements = new List<(string Instrument, double Value, string? Tag)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DeliveryTelemetry.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void OnMeasurement<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        {
            string? channel = null, extra = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "channel")
                {
                    channel = tag.Value as string;
                }
                else
                {
                    extra = tag.Value as string;
                }
            }

            if (channel == Channel)
            {
                lock (measurements)
                {
                    measurements.Add((instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), extra));
                }
            }
        }

        listener.SetMeasurementEventCallback<long>(OnMeasurement);
        listener.SetMeasurementEventCallback<double>(OnMeasurement);
        listener.Start();

        using var h = new Harness(o => o.Channels[Channel].Window = null, smsName: Channel);
        await h.Send(Harness.Contact(), "m1", Channel);
        await h.Send(Harness.Contact(phone: "bad"), "m2", Channel);
        await h.Send(Harness.Contact(smsConsent: false), "m3", Channel);

        Assert.Contains(("campaigns.delivery.sent", 1d, (string?)null), measurements);
        Assert.Contains(("campaigns.delivery.failed", 1d, "invalid_address"), measurements);
        Assert.Contains(("campaigns.delivery.suppressed", 1d, "consent"), measurements);
        Assert.Equal(2, measurements.Count(m => m.Instrument == "campaigns.delivery.duration"));
    }
}
