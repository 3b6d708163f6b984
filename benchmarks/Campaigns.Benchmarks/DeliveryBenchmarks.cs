using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Benchmarks;

/// <summary>
/// Gate + render + recording channel through <see cref="IDeliveryPipeline"/> (idempotency, consent, do-not-contact,
/// send window, address, render of text + subject + HTML, content rules, default Polly pipeline, execution record),
/// against what a user would write without the SDK: <c>string.Replace</c> rendering, a dictionary consent check and a
/// direct channel call. Each invocation delivers <see cref="Batch"/> messages to distinct contacts with fresh keys.
/// </summary>
[MemoryDiagnoser]
public class DeliveryBenchmarks
{
    /// <summary>Messages per invocation.</summary>
    public const int Batch = 1024;

    private const string Text = "{name}您好,您已成功报名「{campaign}」,活动时间:{time},地点:{place}。详情:{link}";
    private const string Subject = "报名成功:{campaign}";
    private const string Html = "<p>{name}您好,</p><p>您已成功报名「{campaign}」,活动时间:{time},地点:{place}。</p><p><a href=\"{link}\">详情</a></p>";

    private static readonly Instant Now = Instant.FromUtc(2026, 6, 17, 2, 0); // Wednesday 10:00 in Shanghai

    private ServiceProvider _services = null!;
    private IDeliveryPipeline _pipeline = null!;
    private RecordingChannel _channel = null!;
    private Contact[] _contacts = null!;
    private Dictionary<string, string>[] _variables = null!;
    private Dictionary<ContactId, bool> _consent = null!;
    private MessageTemplate _template = null!;
    private long _sequence;

    /// <summary>
    /// For the <c>delivery-retained</c> mode: one plain <see cref="InMemoryIdempotencyStore"/> that is never started
    /// afresh and the default provider index capacity, so every completed send stays held.
    /// </summary>
    public bool RetainAll { get; init; }

