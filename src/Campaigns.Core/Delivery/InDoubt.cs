using System.Diagnostics;
using System.Diagnostics.Metrics;
using Campaigns.Channels;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>
/// A channel's choice for an in-doubt send it cannot resolve (its provider neither deduplicates by idempotency key
/// nor can be asked by client reference): which of "never twice" and "never lost" wins.
/// </summary>
public enum InDoubtPolicy
{
    /// <summary>Do not send again: record <see cref="DeliveryStatus.Unknown"/> and raise an alert. The message was sent once or not at all.</summary>
    AtMostOnce = 0,

    /// <summary>Send again: the message is delivered once or twice, never lost.</summary>
    AtLeastOnce = 1,
}

/// <summary>How the pipeline resolved an in-doubt earlier attempt (see <see cref="IdempotencyClaimStatus.TakenOver"/>).</summary>
public enum InDoubtResolution
{
    /// <summary>Every channel that may have sent honours idempotency keys: sent again with the same key (the provider drops a duplicate).</summary>
    ResentWithSameKey = 0,

    /// <summary>The provider, asked by client reference, had accepted the message: recorded as sent, not sent again.</summary>
    FoundSent = 1,

    /// <summary>The provider, asked by client reference, had no such message: sent.</summary>
    NotFoundSent = 2,

    /// <summary>Neither capability (or the lookup could not tell) and the policy is <see cref="InDoubtPolicy.AtLeastOnce"/>: sent again.</summary>
    ResentAtLeastOnce = 3,

    /// <summary>Neither capability (or the lookup could not tell) and the policy is <see cref="InDoubtPolicy.AtMostOnce"/>: recorded as <see cref="DeliveryStatus.Unknown"/>.</summary>
    RecordedUnknown = 4,
}

/// <summary>An in-doubt send recorded as <see cref="DeliveryStatus.Unknown"/>. Immutable.</summary>
/// <param name="IdempotencyKey">The send's key.</param>
/// <param name="Channel">The requested channel.</param>
/// <param name="TaskId">The sending task, or null.</param>
/// <param name="ContactId">The contact.</param>
/// <param name="Detail">Why it could not be resolved, in a sentence.</param>
/// <param name="At">When it was recorded.</param>
public sealed record InDoubtAlert(string IdempotencyKey, string Channel, string? TaskId, string ContactId, string Detail, Instant At);

/// <summary>
/// Resolves an in-doubt earlier attempt before the pipeline runs: per channel (the requested one and its failover,
/// either of which may have sent), by capability — honours idempotency keys → resend; can be asked → ask; neither → the
/// requested channel's <see cref="ChannelDeliveryOptions.InDoubtPolicy"/>. Thread-safe.
/// </summary>
internal sealed class InDoubtResolver(IChannelRegistry registry, DeliveryOptions options)
{
    private static readonly Meter Meter = new(DeliveryTelemetry.MeterName);
    private static readonly Counter<long> InDoubtCounter = Meter.CreateCounter<long>(
        "campaigns.delivery.in_doubt", "{message}", "In-doubt sends (an earlier attempt's host died before recording the outcome), by resolution.");

    /// <summary>The resolution, and the final outcome when nothing is to be sent (found sent, or unknown).</summary>
    internal readonly record struct Decision(InDoubtResolution Resolution, DeliveryOutcome? Settled);

    public async ValueTask<Decision> ResolveAsync(DeliveryRequest request, Instant now, CancellationToken cancellationToken)
    {
        var key = request.IdempotencyKey;
        var channelOptions = options.ForChannel(request.Channel);
        var candidates = new List<IChannel>(2) { registry.GetChannel(request.Channel) };
        if (channelOptions.FailoverTo is { } failover && registry.TryGetChannel(failover, out var secondary))
        {
            candidates.Add(secondary);
        }

        var unresolved = new List<string>(2);
        var askedNotFound = false;
        foreach (var channel in candidates)
        {
            if (channel.Capabilities.HonoursIdempotencyKeys)
            {
                continue;
            }

            if (channel is not IChannelDeliveryLookup lookup)
            {
                unresolved.Add($"'{channel.Name}' neither honours idempotency keys nor can be asked");
                continue;
            }

            ChannelDeliveryLookupResult answer;
            try
            {
                answer = await lookup.LookupAsync(key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                answer = ChannelDeliveryLookupResult.Unknown($"the lookup threw {e.GetType().Name}: {e.Message}");
            }

            switch (answer.Status)
            {
                case ChannelDeliveryLookupStatus.Sent:
                    Count(request.Channel, InDoubtResolution.FoundSent);
                    return new(InDoubtResolution.FoundSent, new DeliveryOutcome
                    {
                        IdempotencyKey = key,
                        Status = DeliveryStatus.Sent,
                        Channel = channel.Name,
                        At = now,
                        Result = DeliveryResult.Accepted(answer.ProviderMessageId),
                        FailedOver = !ReferenceEquals(channel, candidates[0]),
                        InDoubt = InDoubtResolution.FoundSent,
                    });
                case ChannelDeliveryLookupStatus.NotFound:
                    askedNotFound = true;
                    break;
                default:
                    unresolved.Add($"'{channel.Name}' could not tell whether it accepted the message ({answer})");
                    break;
            }
        }

        InDoubtResolution resolution;
        if (unresolved.Count == 0)
        {
            resolution = askedNotFound ? InDoubtResolution.NotFoundSent : InDoubtResolution.ResentWithSameKey;
        }
        else if (channelOptions.InDoubtPolicy == InDoubtPolicy.AtLeastOnce)
        {
            resolution = InDoubtResolution.ResentAtLeastOnce;
        }
        else
        {
            Count(request.Channel, InDoubtResolution.RecordedUnknown);
            var detail = $"an earlier attempt is in doubt and {string.Join("; ", unresolved)}: recorded as unknown, not resent (InDoubtPolicy AtMostOnce)";
            return new(InDoubtResolution.RecordedUnknown, new DeliveryOutcome
            {
                IdempotencyKey = key,
                Status = DeliveryStatus.Unknown,
                Channel = request.Channel,
                At = now,
                Result = DeliveryResult.Failed(DeliveryFailureReason.Unknown, retryable: false, detail),
                InDoubt = InDoubtResolution.RecordedUnknown,
            });
        }

        Count(request.Channel, resolution);
        return new(resolution, null);
    }

    private static void Count(string channel, InDoubtResolution resolution)
    {
        Activity.Current?.AddEvent(new ActivityEvent("campaigns.delivery.in_doubt", tags: new ActivityTagsCollection { ["resolution"] = Name(resolution) }));
        InDoubtCounter.Add(1, new KeyValuePair<string, object?>("channel", channel), new KeyValuePair<string, object?>("resolution", Name(resolution)));
    }

    private static string Name(InDoubtResolution resolution) => resolution switch
    {
        InDoubtResolution.ResentWithSameKey => "resent_with_same_key",
        InDoubtResolution.FoundSent => "found_sent",
        InDoubtResolution.NotFoundSent => "not_found_sent",
        InDoubtResolution.ResentAtLeastOnce => "resent_at_least_once",
        _ => "unknown",
    };
}
