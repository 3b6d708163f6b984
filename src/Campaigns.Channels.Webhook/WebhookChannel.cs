using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NodaTime;

namespace Campaigns.Channels.Webhook;

/// <summary>
/// The webhook channel: POSTs each message as JSON (<c>{"type", "timestamp", "data"}</c>) to the configured endpoint,
/// signed in the Standard Webhooks style (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>).
/// The <c>webhook-id</c> is the idempotency key (or a hash of it when it is not printable ASCII), so a receiver drops
/// duplicates of a retried send. Thread-safe; HTTP connections are pooled by <see cref="IHttpClientFactory"/>.
/// </summary>
internal sealed class WebhookChannel : IChannel
{
    private static readonly ChannelCapabilities WebhookCapabilities = new()
    {
        AddressKind = ChannelAddressKind.Custom,
        MaxContentLength = null,
        SupportsRichContent = true,
        SupportsDeliveryReceipts = true, // status callbacks through WebhookReceiptHandler
        SupportsBatch = false,
    };

    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    private readonly IHttpClientFactory _httpClients;
    private readonly WebhookChannelOptions _options;
    private readonly IClock _clock;
    private readonly byte[][] _keys;
    private readonly Uri _endpoint;

    public WebhookChannel(string name, WebhookChannelOptions options, IHttpClientFactory httpClients, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(httpClients);
        ArgumentNullException.ThrowIfNull(clock);
        ChannelRegistration.ValidateName(name);
        Name = name;
        _options = options;
        _httpClients = httpClients;
        _clock = clock;
        _endpoint = options.Endpoint ?? throw new ArgumentException("The webhook endpoint is required.", nameof(options));
        _keys = [.. options.Secrets.Select(s => WebhookSignature.TryDecodeSecret(s, out var key) ? key : throw new ArgumentException("A webhook secret is not valid.", nameof(options)))];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("At least one webhook secret is required.", nameof(options));
        }

        Capabilities = options.ReceiverDeduplicates ? WebhookCapabilities with { HonoursIdempotencyKeys = true } : WebhookCapabilities;
    }

    public string Name { get; }

    public ChannelCapabilities Capabilities { get; }

    /// <summary>The name of the <see cref="IHttpClientFactory"/> client a channel uses: <c>Campaigns.Channels.Webhook.</c> + channel name.</summary>
    internal static string HttpClientName(string channelName) => "Campaigns.Channels.Webhook." + channelName;

    /// <summary>The webhook-id for an idempotency key: the key when it is 1–200 printable ASCII characters without spaces, else <c>msg_</c> + a hash.</summary>
    internal static string WebhookIdFor(string idempotencyKey) =>
        idempotencyKey.All(c => c is > ' ' and < (char)127)
            ? idempotencyKey
            : "msg_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(idempotencyKey)).AsSpan(0, 16));

    public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();

        var now = _clock.GetCurrentInstant();
        var id = WebhookIdFor(message.IdempotencyKey);
        var timestamp = now.ToUnixTimeSeconds();
        var body = Serialize(message, now);
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSignature.Sign(_keys, id, timestamp, body));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        var client = _httpClients.CreateClient(HttpClientName(Name));
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            return Map(response, id, now);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, string.Create(CultureInfo.InvariantCulture, $"The endpoint did not answer within {_options.Timeout.TotalSeconds} s."));
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError)
        {
            // No connection (or no TLS session): the endpoint cannot have received the request.
            return DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, "The webhook request failed: " + ex.Message);
        }
        catch (HttpRequestException ex)
        {
            // The request may have been sent and processed, and only the answer was lost (the connection ended, or the
            // response was malformed): a timeout in the sense of DeliveryFailureReason.Timeout, so the send is in doubt.
            return DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, $"The endpoint gave no valid answer ({ex.HttpRequestError}): {ex.Message}; it may have received the request.");
        }
    }

    private static DeliveryResult Map(HttpResponseMessage response, string id, Instant now)
    {
        var code = (int)response.StatusCode;
        var detail = string.Create(CultureInfo.InvariantCulture, $"HTTP {code} {response.ReasonPhrase}");
        return code switch
        {
            >= 200 and < 300 => DeliveryResult.Accepted(id),
            (int)HttpStatusCode.Gone => DeliveryResult.Failed(DeliveryFailureReason.Unsubscribed, false, detail),
            (int)HttpStatusCode.TooManyRequests => DeliveryResult.RateLimited(RetryAfter(response.Headers.RetryAfter, now), detail),
            (int)HttpStatusCode.RequestTimeout => DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, detail),
            (int)HttpStatusCode.Unauthorized or (int)HttpStatusCode.Forbidden => DeliveryResult.Failed(DeliveryFailureReason.Unauthorized, false, detail),
            >= 400 and < 500 => DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, detail),
            >= 500 => DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, detail, RetryAfter(response.Headers.RetryAfter, now)),
            _ => DeliveryResult.Failed(DeliveryFailureReason.ProviderError, false, detail + " (unexpected status)"),
        };
    }

    private static Duration? RetryAfter(RetryConditionHeaderValue? header, Instant now)
    {
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? Duration.Zero : Duration.FromTimeSpan(delta);
        }

        if (header?.Date is { } date)
        {
            var wait = Instant.FromDateTimeOffset(date) - now;
            return wait < Duration.Zero ? Duration.Zero : wait;
        }

        return null;
    }

    private byte[] Serialize(ChannelMessage message, Instant now)
    {
        var buffer = new ArrayBufferWriter<byte>(512 + (message.TextBody.Length * 2) + ((message.HtmlBody?.Length ?? 0) * 2));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", _options.EventType);
            json.WriteString("timestamp", now.ToString("uuuu-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
            json.WriteStartObject("data");
            json.WriteString("idempotencyKey", message.IdempotencyKey);
            json.WriteString("channel", Name);
            json.WriteString("recipient", message.Recipient);
            WriteIfSet(json, "contactId", message.ContactId);
            WriteIfSet(json, "campaignId", message.CampaignId?.ToString());
            WriteIfSet(json, "subject", message.Subject);
            json.WriteString("text", message.TextBody);
            WriteIfSet(json, "html", message.HtmlBody);
            WriteIfSet(json, "unsubscribeUrl", message.UnsubscribeUrl?.AbsoluteUri);
            WriteMap(json, "headers", message.Headers);
            WriteMap(json, "metadata", message.Metadata);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteMap(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, string> map)
    {
        if (map.Count == 0)
        {
            return;
        }

        json.WriteStartObject(name);
        foreach (var (key, value) in map)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
    }
}
