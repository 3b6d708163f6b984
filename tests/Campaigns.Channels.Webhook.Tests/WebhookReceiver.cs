using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Campaigns.Channels.Webhook.Tests;

/// <summary>A request as the receiver saw it.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string ContentType, byte[] Body)
{
    public JsonElement Data => JsonDocument.Parse(Body).RootElement.GetProperty("data");
}

/// <summary>How the receiver answers a recipient: a status, optional Retry-After, or hanging until the client gives up.</summary>
public sealed record ReceiverRule(int Status, string? RetryAfter = null, bool Hang = false);

/// <summary>A real Kestrel server on 127.0.0.1 (free port) in the test process that records webhook requests and answers per recipient.</summary>
public sealed class WebhookReceiver : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, ReceiverRule> _rules = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private WebApplication? _app;

    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    public IReadOnlyList<ReceivedWebhook> ReceivedFor(string recipient) =>
        [.. _received.Where(r => r.Data.GetProperty("recipient").GetString() == recipient)];

    public void SetRule(string recipient, ReceiverRule rule) => _rules[recipient] = rule;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--urls", "http://127.0.0.1:0"] });
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/hooks/campaigns", async (HttpContext context) =>
        {
            using var memory = new MemoryStream();
            await context.Request.Body.CopyToAsync(memory, context.RequestAborted);
            var received = new ReceivedWebhook(
                context.Request.Headers["webhook-id"].ToString(),
                context.Request.Headers["webhook-timestamp"].ToString(),
                context.Request.Headers["webhook-signature"].ToString(),
                context.Request.ContentType ?? "",
                memory.ToArray());
            var recipient = received.Data.GetProperty("recipient").GetString() ?? "";
            var rule = _rules.GetValueOrDefault(recipient) ?? new ReceiverRule(204);
            if (rule.Hang)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
            }

            _received.Enqueue(received);
            if (rule.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = retryAfter;
            }

            context.Response.StatusCode = rule.Status;
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Endpoint = new Uri(new Uri(address), "/hooks/campaigns");
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

[CollectionDefinition("webhook")]
public sealed class WebhookReceiverGroup : ICollectionFixture<WebhookReceiver>;
