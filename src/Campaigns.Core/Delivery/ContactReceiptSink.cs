using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Campaigns.Channels;
using Campaigns.Contacts;
using Microsoft.Extensions.Options;

namespace Campaigns.Delivery;

/// <summary>What <see cref="ContactReceiptSink"/> did with one receipt (for tests and the receipts counter).</summary>
internal enum ReceiptDisposition
{
    /// <summary>A new contact event was stored.</summary>
    Recorded = 0,

    /// <summary>The receipt was seen before (same derived event id); nothing new was stored.</summary>
    Duplicate = 1,

    /// <summary>No contact matches the receipt (no known contact id, no contact with the recipient address).</summary>
    Unmatched = 2,

    /// <summary>The contact events refused the derived event (e.g. an occurred-at far in the future).</summary>
    Rejected = 3,
}

/// <summary>
/// The SDK's <see cref="IDeliveryReceiptSink"/>: finds the receipt's contact (its <see cref="DeliveryReceipt.ContactId"/>, else the
/// send its <see cref="DeliveryReceipt.ProviderMessageId"/> belongs to in the <see cref="IProviderMessageIndex"/>,
/// else the contact with the recipient address of the channel's address kind), withdraws consent for the channel at
/// once on <see cref="DeliveryReceiptKind.Unsubscribed"/> and <see cref="DeliveryReceiptKind.Complained"/>, and stores a
/// behaviour event with an id derived from the receipt (a provider's repeated callback is a duplicate).
/// </summary>
internal sealed class ContactReceiptSink(
    IContactService contacts,
    IContactEvents events,
    IChannelRegistry channels,
    IProviderMessageIndex messageIndex,
    IOptions<CampaignsOptions> options) : IDeliveryReceiptSink
{
    private readonly DeliveryOptions _options = options.Value.Delivery;

    public async ValueTask OnReceiptAsync(DeliveryReceipt receipt, CancellationToken cancellationToken) =>
        _ = await ProcessAsync(receipt, cancellationToken).ConfigureAwait(false);

    internal async ValueTask<ReceiptDisposition> ProcessAsync(DeliveryReceipt receipt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentException.ThrowIfNullOrWhiteSpace(receipt.ChannelName, nameof(receipt));
        var addressKind = channels.TryGetChannel(receipt.ChannelName, out var channel) ? channel.Capabilities.AddressKind : ChannelAddressKind.Custom;
        if (receipt.ContactId is null && receipt.ProviderMessageId is { } providerMessageId
            && await messageIndex.FindAsync(receipt.ChannelName, providerMessageId, cancellationToken).ConfigureAwait(false) is { } sent)
        {
            // Only the provider's id came back: the index of accepted sends names the contact (and the send's key).
            receipt = receipt with { ContactId = sent.ContactId, IdempotencyKey = receipt.IdempotencyKey ?? sent.IdempotencyKey };
        }

        var contact = await FindContactAsync(receipt, addressKind, cancellationToken).ConfigureAwait(false);
        if (contact is null)
        {
            DeliveryTelemetry.RecordReceipt(receipt, ReceiptDisposition.Unmatched);
            return ReceiptDisposition.Unmatched;
        }

        // Withdraw first: a crash between the two steps must not leave a recorded unsubscribe with consent still granted.
        if (receipt.Kind is DeliveryReceiptKind.Unsubscribed or DeliveryReceiptKind.Complained)
        {
            var key = ConsentKey(receipt.ChannelName);
            var current = contact.Consents.GetValueOrDefault(key);
            var stillGranted = current is null || (current.Granted && current.At <= receipt.OccurredAt);
            if (stillGranted)
            {
                var source = $"{(receipt.Kind == DeliveryReceiptKind.Unsubscribed ? "unsubscribe" : "complaint")} receipt from channel '{receipt.ChannelName}'";
                contact = await contacts.WithdrawConsentAsync(contact.Id, key, source, cancellationToken).ConfigureAwait(false);
            }
        }

        var result = await events.IngestAsync(ToEvent(receipt, contact.Id, addressKind), cancellationToken).ConfigureAwait(false);
        var disposition = result.Status switch
        {
            IngestStatus.Accepted => ReceiptDisposition.Recorded,
            IngestStatus.Duplicate => ReceiptDisposition.Duplicate,
            _ => ReceiptDisposition.Rejected,
        };
        DeliveryTelemetry.RecordReceipt(receipt, disposition);
        return disposition;
    }

    /// <summary>The consent key the gate checks for the channel: its own, else that of the primary it is the failover of, else its name.</summary>
    internal string ConsentKey(string channelName)
    {
        if (_options.ForChannel(channelName).ConsentKey is { } own)
        {
            return own;
        }

        foreach (var (name, o) in _options.Channels)
        {
            if (string.Equals(o.FailoverTo, channelName, StringComparison.Ordinal))
            {
                return o.ConsentKey ?? name;
            }
        }

        return channelName;
    }

    internal static BehaviourEvent ToEvent(DeliveryReceipt receipt, ContactId contactId, ChannelAddressKind addressKind)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal) { ["channel"] = receipt.ChannelName };
        if (receipt.ProviderMessageId is { } providerId)
        {
            properties["message_id"] = providerId;
        }

        if (receipt.IdempotencyKey is { } key)
        {
            properties["idempotency_key"] = key;
        }

        if (receipt.Url is { } url)
        {
            properties["url"] = url.ToString();
        }

        if (receipt.Kind == DeliveryReceiptKind.Bounced)
        {
            properties["permanent"] = receipt.IsPermanent ? "true" : "false";
        }

        return new BehaviourEvent
        {
            EventId = EventId(receipt),
            ContactId = contactId,
            Kind = EventKind(receipt.Kind, addressKind),
            OccurredAt = receipt.OccurredAt,
            Properties = properties,
        };
    }

    /// <summary>The behaviour event kind: <c>email_open</c>, <c>email_click</c>, <c>sms_click</c>, ...; <c>message_*</c> for other channels.</summary>
    internal static string EventKind(DeliveryReceiptKind kind, ChannelAddressKind addressKind)
    {
        var prefix = addressKind switch
        {
            ChannelAddressKind.Email => "email",
            ChannelAddressKind.Phone => "sms",
            _ => "message",
        };
        var suffix = kind switch
        {
            DeliveryReceiptKind.Delivered => "delivered",
            DeliveryReceiptKind.Opened => "open",
            DeliveryReceiptKind.Clicked => "click",
            DeliveryReceiptKind.Bounced => "bounce",
            DeliveryReceiptKind.Complained => "complaint",
            DeliveryReceiptKind.Unsubscribed => "unsubscribe",
            _ => "receipt",
        };
        return prefix + "_" + suffix;
    }

    /// <summary>
    /// <c>receipt-</c> + 32 hex digits of SHA-256 over channel, kind, the message (provider id, else idempotency key,
    /// else recipient), the instant and the link: stable across a provider's retries of one callback, distinct for a
    /// second open or a click on another link.
    /// </summary>
    internal static string EventId(DeliveryReceipt receipt)
    {
        var message = receipt.ProviderMessageId ?? receipt.IdempotencyKey ?? receipt.Recipient ?? receipt.ContactId ?? string.Empty;
        var text = string.Join(
            '\n',
            receipt.ChannelName,
            ((int)receipt.Kind).ToString(CultureInfo.InvariantCulture),
            message,
            receipt.OccurredAt.ToUnixTimeTicks().ToString(CultureInfo.InvariantCulture),
            receipt.Url?.ToString() ?? string.Empty);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return "receipt-" + Convert.ToHexStringLower(hash[..16]);
    }

    private async ValueTask<Contact?> FindContactAsync(DeliveryReceipt receipt, ChannelAddressKind addressKind, CancellationToken cancellationToken)
    {
        if (ContactId.TryParse(receipt.ContactId, CultureInfo.InvariantCulture, out var id))
        {
            try
            {
                return await contacts.GetAsync(id, cancellationToken).ConfigureAwait(false);
            }
            catch (EntityNotFoundException)
            {
                // Fall through to the recipient address.
            }
        }

        IdentityKind? identity = addressKind switch
        {
            ChannelAddressKind.Email => IdentityKind.Email,
            ChannelAddressKind.Phone => IdentityKind.Phone,
            ChannelAddressKind.WeChatOpenId => IdentityKind.WeChatOpenId,
            ChannelAddressKind.WeComUserId => IdentityKind.WeComExternalUserId,
            _ => null,
        };
        return identity is { } kind && !string.IsNullOrWhiteSpace(receipt.Recipient)
            ? await contacts.FindAsync(kind, receipt.Recipient, cancellationToken).ConfigureAwait(false)
            : null;
    }
}
