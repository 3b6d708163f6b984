using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Delivery;

/// <summary>
/// A send left in doubt by a *live* host: the channel timed out (the provider may have accepted the message), the caller
/// cancelled during the call, the adapter threw, or recording the accepted send failed. On a channel that may not simply
/// send again (no idempotency keys, <see cref="InDoubtPolicy.AtMostOnce"/>) this must behave like a host killed at that
/// point — the key stays claimed and the attempt after its lease resolves it per capability — and never resend at once.
/// </summary>
public sealed class InDoubtAttemptTests : IDisposable
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0); // Wednesday 10:00 in Shanghai
    private static readonly Duration Lease = Duration.FromMinutes(5);
    private readonly FakeClock _clock = new(T0);
    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryIdempotencyStore _store = new();
    private readonly InDoubtLog _alerts = new();
    private readonly List<ServiceProvider> _providers = [];

    private static readonly ChannelCapabilities Plain = new() { AddressKind = ChannelAddressKind.Phone };
    private static readonly ChannelCapabilities Deduping = new() { AddressKind = ChannelAddressKind.Phone, HonoursIdempotencyKeys = true };

    private static readonly Contact Li = new()
    {
        Id = ContactId.New(),
        Name = "李雷",
        CreatedAt = T0 - Duration.FromDays(30),
        TimeZoneId = "Asia/Shanghai",
        Identities = new ContactIdentities { Phone = "+8613800138000" },
        Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "form", T0 - Duration.FromDays(1)) },
    };

    private IDeliveryPipeline Pipeline(IChannel channel, Action<ChannelDeliveryOptions>? configure = null, Action<DeliveryOptions>? delivery = null, IProviderMessageIndex? index = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddSingleton<TimeProvider>(_time);
        services.AddSingleton<IIdempotencyStore>(_store);
        services.AddSingleton<IDeliveryAlertObserver>(_alerts);
        if (index is not null)
        {
            services.AddSingleton(index);
        }

        services.AddCampaigns(o =>
        {
            o.Delivery.IdempotencyLease = Lease.ToTimeSpan();
            var options = new ChannelDeliveryOptions { ConsentKey = "sms", Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 3 } };
            configure?.Invoke(options);
            o.Delivery.Channels[channel.Name] = options;
            delivery?.Invoke(o.Delivery);
        }).AddChannel(channel.Name, (_, _) => channel);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<IDeliveryPipeline>();
    }

    private static DeliveryRequest Request(string key, string channel = "sms") => new()
    {
        IdempotencyKey = key,
        Contact = Li,
        Channel = channel,
        Template = new MessageTemplate("{name}您好"),
        Variables = new Dictionary<string, string> { ["name"] = "李雷" },
        TaskId = "task-1",
    };

    [Fact]
    public async Task A_timeout_on_a_channel_that_can_neither_dedupe_nor_be_asked_is_not_retried_and_the_key_stays_claimed()
    {
        var sms = new LostAnswerChannel("sms", Plain) { LoseAnswers = 10 };
        var pipeline = Pipeline(sms);

        var outcome = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.InProgress, outcome.Status);
        Assert.Equal(DeliveryFailureReason.Timeout, outcome.Result!.Value.FailureReason);
        Assert.Contains("in doubt", outcome.Result.Value.Detail, StringComparison.Ordinal);
        Assert.Equal(1, sms.Calls);                             // not retried by the resilience pipeline (MaxRetryAttempts 3)
        Assert.Equal(1, sms.Delivered);

        var again = await pipeline.DeliverAsync(Request("k"), default); // a retry before the lease expires
        Assert.Equal(DeliveryStatus.InProgress, again.Status);
        Assert.Equal(1, sms.Calls);

        var record = await _store.TryClaimAsync("k", _clock.GetCurrentInstant(), Lease, default);
        Assert.Equal(IdempotencyClaimStatus.InProgress, record.Status);
    }

    [Fact]
    public async Task After_the_lease_an_at_most_once_timeout_is_recorded_unknown_with_an_alert_and_never_sent_twice()
    {
        var sms = new LostAnswerChannel("sms", Plain) { LoseAnswers = 1 };
        var pipeline = Pipeline(sms);
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        _clock.Advance(Lease + Duration.FromSeconds(1));

        var outcome = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Unknown, outcome.Status);
        Assert.Equal(InDoubtResolution.RecordedUnknown, outcome.InDoubt);
        Assert.Single(_alerts.InDoubt);
        Assert.Equal(1, sms.Calls);
        Assert.Equal(1, sms.Delivered);
    }

    [Fact]
    public async Task After_the_lease_a_timeout_on_a_channel_that_can_be_asked_is_found_sent()
    {
        var sms = new LostAnswerChannel("sms", Plain, lookup: true) { LoseAnswers = 1 };
        var pipeline = Pipeline(sms);
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        _clock.Advance(Lease + Duration.FromSeconds(1));

        var outcome = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal((DeliveryStatus.Sent, InDoubtResolution.FoundSent), (outcome.Status, outcome.InDoubt));
        Assert.Equal("lost-1", outcome.Result!.Value.ProviderMessageId);
        Assert.Equal(1, sms.Calls);
        Assert.Empty(_alerts.InDoubt);
    }

    [Fact]
    public async Task A_timeout_on_a_channel_that_honours_keys_is_retried_with_the_same_key_and_delivered_once()
    {
        var sms = new LostAnswerChannel("sms", Deduping) { LoseAnswers = 1 };

        var outcome = await Pipeline(sms).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(2, sms.Calls);                             // retried at once ...
        Assert.Equal(1, sms.Delivered);                         // ... and the provider dropped the repeat
    }

    [Fact]
    public async Task A_timeout_on_an_at_least_once_channel_is_retried_at_once()
    {
        var sms = new LostAnswerChannel("sms", Plain) { LoseAnswers = 1 };

        var outcome = await Pipeline(sms, o => o.InDoubtPolicy = InDoubtPolicy.AtLeastOnce).DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, outcome.Status);
        Assert.Equal(2, sms.Delivered);                         // once or twice, never lost: here twice
    }

    [Fact]
    public async Task The_attempt_timeout_on_an_at_most_once_channel_leaves_the_send_in_doubt()
    {
        var sms = new LostAnswerChannel("sms", Plain) { Hang = true };
        var pipeline = Pipeline(sms, o => o.Resilience.AttemptTimeout = TimeSpan.FromSeconds(5));

        var pending = pipeline.DeliverAsync(Request("k"), default).AsTask();
        await sms.Called.Task.WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(5));
        var outcome = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((DeliveryStatus.InProgress, DeliveryFailureReason.Timeout), (outcome.Status, outcome.Result!.Value.FailureReason));
        Assert.Equal(1, sms.Calls);                             // the polly timeout is not retried either
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await _store.TryClaimAsync("k", _clock.GetCurrentInstant(), Lease, default)).Status);
    }

    [Fact]
    public async Task The_callers_cancellation_during_the_call_keeps_the_key_claimed()
    {
        var sms = new LostAnswerChannel("sms", Plain) { Hang = true };
        var pipeline = Pipeline(sms);
        using var cts = new CancellationTokenSource();

        var pending = pipeline.DeliverAsync(Request("k"), cts.Token).AsTask();
        await sms.Called.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        sms.Hang = false;
        var again = await pipeline.DeliverAsync(Request("k"), default);
        Assert.Equal(DeliveryStatus.InProgress, again.Status);  // not sent again at once
        Assert.Equal(1, sms.Calls);

        _clock.Advance(Lease + Duration.FromSeconds(1));
        var resolved = await pipeline.DeliverAsync(Request("k"), default);
        Assert.Equal(DeliveryStatus.Unknown, resolved.Status); // in doubt, at most once
        Assert.Equal(1, sms.Calls);
    }

    [Fact]
    public async Task The_callers_cancellation_on_a_channel_without_strategies_keeps_the_key_claimed_too()
    {
        var sms = new LostAnswerChannel("sms", Plain) { Hang = true };
        var pipeline = Pipeline(sms, o => (o.Resilience.MaxRetryAttempts, o.Resilience.CircuitBreakerEnabled, o.Resilience.AttemptTimeout) = (0, false, TimeSpan.Zero));
        using var cts = new CancellationTokenSource();

        var pending = pipeline.DeliverAsync(Request("k"), cts.Token).AsTask();
        await sms.Called.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        Assert.Equal(1, sms.Calls);
    }

    [Fact]
    public async Task A_cancellation_before_the_send_releases_the_key()
    {
        var sms = new LostAnswerChannel("sms", Plain);
        var pipeline = Pipeline(sms);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.DeliverAsync(Request("k"), cts.Token).AsTask());

        Assert.Equal(0, sms.Calls);
        var outcome = await pipeline.DeliverAsync(Request("k"), default);
        Assert.Equal((DeliveryStatus.Sent, false), (outcome.Status, outcome.IsReplay));
        Assert.Equal(1, sms.Delivered);
    }

    [Fact]
    public async Task An_adapter_exception_during_the_call_keeps_the_key_claimed_and_propagates()
    {
        var sms = new LostAnswerChannel("sms", Plain) { ThrowAfterDelivering = true };
        var pipeline = Pipeline(sms);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.DeliverAsync(Request("k"), default).AsTask());

        Assert.Equal("the adapter failed after the provider accepted", ex.Message); // the original exception, not a wrapper
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        Assert.Equal(1, sms.Calls);
    }

    [Fact]
    public async Task An_adapter_exception_on_a_channel_that_honours_keys_releases_the_key_and_the_retry_is_dropped_by_key()
    {
        var sms = new LostAnswerChannel("sms", Deduping) { ThrowAfterDelivering = true };
        var pipeline = Pipeline(sms);

        await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.DeliverAsync(Request("k"), default).AsTask());
        sms.ThrowAfterDelivering = false;
        var outcome = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal((DeliveryStatus.Sent, false), (outcome.Status, outcome.IsReplay));
        Assert.Equal(2, sms.Calls);
        Assert.Equal(1, sms.Delivered);
    }

    [Fact]
    public async Task A_failed_index_write_after_acceptance_keeps_the_key_claimed_so_the_message_is_not_sent_twice()
    {
        var sms = new LostAnswerChannel("sms", Plain);
        var pipeline = Pipeline(sms, index: new FailingIndex());

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.DeliverAsync(Request("k"), default).AsTask());

        Assert.Equal("the index store is down", ex.Message);
        Assert.Equal(1, sms.Delivered);
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        _clock.Advance(Lease + Duration.FromSeconds(1));
        Assert.Equal(DeliveryStatus.Unknown, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        Assert.Equal(1, sms.Calls);
    }

    [Fact]
    public async Task An_in_doubt_send_keeps_its_frequency_cap()
    {
        var sms = new LostAnswerChannel("sms", Plain) { LoseAnswers = 1 };
        var pipeline = Pipeline(sms, delivery: d => d.FrequencyCaps.Add(new FrequencyCapOptions { Channel = "sms", Limit = 1, Window = TimeSpan.FromDays(1) }));
        Assert.Equal(DeliveryStatus.InProgress, (await pipeline.DeliverAsync(Request("k1"), default)).Status);

        var second = await pipeline.DeliverAsync(Request("k2"), default); // the in-doubt message may have been sent: it counts

        Assert.Equal((DeliveryStatus.Suppressed, GateCheck.FrequencyCap), (second.Status, second.SuppressedBy));
        Assert.Equal(1, sms.Calls);
    }

    [Fact]
    public async Task A_plain_failed_result_still_releases_the_key()
    {
        var sms = new LostAnswerChannel("sms", Plain) { FailNext = 4 }; // provider errors: not in doubt
        var pipeline = Pipeline(sms);

        Assert.Equal(DeliveryStatus.Failed, (await pipeline.DeliverAsync(Request("k"), default)).Status);
        var again = await pipeline.DeliverAsync(Request("k"), default);

        Assert.Equal(DeliveryStatus.Sent, again.Status);
        Assert.Equal(5, sms.Calls);
        Assert.Equal(1, sms.Delivered);
    }

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }

    /// <summary>
    /// A "provider" that delivers and then loses its answer (returns a timeout) for the first <see cref="LoseAnswers"/>
    /// calls, or hangs until cancelled after delivering, or throws after delivering; drops a repeated key when it honours
    /// keys; can be asked by key when built with <c>lookup</c>. Counts calls and deliveries. Thread-safe.
    /// </summary>
    private sealed class LostAnswerChannel(string name, ChannelCapabilities capabilities, bool lookup = false) : IChannel, IChannelDeliveryLookup
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, string> _delivered = new(StringComparer.Ordinal);
        private int _calls;

        public string Name { get; } = name;

        public ChannelCapabilities Capabilities { get; } = capabilities;

        public int LoseAnswers { get; set; }

        public int FailNext { get; set; }

        public volatile bool Hang;

        public volatile bool ThrowAfterDelivering;

        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls => Volatile.Read(ref _calls);

        public int Delivered
        {
            get
            {
                lock (_gate)
                {
                    return _delivered.Count + _repeats;
                }
            }
        }

        private int _repeats;

        private int _sequence;

        public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Interlocked.Increment(ref _calls);
            string id;
            lock (_gate)
            {
                if (FailNext > 0)
                {
                    FailNext--;
                    return DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, "scripted provider error");
                }

                if (_delivered.TryGetValue(message.IdempotencyKey, out var first))
                {
                    if (Capabilities.HonoursIdempotencyKeys)
                    {
                        return DeliveryResult.Accepted(first);
                    }

                    _repeats++;
                }

                id = "lost-" + (++_sequence).ToString(System.Globalization.CultureInfo.InvariantCulture);
                _delivered.TryAdd(message.IdempotencyKey, id);
            }

            Called.TrySetResult();
            if (Hang)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }

            if (ThrowAfterDelivering)
            {
                throw new InvalidOperationException("the adapter failed after the provider accepted");
            }

            lock (_gate)
            {
                if (LoseAnswers > 0)
                {
                    LoseAnswers--;
                    return DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, "the provider did not answer within 10 s");
                }
            }

            return DeliveryResult.Accepted(id);
        }

        public ValueTask<ChannelDeliveryLookupResult> LookupAsync(string idempotencyKey, CancellationToken cancellationToken)
        {
            if (!lookup)
            {
                return ValueTask.FromResult(ChannelDeliveryLookupResult.Unknown("this provider cannot be asked"));
            }

            lock (_gate)
            {
                return ValueTask.FromResult(_delivered.TryGetValue(idempotencyKey, out var id) ? ChannelDeliveryLookupResult.Sent(id) : ChannelDeliveryLookupResult.NotFound());
            }
        }
    }

    private sealed class FailingIndex : IProviderMessageIndex
    {
        public ValueTask RecordAsync(string providerMessageId, ProviderMessage message, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the index store is down");

        public ValueTask<ProviderMessage?> FindAsync(string channel, string providerMessageId, CancellationToken cancellationToken) =>
            ValueTask.FromResult<ProviderMessage?>(null);
    }
}
