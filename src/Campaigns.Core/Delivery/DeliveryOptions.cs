using System.Globalization;
using Campaigns.Scheduling;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Delivery;

/// <summary>
/// Settings of the delivery pipeline (configuration section <c>Campaigns:Delivery</c>, bound with
/// <see cref="CampaignsOptions.Delivery"/>): content rules, frequency caps, per-channel windows, resilience and failover,
/// the alert rule. Validated when the host starts; messages name the configuration key.
/// </summary>
public sealed class DeliveryOptions : ContentRulesOptions
{
    /// <summary>Per-channel settings by channel name (e.g. <c>Campaigns:Delivery:Channels:sms</c>); a channel without an entry gets the defaults.</summary>
    public IDictionary<string, ChannelDeliveryOptions> Channels { get; } = new Dictionary<string, ChannelDeliveryOptions>(StringComparer.Ordinal);

    /// <summary>Frequency caps (e.g. at most 1 SMS per contact per 24 h); all apply.</summary>
    public IList<FrequencyCapOptions> FrequencyCaps { get; } = [];

    /// <summary>The alert rule on a sending task's failure rate.</summary>
    public DeliveryAlertOptions Alert { get; set; } = new();

    /// <summary>How long a claimed idempotency key holds while its send is in progress (default 5 minutes).</summary>
    public TimeSpan IdempotencyLease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long the in-memory provider message index keeps a send, so late receipts that carry only the provider's
    /// message id still find their contact (default 30 days).
    /// </summary>
    public TimeSpan ProviderMessageRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The most sends the in-memory provider message index holds (default 1,000,000, about 150 MB); past it the oldest
    /// send is dropped first, so the index stays bounded however fast a host sends. A host that needs every send
    /// for the whole retention uses a durable index (the storage packages), which this does not apply to.
    /// </summary>
    public int ProviderMessageCapacity { get; set; } = InMemoryProviderMessageIndex.DefaultCapacity;

    /// <summary>The settings of a channel (the defaults when it has no entry).</summary>
    /// <param name="channel">The channel name.</param>
    /// <returns>Its settings.</returns>
    public ChannelDeliveryOptions ForChannel(string channel) =>
        Channels.TryGetValue(channel, out var options) ? options : DefaultChannel;

    private static readonly ChannelDeliveryOptions DefaultChannel = new();
}

/// <summary>Delivery settings of one channel (configuration <c>Campaigns:Delivery:Channels:{name}</c>).</summary>
public sealed class ChannelDeliveryOptions
{
    /// <summary>The key of <c>Contact.Consents</c> that grants this channel (e.g. <c>sms</c> for a channel named <c>aliyun-sms</c>); null for the channel name.</summary>
    public string? ConsentKey { get; set; }

    /// <summary>The send window and quiet hours, in the contact's zone; null for any time.</summary>
    public SendWindowOptions? Window { get; set; }

    /// <summary>A secondary channel used when this one's circuit is open or it fails with a provider error (one hop; the secondary does not fail over further).</summary>
    public string? FailoverTo { get; set; }

    /// <summary>Retry, circuit breaker, rate limit and timeout.</summary>
    public ChannelResilienceOptions Resilience { get; set; } = new();

    /// <summary>
    /// What to do with an in-doubt send when the channel neither honours idempotency keys
    /// (<c>ChannelCapabilities.HonoursIdempotencyKeys</c>) nor can be asked (<c>IChannelDeliveryLookup</c>):
    /// <see cref="InDoubtPolicy.AtMostOnce"/> (default: record <see cref="DeliveryStatus.Unknown"/> and alert) or
    /// <see cref="InDoubtPolicy.AtLeastOnce"/> (send again). See docs/storage.md.
    /// </summary>
    public InDoubtPolicy InDoubtPolicy { get; set; } = InDoubtPolicy.AtMostOnce;
}

