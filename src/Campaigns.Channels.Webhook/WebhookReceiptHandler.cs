using System.Globalization;
using System.Text.Json;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Channels.Webhook;

/// <summary>How a status callback was taken.</summary>
public enum WebhookCallbackStatus
{
    /// <summary>Verified and parsed; its receipts were handed to the sink.</summary>
    Accepted = 0,

    /// <summary>A <c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> header is missing or malformed.</summary>
    MissingHeaders = 1,

    /// <summary>No signature matches any configured secret (a forged or corrupted request).</summary>
    InvalidSignature = 2,

    /// <summary>The timestamp is further from now than the tolerance (a replayed or badly delayed request).</summary>
    StaleTimestamp = 3,

    /// <summary>Signed correctly, but the body is not the documented JSON (the error names the field).</summary>
    InvalidBody = 4,
}

/// <summary>The outcome of <see cref="WebhookReceiptHandler.HandleAsync(string?, string?, string?, ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="HttpStatusCode">The status to answer with: 204 accepted, 400 bad headers or body, 401 bad signature or stale timestamp.</param>
/// <param name="Error">Why it was refused (names the header or field); null when accepted. Never contains secrets.</param>
/// <param name="Receipts">The receipts handed to the sink (empty when refused).</param>
public sealed record WebhookCallbackResult(WebhookCallbackStatus Status, int HttpStatusCode, string? Error, IReadOnlyList<DeliveryReceipt> Receipts)
{
    /// <summary>Whether the callback was accepted.</summary>
    public bool IsAccepted => Status == WebhookCallbackStatus.Accepted;
}

/// <summary>
/// Takes provider or receiver status callbacks for a webhook channel: verifies the Standard Webhooks signature
/// (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>: HMAC-SHA256 over id + "." + timestamp + "." +
/// body, any of the channel's secrets), refuses a timestamp more than <see cref="Tolerance"/> away from the clock, parses the
/// JSON body and hands the receipts to the <see cref="IDeliveryReceiptSink"/>. Framework-neutral: pass the three headers and
/// the raw body from ASP.NET Core, an Azure Function or anything else, and answer with
/// <see cref="WebhookCallbackResult.HttpStatusCode"/>. Thread-safe.
/// </summary>
/// <remarks>
/// <para>The body is one event or a JSON array of events:</para>
/// <code>
/// {"type": "delivered" | "opened" | "clicked" | "bounced" | "complained" | "unsubscribed",
///  "message_id": "journey-7/step-2/contact-42",   // required: the webhook-id of the send (its ProviderMessageId)
///  "timestamp": "2026-05-01T01:30:15Z",           // optional, RFC 3339; default: the webhook-timestamp header
///  "recipient": "...", "contact_id": "...", "idempotency_key": "...",   // optional
///  "url": "https://...",                          // clicked: the link
///  "permanent": true,                             // bounced: hard (default true) or soft
///  "detail": "mailbox full"}                      // optional, for logs
/// </code>
/// <para><c>AddWebhookChannel</c> registers one per channel as a keyed singleton (key = channel name), verifying with the
/// channel's <c>Secrets</c>.</para>
/// </remarks>
public sealed class WebhookReceiptHandler
{
    private static readonly InstantPattern Rfc3339 = InstantPattern.ExtendedIso;
    private readonly byte[][] _keys;
    private readonly IDeliveryReceiptSink _sink;
    private readonly IClock _clock;

    /// <summary>Creates a handler.</summary>
    /// <param name="channelName">The webhook channel the callbacks are about (the receipts' channel).</param>
    /// <param name="secrets">The signing secrets (<c>whsec_</c> + base64 of 24–64 bytes); any may sign.</param>
    /// <param name="sink">Where receipts go.</param>
    /// <param name="clock">The clock the timestamp is checked against.</param>
    /// <exception cref="ArgumentException">The name is not a channel name, there is no secret, or a secret is malformed.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public WebhookReceiptHandler(string channelName, IEnumerable<string> secrets, IDeliveryReceiptSink sink, IClock clock)
    {
        ChannelRegistration.ValidateName(channelName);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(clock);
        _keys = [.. secrets.Select((s, i) => WebhookSignature.TryDecodeSecret(s, out var key)
            ? key
            : throw new ArgumentException($"secrets[{i}]: not a signing secret; expected 'whsec_' followed by base64 of 24-64 random bytes.", nameof(secrets)))];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("At least one signing secret is required.", nameof(secrets));
        }

