using System.Globalization;
using Campaigns.Channels;
using NodaTime;

namespace Campaigns.Testing;

/// <summary>One send seen by a <see cref="RecordingChannel"/>: the message and the result it returned.</summary>
/// <param name="Message">The message as passed to <see cref="IChannel.SendAsync"/>.</param>
/// <param name="Result">What the channel returned.</param>
public sealed record RecordedSend(ChannelMessage Message, DeliveryResult Result)
{
    /// <summary>
    /// Whether the "provider" dropped this send as a duplicate of an accepted one with the same idempotency key (only when
    /// <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/>): answered as accepted with the first message's id, not delivered.
    /// </summary>
    public bool Deduplicated { get; init; }
}

/// <summary>
/// A channel for host tests: records every message and returns <see cref="DeliveryResult.Accepted"/> with ids
/// <c>recording-1</c>, <c>recording-2</c>, ... unless told to fail. Thread-safe: sends may run concurrently with
/// scripting and reading. It honours its <see cref="Capabilities"/> like a real adapter (a body longer than
/// <see cref="ChannelCapabilities.MaxContentLength"/> fails with <see cref="DeliveryFailureReason.ContentRejected"/>, a
/// malformed e-mail, E.164 phone or URL address with <see cref="DeliveryFailureReason.InvalidAddress"/>) and passes
/// <see cref="ChannelConformanceTests"/>.
/// </summary>
/// <remarks>
/// <para>The three provider capabilities that resolve an in-doubt send (see <c>InDoubtPolicy</c>): with
/// <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/> in the capabilities it drops a send whose key was accepted
/// before (answered as accepted with the first id, <see cref="RecordedSend.Deduplicated"/>); a
/// <see cref="LookupRecordingChannel"/> answers <see cref="IChannelDeliveryLookup"/>; a plain one does neither.</para>
/// </remarks>
/// <remarks>
/// Scripted failures apply in this order: a per-address failure (<see cref="FailAlwaysFor"/>), then the queue of
/// <see cref="FailNext"/>. A delay (<see cref="DelaySendsTo"/>, else <see cref="DelayEachSend"/>) runs before either and honours cancellation:
/// a cancelled send throws <see cref="OperationCanceledException"/> and is not recorded.
/// </remarks>
public class RecordingChannel : IChannel
{
    private readonly Dictionary<string, string?> _acceptedKeys = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<Send> _sends = []; // structs: no RecordedSend object kept per send, built by the snapshots
    private readonly Dictionary<string, DeliveryResult> _failAddresses = new(StringComparer.Ordinal);
    private readonly Queue<DeliveryResult> _failNext = new();
    private readonly Dictionary<string, TimeSpan> _delayAddresses = new(StringComparer.Ordinal);
    private TimeSpan _delay = TimeSpan.Zero;
    private long _sequence;
    private readonly bool _trackKeys;

    /// <summary>Creates a recording channel.</summary>
    /// <param name="name">Its name (default <c>recording</c>).</param>
    /// <param name="capabilities">What it claims (default: custom addresses, no length limit, rich content, batch).</param>
    public RecordingChannel(string name = "recording", ChannelCapabilities? capabilities = null)
    {
        ChannelRegistration.ValidateName(name);
        Name = name;
        Capabilities = capabilities ?? new ChannelCapabilities { AddressKind = ChannelAddressKind.Custom, SupportsRichContent = true, SupportsBatch = true };

        // The accepted keys are needed to drop duplicates by key, and by subclasses (WasAccepted is protected); a plain
        // recording channel that does neither keeps no dictionary entry per send.
        _trackKeys = Capabilities.HonoursIdempotencyKeys || GetType() != typeof(RecordingChannel);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ChannelCapabilities Capabilities { get; }

    /// <summary>Every completed send, in completion order (a snapshot; each call builds new <see cref="RecordedSend"/> records, equal to the last call's).</summary>
    public IReadOnlyList<RecordedSend> Sends
    {
        get
        {
            lock (_gate)
            {
                var sends = new RecordedSend[_sends.Count];
                for (var i = 0; i < sends.Length; i++)
                {
                    var send = _sends[i];
                    sends[i] = new RecordedSend(send.Message, send.Result) { Deduplicated = send.Deduplicated };
                }

                return sends;
            }
        }
    }

    /// <summary>The messages of every completed send, accepted or failed, in completion order (a snapshot).</summary>
    public IReadOnlyList<ChannelMessage> Messages => MessagesWhere(acceptedOnly: false, deliveredOnly: false);

    /// <summary>The messages that were accepted (a snapshot), including sends dropped as duplicates by key.</summary>
    public IReadOnlyList<ChannelMessage> Accepted => MessagesWhere(acceptedOnly: true, deliveredOnly: false);

    /// <summary>The messages delivered: accepted and not dropped as a duplicate by key (a snapshot).</summary>
    public IReadOnlyList<ChannelMessage> Delivered => MessagesWhere(acceptedOnly: true, deliveredOnly: true);

    private List<ChannelMessage> MessagesWhere(bool acceptedOnly, bool deliveredOnly)
    {
        lock (_gate)
        {
            var messages = new List<ChannelMessage>(_sends.Count);
            foreach (var send in _sends)
            {
                if ((!acceptedOnly || send.Result.IsAccepted) && (!deliveredOnly || !send.Deduplicated))
                {
                    messages.Add(send.Message);
                }
            }

            return messages;
        }
    }

    /// <summary>Whether a message with this idempotency key was accepted, and its provider id.</summary>
    /// <param name="idempotencyKey">The key.</param>
    /// <param name="providerMessageId">The id it was accepted with.</param>
    /// <returns>True when accepted.</returns>
    protected bool WasAccepted(string idempotencyKey, out string? providerMessageId)
    {
        lock (_gate)
        {
            return _acceptedKeys.TryGetValue(idempotencyKey, out providerMessageId);
        }
    }

    /// <summary>Makes the next <paramref name="count"/> sends fail (after any per-address failure).</summary>
    /// <param name="count">How many sends; at least 1.</param>
    /// <param name="reason">The reason to return.</param>
    /// <param name="retryable">Whether the failures are retryable (default: true for rate limit, provider error and timeout).</param>
    /// <param name="retryAfter">The retry-after to return, if any.</param>
    /// <returns>This channel.</returns>
    public RecordingChannel FailNext(int count, DeliveryFailureReason reason, bool? retryable = null, Duration? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var result = DeliveryResult.Failed(reason, retryable ?? IsRetryableByDefault(reason), $"scripted failure: {reason}", retryAfter);
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _failNext.Enqueue(result);
            }
        }