/// <summary>A send window in configuration form; times as <c>HH:mm</c> (e.g. <c>09:00</c>). See <see cref="SendWindow"/>.</summary>
public sealed class SendWindowOptions
{
    /// <summary>The days the window is open; empty for every day.</summary>
    public IList<IsoDayOfWeek> Days { get; } = [];

    /// <summary>When the window opens each allowed day (inclusive), e.g. <c>09:00</c>; null for no window.</summary>
    public string? Opens { get; set; }

    /// <summary>When it closes (exclusive), e.g. <c>18:00</c>.</summary>
    public string? Closes { get; set; }

    /// <summary>When quiet hours start (inclusive), e.g. <c>22:00</c>; null for none.</summary>
    public string? QuietFrom { get; set; }

    /// <summary>When quiet hours end (exclusive), e.g. <c>08:00</c>; may be earlier than <see cref="QuietFrom"/>.</summary>
    public string? QuietUntil { get; set; }

    /// <summary>Builds the window.</summary>
    /// <returns>The window.</returns>
    /// <exception cref="FormatException">A time is not <c>HH:mm</c> or <c>HH:mm:ss</c>.</exception>
    public SendWindow ToSendWindow() => new()
    {
        Days = [.. Days],
        Opens = ParseTime(Opens),
        Closes = ParseTime(Closes),
        QuietFrom = ParseTime(QuietFrom),
        QuietUntil = ParseTime(QuietUntil),
    };

    internal static LocalTime? ParseTime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var result = LocalTimePattern.CreateWithInvariantCulture("H:mm").Parse(text.Trim());
        if (!result.Success)
        {
            result = LocalTimePattern.ExtendedIso.Parse(text.Trim());
        }

        return result.Success ? result.Value : throw new FormatException($"'{text}' is not a time of day such as 09:00 or 22:30.");
    }
}

/// <summary>Resilience of one channel instance (configuration <c>Campaigns:Delivery:Channels:{name}:Resilience</c>), built as a Polly v8 pipeline.</summary>
public sealed class ChannelResilienceOptions
{
    /// <summary>
    /// Retries after the first attempt, on retryable failed results only (default 3; 0 for none). A timeout (the provider
    /// may have accepted the message) is retried only on a channel that honours idempotency keys or whose
    /// <see cref="ChannelDeliveryOptions.InDoubtPolicy"/> is <see cref="InDoubtPolicy.AtLeastOnce"/>; elsewhere it leaves
    /// the send in doubt (<see cref="DeliveryStatus.InProgress"/>, key kept claimed until its lease expires).
    /// </summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The first retry delay, doubled each retry (exponential), with jitter; a result's Retry-After wins (default 1 s).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest retry delay, Retry-After included (default 60 s).</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether retry delays have jitter (default true).</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>The most time one attempt may take before it fails with <c>Timeout</c> (default 30 s); <see cref="TimeSpan.Zero"/> for no timeout.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the circuit breaker is on (default true).</summary>
    public bool CircuitBreakerEnabled { get; set; } = true;

    /// <summary>The share of failed attempts (provider error, timeout) in the sampling window that opens the circuit (default 0.5).</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>The fewest attempts in the sampling window before the breaker may open (default 10; at least 2).</summary>
    public int MinimumThroughput { get; set; } = 10;

    /// <summary>The sampling window of the breaker (default 30 s; at least 0.5 s).</summary>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the circuit stays open (default 30 s; at least 0.5 s).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The most sends per second (token bucket); null for no limit. A send over the limit fails with <c>RateLimited</c> (retryable).</summary>
    public int? PermitsPerSecond { get; set; }
}

/// <summary>A frequency cap (configuration <c>Campaigns:Delivery:FrequencyCaps:{i}</c>): at most <see cref="Limit"/> sends per contact in a window.</summary>
public sealed class FrequencyCapOptions
{
    /// <summary>The channel name it counts, or null for every channel (a global cap).</summary>
    public string? Channel { get; set; }

    /// <summary>The most sends in the window (at least 1).</summary>
    public int Limit { get; set; } = 1;

