using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Scheduling;

/// <summary>The seed 000 §1.3 SOP set of a live-stream campaign run end to end on a fake clock.</summary>
public sealed class SopRunnerTests : IDisposable
{
    private static readonly Actor Operator = new("olivia", "operator");
    private static readonly Actor Manager = new("mark", "marketing-manager");
    private static readonly Actor Admin = new("ada", "admin");
    private static readonly DateTimeZone Shanghai = DateTimeZoneProviders.Tzdb["Asia/Shanghai"];
    private static readonly Instant T0 = At(2026, 6, 1, 9, 0);

    private readonly FakeClock _clock = new(T0);
    private readonly RecordingChannel _sms = new("sms", new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone });
    private readonly RecordingChannel _wechat = new("wechat-template", new ChannelCapabilities { AddressKind = ChannelAddressKind.WeChatOpenId });
    private readonly RecordingChannel _wecom = new("wecom", new ChannelCapabilities { AddressKind = ChannelAddressKind.WeComUserId });
    private readonly InMemoryIdempotencyStore _idempotency = new();
    private readonly List<ServiceProvider> _providers = [];

    private static Instant At(int y, int m, int d, int h, int min) => new LocalDateTime(y, m, d, h, min).InZoneStrictly(Shanghai).ToInstant();

    private ServiceProvider Build(bool withWeChat = true, IParticipantStore? participants = null, ICampaignStore? campaigns = null, IContactStore? contacts = null, Action<DeliveryOptions>? delivery = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddSingleton<IIdempotencyStore>(_idempotency);
        if (participants is not null)
        {
            services.AddSingleton(participants);
        }

        if (campaigns is not null)
        {
            services.AddSingleton(campaigns);
        }

        if (contacts is not null)
        {
            services.AddSingleton(contacts);
        }

        services.AddLogging();
        var builder = services.AddCampaigns(o =>
        {
            foreach (var name in new[] { "sms", "wechat-template", "wecom" })
            {
                o.Delivery.Channels[name] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
            }

            o.Delivery.Sms.MaxLength = null; // the seed's notices with a link are long SMS (concatenated)
            o.Delivery.Sms.MaxSegments = 4;
            delivery?.Invoke(o.Delivery);
        });
        builder.AddChannel("sms", (_, _) => _sms).AddChannel("wecom", (_, _) => _wecom);
        if (withWeChat)
        {
            builder.AddChannel("wechat-template", (_, _) => _wechat);
        }

        builder.AddSopRunner(o => o.LinkTemplate = "https://m.example.com/c/{campaignId}?p={participantId}");
        var sp = services.BuildServiceProvider();
        _providers.Add(sp);
        return sp;
    }

    public void Dispose()
    {
        foreach (var sp in _providers)
        {
            sp.Dispose();
        }
    }

    private static CreateCampaignRequest LiveStream(Instant? liveStart = null) => new()
    {
        TypeId = "live-stream",
        Name = "工业互联网专题直播",
        Topic = "工业互联网",
        Schedule = new CampaignSchedule
        {
            TimeZoneId = "Asia/Shanghai",
            StartsAt = At(2026, 6, 10, 19, 30),
            LiveStartsAt = liveStart ?? At(2026, 6, 10, 19, 30),
            EndsAt = At(2026, 6, 10, 21, 0),
            Location = "online",
        },
    };

    private static async Task<Campaign> ApprovedAsync(ICampaignService campaigns, CreateCampaignRequest request)
    {
        var c = await campaigns.CreateFromTemplateAsync(request, Operator);
        await campaigns.SubmitAsync(c.Id, Operator);
        await campaigns.ApproveAsync(c.Id, Manager);
        await campaigns.ApproveAsync(c.Id, Admin);
        return await campaigns.ScheduleAsync(c.Id, Operator);
    }

    private static async Task<(Contact Contact, Participant Participant)> RegisterAsync(IServiceProvider sp, Campaign campaign, string name, string phone, Instant registeredAt, string? owner = "sales-li")
    {
        var contact = await sp.GetRequiredService<IContactStore>().AddAsync(new Contact
        {
            Id = ContactId.New(),
            Name = name,
            TimeZoneId = "Asia/Shanghai",
            OwnerId = owner,
            CreatedAt = registeredAt,
            Identities = new ContactIdentities { Phone = phone, WeChatOpenId = "o-" + phone },
            Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "form", registeredAt), ["wechat-template"] = new(true, "form", registeredAt) },
        });
        var participant = await sp.GetRequiredService<IParticipantStore>().AddAsync(new Participant
        {
            Id = ParticipantId.New(),
            CampaignId = campaign.Id,
            ContactId = contact.Id.ToString(),
            Name = name,
            Phone = phone,
            Status = RegistrationStatus.Registered,
            Activities = [new ParticipantActivity(ParticipantActivityKind.Registered, registeredAt)],
        });
        return (contact, participant);
    }

    private async Task<List<SopDelivery>> DriveAsync(SopRunner runner, Instant until)
    {
        var all = new List<SopDelivery>();
        for (var guard = 0; guard < 1000; guard++)
        {
            var result = await runner.RunDueAsync(_clock.GetCurrentInstant());
            all.AddRange(result.Deliveries);
            if (result.NextDue is not { } next || next > until)
            {
                _clock.Reset(until);
                all.AddRange((await runner.RunDueAsync(until)).Deliveries);
                return all;
            }

            if (next > _clock.GetCurrentInstant())
            {
                _clock.Reset(next);
            }
        }

        throw new InvalidOperationException("The SOPs did not settle.");
    }

    [Fact]
    public async Task The_live_stream_sop_set_sends_each_notice_at_its_moment_through_each_channel()
    {
        var sp = Build();
        var campaign = await ApprovedAsync(sp.GetRequiredService<ICampaignService>(), LiveStream());
        var (ann, annP) = await RegisterAsync(sp, campaign, "安娜", "+8613800000001", T0);
        var runner = sp.GetRequiredService<SopRunner>();

        var deliveries = await DriveAsync(runner, At(2026, 6, 12, 0, 0));

        var sent = deliveries.Where(d => d.Status == SopSendStatus.Sent && d.Send.Audience == SopAudience.Customer).Select(d => (d.Send.SopKey, d.Send.Channel, d.At)).ToList();
        Assert.Equal(
            [
                ("registration-success", "sms", T0),
                ("registration-success", "wechat-template", T0),
                ("live-start", "sms", At(2026, 6, 10, 19, 20)),          // live start − 10 min
                ("live-start", "wechat-template", At(2026, 6, 10, 19, 20)),
                ("post-event-thanks", "sms", At(2026, 6, 11, 21, 0)),    // the day after the end, same local time
                ("post-event-thanks", "wechat-template", At(2026, 6, 11, 21, 0)),
            ],
            sent);
        Assert.Equal(3, _sms.Accepted.Count);
        Assert.Equal(3, _wechat.Accepted.Count);
        Assert.All(_sms.Accepted, m => Assert.Equal("+8613800000001", m.Recipient));
        Assert.All(_wechat.Accepted, m => Assert.Equal("o-+8613800000001", m.Recipient));
        Assert.Contains($"https://m.example.com/c/{campaign.Id}?p={annP.Id}", _sms.Accepted[0].TextBody, StringComparison.Ordinal);
        Assert.StartsWith("安娜您好,", _sms.Accepted[1].TextBody, StringComparison.Ordinal);
        Assert.Contains("10分钟后开始", _sms.Accepted[1].TextBody, StringComparison.Ordinal);

        // Idempotency keys: campaign / sop / participant / occurrence / channel.
        Assert.Equal($"sop/{campaign.Id}/live-start/{annP.Id}/liveStart/sms", deliveries.Single(d => d.Send is { SopKey: "live-start", Channel: "sms" }).Send.IdempotencyKey);

        // Execution records per SOP.
        var records = sp.GetRequiredService<IExecutionRecords>();
        var record = await records.GetAsync($"sop/{campaign.Id}/live-start", default);
        Assert.Equal(2, record!.Sent);
        Assert.Equal("sales-li", Assert.Single(_wecom.Accepted).Recipient); // sales hear of the registration
        Assert.Equal(ann.Name, annP.Name);
    }

    [Fact]
    public async Task An_in_doubt_send_is_reported_unknown_and_not_sent_again()
    {
        var sp = Build();
        var campaign = await ApprovedAsync(sp.GetRequiredService<ICampaignService>(), LiveStream());
        var (_, p) = await RegisterAsync(sp, campaign, "安娜", "+8613800000001", T0);
        var send = SopPlanner.Plan(campaign, [p]).First(s => s.SopKey == "registration-success" && s.Channel == "sms");

        // A dead host claimed the send's key (the provider may have accepted it) and never recorded the outcome.
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await _idempotency.TryClaimAsync(send.IdempotencyKey, T0 - Duration.FromHours(1), Duration.FromMinutes(5), default)).Status);
        var round = await sp.GetRequiredService<SopRunner>().RunDueAsync(T0);

        var delivery = Assert.Single(round.Deliveries, d => d.Send.IdempotencyKey == send.IdempotencyKey);
        Assert.Equal(SopSendStatus.Unknown, delivery.Status);
        Assert.Equal(DeliveryStatus.Unknown, delivery.Outcome!.Status);
        Assert.Contains("neither honours idempotency keys nor can be asked", delivery.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(_sms.Messages, m => m.IdempotencyKey == send.IdempotencyKey); // not sent again
        Assert.Contains(round.Deliveries, d => d.Send.Channel == "wechat-template" && d.Send.SopKey == "registration-success" && d.Status == SopSendStatus.Sent);
    }

    [Fact]
    public async Task Sales_are_notified_of_each_interaction_once_and_the_customer_sops_are_not_repeated()
    {
        var sp = Build();
        var campaign = await ApprovedAsync(sp.GetRequiredService<ICampaignService>(), LiveStream());
        var (_, p) = await RegisterAsync(sp, campaign, "白雪", "+8613800000002", T0);
        var runner = sp.GetRequiredService<SopRunner>();
        await runner.RunDueAsync(T0);
        Assert.Single(_wecom.Accepted); // the registration itself is an interaction

        var store = sp.GetRequiredService<IParticipantStore>();
        _clock.Reset(At(2026, 6, 10, 19, 45));
        var current = await store.GetAsync(p.Id);
        await store.UpdateAsync(current! with { Activities = [.. current!.Activities, new ParticipantActivity(ParticipantActivityKind.WatchedLive, _clock.GetCurrentInstant(), Duration.FromMinutes(30))] });
        var round = await runner.RunDueAsync(_clock.GetCurrentInstant());
        await runner.RunDueAsync(_clock.GetCurrentInstant()); // a second round at the same instant does nothing more

        Assert.Equal(2, _wecom.Accepted.Count);
        var notice = _wecom.Accepted[1];
        Assert.Equal("sales-li", notice.Recipient);
        Assert.Equal("您的客户白雪在「工业互联网专题直播」中有新的互动行为(2026-06-10 19:45),请及时跟进:" + $"https://m.example.com/c/{campaign.Id}?p={p.Id}", notice.TextBody);
        Assert.Contains(round.Deliveries, d => d.Send.Occurrence == "watchedLive-1" && d.Status == SopSendStatus.Sent);
        Assert.Equal(1, _sms.Accepted.Count(m => m.TextBody.Contains("成功报名", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_restarted_runner_on_the_same_stores_sends_nothing_twice()
    {
        var participants = new Campaigns.Storage.InMemoryParticipantStore();
        var campaigns = new Campaigns.Storage.InMemoryCampaignStore();
        var contacts = new InMemoryContactStore();
        var first = Build(participants: participants, campaigns: campaigns, contacts: contacts);
        var campaign = await ApprovedAsync(first.GetRequiredService<ICampaignService>(), LiveStream());
        await RegisterAsync(first, campaign, "陈晨", "+8613800000003", T0);
        await first.GetRequiredService<SopRunner>().RunDueAsync(T0);
        Assert.Single(_sms.Accepted); // the registration notice; the sales notice goes to wecom

        var second = Build(participants: participants, campaigns: campaigns, contacts: contacts);
        var again = await second.GetRequiredService<SopRunner>().RunDueAsync(T0);

        Assert.NotEmpty(again.Deliveries);
        Assert.All(again.Deliveries, d => Assert.Contains("replay", d.Detail, StringComparison.Ordinal));
        Assert.Single(_sms.Accepted);
        Assert.Single(_wechat.Accepted);
        Assert.Single(_wecom.Accepted);
    }

    [Fact]
    public async Task Overdue_sends_beyond_the_limit_are_skipped_and_say_why()
    {
        var sp = Build();
        var campaign = await ApprovedAsync(sp.GetRequiredService<ICampaignService>(), LiveStream());
        await RegisterAsync(sp, campaign, "丁一", "+8613800000004", T0);
        var runner = sp.GetRequiredService<SopRunner>();

        var late = T0 + Duration.FromDays(2); // the host was down for two days
        var result = await runner.RunDueAsync(late);

        Assert.All(result.Deliveries, d => Assert.Equal(SopSendStatus.Skipped, d.Status));
        Assert.Contains("SkipIfOlderThan", result.Deliveries[0].Detail, StringComparison.Ordinal);
        Assert.Empty(_sms.Sends);
        Assert.Equal(At(2026, 6, 10, 19, 20), result.NextDue);
    }

    [Fact]
    public async Task A_send_outside_the_sms_window_is_deferred_to_it_not_dropped()
    {
        var sp = Build(delivery: d => d.Channels["sms"].Window = new SendWindowOptions { QuietFrom = "21:00", QuietUntil = "08:00" });
        var campaign = await ApprovedAsync(sp.GetRequiredService<ICampaignService>(), LiveStream());
        var lateEvening = At(2026, 6, 2, 22, 30);
        _clock.Reset(lateEvening);
        await RegisterAsync(sp, campaign, "马可", "+8613800000005", lateEvening);
        var runner = sp.GetRequiredService<SopRunner>();

        var deliveries = await DriveAsync(runner, At(2026, 6, 3, 12, 0));

        var sms = deliveries.Where(d => d.Send is { SopKey: "registration-success", Channel: "sms" }).ToList();
        Assert.Equal([SopSendStatus.Deferred, SopSendStatus.Sent], sms.Select(d => d.Status));
        Assert.Equal(At(2026, 6, 3, 8, 0), sms[1].At);
        Assert.Equal(lateEvening, deliveries.Single(d => d.Send is { SopKey: "registration-success", Channel: "wechat-template" }).At);
    }

    [Fact]
    public async Task A_missing_channel_is_reported_at_approval_naming_the_sop_and_the_channel()
    {
        var sp = Build(withWeChat: false);
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var c = await campaigns.CreateFromTemplateAsync(LiveStream(), Operator);

        var ex = await Assert.ThrowsAsync<CampaignValidationException>(() => campaigns.SubmitAsync(c.Id, Operator));

        Assert.Contains(ex.Errors, e => e.StartsWith("sops[registration-success] '报名成功通知': channel 'wechat-template' is not registered", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("sops[live-start] '直播开播通知': channel 'wechat-template'", StringComparison.Ordinal));
        Assert.Equal(CampaignState.Draft, (await campaigns.GetAsync(c.Id)).State); // nothing written
    }

    [Fact]
    public async Task Approval_reports_an_unset_anchor_and_a_variable_without_value()
    {
        var sp = Build();
        var runner = sp.GetRequiredService<SopRunner>();
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var request = LiveStream();
        var c = await campaigns.CreateFromTemplateAsync(request with { Schedule = request.Schedule with { LiveStartsAt = null } }, Operator);
        c = c with { Sops = [.. c.Sops, new SopDefinition { Key = "x", Name = "X", Channels = ["sms"], Content = "{name}: {coupon}" }] };

        var findings = runner.Check(c);

        Assert.Contains("sops[live-start] '直播开播通知': is relative to liveStart but the campaign's schedule.liveStartsAt is not set.", findings);
        Assert.Contains(findings, f => f.StartsWith("sops[x] 'X': the content uses {coupon}, which has no value", StringComparison.Ordinal));
        Assert.Equal(2, findings.Count);
    }

    [Fact]
    public async Task Without_a_link_template_approval_names_the_setting()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddCampaigns().AddChannel("sms", (_, _) => _sms).AddChannel("wecom", (_, _) => _wecom).AddChannel("wechat-template", (_, _) => _wechat).AddSopRunner();
        using var sp = services.BuildServiceProvider();
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var c = await campaigns.CreateFromTemplateAsync(LiveStream(), Operator);

        var ex = await Assert.ThrowsAsync<CampaignValidationException>(() => campaigns.SubmitAsync(c.Id, Operator));

        Assert.Contains("sops[registration-success] '报名成功通知': the content uses {link} but Campaigns:Sops:LinkTemplate is not set.", ex.Errors);
    }

    [Fact]
    public async Task An_sms_longer_than_the_segment_policy_is_reported_at_approval_for_the_sms_channel_only()
    {
        var sp = Build(delivery: d => d.Sms.MaxLength = 70);
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var c = await campaigns.CreateFromTemplateAsync(LiveStream(), Operator);

        var ex = await Assert.ThrowsAsync<CampaignValidationException>(() => campaigns.SubmitAsync(c.Id, Operator));

        Assert.Contains(ex.Errors, e => e.StartsWith("sops[registration-success] '报名成功通知': on 'sms': ", StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Errors, e => e.Contains("on 'wechat-template'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Drafts_and_paused_campaigns_send_nothing_and_participants_without_a_contact_are_skipped()
    {
        var sp = Build();
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var draft = await campaigns.CreateFromTemplateAsync(LiveStream(), Operator);
        await RegisterAsync(sp, draft, "草稿", "+8613800000006", T0);
        var running = await ApprovedAsync(campaigns, LiveStream());
        await sp.GetRequiredService<IParticipantStore>().AddAsync(new Participant
        {
            Id = ParticipantId.New(),
            CampaignId = running.Id,
            Name = "无名",
            Phone = "+8613899999999",
            Status = RegistrationStatus.Registered,
            Activities = [new ParticipantActivity(ParticipantActivityKind.Registered, T0)],
        });

        var result = await sp.GetRequiredService<SopRunner>().RunDueAsync(T0);

        Assert.Empty(_sms.Sends);
        Assert.All(result.Deliveries, d => Assert.Equal(running.Id, d.Send.CampaignId));
        Assert.All(result.Deliveries, d => Assert.Equal(SopSendStatus.Skipped, d.Status));
        Assert.Contains("not linked to a contact", result.Deliveries[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_planner_follows_the_campaign_moments_in_its_zone()
    {
        var campaign = new Campaign
        {
            Id = CampaignId.New(),
            Name = "沙龙",
            TypeId = "offline-seminar",
            CreatedBy = "t",
            CreatedAt = T0,
            Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai", StartsAt = At(2026, 6, 10, 14, 0), EndsAt = At(2026, 6, 10, 17, 30) },
            Sops =
            [
                new SopDefinition { Key = "day", Name = "当天", Anchor = SopAnchor.EventDay, LocalTime = new LocalTime(8, 0), Channels = ["sms"] },
                new SopDefinition { Key = "t-1", Name = "前一天", Anchor = SopAnchor.EventDay, Offset = Period.FromDays(-1), LocalTime = new LocalTime(10, 0), Channels = ["sms"] },
                new SopDefinition { Key = "live", Name = "直播", Anchor = SopAnchor.LiveStart, Channels = ["sms"] },
            ],
        };
        var registered = new Participant { Id = ParticipantId.New(), CampaignId = campaign.Id, Status = RegistrationStatus.Registered };
        var pending = registered with { Id = ParticipantId.New(), Status = RegistrationStatus.PendingApproval };

        var plan = SopPlanner.Plan(campaign, [registered, pending]);

        Assert.Equal([("t-1", At(2026, 6, 9, 10, 0)), ("day", At(2026, 6, 10, 8, 0))], plan.Select(s => (s.SopKey, s.DueAt)));
        Assert.All(plan, s => Assert.Equal(registered.Id, s.ParticipantId));
    }
}
