using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Campaigns.Channels;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>
/// The execution record of one sending task (F-7.5, seed 002): when it started, how many contacts it targets, and how
/// many messages were sent, deferred (waiting for their window), suppressed by the gate and failed, by reason.
/// A snapshot; immutable.
/// </summary>
public sealed record ExecutionRecord
{
    /// <summary>The task.</summary>
    public required string TaskId { get; init; }

    /// <summary>When the task started (or its first outcome was recorded).</summary>
    public required Instant StartedAt { get; init; }

    /// <summary>When the last outcome was recorded.</summary>
    public required Instant UpdatedAt { get; init; }

    /// <summary>How many messages the task targets (0 when not told).</summary>
    public int TargetCount { get; init; }

    /// <summary>Messages the provider accepted.</summary>
    public long Sent { get; init; }

    /// <summary>
    /// Messages whose outcome is unknown (<see cref="DeliveryStatus.Unknown"/>: in doubt after a crash on a channel that
    /// can neither deduplicate nor be asked, with an at-most-once policy): each was sent once or not at all. Counted apart
    /// from <see cref="Sent"/> and <see cref="Failed"/>, and not in <see cref="FailureRate"/>.
    /// </summary>
    public long Unknown { get; init; }

    /// <summary>Messages waiting for their send window (a deferred message that is later sent moves to <see cref="Sent"/>).</summary>
    public long Deferred { get; init; }

    /// <summary>Messages the gate refused, by check (consent, do-not-contact, frequency cap, address).</summary>
    public IReadOnlyDictionary<GateCheck, long> SuppressedBy { get; init; } = new Dictionary<GateCheck, long>();

    /// <summary>Messages that failed, by reason (content rules fail with <see cref="DeliveryFailureReason.ContentRejected"/>).</summary>
    public IReadOnlyDictionary<DeliveryFailureReason, long> FailedBy { get; init; } = new Dictionary<DeliveryFailureReason, long>();

    /// <summary>All suppressed messages.</summary>
    public long Suppressed => SuppressedBy.Values.Sum();

    /// <summary>All failed messages.</summary>
    public long Failed => FailedBy.Values.Sum();

    /// <summary>Failed / (sent + failed); 0 when nothing was tried.</summary>
    public double FailureRate => Sent + Failed == 0 ? 0 : (double)Failed / (Sent + Failed);

    /// <summary>Whether the task is paused (its sends return <see cref="DeliveryStatus.Paused"/>).</summary>
    public bool IsPaused { get; init; }

    /// <summary>When the failure-rate alert fired, or null.</summary>
    public Instant? AlertRaisedAt { get; init; }
}

/// <summary>
/// Keeps execution records per sending task. Storage-neutral; the in-memory implementation is the default.
/// Implementations are thread-safe.
/// </summary>
public interface IExecutionRecords
{
    /// <summary>Starts (or restarts the counts of) a task.</summary>
    /// <param name="taskId">The task.</param>
    /// <param name="targetCount">How many messages it targets.</param>
    /// <param name="at">When.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The new record.</returns>
    ValueTask<ExecutionRecord> StartAsync(string taskId, int targetCount, Instant at, CancellationToken cancellationToken);

    /// <summary>The record of a task, or null when unknown.</summary>
    /// <param name="taskId">The task.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The record.</returns>
    ValueTask<ExecutionRecord?> GetAsync(string taskId, CancellationToken cancellationToken);

    /// <summary>Counts an outcome (replays, paused and in-progress outcomes are not counted).</summary>
    /// <param name="taskId">The task (created on first use).</param>
    /// <param name="outcome">The outcome.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The updated record.</returns>
    ValueTask<ExecutionRecord> RecordAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken);

    /// <summary>Marks the alert as raised (and pauses the task when asked); true only the first time.</summary>
    /// <param name="taskId">The task.</param>
    /// <param name="at">When.</param>
    /// <param name="pause">Whether to pause the task.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether this call raised it.</returns>
    ValueTask<bool> TryRaiseAlertAsync(string taskId, Instant at, bool pause, CancellationToken cancellationToken);

    /// <summary>Pauses or resumes a task. Resuming also re-arms the alert.</summary>
    /// <param name="taskId">The task.</param>
    /// <param name="paused">True to pause.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    ValueTask SetPausedAsync(string taskId, bool paused, CancellationToken cancellationToken);
}