    /// <summary>A rolling window (e.g. <c>1.00:00:00</c> for 24 h; note that <c>24:00:00</c> parses as 24 days): sends in the last <see cref="Window"/> count. Give this or <see cref="PerCalendarDay"/>.</summary>
    public TimeSpan? Window { get; set; }

    /// <summary>Count sends since local midnight of the current day in the contact's time zone.</summary>
    public bool PerCalendarDay { get; set; }

    /// <summary>
    /// What happens to a message when this cap is reached (default <see cref="FrequencyCapAction.Suppress"/>); with
    /// <see cref="FrequencyCapAction.Defer"/> it is deferred to the instant the window has room again.
    /// </summary>
    public FrequencyCapAction WhenReached { get; set; } = FrequencyCapAction.Suppress;
}

/// <summary>What a reached frequency cap does to a message (configuration <c>Campaigns:Delivery:FrequencyCaps:{i}:WhenReached</c>).</summary>
public enum FrequencyCapAction
{
    /// <summary>The message is suppressed (<see cref="DeliveryStatus.Suppressed"/> by <see cref="GateCheck.FrequencyCap"/>).</summary>
    Suppress = 0,

    /// <summary>
    /// The message is deferred (<see cref="DeliveryStatus.Deferred"/>) to the instant the window has room again: for a
    /// rolling window when the oldest counted send leaves it, for a calendar day the next local midnight (then moved
    /// into the channel's send window, if it has one). Invoke the pipeline again then with the same key.
    /// </summary>
    Defer = 1,
}

/// <summary>The alert rule (configuration <c>Campaigns:Delivery:Alert</c>): a sending task whose failure rate passes the threshold raises an alert.</summary>
public sealed class DeliveryAlertOptions
{
    /// <summary>The failure rate above which the alert fires: failed / (sent + failed), 0..1 (default 0.05 = 5 %).</summary>
    public double FailureRateThreshold { get; set; } = 0.05;

    /// <summary>The fewest sent + failed before the rule is evaluated (default 20), so the first failure does not fire it.</summary>
    public int MinimumSamples { get; set; } = 20;

    /// <summary>Whether the alert pauses the task (default true): its further sends return <see cref="DeliveryStatus.Paused"/>.</summary>
    public bool PauseTask { get; set; } = true;
}

/// <summary>Validates <see cref="CampaignsOptions.Delivery"/> (called by the options validator); every message names the configuration key.</summary>
internal static class DeliveryOptionsValidator
{
    private const string Root = "Campaigns:Delivery";

