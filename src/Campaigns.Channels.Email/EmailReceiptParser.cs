using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using MimeKit;
using MimeKit.Utils;
using NodaTime;

namespace Campaigns.Channels.Email;

/// <summary>
/// Turns the reports mail servers send back into <see cref="DeliveryReceipt"/>s: RFC 3464 delivery status notifications
/// (<c>multipart/report; report-type=delivery-status</c>) and RFC 5965 abuse feedback reports
/// (<c>multipart/report; report-type=feedback-report</c>, the ARF reports of mailbox providers' feedback loops).
/// Stateless and thread-safe.
/// </summary>
/// <remarks>
/// <para>For each recipient of a DSN: <c>Action: failed</c> with a <c>5.x.x</c> status is a permanent
/// <see cref="DeliveryReceiptKind.Bounced"/>; a <c>4.x.x</c> status (or <c>Action: delayed</c>) a transient one
/// (<see cref="DeliveryReceipt.IsPermanent"/> false); <c>Action: delivered</c>, <c>relayed</c> or <c>expanded</c> is
/// <see cref="DeliveryReceiptKind.Delivered"/>. An ARF report with any feedback type but <c>not-spam</c> is
/// <see cref="DeliveryReceiptKind.Complained"/>.</para>
/// <para><see cref="DeliveryReceipt.ProviderMessageId"/> is the <c>Message-ID</c> of the original message (without angle
/// brackets), taken from the returned message or headers in the report: the value <see cref="DeliveryResult.ProviderMessageId"/>
/// had when the SMTP channel sent it. <see cref="DeliveryReceipt.Recipient"/> is the <c>Final-Recipient</c> (DSN) or
/// <c>Original-Rcpt-To</c> (ARF) address; <see cref="DeliveryReceipt.OccurredAt"/> the recipient's
/// <c>Last-Attempt-Date</c>, else the report's <c>Arrival-Date</c>, else the report message's <c>Date</c>, else
/// the instant passed in.</para>
/// </remarks>
public static class EmailReceiptParser
{
    /// <summary>Parses a report into one receipt (the first recipient's, for a DSN about several).</summary>
    /// <param name="message">A message from the bounce or feedback mailbox.</param>
    /// <param name="channelName">The e-mail channel that sent the original message (e.g. <c>email</c>).</param>
    /// <param name="receivedAt">When the report arrived; used when it carries no date.</param>
    /// <param name="receipt">The receipt, when the message is a report this parser understands.</param>
    /// <returns>Whether <paramref name="message"/> is a DSN or ARF report with a receipt.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> or <paramref name="channelName"/> is null.</exception>
    public static bool TryParse(MimeMessage message, string channelName, Instant receivedAt, [NotNullWhen(true)] out DeliveryReceipt? receipt)
    {
        var all = Parse(message, channelName, receivedAt);
        receipt = all.Count > 0 ? all[0] : null;
        return receipt is not null;
    }

    /// <summary>Parses a report into its receipts: one per recipient of a DSN, one for an ARF report, none for other mail.</summary>
    /// <param name="message">A message from the bounce or feedback mailbox.</param>
    /// <param name="channelName">The e-mail channel that sent the original message.</param>
    /// <param name="receivedAt">When the report arrived; used when it carries no date.</param>
    /// <returns>The receipts; empty when the message is not a report (an auto-reply, spam, a human answer).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> or <paramref name="channelName"/> is null.</exception>
    public static IReadOnlyList<DeliveryReceipt> Parse(MimeMessage message, string channelName, Instant receivedAt)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentException.ThrowIfNullOrWhiteSpace(channelName);
        var report = message.BodyParts.OfType<MessageDeliveryStatus>().FirstOrDefault() is { } status
            ? (MimeEntity)status
            : message.BodyParts.OfType<MessageFeedbackReport>().FirstOrDefault();
        if (report is null)
        {
            return [];
        }