        ChannelName = channelName;
        _sink = sink;
        _clock = clock;
    }

    /// <summary>The channel the receipts are for.</summary>
    public string ChannelName { get; }

    /// <summary>How far the <c>webhook-timestamp</c> may be from the clock, either way (default 5 minutes).</summary>
    public Duration Tolerance { get; init; } = Duration.FromMinutes(5);

    /// <summary>Verifies, parses and hands over one callback, reading headers through a lookup (names are lower case).</summary>
    /// <param name="header">Returns a request header's value, or null (e.g. <c>name =&gt; request.Headers[name]</c>).</param>
    /// <param name="body">The raw request body, exactly as received.</param>
    /// <param name="cancellationToken">Cancels the hand-over to the sink.</param>
    /// <returns>The result, with the HTTP status to answer.</returns>
    public ValueTask<WebhookCallbackResult> HandleAsync(Func<string, string?> header, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(header);
        return HandleAsync(header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"), body, cancellationToken);
    }

    /// <summary>Verifies, parses and hands over one callback.</summary>
    /// <param name="webhookId">The <c>webhook-id</c> header.</param>
    /// <param name="webhookTimestamp">The <c>webhook-timestamp</c> header (Unix seconds).</param>
    /// <param name="webhookSignature">The <c>webhook-signature</c> header (<c>v1,&lt;base64&gt;</c>, space-separated).</param>
    /// <param name="body">The raw request body, exactly as received.</param>
    /// <param name="cancellationToken">Cancels the hand-over to the sink.</param>
    /// <returns>The result, with the HTTP status to answer.</returns>
    public async ValueTask<WebhookCallbackResult> HandleAsync(string? webhookId, string? webhookTimestamp, string? webhookSignature, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(webhookId) || string.IsNullOrWhiteSpace(webhookSignature))
        {
            return Refused(WebhookCallbackStatus.MissingHeaders, 400, $"the {(string.IsNullOrWhiteSpace(webhookId) ? "webhook-id" : "webhook-signature")} header is missing.");
        }

        if (!long.TryParse(webhookTimestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > Instant.MaxValue.ToUnixTimeSeconds())
        {
            return Refused(WebhookCallbackStatus.MissingHeaders, 400, $"the webhook-timestamp header '{webhookTimestamp}' is not Unix seconds.");
        }

        if (!WebhookSignature.Verify(_keys, webhookId, seconds, body.Span, webhookSignature))
        {
            return Refused(WebhookCallbackStatus.InvalidSignature, 401, "no webhook-signature matches a configured secret.");
        }

        var now = _clock.GetCurrentInstant();
        var sent = Instant.FromUnixTimeSeconds(seconds);
        if (sent < now - Tolerance || sent > now + Tolerance)
        {
            return Refused(WebhookCallbackStatus.StaleTimestamp, 401, $"the webhook-timestamp {sent} is more than {Tolerance.TotalMinutes.ToString(CultureInfo.InvariantCulture)} minutes from now ({now}).");
        }

        List<DeliveryReceipt> receipts;
        try
        {
            receipts = Parse(body, sent);
        }
        catch (FormatException e)
        {
            return Refused(WebhookCallbackStatus.InvalidBody, 400, e.Message);
        }
        catch (JsonException e)
        {
            return Refused(WebhookCallbackStatus.InvalidBody, 400, "the body is not JSON: " + e.Message);
        }

        foreach (var receipt in receipts)
        {
            await _sink.OnReceiptAsync(receipt, cancellationToken).ConfigureAwait(false);
        }

        return new WebhookCallbackResult(WebhookCallbackStatus.Accepted, 204, null, receipts);
    }

    private static WebhookCallbackResult Refused(WebhookCallbackStatus status, int code, string error) => new(status, code, error, []);

    private List<DeliveryReceipt> Parse(ReadOnlyMemory<byte> body, Instant sent)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var receipts = new List<DeliveryReceipt>();
        if (root.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in root.EnumerateArray())
            {
                receipts.Add(ParseEvent(item, sent, $"[{i++}]."));
            }
        }
        else
        {
            receipts.Add(ParseEvent(root, sent, ""));
        }

        return receipts;
    }

    private DeliveryReceipt ParseEvent(JsonElement e, Instant sent, string at)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{(at.Length == 0 ? "the body" : at.TrimEnd('.'))}: an event is a JSON object.");
        }

        var type = String(e, "type", at);
        var kind = type switch
        {
            "delivered" => DeliveryReceiptKind.Delivered,
            "opened" => DeliveryReceiptKind.Opened,
            "clicked" => DeliveryReceiptKind.Clicked,
            "bounced" => DeliveryReceiptKind.Bounced,
            "complained" => DeliveryReceiptKind.Complained,
            "unsubscribed" => DeliveryReceiptKind.Unsubscribed,
            null => throw new FormatException($"{at}type: required (delivered, opened, clicked, bounced, complained or unsubscribed)."),
            _ => throw new FormatException($"{at}type: '{type}' is not one of delivered, opened, clicked, bounced, complained, unsubscribed."),
        };
        var messageId = String(e, "message_id", at);
        if (string.IsNullOrWhiteSpace(messageId))
        {
            throw new FormatException($"{at}message_id: required (the webhook-id of the message, as the send returned it).");
        }

        var occurredAt = sent;
        if (String(e, "timestamp", at) is { } timestamp)
        {
            var parsed = Rfc3339.Parse(timestamp);
            occurredAt = parsed.Success
                ? parsed.Value
                : DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.None, out var offset)
                    ? Instant.FromDateTimeOffset(offset)
                    : throw new FormatException($"{at}timestamp: '{timestamp}' is not an RFC 3339 date-time (e.g. 2026-05-01T01:30:15Z).");
        }

        Uri? url = null;
        if (String(e, "url", at) is { } link && !Uri.TryCreate(link, UriKind.Absolute, out url))
        {
            throw new FormatException($"{at}url: '{link}' is not an absolute URL.");
        }

        var permanent = true;
        if (e.TryGetProperty("permanent", out var p))
        {
            permanent = p.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new FormatException($"{at}permanent: true or false."),
            };
        }

        return new DeliveryReceipt(ChannelName, kind, occurredAt)
        {
            ProviderMessageId = messageId,
            IdempotencyKey = String(e, "idempotency_key", at),
            Recipient = String(e, "recipient", at),
            ContactId = String(e, "contact_id", at),
            Url = url,
            IsPermanent = kind == DeliveryReceiptKind.Bounced && permanent,
            Detail = String(e, "detail", at),
        };
    }

    private static string? String(JsonElement e, string name, string at) =>
        !e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null
            ? null
            : value.ValueKind == JsonValueKind.String ? value.GetString() : throw new FormatException($"{at}{name}: a string is expected.");
}