    public static List<string> Validate(DeliveryOptions o)
    {
        var failures = new List<string>();
        if (o.Sms.MaxSegments < 1)
        {
            failures.Add($"{Root}:Sms:MaxSegments: {o.Sms.MaxSegments} is not a segment count; use 1 or more.");
        }

        if (o.Sms.MaxLength is < 1)
        {
            failures.Add($"{Root}:Sms:MaxLength: {o.Sms.MaxLength} is not a length; use 1 or more, or leave it out for no policy.");
        }

        if (o.Email.RecommendedSubjectLength < 1 || o.Email.MaxSubjectLength < o.Email.RecommendedSubjectLength)
        {
            failures.Add($"{Root}:Email:MaxSubjectLength: {o.Email.MaxSubjectLength} must be at least RecommendedSubjectLength ({o.Email.RecommendedSubjectLength}), which must be positive.");
        }

        if (o.IdempotencyLease <= TimeSpan.Zero)
        {
            failures.Add($"{Root}:IdempotencyLease: {o.IdempotencyLease} must be positive.");
        }

        if (o.ProviderMessageRetention <= TimeSpan.Zero)
        {
            failures.Add($"{Root}:ProviderMessageRetention: {o.ProviderMessageRetention} must be positive (e.g. 30.00:00:00 for 30 days).");
        }

        if (o.ProviderMessageCapacity <= 0)
        {
            failures.Add($"{Root}:ProviderMessageCapacity: {o.ProviderMessageCapacity.ToString(CultureInfo.InvariantCulture)} must be positive (e.g. 1000000).");
        }

        if (o.Alert.FailureRateThreshold is < 0 or > 1 || double.IsNaN(o.Alert.FailureRateThreshold))
        {
            failures.Add($"{Root}:Alert:FailureRateThreshold: {o.Alert.FailureRateThreshold.ToString(CultureInfo.InvariantCulture)} is not a rate between 0 and 1 (0.05 = 5 %).");
        }

        for (var i = 0; i < o.FrequencyCaps.Count; i++)
        {
            var cap = o.FrequencyCaps[i];
            var key = $"{Root}:FrequencyCaps:{i}";
            if (cap.Limit < 1)
            {
                failures.Add($"{key}:Limit: {cap.Limit} must be 1 or more.");
            }

            if (cap.Window.HasValue == cap.PerCalendarDay)
            {
                failures.Add($"{key}: give either Window (e.g. 1.00:00:00 for 24 h) or PerCalendarDay: true.");
            }
            else if (cap.Window <= TimeSpan.Zero)
            {
                failures.Add($"{key}:Window: {cap.Window} must be positive.");
            }

            if (!Enum.IsDefined(cap.WhenReached))
            {
                failures.Add($"{key}:WhenReached: '{cap.WhenReached}' is not Suppress or Defer.");
            }
        }

        foreach (var (channel, c) in o.Channels)
        {
            var key = $"{Root}:Channels:{channel}";
            if (c.Window is { } window)
            {
                try
                {
                    failures.AddRange(window.ToSendWindow().Validate().Select(e => $"{key}:Window: {e}"));
                }
                catch (FormatException e)
                {
                    failures.Add($"{key}:Window: {e.Message}");
                }
            }

            if (!Enum.IsDefined(c.InDoubtPolicy))
            {
                failures.Add($"{key}:InDoubtPolicy: {(int)c.InDoubtPolicy} is not a policy; use AtMostOnce or AtLeastOnce.");
            }

            if (c.FailoverTo is not null && string.Equals(c.FailoverTo, channel, StringComparison.Ordinal))
            {
                failures.Add($"{key}:FailoverTo: a channel cannot fail over to itself.");
            }

            var r = c.Resilience;
            if (r.MaxRetryAttempts is < 0 or > 100)
            {
                failures.Add($"{key}:Resilience:MaxRetryAttempts: {r.MaxRetryAttempts} must be between 0 and 100.");
            }

            if (r.RetryBaseDelay < TimeSpan.Zero || r.RetryMaxDelay < r.RetryBaseDelay)
            {
                failures.Add($"{key}:Resilience:RetryMaxDelay: {r.RetryMaxDelay} must be at least RetryBaseDelay ({r.RetryBaseDelay}), which must not be negative.");
            }

            if (r.AttemptTimeout < TimeSpan.Zero)
            {
                failures.Add($"{key}:Resilience:AttemptTimeout: {r.AttemptTimeout} must not be negative.");
            }

            if (r.CircuitBreakerEnabled)
            {
                if (r.FailureRatio is <= 0 or > 1)
                {
                    failures.Add($"{key}:Resilience:FailureRatio: {r.FailureRatio.ToString(CultureInfo.InvariantCulture)} must be above 0 and at most 1.");
                }

                if (r.MinimumThroughput < 2)
                {
                    failures.Add($"{key}:Resilience:MinimumThroughput: {r.MinimumThroughput} must be 2 or more.");
                }

                if (r.SamplingDuration < TimeSpan.FromMilliseconds(500) || r.BreakDuration < TimeSpan.FromMilliseconds(500))
                {
                    failures.Add($"{key}:Resilience:SamplingDuration/BreakDuration: each must be at least 00:00:00.5.");
                }
            }

            if (r.PermitsPerSecond is < 1)
            {
                failures.Add($"{key}:Resilience:PermitsPerSecond: {r.PermitsPerSecond} must be 1 or more, or left out for no limit.");
            }
        }

        return failures;
    }
}