        return this;
    }

    /// <summary>Makes every send to <paramref name="recipient"/> fail until <see cref="Reset"/>.</summary>
    /// <param name="recipient">The address (ordinal comparison).</param>
    /// <param name="reason">The reason to return.</param>
    /// <param name="retryable">Whether the failures are retryable (default: true for rate limit, provider error and timeout).</param>
    /// <returns>This channel.</returns>
    public RecordingChannel FailAlwaysFor(string recipient, DeliveryFailureReason reason, bool? retryable = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(recipient);
        lock (_gate)
        {
            _failAddresses[recipient] = DeliveryResult.Failed(reason, retryable ?? IsRetryableByDefault(reason), $"scripted failure for {recipient}: {reason}");
        }

        return this;
    }

    /// <summary>Makes each send wait before answering; the wait ends early with <see cref="OperationCanceledException"/> when the send is cancelled.</summary>
    /// <param name="delay">How long (real time); <see cref="Timeout.InfiniteTimeSpan"/> waits until cancelled; zero for none.</param>
    /// <returns>This channel.</returns>
    public RecordingChannel DelayEachSend(TimeSpan delay)
    {
        if (delay < TimeSpan.Zero && delay != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "A delay is zero, positive or Timeout.InfiniteTimeSpan.");
        }

        lock (_gate)
        {
            _delay = delay;
        }

        return this;
    }

    /// <summary>Makes each send to one address wait (in place of <see cref="DelayEachSend"/>); cancellation ends the wait with <see cref="OperationCanceledException"/>.</summary>
    /// <param name="recipient">The address (ordinal comparison).</param>
    /// <param name="delay">How long (real time); <see cref="Timeout.InfiniteTimeSpan"/> waits until cancelled.</param>
    /// <returns>This channel.</returns>
    public RecordingChannel DelaySendsTo(string recipient, TimeSpan delay)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(recipient);
        if (delay < TimeSpan.Zero && delay != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "A delay is zero, positive or Timeout.InfiniteTimeSpan.");
        }

        lock (_gate)
        {
            _delayAddresses[recipient] = delay;
        }

        return this;
    }

    /// <summary>The most sends whose storage <see cref="Reset"/> keeps for reuse.</summary>
    private const int KeptCapacity = 16_384;

    /// <summary>Forgets the recorded sends (and frees their storage when more than 16,384) and every scripted failure and delay.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            // A small recording keeps its storage for the next round (a test or benchmark that resets per batch does not
            // regrow it); a large one frees it.
            var large = _sends.Capacity > KeptCapacity;
            _sends.Clear();
            _acceptedKeys.Clear();
            if (large)
            {
                _sends.TrimExcess();
                _acceptedKeys.TrimExcess();
            }
            _failAddresses.Clear();
            _failNext.Clear();
            _delayAddresses.Clear();
            _delay = TimeSpan.Zero;
        }
    }

    /// <inheritdoc />
    public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan delay;
        lock (_gate)
        {
            delay = _delayAddresses.TryGetValue(message.Recipient, out var forAddress) ? forAddress : _delay;
        }

        if (delay != TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }

        DeliveryResult result;
        lock (_gate)
        {
            if (Capabilities.HonoursIdempotencyKeys && _acceptedKeys.TryGetValue(message.IdempotencyKey, out var firstId))
            {
                result = DeliveryResult.Accepted(firstId);
                _sends.Add(new Send(message, result, Deduplicated: true));
                return result;
            }

            if (!AddressRules.IsWellFormed(Capabilities.AddressKind, message.Recipient))
            {
                result = DeliveryResult.Failed(DeliveryFailureReason.InvalidAddress, false, $"'{message.Recipient}' is not a well-formed {Capabilities.AddressKind} address.");
            }
            else if (message.TextBody.Length > Capabilities.MaxContentLength)
            {
                result = DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, $"The body has {message.TextBody.Length} characters; the channel takes at most {Capabilities.MaxContentLength}.");
            }
            else if (_failAddresses.TryGetValue(message.Recipient, out var failure) || _failNext.TryDequeue(out failure))
            {
                result = failure;
            }
            else
            {
                result = DeliveryResult.Accepted("recording-" + (++_sequence).ToString(CultureInfo.InvariantCulture));
                if (_trackKeys)
                {
                    _acceptedKeys.TryAdd(message.IdempotencyKey, result.ProviderMessageId);
                }
            }

            _sends.Add(new Send(message, result, Deduplicated: false));
        }

        return result;
    }

    private static bool IsRetryableByDefault(DeliveryFailureReason reason) =>
        reason is DeliveryFailureReason.RateLimited or DeliveryFailureReason.ProviderError or DeliveryFailureReason.Timeout;

    /// <summary>One recorded send, held inline in the list (a channel that records a million sends keeps a million fewer objects).</summary>
    private readonly record struct Send(ChannelMessage Message, DeliveryResult Result, bool Deduplicated);
}