        var messageDate = message.Headers.Contains(HeaderId.Date) && message.Date != DateTimeOffset.MinValue ? Instant.FromDateTimeOffset(message.Date) : receivedAt;
        var originalId = OriginalMessageId(message);
        return report switch
        {
            MessageDeliveryStatus dsn => FromDsn(dsn, channelName, originalId, messageDate),
            MessageFeedbackReport arf => FromArf(arf, channelName, originalId, messageDate),
            _ => [],
        };
    }

    private static List<DeliveryReceipt> FromDsn(MessageDeliveryStatus dsn, string channelName, string? originalId, Instant fallback)
    {
        var receipts = new List<DeliveryReceipt>();
        var groups = dsn.StatusGroups;
        if (groups.Count < 2)
        {
            return receipts;
        }

        var arrival = Date(groups[0]["Arrival-Date"]) ?? fallback;
        for (var i = 1; i < groups.Count; i++)
        {
            var fields = groups[i];
            var action = fields["Action"]?.Trim().ToLowerInvariant();
            var status = fields["Status"]?.Trim();
            var statusClass = status is { Length: > 0 } ? status[0] : '\0';
            DeliveryReceiptKind kind;
            bool permanent;
            switch (action)
            {
                case "failed" when statusClass == '4':
                case "delayed":
                    (kind, permanent) = (DeliveryReceiptKind.Bounced, false);
                    break;
                case "failed":
                    (kind, permanent) = (DeliveryReceiptKind.Bounced, true);
                    break;
                case "delivered" or "relayed" or "expanded":
                    (kind, permanent) = (DeliveryReceiptKind.Delivered, false);
                    break;
                default:
                    continue; // an unknown action: not a receipt
            }

            var diagnostic = fields["Diagnostic-Code"]?.Trim();
            receipts.Add(new DeliveryReceipt(channelName, kind, Date(fields["Last-Attempt-Date"]) ?? arrival)
            {
                ProviderMessageId = originalId,
                Recipient = Address(fields["Final-Recipient"] ?? fields["Original-Recipient"]),
                IsPermanent = permanent,
                Detail = string.Create(CultureInfo.InvariantCulture, $"DSN {action} {status}{(diagnostic is null ? "" : ": " + diagnostic)}"),
            });
        }

        return receipts;
    }

    private static List<DeliveryReceipt> FromArf(MessageFeedbackReport arf, string channelName, string? originalId, Instant fallback)
    {
        var fields = arf.Fields;
        var type = fields["Feedback-Type"]?.Trim().ToLowerInvariant();
        if (type is null or "not-spam")
        {
            return [];
        }

        var userAgent = fields["User-Agent"]?.Trim();
        return
        [
            new DeliveryReceipt(channelName, DeliveryReceiptKind.Complained, Date(fields["Arrival-Date"] ?? fields["Received-Date"]) ?? fallback)
            {
                ProviderMessageId = originalId,
                Recipient = Address(fields["Original-Rcpt-To"]),
                Detail = $"ARF feedback report: {type}{(userAgent is null ? "" : " (" + userAgent + ")")}",
            },
        ];
    }

    /// <summary>The Message-ID of the returned message (message/rfc822 or text/rfc822-headers part), without brackets.</summary>
    private static string? OriginalMessageId(MimeMessage report)
    {
        foreach (var part in report.BodyParts)
        {
            switch (part)
            {
                case MessagePart { Message: { } original } when !string.IsNullOrEmpty(original.MessageId):
                    return original.MessageId;
                case TextPart text when text.ContentType.IsMimeType("text", "rfc822-headers"):
                    using (var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text.Text + "\r\n\r\n")))
                    {
                        var headers = HeaderList.Load(stream);
                        if (headers[HeaderId.MessageId] is { } id)
                        {
                            return MimeUtils.ParseMessageId(id) ?? id.Trim().Trim('<', '>');
                        }
                    }

                    break;
            }
        }

        return null;
    }

    /// <summary>The address of a DSN/ARF recipient field (<c>rfc822; li.lei@example.com</c> or a bare address).</summary>
    private static string? Address(string? field)
    {
        if (string.IsNullOrWhiteSpace(field))
        {
            return null;
        }

        var semicolon = field.IndexOf(';', StringComparison.Ordinal);
        var address = (semicolon >= 0 ? field[(semicolon + 1)..] : field).Trim().Trim('<', '>').Trim();
        return address.Length == 0 ? null : address;
    }

    private static Instant? Date(string? value) =>
        value is not null && DateUtils.TryParse(value.Trim(), out var date) ? Instant.FromDateTimeOffset(date) : null;
}
