using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Channels.Webhook.Tests;

[Collection("webhook")]
public sealed class WebhookChannelTests(WebhookReceiver receiver) : IDisposable
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 1, 1, 30, 15);
    private static readonly string Secret = "whsec_" + Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string OldSecret = "whsec_" + Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());
    private readonly ServiceProvider _services = new ServiceCollection().AddHttpClient().BuildServiceProvider();

    private WebhookChannel Channel(Action<WebhookChannelOptions>? configure = null)
    {
        var options = new WebhookChannelOptions { Endpoint = receiver.Endpoint, Timeout = TimeSpan.FromSeconds(5) };
        options.Secrets.Add(Secret);
        configure?.Invoke(options);
        return new WebhookChannel("webhook", options, _services.GetRequiredService<IHttpClientFactory>(), new FakeClock(Now));
    }

    private static string Recipient(string tag) => $"{tag}-{Guid.NewGuid():N}";

    /// <summary>An independent Standard Webhooks verifier: base64(HMAC-SHA256(key, id.timestamp.body)).</summary>
    private static string ExpectedSignature(string secret, ReceivedWebhook hook)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = Encoding.UTF8.GetBytes($"{hook.Id}.{hook.Timestamp}.").Concat(hook.Body).ToArray();
        using var hmac = new HMACSHA256(key);
        return "v1," + Convert.ToBase64String(hmac.ComputeHash(signed));
    }

    [Fact]
    public async Task Posts_signed_json_that_an_independent_verifier_accepts()
    {
        var to = Recipient("json");
        var message = new ChannelMessage("journey-1.step-2.contact-3", to, "您好，李雷")
        {
            Subject = "沙龙邀请",
            HtmlBody = "<p>您好</p>",
            ContactId = "contact-3",
            Metadata = new Dictionary<string, string> { ["journey"] = "j-1" },
            UnsubscribeUrl = new Uri("https://example.com/u/1"),
        };

        var result = await Channel().SendAsync(message, CancellationToken.None);

        Assert.True(result.IsAccepted, result.ToString());
        var hook = Assert.Single(receiver.ReceivedFor(to));
        Assert.Equal("journey-1.step-2.contact-3", hook.Id);
        Assert.Equal(result.ProviderMessageId, hook.Id);
        Assert.Equal(Now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), hook.Timestamp);
        Assert.Equal(ExpectedSignature(Secret, hook), hook.Signature);
        Assert.StartsWith("application/json", hook.ContentType, StringComparison.Ordinal);
        Assert.Equal("您好，李雷", hook.Data.GetProperty("text").GetString());
        Assert.Equal("沙龙邀请", hook.Data.GetProperty("subject").GetString());
        Assert.Equal("contact-3", hook.Data.GetProperty("contactId").GetString());
        Assert.Equal("j-1", hook.Data.GetProperty("metadata").GetProperty("journey").GetString());
        Assert.Equal("https://example.com/u/1", hook.Data.GetProperty("unsubscribeUrl").GetString());
        using var document = System.Text.Json.JsonDocument.Parse(hook.Body);
        Assert.Equal("campaigns.message", document.RootElement.GetProperty("type").GetString());
        Assert.Equal("2026-05-01T01:30:15Z", document.RootElement.GetProperty("timestamp").GetString());
    }

    [Fact]
    public async Task During_rotation_every_secret_signs_and_either_verifies()
    {
        var to = Recipient("rotation");
        var result = await Channel(o => o.Secrets.Add(OldSecret)).SendAsync(new ChannelMessage("k-rot", to, "hi"), CancellationToken.None);
        Assert.True(result.IsAccepted);
        var hook = Assert.Single(receiver.ReceivedFor(to));
        Assert.Equal([ExpectedSignature(Secret, hook), ExpectedSignature(OldSecret, hook)], hook.Signature.Split(' '));
    }

    [Fact]
    public async Task A_key_that_is_not_printable_ascii_becomes_a_hashed_id()
    {
        var to = Recipient("hashed");
        await Channel().SendAsync(new ChannelMessage("旅程 1", to, "hi"), CancellationToken.None);
        var hook = Assert.Single(receiver.ReceivedFor(to));
        Assert.Matches("^msg_[0-9a-f]{32}$", hook.Id);
        Assert.Equal(WebhookChannel.WebhookIdFor("旅程 1"), hook.Id);
        Assert.Equal(ExpectedSignature(Secret, hook), hook.Signature);
    }

    [Theory]
    [InlineData(410, DeliveryFailureReason.Unsubscribed, false)]
    [InlineData(400, DeliveryFailureReason.ContentRejected, false)]
    [InlineData(422, DeliveryFailureReason.ContentRejected, false)]
    [InlineData(401, DeliveryFailureReason.Unauthorized, false)]
    [InlineData(500, DeliveryFailureReason.ProviderError, true)]
    [InlineData(503, DeliveryFailureReason.ProviderError, true)]
    [InlineData(408, DeliveryFailureReason.Timeout, true)]
    public async Task Status_codes_map_to_reasons(int status, DeliveryFailureReason reason, bool retryable)
    {
        var to = Recipient("status");
        receiver.SetRule(to, new ReceiverRule(status));
        var result = await Channel().SendAsync(new ChannelMessage("k", to, "hi"), CancellationToken.None);
        Assert.False(result.IsAccepted);
        Assert.Equal((reason, retryable), (result.FailureReason, result.IsRetryable));
        Assert.StartsWith($"HTTP {status}", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_429_is_rate_limited_with_the_retry_after_in_seconds()
    {
        var to = Recipient("busy");
        receiver.SetRule(to, new ReceiverRule(429, RetryAfter: "120"));
        var result = await Channel().SendAsync(new ChannelMessage("k", to, "hi"), CancellationToken.None);
        Assert.Equal(DeliveryFailureReason.RateLimited, result.FailureReason);
        Assert.True(result.IsRetryable);
        Assert.Equal(Duration.FromSeconds(120), result.RetryAfter);
    }

    [Fact]
    public async Task A_429_retry_after_as_a_date_is_measured_from_the_clock()
    {
        var to = Recipient("busy-date");
        receiver.SetRule(to, new ReceiverRule(429, RetryAfter: (Now + Duration.FromMinutes(5)).ToDateTimeOffset().ToString("r", System.Globalization.CultureInfo.InvariantCulture)));
        var result = await Channel().SendAsync(new ChannelMessage("k", to, "hi"), CancellationToken.None);
        Assert.Equal(Duration.FromMinutes(5), result.RetryAfter);
    }

    [Fact]
    public async Task A_burst_of_5xx_gives_retryable_values_every_time()
    {
        var to = Recipient("burst");
        receiver.SetRule(to, new ReceiverRule(502));
        var channel = Channel();
        for (var i = 0; i < 5; i++)
        {
            var result = await channel.SendAsync(new ChannelMessage("k" + i, to, "hi"), CancellationToken.None);
            Assert.Equal((DeliveryFailureReason.ProviderError, true), (result.FailureReason, result.IsRetryable));
        }

        Assert.Equal(5, receiver.ReceivedFor(to).Count);
    }

    [Fact]
    public async Task An_endpoint_slower_than_the_timeout_is_a_retryable_timeout()
    {
        var to = Recipient("slow");
        receiver.SetRule(to, new ReceiverRule(200, Hang: true));
        var result = await Channel(o => o.Timeout = TimeSpan.FromSeconds(1)).SendAsync(new ChannelMessage("k", to, "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.Timeout, true), (result.FailureReason, result.IsRetryable));
    }

    [Fact]
    public async Task A_closed_port_is_a_retryable_provider_error()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var result = await Channel(o => o.Endpoint = new Uri($"http://127.0.0.1:{port}/x")).SendAsync(new ChannelMessage("k", "r", "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.ProviderError, true), (result.FailureReason, result.IsRetryable));
    }

    [Fact]
    public async Task An_endpoint_that_reads_the_request_and_hangs_up_is_an_in_doubt_timeout_not_a_provider_error()
    {
        // A raw loopback endpoint: it reads the whole request, then closes the connection without an answer. The request
        // may have been processed, so the result must say "may have been delivered" (Timeout), not "failed" (ProviderError).
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var endpoint = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var received = new List<byte>();
            var buffer = new byte[4096];
            while (true)
            {
                var n = await stream.ReadAsync(buffer);
                if (n == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, n).ToArray());
                var text = Encoding.ASCII.GetString([.. received]);
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var length = System.Text.RegularExpressions.Regex.Match(text, "(?i)content-length: *([0-9]+)");
                if (end >= 0 && length.Success && received.Count >= end + 4 + int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
                {
                    break; // the whole request is here
                }
            }

            client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
            return received.Count;
        });

        var result = await Channel(o => o.Endpoint = new Uri($"http://127.0.0.1:{port}/x")).SendAsync(new ChannelMessage("k", "r", "hi"), CancellationToken.None);

        Assert.True(await endpoint.WaitAsync(TimeSpan.FromSeconds(10)) > 0);
        Assert.Equal((DeliveryFailureReason.Timeout, true), (result.FailureReason, result.IsRetryable));
        Assert.Contains("may have received the request", result.Detail, StringComparison.Ordinal);
    }

    public void Dispose() => _services.Dispose();
}

/// <summary>The webhook channel passes the conformance kit against the real Kestrel receiver.</summary>
[Collection("webhook")]
public sealed class WebhookChannelConformanceTests(WebhookReceiver receiver) : ChannelConformanceTests, IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddHttpClient().BuildServiceProvider();

    protected override ValueTask<IChannel> CreateChannelAsync()
    {
        var options = new WebhookChannelOptions { Endpoint = receiver.Endpoint };
        options.Secrets.Add(WebhookReceiptHandlerTests.Secret);
        return ValueTask.FromResult<IChannel>(new WebhookChannel("webhook", options, _services.GetRequiredService<IHttpClientFactory>(), new FakeClock(Instant.FromUtc(2026, 5, 1, 0, 0))));
    }

    /// <summary>The receiver posts a signed "delivered" status callback for the message, taken by the channel's receipt handler.</summary>
    protected override async ValueTask<IReadOnlyList<DeliveryReceipt>?> ProduceReceiptsAsync(IChannel channel, ChannelMessage sent, DeliveryResult result)
    {
        var now = Instant.FromUtc(2026, 5, 1, 0, 1);
        var sink = new RecordingDeliveryReceiptSink();
        var handler = new WebhookReceiptHandler(channel.Name, [WebhookReceiptHandlerTests.Secret], sink, new FakeClock(now));
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { type = "delivered", message_id = result.ProviderMessageId }));
        var outcome = await handler.HandleAsync("cb-1", now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), WebhookReceiptHandlerTests.Sign(WebhookReceiptHandlerTests.Secret, "cb-1", now.ToUnixTimeSeconds(), body), body, CancellationToken.None);
        Assert.True(outcome.IsAccepted, outcome.Error);
        return sink.Receipts;
    }

    protected override string CreateRecipient(string tag) => $"{tag}-{Guid.NewGuid():N}";

    protected override ValueTask ArrangeFaultAsync(string recipient, ConformanceFault fault)
    {
        receiver.SetRule(recipient, fault switch
        {
            ConformanceFault.PermanentRejection => new ReceiverRule(410),
            ConformanceFault.TransientFailure => new ReceiverRule(503),
            _ => new ReceiverRule(200, Hang: true),
        });
        return ValueTask.CompletedTask;
    }

    protected override ValueTask<bool> WasDeliveredWithKeyAsync(ChannelMessage sent) =>
        ValueTask.FromResult(receiver.ReceivedFor(sent.Recipient).Any(r => r.Id == sent.IdempotencyKey && r.Data.GetProperty("idempotencyKey").GetString() == sent.IdempotencyKey));

    public void Dispose() => _services.Dispose();
}