/// <summary>
/// A <see cref="RecordingChannel"/> whose "provider" can be asked by client reference (<see cref="IChannelDeliveryLookup"/>):
/// <see cref="ChannelDeliveryLookupStatus.Sent"/> with the id for a key it accepted, else
/// <see cref="ChannelDeliveryLookupStatus.NotFound"/> — unless <see cref="AnswerLookupsUnknown"/>. Counts lookups. Thread-safe.
/// </summary>
public sealed class LookupRecordingChannel : RecordingChannel, IChannelDeliveryLookup
{
    private int _lookups;
    private volatile bool _unknown;

    /// <summary>Creates the channel.</summary>
    /// <param name="name">Its name (default <c>recording</c>).</param>
    /// <param name="capabilities">What it claims (as for <see cref="RecordingChannel"/>).</param>
    public LookupRecordingChannel(string name = "recording", ChannelCapabilities? capabilities = null)
        : base(name, capabilities)
    {
    }

    /// <summary>How many lookups were answered.</summary>
    public int Lookups => Volatile.Read(ref _lookups);

    /// <summary>Makes every later lookup answer <see cref="ChannelDeliveryLookupStatus.Unknown"/> (a provider that cannot tell), or stops it.</summary>
    /// <param name="unknown">True to answer unknown.</param>
    /// <returns>This channel.</returns>
    public LookupRecordingChannel AnswerLookupsUnknown(bool unknown = true)
    {
        _unknown = unknown;
        return this;
    }

    /// <inheritdoc />
    public ValueTask<ChannelDeliveryLookupResult> LookupAsync(string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _lookups);
        if (_unknown)
        {
            return new(ChannelDeliveryLookupResult.Unknown("scripted: the provider cannot tell"));
        }

        return new(WasAccepted(idempotencyKey, out var id) ? ChannelDeliveryLookupResult.Sent(id) : ChannelDeliveryLookupResult.NotFound());
    }
}

/// <summary>An <see cref="IDeliveryReceiptSink"/> that keeps every receipt. Thread-safe.</summary>
public sealed class RecordingDeliveryReceiptSink : IDeliveryReceiptSink
{
    private readonly Lock _gate = new();
    private readonly List<DeliveryReceipt> _receipts = [];

    /// <summary>The receipts taken, in order (a snapshot).</summary>
    public IReadOnlyList<DeliveryReceipt> Receipts
    {
        get
        {
            lock (_gate)
            {
                return [.. _receipts];
            }
        }
    }

    /// <inheritdoc />
    public ValueTask OnReceiptAsync(DeliveryReceipt receipt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _receipts.Add(receipt);
        }

        return ValueTask.CompletedTask;
    }
}
