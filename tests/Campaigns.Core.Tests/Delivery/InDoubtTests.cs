using System.Diagnostics.Metrics;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Delivery;

/// <summary>
/// The in-doubt window: a host died after claiming a key (and maybe after the provider accepted) and before recording
/// the outcome. Each test plays the dead host by hand — claim the key in the shared store, maybe hand the message to the
/// "provider" — lets the lease expire, and delivers again with the same key.
/// </summary>
public sealed class InDoubtTests : IDisposable
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0);
    private static readonly Duration Lease = Duration.FromMinutes(5);
    private readonly FakeClock _clock = new(T0);
    private readonly InMemoryIdempotencyStore _store = new();
    private readonly InDoubtLog _log = new();
    private readonly List<ServiceProvider> _providers = [];

    private static readonly ChannelCapabilities Plain = new() { AddressKind = ChannelAddressKind.Phone };
    private static readonly ChannelCapabilities Deduping = new() { AddressKind = ChannelAddressKind.Phone, HonoursIdempotencyKeys = true };

    private IDeliveryPipeline Pipeline(IChannel channel, InDoubtPolicy? policy = null, IChannel? failover = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddSingleton<IIdempotencyStore>(_store);
        services.AddSingleton<IDeliveryAlertObserver>(_log);
        var builder = services.AddCampaigns(o =>
        {
            var options = new ChannelDeliveryOptions { ConsentKey = "sms", FailoverTo = failover?.Name, Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false } };
            if (policy is { } p)
            {
                options.InDoubtPolicy = p;
            }

            o.Delivery.Channels[channel.Name] = options;
        }).AddChannel(channel.Name, (_, _) => channel);
        if (failover is not null)
        {
            builder.AddChannel(failover.Name, (_, _) => failover);
        }

        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<IDeliveryPipeline>();
    }

    private static readonly Contact Li = new()
    {
        Id = ContactId.New(),
        Name = "李雷",
        CreatedAt = T0 - Duration.FromDays(30),
        TimeZoneId = "Asia/Shanghai",
        Identities = new ContactIdentities { Phone = "+8613800138000" },
        Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "form", T0 - Duration.FromDays(1)) },
    };

    private static DeliveryRequest Request(string key, string channel = "sms") => new()
    {
        IdempotencyKey = key,
        Contact = Li,
        Channel = channel,
        Template = new MessageTemplate("{name}您好"),
        Variables = new Dictionary<string, string> { ["name"] = "李雷" },
        TaskId = "task-1",
    };

    /// <summary>The dead host: claims the key; with <paramref name="accepted"/>, the provider took the message before the kill.</summary>
    private async Task DeadHostAsync(string key, IChannel? accepted = null)
    {
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await _store.TryClaimAsync(key, _clock.GetCurrentInstant(), Lease, default)).Status);
        if (accepted is not null)
        {
            Assert.True((await accepted.SendAsync(new ChannelMessage(key, Li.Identities.Phone!, "李雷您好"), default)).IsAccepted);
        }

        _clock.Advance(Lease + Duration.FromSeconds(1));
    }

    [Fact]
    public async Task A_fresh_key_is_not_in_doubt()
    {
        var sms = new RecordingChannel("sms", Plain);
        var outcome = await Pipeline(sms).DeliverAsync(Request("k"), default);
        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Null(outcome.InDoubt);
    }

    [Fact]
    public async Task A_provider_that_honours_keys_gets_the_same_key_again_and_drops_the_duplicate()
    {
        var sms = new RecordingChannel("sms", Deduping);
        await DeadHostAsync("k", accepted: sms);

        var outcome = await Pipeline(sms).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.ResentWithSameKey, outcome.InDoubt);
        Assert.Equal(2, sms.Sends.Count);                        // the provider was called twice ...
        Assert.True(sms.Sends[1].Deduplicated);
        Assert.Single(sms.Delivered);                           // ... and delivered once
        Assert.Equal(sms.Sends[0].Result.ProviderMessageId, outcome.Result!.Value.ProviderMessageId);
        Assert.Empty(_log.InDoubt);
    }

    [Fact]
    public async Task A_provider_that_can_be_asked_and_had_accepted_is_recorded_as_sent_without_resending()
    {
        var sms = new LookupRecordingChannel("sms", Plain);
        await DeadHostAsync("k", accepted: sms);
        var pipeline = Pipeline(sms);

        var outcome = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.FoundSent, outcome.InDoubt);
        Assert.Equal("recording-1", outcome.Result!.Value.ProviderMessageId);
        Assert.Single(sms.Sends);
        Assert.Equal(1, sms.Lookups);
        var again = await pipeline.DeliverAsync(Request("k"), default);
        Assert.True(again.IsReplay);
        Assert.Equal(1, sms.Lookups);
        Assert.Single(sms.Sends);
    }

    [Fact]
    public async Task A_provider_that_can_be_asked_and_never_saw_the_message_gets_it()
    {
        var sms = new LookupRecordingChannel("sms", Plain);
        await DeadHostAsync("k"); // killed before the provider call

        var outcome = await Pipeline(sms).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.NotFoundSent, outcome.InDoubt);
        Assert.Single(sms.Delivered);
        Assert.Equal(1, sms.Lookups);
    }

    [Fact]
    public async Task Neither_capability_at_most_once_by_default_records_unknown_alerts_and_never_resends()
    {
        var sms = new RecordingChannel("sms-at-most-once", Plain);
        await DeadHostAsync("k", accepted: sms);
        var pipeline = Pipeline(sms);
        using var metric = new InDoubtMetric(sms.Name);

        var outcome = await pipeline.DeliverAsync(Request("k", sms.Name), default);

        Assert.Equal(DeliveryStatus.Unknown, outcome.Status);
        Assert.Equal(InDoubtResolution.RecordedUnknown, outcome.InDoubt);
        Assert.Contains("'sms-at-most-once' neither honours idempotency keys nor can be asked", outcome.Result!.Value.Detail, StringComparison.Ordinal);
        Assert.Single(sms.Sends);                               // not sent again
        var alert = Assert.Single(_log.InDoubt);
        Assert.Equal(("k", sms.Name, "task-1", Li.Id.ToString()), (alert.IdempotencyKey, alert.Channel, alert.TaskId, alert.ContactId));
        Assert.Equal(_clock.GetCurrentInstant(), alert.At);
        Assert.Equal(1, metric.Count("unknown"));

        var again = await pipeline.DeliverAsync(Request("k", sms.Name), default); // the unknown outcome is final
        Assert.Equal(DeliveryStatus.Unknown, again.Status);
        Assert.True(again.IsReplay);
        Assert.Single(sms.Sends);
        Assert.Single(_log.InDoubt);
    }

    [Fact]
    public async Task A_lookup_that_cannot_tell_falls_back_to_the_policy()
    {
        var sms = new LookupRecordingChannel("sms", Plain).AnswerLookupsUnknown();
        await DeadHostAsync("k", accepted: sms);

        var outcome = await Pipeline(sms).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Unknown, outcome.Status);
        Assert.Contains("could not tell", outcome.Result!.Value.Detail, StringComparison.Ordinal);
        Assert.Single(sms.Sends);
        Assert.Single(_log.InDoubt);
    }

    [Fact]
    public async Task A_lookup_that_throws_counts_as_cannot_tell()
    {
        var sms = new ThrowingLookupChannel();
        await DeadHostAsync("k");

        var outcome = await Pipeline(sms, InDoubtPolicy.AtLeastOnce).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.ResentAtLeastOnce, outcome.InDoubt);
    }

    [Fact]
    public async Task Neither_capability_at_least_once_resends()
    {
        var sms = new RecordingChannel("sms-at-least-once", Plain);
        await DeadHostAsync("k", accepted: sms);
        using var metric = new InDoubtMetric(sms.Name);

        var outcome = await Pipeline(sms, InDoubtPolicy.AtLeastOnce).DeliverAsync(Request("k", sms.Name), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.ResentAtLeastOnce, outcome.InDoubt);
        Assert.Equal(2, sms.Delivered.Count);                   // at least once: here twice
        Assert.Empty(_log.InDoubt);
        Assert.Equal(1, metric.Count("resent_at_least_once"));
    }

    [Fact]
    public async Task The_failover_channel_is_asked_too_since_either_may_have_sent()
    {
        var sms = new RecordingChannel("sms", Deduping);
        var backup = new LookupRecordingChannel("backup", Plain);
        await DeadHostAsync("k", accepted: backup);            // the dead host had failed over

        var outcome = await Pipeline(sms, failover: backup).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(InDoubtResolution.FoundSent, outcome.InDoubt);
        Assert.Equal("backup", outcome.Channel);
        Assert.True(outcome.FailedOver);
        Assert.Empty(sms.Sends);
    }

    [Fact]
    public async Task A_plain_failover_makes_an_honouring_primary_fall_back_to_the_policy()
    {
        var sms = new RecordingChannel("sms", Deduping);
        var backup = new RecordingChannel("backup", Plain);
        await DeadHostAsync("k", accepted: backup);

        var outcome = await Pipeline(sms, failover: backup).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Unknown, outcome.Status);
        Assert.Contains("'backup' neither honours", outcome.Result!.Value.Detail, StringComparison.Ordinal);
        Assert.Empty(sms.Sends);
    }

    [Fact]
    public async Task An_in_doubt_send_that_is_deferred_releases_the_key_and_sends_later()
    {
        var sms = new RecordingChannel("sms", Deduping);
        await DeadHostAsync("k", accepted: sms);
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddSingleton<IIdempotencyStore>(_store);
        services.AddCampaigns(o => o.Delivery.Channels["sms"] = new ChannelDeliveryOptions { Window = new SendWindowOptions { Opens = "03:00", Closes = "04:00" } })
            .AddChannel("sms", (_, _) => sms);
        using var provider = services.BuildServiceProvider();

        var outcome = await provider.GetRequiredService<IDeliveryPipeline>().DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Deferred, outcome.Status);
        Assert.Equal(InDoubtResolution.ResentWithSameKey, outcome.InDoubt);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await _store.TryClaimAsync("k", _clock.GetCurrentInstant(), Lease, default)).Status);
    }

    [Fact]
    public void An_unknown_outcome_reads_as_in_doubt()
    {
        var outcome = new DeliveryOutcome { IdempotencyKey = "k", Status = DeliveryStatus.Unknown, Channel = "sms", At = T0 };
        Assert.Equal("Unknown via sms: an earlier attempt is in doubt; not resent (at most once)", outcome.ToString());
    }

    [Fact]
    public void An_undefined_policy_is_refused_at_start_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns(o => o.Delivery.Channels["sms"] = new ChannelDeliveryOptions { InDoubtPolicy = (InDoubtPolicy)7 });
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Delivery:Channels:sms:InDoubtPolicy: 7 is not a policy; use AtMostOnce or AtLeastOnce.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_policy_is_at_most_once() =>
        Assert.Equal(InDoubtPolicy.AtMostOnce, new DeliveryOptions().ForChannel("any").InDoubtPolicy);

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }

    private sealed class ThrowingLookupChannel : IChannel, IChannelDeliveryLookup
    {
        private readonly RecordingChannel _inner = new("sms", Plain);

        public string Name => "sms";

        public ChannelCapabilities Capabilities => Plain;

        public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken) => _inner.SendAsync(message, cancellationToken);

        public ValueTask<ChannelDeliveryLookupResult> LookupAsync(string idempotencyKey, CancellationToken cancellationToken) =>
            throw new HttpRequestException("provider down");
    }

    /// <summary>Counts <c>campaigns.delivery.in_doubt</c> by resolution, for one channel name only (tests run in parallel).</summary>
    private sealed class InDoubtMetric : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
        private readonly string _channel;

        public InDoubtMetric(string channel)
        {
            _channel = channel;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == DeliveryTelemetry.MeterName && instrument.Name == "campaigns.delivery.in_doubt")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? channel = null, resolution = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "channel")
                    {
                        channel = tag.Value as string;
                    }
                    else if (tag.Key == "resolution")
                    {
                        resolution = tag.Value as string;
                    }
                }

                if (channel == _channel && resolution is not null)
                {
                    lock (_counts)
                    {
                        _counts[resolution] = _counts.GetValueOrDefault(resolution) + value;
                    }
                }
            });
            _listener.Start();
        }

        public long Count(string resolution)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(resolution);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>Records the in-doubt alerts the pipeline raises (thread-safe); shared by the in-doubt test classes.</summary>
internal sealed class InDoubtLog : IDeliveryAlertObserver
{
    private readonly List<InDoubtAlert> _inDoubt = [];

    public IReadOnlyList<InDoubtAlert> InDoubt
    {
        get
        {
            lock (_inDoubt)
            {
                return [.. _inDoubt];
            }
        }
    }

    public ValueTask OnAlertAsync(DeliveryAlert alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnInDoubtAsync(InDoubtAlert alert, CancellationToken cancellationToken)
    {
        lock (_inDoubt)
        {
            _inDoubt.Add(alert);
        }

        return ValueTask.CompletedTask;
    }
}