/// <summary>An alert raised by the failure-rate rule.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="FailureRate">Its failure rate, 0..1.</param>
/// <param name="Threshold">The configured threshold, 0..1.</param>
/// <param name="TaskPaused">Whether the task was paused.</param>
/// <param name="Record">The record when it fired.</param>
/// <param name="At">When.</param>
public sealed record DeliveryAlert(string TaskId, double FailureRate, double Threshold, bool TaskPaused, ExecutionRecord Record, Instant At);

/// <summary>Receives delivery alerts (register any number as <see cref="IDeliveryAlertObserver"/> singletons). Called on the sending path: keep it quick; thread-safe.</summary>
public interface IDeliveryAlertObserver
{
    /// <summary>Called once per task when its failure rate passes the threshold.</summary>
    /// <param name="alert">The alert.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when handled.</returns>
    ValueTask OnAlertAsync(DeliveryAlert alert, CancellationToken cancellationToken);

    /// <summary>
    /// Called once per in-doubt send recorded as <see cref="DeliveryStatus.Unknown"/> (the channel could not resolve it
    /// and its policy is at-most-once): the message was sent once or not at all. The default does nothing.
    /// </summary>
    /// <param name="alert">The in-doubt send.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when handled.</returns>
    ValueTask OnInDoubtAsync(InDoubtAlert alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>An <see cref="IExecutionRecords"/> in memory (lost on restart). Thread-safe.</summary>
public sealed class InMemoryExecutionRecords : IExecutionRecords
{
    private readonly ConcurrentDictionary<string, State> _tasks = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<ExecutionRecord> StartAsync(string taskId, int targetCount, Instant at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        ArgumentOutOfRangeException.ThrowIfNegative(targetCount);
        var state = new State(taskId, at) { TargetCount = targetCount };
        _tasks[taskId] = state;
        lock (state)
        {
            return new(state.Snapshot());
        }
    }

    /// <inheritdoc />
    public ValueTask<ExecutionRecord?> GetAsync(string taskId, CancellationToken cancellationToken)
    {
        if (!_tasks.TryGetValue(taskId, out var state))
        {
            return new((ExecutionRecord?)null);
        }

        lock (state)
        {
            return new(state.Snapshot());
        }
    }

    /// <summary>Whether a task is paused, without taking a snapshot (the pipeline's check on every send).</summary>
    internal bool IsPaused(string taskId)
    {
        if (!_tasks.TryGetValue(taskId, out var state))
        {
            return false;
        }

        lock (state)
        {
            return state.IsPaused;
        }
    }

    /// <inheritdoc />
    public ValueTask<ExecutionRecord> RecordAsync(string taskId, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var state = _tasks.GetOrAdd(taskId, static (id, at) => new State(id, at), outcome.At);
        lock (state)
        {
            Count(state, outcome);
            return new(state.Snapshot());
        }
    }

    /// <summary>
    /// Counts an outcome like <see cref="RecordAsync"/> without taking a snapshot (the pipeline's path on every send):
    /// returns what the alert rule needs.
    /// </summary>
    internal (long Sent, long Failed, bool AlertRaised) Count(string taskId, DeliveryOutcome outcome)
    {
        var state = _tasks.GetOrAdd(taskId, static (id, at) => new State(id, at), outcome.At);
        lock (state)
        {
            Count(state, outcome);
            return (state.Sent, state.FailedTotal, state.AlertRaisedAt is not null);
        }
    }

    private static void Count(State state, DeliveryOutcome outcome)
    {
        {
            if (!outcome.IsReplay && outcome.Status is not (DeliveryStatus.Paused or DeliveryStatus.InProgress))
            {
                state.UpdatedAt = outcome.At;
                if (outcome.Status == DeliveryStatus.Deferred)
                {
                    state.DeferredKeys.Add(outcome.IdempotencyKey);
                }
                else
                {
                    if (state.DeferredKeys.Count > 0)
                    {
                        state.DeferredKeys.Remove(outcome.IdempotencyKey);
                    }

                    switch (outcome.Status)
                    {
                        case DeliveryStatus.Sent:
                            state.Sent++;
                            break;
                        case DeliveryStatus.Unknown:
                            state.Unknown++;
                            break;
                        case DeliveryStatus.Suppressed:
                            Increment(state.SuppressedBy, outcome.SuppressedBy ?? GateCheck.Consent);
                            state.CountsChanged();
                            break;
                        case DeliveryStatus.Failed:
                            Increment(state.FailedBy, outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown);
                            state.FailedTotal++;
                            state.CountsChanged();
                            break;
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TryRaiseAlertAsync(string taskId, Instant at, bool pause, CancellationToken cancellationToken)
    {
        var state = _tasks.GetOrAdd(taskId, static (id, at) => new State(id, at), at);
        lock (state)
        {
            if (state.AlertRaisedAt is not null)
            {
                return new(false);
            }

            state.AlertRaisedAt = at;
            state.IsPaused |= pause;
            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask SetPausedAsync(string taskId, bool paused, CancellationToken cancellationToken)
    {
        if (_tasks.TryGetValue(taskId, out var state))
        {
            lock (state)
            {
                state.IsPaused = paused;
                if (!paused)
                {
                    state.AlertRaisedAt = null;
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    private static void Increment<TKey>(Dictionary<TKey, long> counts, TKey key)
        where TKey : notnull => counts[key] = counts.GetValueOrDefault(key) + 1;

    private sealed class State(string taskId, Instant startedAt)
    {
        public int TargetCount { get; init; }

        public Instant StartedAt { get; } = startedAt;

        public Instant UpdatedAt { get; set; } = startedAt;

        public long Sent { get; set; }

        public long Unknown { get; set; }

        public HashSet<string> DeferredKeys { get; } = new(StringComparer.Ordinal);

        public Dictionary<GateCheck, long> SuppressedBy { get; } = [];

        public Dictionary<DeliveryFailureReason, long> FailedBy { get; } = [];

        public long FailedTotal { get; set; }

        // Copies of SuppressedBy and FailedBy handed out by snapshots; remade only after those counts change.
        private Dictionary<GateCheck, long>? _suppressedCopy;
        private Dictionary<DeliveryFailureReason, long>? _failedCopy;

        public void CountsChanged()
        {
            _suppressedCopy = null;
            _failedCopy = null;
        }

        public bool IsPaused { get; set; }

        public Instant? AlertRaisedAt { get; set; }

        public ExecutionRecord Snapshot() => new()
        {
            TaskId = taskId,
            StartedAt = StartedAt,
            UpdatedAt = UpdatedAt,
            TargetCount = TargetCount,
            Sent = Sent,
            Unknown = Unknown,
            Deferred = DeferredKeys.Count,
            SuppressedBy = _suppressedCopy ??= new Dictionary<GateCheck, long>(SuppressedBy),
            FailedBy = _failedCopy ??= new Dictionary<DeliveryFailureReason, long>(FailedBy),
            IsPaused = IsPaused,
            AlertRaisedAt = AlertRaisedAt,
        };
    }
}

/// <summary>
/// The names of the delivery pipeline's telemetry, for OpenTelemetry (<c>AddMeter</c>, <c>AddSource</c>). Instruments:
/// <c>campaigns.delivery.sent</c>, <c>campaigns.delivery.failed</c> (tag <c>reason</c>), <c>campaigns.delivery.deferred</c>,
/// <c>campaigns.delivery.suppressed</c> (tag <c>check</c>) — counters of messages, tag <c>channel</c> on each — and the
/// histogram <c>campaigns.delivery.duration</c> of channel sends in seconds (retries included).
/// </summary>
public static class DeliveryTelemetry
{
    /// <summary>The <see cref="Meter"/> name: <c>Campaigns.Delivery</c>.</summary>
    public const string MeterName = "Campaigns.Delivery";

    /// <summary>The <see cref="ActivitySource"/> name: <c>Campaigns.Delivery</c>; one activity <c>deliver</c> per request.</summary>
    public const string ActivitySourceName = "Campaigns.Delivery";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> SentCounter = Meter.CreateCounter<long>("campaigns.delivery.sent", "{message}", "Messages the provider accepted.");
    private static readonly Counter<long> FailedCounter = Meter.CreateCounter<long>("campaigns.delivery.failed", "{message}", "Messages that failed, by reason.");
    private static readonly Counter<long> DeferredCounter = Meter.CreateCounter<long>("campaigns.delivery.deferred", "{message}", "Messages deferred to their send window.");
    private static readonly Counter<long> SuppressedCounter = Meter.CreateCounter<long>("campaigns.delivery.suppressed", "{message}", "Messages the gate refused, by check.");
    private static readonly Counter<long> ReceiptCounter = Meter.CreateCounter<long>("campaigns.delivery.receipts", "{receipt}", "Delivery receipts taken, by kind and result (recorded, duplicate, unmatched, rejected).");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("campaigns.delivery.duration", "s", "Time of a channel send, retries and failover included.");

    internal static void Record(DeliveryOutcome outcome, double? seconds)
    {
        var channel = new KeyValuePair<string, object?>("channel", outcome.Channel);
        switch (outcome.Status)
        {
            case DeliveryStatus.Sent:
                SentCounter.Add(1, channel);
                break;
            case DeliveryStatus.Failed:
                FailedCounter.Add(1, channel, new KeyValuePair<string, object?>("reason", ReasonName(outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown)));
                break;
            case DeliveryStatus.Deferred:
                DeferredCounter.Add(1, channel);
                break;
            case DeliveryStatus.Suppressed:
                SuppressedCounter.Add(1, channel, new KeyValuePair<string, object?>("check", CheckName(outcome.SuppressedBy ?? GateCheck.Consent)));
                break;
        }

        if (seconds is { } s)
        {
            Duration.Record(s, channel);
        }
    }

    internal static void RecordReceipt(DeliveryReceipt receipt, ReceiptDisposition disposition) =>
        ReceiptCounter.Add(
            1,
            new KeyValuePair<string, object?>("channel", receipt.ChannelName),
            new KeyValuePair<string, object?>("kind", receipt.Kind switch
            {
                DeliveryReceiptKind.Delivered => "delivered",
                DeliveryReceiptKind.Opened => "opened",
                DeliveryReceiptKind.Clicked => "clicked",
                DeliveryReceiptKind.Bounced => "bounced",
                DeliveryReceiptKind.Complained => "complained",
                _ => "unsubscribed",
            }),
            new KeyValuePair<string, object?>("result", disposition switch
            {
                ReceiptDisposition.Recorded => "recorded",
                ReceiptDisposition.Duplicate => "duplicate",
                ReceiptDisposition.Unmatched => "unmatched",
                _ => "rejected",
            }));

    private static string ReasonName(DeliveryFailureReason reason) => reason switch
    {
        DeliveryFailureReason.InvalidAddress => "invalid_address",
        DeliveryFailureReason.Unsubscribed => "unsubscribed",
        DeliveryFailureReason.RateLimited => "rate_limited",
        DeliveryFailureReason.ContentRejected => "content_rejected",
        DeliveryFailureReason.ProviderError => "provider_error",
        DeliveryFailureReason.Timeout => "timeout",
        DeliveryFailureReason.Unauthorized => "unauthorized",
        _ => "unknown",
    };

    private static string CheckName(GateCheck check) => check switch
    {
        GateCheck.Consent => "consent",
        GateCheck.DoNotContact => "do_not_contact",
        GateCheck.FrequencyCap => "frequency_cap",
        GateCheck.SendWindow => "send_window",
        GateCheck.Address => "address",
        _ => "content",
    };
}