    /// <summary>Builds the host, 1024 consenting contacts and their variables.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _channel = new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(new FixedClock(Now));
        services.AddSingleton<IIdempotencyStore>(RetainAll ? new InMemoryIdempotencyStore() : new RollingIdempotencyStore());
        services.AddCampaigns(o =>
            {
                o.DefaultTimeZone = "Asia/Shanghai";

                // The clock is fixed, so retention never drops a send: bound the index like the idempotency store below
                // (a host sending this fast keeps it bounded by retention and by this capacity too).
                o.Delivery.ProviderMessageCapacity = RetainAll ? InMemoryProviderMessageIndex.DefaultCapacity : 65_536;
                o.Delivery.Channels["email"] = new ChannelDeliveryOptions
                {
                    Window = Weekdays(),
                };
                o.Delivery.Channels["email-direct"] = new ChannelDeliveryOptions
                {
                    ConsentKey = "email",
                    Window = Weekdays(),
                    Resilience = new ChannelResilienceOptions { MaxRetryAttempts = 0, CircuitBreakerEnabled = false, AttemptTimeout = TimeSpan.Zero },
                };
            })
            .AddChannel("email", (_, _) => _channel)
            .AddChannel("email-direct", (_, _) => _channel);
        _services = services.BuildServiceProvider();
        _pipeline = _services.GetRequiredService<IDeliveryPipeline>();
        _template = new MessageTemplate(Text, Subject, Html);
        _contacts = new Contact[Batch];
        _variables = new Dictionary<string, string>[Batch];
        _consent = [];
        for (var i = 0; i < Batch; i++)
        {
            var c = new Contact
            {
                Id = ContactId.New(),
                Name = "参会人" + i.ToString(CultureInfo.InvariantCulture),
                CreatedAt = Now - Duration.FromDays(3),
                TimeZoneId = "Asia/Shanghai",
                Identities = new ContactIdentities { Email = $"p{i}@example.com" },
                Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "registration form", Now - Duration.FromDays(1)) },
            };
            _contacts[i] = c;
            _consent[c.Id] = true;
            _variables[i] = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["name"] = c.Name,
                ["campaign"] = "2026上海制造业数字化转型沙龙",
                ["time"] = "2026-07-08 14:00",
                ["place"] = "上海浦东新区世纪大道100号",
                ["link"] = "https://example.com/e/" + i.ToString(CultureInfo.InvariantCulture),
            };
        }
    }

    private static SendWindowOptions Weekdays() =>
        new() { Days = { IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday }, Opens = "09:00", Closes = "18:00" };

    /// <summary>Disposes the host.</summary>
    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    /// <summary>What a user writes without the SDK: Replace, a dictionary lookup, a direct call.</summary>
    /// <returns>Messages accepted.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public async Task<int> HandWritten()
    {
        _channel.Reset();
        var accepted = 0;
        for (var i = 0; i < Batch; i++)
        {
            var contact = _contacts[i];
            if (!_consent.TryGetValue(contact.Id, out var granted) || !granted)
            {
                continue;
            }

            var v = _variables[i];
            var text = Text.Replace("{name}", v["name"], StringComparison.Ordinal).Replace("{campaign}", v["campaign"], StringComparison.Ordinal)
                .Replace("{time}", v["time"], StringComparison.Ordinal).Replace("{place}", v["place"], StringComparison.Ordinal).Replace("{link}", v["link"], StringComparison.Ordinal);
            var subject = Subject.Replace("{campaign}", v["campaign"], StringComparison.Ordinal);
            var html = Html.Replace("{name}", WebUtility.HtmlEncode(v["name"]), StringComparison.Ordinal).Replace("{campaign}", WebUtility.HtmlEncode(v["campaign"]), StringComparison.Ordinal)
                .Replace("{time}", WebUtility.HtmlEncode(v["time"]), StringComparison.Ordinal).Replace("{place}", WebUtility.HtmlEncode(v["place"]), StringComparison.Ordinal)
                .Replace("{link}", WebUtility.HtmlEncode(v["link"]), StringComparison.Ordinal);
            var key = "bench/" + (++_sequence).ToString(CultureInfo.InvariantCulture);
            var result = await _channel.SendAsync(new ChannelMessage(key, contact.Identities.Email!, text) { Subject = subject, HtmlBody = html, ContactId = contact.Id.ToString() }, CancellationToken.None);
            accepted += result.IsAccepted ? 1 : 0;
        }

        return accepted;
    }

    /// <summary>The SDK's pipeline with its defaults (retry, breaker, timeout) and a weekday send window.</summary>
    /// <returns>Messages sent.</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task<int> Pipeline() => DeliverAllAsync("email");

    /// <summary>
    /// Gate + render + recording channel: the same pipeline (idempotency, gate, render, content rules, execution record,
    /// metrics) for a channel configured with no resilience strategies, so the send is a direct call.
    /// </summary>
    /// <returns>Messages sent.</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task<int> GateRenderRecording() => DeliverAllAsync("email-direct");

    private async Task<int> DeliverAllAsync(string channel)
    {
        _channel.Reset();
        var sent = 0;
        for (var i = 0; i < Batch; i++)
        {
            var outcome = await _pipeline.DeliverAsync(new DeliveryRequest
            {
                IdempotencyKey = "bench/" + (++_sequence).ToString(CultureInfo.InvariantCulture),
                Contact = _contacts[i],
                Channel = channel,
                Template = _template,
                Variables = _variables[i],
                TaskId = "bench",
            }, CancellationToken.None);
            sent += outcome.Status == DeliveryStatus.Sent ? 1 : 0;
        }

        return sent;
    }

    private sealed class FixedClock(Instant now) : IClock
    {
        public Instant GetCurrentInstant() => now;
    }

    /// <summary>The in-memory store, started afresh every 65,536 claims so a long run does not hold millions of keys (keys are never reused).</summary>
    private sealed class RollingIdempotencyStore : IIdempotencyStore
    {
        private InMemoryIdempotencyStore _inner = new();
        private int _claims;

        public ValueTask<IdempotencyClaim> TryClaimAsync(string key, Instant now, Duration lease, CancellationToken cancellationToken)
        {
            if (++_claims % 65_536 == 0)
            {
                _inner = new InMemoryIdempotencyStore();
            }

            return _inner.TryClaimAsync(key, now, lease, cancellationToken);
        }

        public ValueTask CompleteAsync(string key, DeliveryOutcome outcome, CancellationToken cancellationToken) => _inner.CompleteAsync(key, outcome, cancellationToken);

        public ValueTask ReleaseAsync(string key, CancellationToken cancellationToken) => _inner.ReleaseAsync(key, cancellationToken);
    }
}
