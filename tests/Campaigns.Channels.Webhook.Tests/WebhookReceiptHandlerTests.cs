using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Campaigns.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Channels.Webhook.Tests;

/// <summary>Status callbacks posted to a real Kestrel endpoint on 127.0.0.1 that hands them to <see cref="WebhookReceiptHandler"/>.</summary>
public sealed class WebhookReceiptHandlerTests : IAsyncLifetime, IDisposable
{
    internal static readonly string Secret = "whsec_" + Convert.ToBase64String(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
    private static readonly string OtherSecret = "whsec_" + Convert.ToBase64String(Enumerable.Range(90, 32).Select(i => (byte)i).ToArray());
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 1, 2, 0);
    private readonly RecordingDeliveryReceiptSink _sink = new();
    private readonly HttpClient _http = new();
    private WebApplication? _app;
    private Uri _endpoint = null!;

    public async Task InitializeAsync()
    {
        var handler = new WebhookReceiptHandler("crm", [OtherSecret, Secret], _sink, new FakeClock(Now));
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--urls", "http://127.0.0.1:0"] });
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/hooks/status", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var result = await handler.HandleAsync(name => context.Request.Headers[name].FirstOrDefault(), body.ToArray(), context.RequestAborted);
            context.Response.StatusCode = result.HttpStatusCode;
            if (result.Error is not null)
            {
                await context.Response.WriteAsync(result.Error, context.RequestAborted);
            }
        });
        await _app.StartAsync();
        _endpoint = new Uri(new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()), "/hooks/status");
    }

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    /// <summary>Signs like a Standard Webhooks sender, independently of the SDK.</summary>
    internal static string Sign(string secret, string id, long timestamp, byte[] body)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body).ToArray()));
    }

    private async Task<(HttpStatusCode Status, string Text)> PostAsync(string json, string? signature = null, Instant? at = null, string id = "cb_1")
    {
        var body = Encoding.UTF8.GetBytes(json);
        var timestamp = (at ?? Now).ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", signature ?? Sign(Secret, id, timestamp, body));
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_signed_callback_becomes_receipts_in_the_sink()
    {
        var (status, _) = await PostAsync("""
            [{"type":"delivered","message_id":"journey-7/step-2/contact-42","timestamp":"2026-05-01T01:30:15Z","recipient":"crm-user-1"},
             {"type":"clicked","message_id":"journey-7/step-2/contact-42","url":"https://example.com/e/1","contact_id":"c-42"},
             {"type":"bounced","message_id":"m-2","permanent":false,"detail":"mailbox full"},
             {"type":"unsubscribed","message_id":"m-3"}]
            """);
        Assert.Equal(HttpStatusCode.NoContent, status);
        var r = _sink.Receipts;
        Assert.Equal(4, r.Count);
        Assert.All(r, x => Assert.Equal("crm", x.ChannelName));
        Assert.Equal((DeliveryReceiptKind.Delivered, "journey-7/step-2/contact-42", Instant.FromUtc(2026, 5, 1, 1, 30, 15), "crm-user-1"), (r[0].Kind, r[0].ProviderMessageId, r[0].OccurredAt, r[0].Recipient));
        Assert.Equal((DeliveryReceiptKind.Clicked, new Uri("https://example.com/e/1"), "c-42", Now), (r[1].Kind, r[1].Url, r[1].ContactId, r[1].OccurredAt));
        Assert.Equal((DeliveryReceiptKind.Bounced, false, "mailbox full"), (r[2].Kind, r[2].IsPermanent, r[2].Detail));
        Assert.Equal((DeliveryReceiptKind.Unsubscribed, "m-3"), (r[3].Kind, r[3].ProviderMessageId));
    }

    [Fact]
    public async Task A_bad_signature_is_refused_with_401()
    {
        var json = """{"type":"opened","message_id":"m-1"}""";
        var (status, text) = await PostAsync(json, signature: Sign("whsec_" + Convert.ToBase64String(new byte[32]), "cb_1", Now.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(json)));
        Assert.Equal((HttpStatusCode.Unauthorized, "no webhook-signature matches a configured secret."), (status, text));
        var (tampered, _) = await PostAsync(json, signature: Sign(Secret, "cb_1", Now.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(json.Replace("m-1", "m-2", StringComparison.Ordinal))));
        Assert.Equal(HttpStatusCode.Unauthorized, tampered);
        Assert.Empty(_sink.Receipts);
    }

    [Fact]
    public async Task A_stale_or_future_timestamp_is_refused_with_401()
    {
        var (old, text) = await PostAsync("""{"type":"opened","message_id":"m-1"}""", at: Now - Duration.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Unauthorized, old);
        Assert.Contains("webhook-timestamp", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync("""{"type":"opened","message_id":"m-1"}""", at: Now + Duration.FromMinutes(6))).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync("""{"type":"opened","message_id":"m-1"}""", at: Now - Duration.FromMinutes(4))).Status);
        Assert.Single(_sink.Receipts);
    }

    [Theory]
    [InlineData("""{"type":"read","message_id":"m"}""", "type: 'read' is not one of delivered, opened, clicked, bounced, complained, unsubscribed.")]
    [InlineData("""{"type":"opened"}""", "message_id: required")]
    [InlineData("""[{"type":"opened","message_id":"m"},{"type":"clicked","message_id":"m","url":"not a url"}]""", "[1].url: 'not a url' is not an absolute URL.")]
    [InlineData("""{"type":"opened","message_id":"m","timestamp":"yesterday"}""", "timestamp: 'yesterday' is not an RFC 3339 date-time")]
    [InlineData("""not json""", "the body is not JSON")]
    public async Task A_signed_but_malformed_body_is_refused_with_400_naming_the_field(string json, string error)
    {
        var (status, text) = await PostAsync(json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(error, text, StringComparison.Ordinal);
        Assert.Empty(_sink.Receipts);
    }

    [Fact]
    public async Task Missing_headers_are_refused_with_400()
    {
        var handler = new WebhookReceiptHandler("crm", [Secret], _sink, new FakeClock(Now));
        var noId = await handler.HandleAsync(null, "1", "v1,x", Array.Empty<byte>(), CancellationToken.None);
        Assert.Equal((WebhookCallbackStatus.MissingHeaders, 400, "the webhook-id header is missing."), (noId.Status, noId.HttpStatusCode, noId.Error));
        var badTime = await handler.HandleAsync("id", "soon", "v1,x", Array.Empty<byte>(), CancellationToken.None);
        Assert.Equal(WebhookCallbackStatus.MissingHeaders, badTime.Status);
        Assert.Throws<ArgumentException>(() => new WebhookReceiptHandler("crm", [], _sink, new FakeClock(Now)));
        Assert.Contains("secrets[0]", Assert.Throws<ArgumentException>(() => new WebhookReceiptHandler("crm", ["nope"], _sink, new FakeClock(Now))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddWebhookChannel_registers_a_handler_per_channel_with_its_secrets()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().AddWebhookChannel("crm", o => { o.Endpoint = new Uri("https://crm.example.com/hooks"); o.Secrets.Add(Secret); });
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        var handler = sp.GetRequiredKeyedService<WebhookReceiptHandler>("crm");
        Assert.Equal("crm", handler.ChannelName);
        Assert.Same(handler, sp.GetRequiredKeyedService<WebhookReceiptHandler>("crm"));
    }
}
