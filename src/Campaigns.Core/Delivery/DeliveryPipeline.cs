using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Scheduling;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>The delivery pipeline (see <see cref="IDeliveryPipeline"/>). Thread-safe; one per host.</summary>
internal sealed class DeliveryPipeline : IDeliveryPipeline, IDisposable
{
    private readonly IChannelRegistry _registry;
    private readonly IClock _clock;
    private readonly TimeProvider _timeProvider;
    private readonly IIdempotencyStore _idempotency;
    private readonly IGateReadingIdempotencyStore? _gateReads; // claims and reads the first gates in one round trip, when it covers the registered stores
    private readonly IBookkeepingIdempotencyStore? _bookkeeping; // writes index entry, completion and count in one round trip, when it covers the registered stores
    private readonly IFrequencyCapStore _caps;
    private readonly IDoNotContactList _doNotContact;
    private readonly IExecutionRecords _records;
    private readonly IProviderMessageIndex _messageIndex;
    private readonly IDeliveryAlertObserver[] _observers;
    private readonly DeliveryOptions _options;
    private readonly DateTimeZone _defaultZone;
    private readonly ContentChecker _checker;
    private readonly ChannelSender _sender;
    private readonly InDoubtResolver _inDoubt;
    private readonly Duration _lease;
    private readonly ConcurrentDictionary<string, ChannelPlan> _plans = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeZone?> _zones = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _insideWindow = new(StringComparer.Ordinal);

    public DeliveryPipeline(
        IChannelRegistry registry,
        IClock clock,
        TimeProvider timeProvider,
        IIdempotencyStore idempotency,
        IFrequencyCapStore caps,
        IDoNotContactList doNotContact,
        IExecutionRecords records,
        IEnumerable<IDeliveryAlertObserver> observers,
        IOptions<CampaignsOptions> options,
        IProviderMessageIndex? messageIndex = null)
    {
        _registry = registry;
        _clock = clock;
        _timeProvider = timeProvider;
        _idempotency = idempotency;
        _caps = caps;
        _doNotContact = doNotContact;
        _records = records;
        _messageIndex = messageIndex ?? new InMemoryProviderMessageIndex(Duration.FromTimeSpan(options.Value.Delivery.ProviderMessageRetention), options.Value.Delivery.ProviderMessageCapacity);
        _observers = [.. observers];
        _options = options.Value.Delivery;
        _defaultZone = LocalTimeResolution.GetZone(options.Value.DefaultTimeZone, "Campaigns:DefaultTimeZone");
        _checker = new ContentChecker(_options);
        _sender = new ChannelSender(registry, _options, timeProvider);
        _inDoubt = new InDoubtResolver(registry, _options);
        _lease = Duration.FromTimeSpan(_options.IdempotencyLease);
        _gateReads = idempotency is IGateReadingIdempotencyStore gated && gated.ReadsGatesOf(records, doNotContact) ? gated : null;
        _bookkeeping = idempotency is IBookkeepingIdempotencyStore bookkeeping && bookkeeping.WritesBookkeepingOf(records, _messageIndex) ? bookkeeping : null;
    }

    public async ValueTask<DeliveryOutcome> DeliverAsync(DeliveryRequest request, CancellationToken cancellationToken) =>
        (await DeliverCoreAsync(request, hold: false, cancellationToken).ConfigureAwait(false)).Outcome;

    /// <summary>The combined bookkeeping store the pipeline writes a completed send through, or null (tests and the journey runner).</summary>
    internal IBookkeepingIdempotencyStore? Bookkeeping => _bookkeeping;

    /// <summary>
    /// <see cref="DeliverAsync"/>, except that a send whose bookkeeping would go through <see cref="Bookkeeping"/> is not
    /// written: it is handed back (the key stays claimed), and the caller must write it (with
    /// <see cref="Journeys.IBookkeepingJourneyRunStore.TryUpdateWithBookkeepingAsync"/>) and then call
    /// <see cref="CompleteHeldAsync"/>. Everything else (every other outcome, every other store) is done as
    /// <see cref="DeliverAsync"/> does it, and then nothing is handed back.
    /// </summary>
    internal ValueTask<(DeliveryOutcome Outcome, SendBookkeeping? Held)> DeliverHoldingBookkeepingAsync(DeliveryRequest request, CancellationToken cancellationToken) =>
        DeliverCoreAsync(request, hold: true, cancellationToken);

    /// <summary>What <see cref="DeliverAsync"/> does after writing the bookkeeping: the task's alert rule on the counted record.</summary>
    /// <param name="held">The bookkeeping that was handed back and has been written.</param>
    /// <param name="record">The task's record after counting the send (null without a task).</param>
    /// <param name="cancellationToken">Cancels.</param>
    internal async ValueTask CompleteHeldAsync(SendBookkeeping held, ExecutionRecord? record, CancellationToken cancellationToken)
    {
        if (held.TaskId is not null && record is not null)
        {
            await EvaluateAlertAsync(record, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<(DeliveryOutcome Outcome, SendBookkeeping? Held)> DeliverCoreAsync(DeliveryRequest request, bool hold, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.IdempotencyKey, nameof(request));
        using var activity = DeliveryTelemetry.Source.StartActivity("deliver");
        activity?.SetTag("campaigns.channel", request.Channel);
        activity?.SetTag("campaigns.idempotency_key", request.IdempotencyKey);

        var now = _clock.GetCurrentInstant();
        IdempotencyClaim claim;
        PreRead? preRead = null;
        if (_gateReads is { } gateReads)
        {
            // One round trip: the claim, the task's pause flag and the do-not-contact listing (read as the claim is taken).
            var gated = await gateReads.TryClaimWithGatesAsync(request.IdempotencyKey, now, _lease, new GateReads(request.TaskId, request.Contact.Id.ToString(), PlanFor(request.Channel).ConsentKey), cancellationToken).ConfigureAwait(false);
            claim = gated.Claim;
            preRead = new PreRead(gated.TaskPaused, gated.DoNotContact);
        }
        else
        {
            claim = await _idempotency.TryClaimAsync(request.IdempotencyKey, now, _lease, cancellationToken).ConfigureAwait(false);
        }

        if (claim.Status == IdempotencyClaimStatus.Completed)
        {
            activity?.SetTag("campaigns.delivery.status", "replay");
            return (claim.Outcome! with { IsReplay = true }, null);
        }

        if (claim.Status == IdempotencyClaimStatus.InProgress)
        {
            return (new DeliveryOutcome { IdempotencyKey = request.IdempotencyKey, Status = DeliveryStatus.InProgress, Channel = request.Channel, At = now }, null);
        }

        InDoubtResolution? inDoubt = null;
        if (claim.Status == IdempotencyClaimStatus.TakenOver)
        {
            // An earlier attempt is in doubt. If resolving it throws, the key is not released: the next attempt is in doubt too.
            var decision = await _inDoubt.ResolveAsync(request, now, cancellationToken).ConfigureAwait(false);
            inDoubt = decision.Resolution;
            if (decision.Settled is { } settled)
            {
                await _idempotency.CompleteAsync(request.IdempotencyKey, settled, cancellationToken).ConfigureAwait(false);
                return (await SettledInDoubtAsync(request, settled, cancellationToken).ConfigureAwait(false), null);
            }
        }

        var complete = false;
        var keepClaim = false; // the send is in doubt: the key stays claimed for the in-doubt path (lease expiry)
        var counted = false;
        ExecutionRecord? countedRecord = null;
        SendBookkeeping? held = null;
        DeliveryOutcome outcome;
        double? seconds = null;
        try
        {
            try
            {
                (outcome, seconds, keepClaim) = await RunAsync(request, now, preRead, cancellationToken).ConfigureAwait(false);
            }
            catch (SendInDoubtException e)
            {
                // Thrown after the provider may have accepted the message (the caller's cancellation during the call, an
                // adapter's exception, a failed index write after acceptance): like a host killed at that point, the key
                // stays claimed and the attempt after the lease is in doubt. The original exception propagates.
                keepClaim = true;
                activity?.SetTag("campaigns.delivery.status", "in_doubt");
                ExceptionDispatchInfo.Throw(e.InnerException!);
                throw; // not reached
            }

            outcome = inDoubt is null ? outcome : outcome with { InDoubt = inDoubt };
            complete = outcome.Status switch
            {
                DeliveryStatus.Deferred or DeliveryStatus.Paused or DeliveryStatus.InProgress => false,
                DeliveryStatus.Failed => outcome.Result is not { IsRetryable: true },
                _ => true,
            };
            if (complete && _bookkeeping is { } bookkeeping)
            {
                // One round trip and one transaction: the provider message's index entry, the completion and the task's count.
                var entry = outcome.Status == DeliveryStatus.Sent && outcome.Result?.ProviderMessageId is { } providerMessageId
                    ? new ProviderMessageEntry(providerMessageId, new ProviderMessage(request.Contact.Id.ToString(), outcome.Channel, request.IdempotencyKey, now))
                    : (ProviderMessageEntry?)null;
                if (hold)
                {
                    // Handed to the caller, who writes it with its own next write (the key stays claimed until then).
                    held = new SendBookkeeping(request.IdempotencyKey, outcome, request.TaskId, entry);
                }
                else
                {
                    countedRecord = await bookkeeping.CompleteSendAsync(request.IdempotencyKey, outcome, request.TaskId, entry, cancellationToken).ConfigureAwait(false);
                    counted = request.TaskId is not null;
                }
            }
            else if (complete)
            {
                await _idempotency.CompleteAsync(request.IdempotencyKey, outcome, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!complete && !keepClaim)
            {
                await _idempotency.ReleaseAsync(request.IdempotencyKey, CancellationToken.None).ConfigureAwait(false);
            }
        }

        activity?.SetTag("campaigns.delivery.status", outcome.Status.ToString());
        DeliveryTelemetry.Record(outcome, seconds);
        if (held is not null)
        {
            return (outcome, held); // counted, and the alert rule evaluated, when the caller has written it (CompleteHeldAsync)
        }

        if (counted)
        {
            await EvaluateAlertAsync(countedRecord!, cancellationToken).ConfigureAwait(false);
        }
        else if (request.TaskId is { } taskId && outcome.Status != DeliveryStatus.Paused)
        {
            if (_records is InMemoryExecutionRecords inMemory)
            {
                // The default store: count without a snapshot; take one only when the alert rule fires.
                var (sent, failed, raised) = inMemory.Count(taskId, outcome);
                if (!raised && AlertDue(sent, failed) && await inMemory.GetAsync(taskId, cancellationToken).ConfigureAwait(false) is { } snapshot)
                {
                    await EvaluateAlertAsync(snapshot, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                var record = await _records.RecordAsync(taskId, outcome, cancellationToken).ConfigureAwait(false);
                await EvaluateAlertAsync(record, cancellationToken).ConfigureAwait(false);
            }
        }

        return (outcome, null);
    }

    /// <summary>Records an in-doubt send settled without sending (found sent, or unknown) and raises the alert for unknown.</summary>
    private async ValueTask<DeliveryOutcome> SettledInDoubtAsync(DeliveryRequest request, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        DeliveryTelemetry.Record(outcome, null);
        if (request.TaskId is { } taskId)
        {
            var record = await _records.RecordAsync(taskId, outcome, cancellationToken).ConfigureAwait(false);
            await EvaluateAlertAsync(record, cancellationToken).ConfigureAwait(false);
        }

        if (outcome.Status == DeliveryStatus.Unknown)
        {
            var alert = new InDoubtAlert(request.IdempotencyKey, request.Channel, request.TaskId, request.Contact.Id.ToString(), outcome.Result?.Detail ?? "in doubt", outcome.At);
            foreach (var observer in _observers)
            {
                await observer.OnInDoubtAsync(alert, cancellationToken).ConfigureAwait(false);
            }
        }

        return outcome;
    }

    /// <summary>The gates' state read with the claim (<see cref="IGateReadingIdempotencyStore"/>).</summary>
    private readonly record struct PreRead(bool TaskPaused, bool DoNotContact);

    /// <summary>
    /// Runs the gate and the send. <c>KeepClaim</c> is true when the send is in doubt (a timeout on a channel that may not
    /// simply resend, see <see cref="ChannelSender.Route.MayResendInDoubt"/>): the outcome is then
    /// <see cref="DeliveryStatus.InProgress"/> with the timeout as its result, and the key must stay claimed. An exception
    /// thrown once the provider may have the message is wrapped in <see cref="SendInDoubtException"/> (unless every channel
    /// that may have sent may resend).
    /// </summary>
    private async ValueTask<(DeliveryOutcome Outcome, double? Seconds, bool KeepClaim)> RunAsync(DeliveryRequest request, Instant now, PreRead? preRead, CancellationToken cancellationToken)
    {
        var channelName = request.Channel;
        var plan = PlanFor(channelName);
        var channel = plan.Channel;
        var contact = request.Contact;
        var contactId = contact.Id.ToString();
        var decisions = new GateTrail();


        if (request.TaskId is { } taskId && (preRead is { } pausedRead ? pausedRead.TaskPaused : await IsPausedAsync(taskId, cancellationToken).ConfigureAwait(false)))
        {
            return (Outcome(request, channelName, now, decisions, DeliveryStatus.Paused), null, false);
        }

        // 1. Consent and do-not-contact.
        var consentKey = plan.ConsentKey;
        if (!contact.Consents.TryGetValue(consentKey, out var consent))
        {
            return (Suppress(request, channelName, now, decisions, GateCheck.Consent, $"no consent for '{consentKey}' on record"), null, false);
        }

        if (!consent.Granted)
        {
            return (Suppress(request, channelName, now, decisions, GateCheck.Consent, $"consent for '{consentKey}' withdrawn at {consent.At} ({consent.Source})"), null, false);
        }

        decisions.ConsentGranted(consentKey, consent);
        if (preRead is { } listedRead ? listedRead.DoNotContact : await _doNotContact.IsListedAsync(contactId, consentKey, cancellationToken).ConfigureAwait(false))
        {
            return (Suppress(request, channelName, now, decisions, GateCheck.DoNotContact, $"the contact is on the do-not-contact list for '{consentKey}'"), null, false);
        }

        decisions.NotOnDoNotContactList();

        // 2. Frequency caps (acquired now; released if the message is not sent).
        var zone = ZoneOf(contact.TimeZoneId);
        IReadOnlyList<CapWindow> windows = plan.HasCaps ? CapWindows(channelName, now, zone) : NoWindows;
        var capHeld = false;
        if (windows.Count > 0)
        {
            var full = await _caps.TryAcquireAsync(contactId, channelName, now, windows, cancellationToken).ConfigureAwait(false);
            if (full is { } w)
            {
                var reached = $"at most {w.Limit} message(s) {(w.Channel is null ? "on all channels" : $"on '{w.Channel}'")} since {w.From}; the cap is reached";
                var cap = CapOf(channelName, windows, w);
                if (cap?.WhenReached != FrequencyCapAction.Defer)
                {
                    return (Suppress(request, channelName, now, decisions, GateCheck.FrequencyCap, reached), null, false);
                }

                // Defer to the instant the window has room again (then into the channel's send window).
                var free = cap.PerCalendarDay
                    ? zone.AtStartOfDay(now.InZone(zone).Date.PlusDays(1)).ToInstant()
                    : await _caps.NextFreeAsync(contactId, w, Duration.FromTimeSpan(cap.Window ?? TimeSpan.Zero), now, cancellationToken).ConfigureAwait(false);
                if (plan.Window is { } sendWindow)
                {
                    free = sendWindow.NextAllowed(free, zone);
                }

                decisions.Refuse(new GateDecision(GateCheck.FrequencyCap, false, $"{reached}; deferred until {free}"));
                return (Outcome(request, channelName, now, decisions, DeliveryStatus.Deferred) with { DeferredUntil = free }, null, false);
            }

            capHeld = true;
            decisions.CapsHaveRoom(windows.Count);
        }

        var sent = false;
        var keepCap = false; // the send is in doubt: the cap stays held, as if the host had died during the call
        try
        {
            // 3. Send window and quiet hours in the contact's zone: defer, never drop.
            var window = plan.Window;
            if (window is not null)
            {
                var next = window.NextAllowed(now, zone);
                if (next > now)
                {
                    decisions.Refuse(new GateDecision(GateCheck.SendWindow, false, $"outside the send window in {zone.Id}; next allowed {next.InZone(zone).LocalDateTime:uuuu-MM-dd HH:mm} local"));
                    return (Outcome(request, channelName, now, decisions, DeliveryStatus.Deferred) with { DeferredUntil = next }, null, false);
                }

                decisions.InsideWindow(Cached(_insideWindow, zone.Id, static id => $"inside the send window in {id}"));
            }

            // 4. Address.
            var recipient = request.Recipient ?? Address(contact, channel.Capabilities.AddressKind);
            if (string.IsNullOrWhiteSpace(recipient))
            {
                return (Suppress(request, channelName, now, decisions, GateCheck.Address, $"the contact has no {channel.Capabilities.AddressKind} address for '{channelName}'"), null, false);
            }

            // 5. Render and content rules.
            var kind = plan.Kind;
            var missing = t_missing ??= [];
            missing.Clear();
            var content = request.Template.Render(request.Variables, missing);
            var report = missing.Count > 0
                ? new ContentReport([.. missing.Distinct(StringComparer.Ordinal).Select(m => new ContentIssue(ContentIssueCode.MissingVariable, ContentIssueSeverity.Error, "text", $"the variable {{{m}}} has no value or default") { Subject = m })])
                : _checker.CheckRendered(content, kind);
            if (!report.IsValid)
            {
                decisions.Refuse(new GateDecision(GateCheck.Content, false, report.ToString()));
                return (Outcome(request, channelName, now, decisions, DeliveryStatus.Failed) with { Result = DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, report.ToString()), Content = report }, null, false);
            }

            decisions.ContentPassed(report.Issues.Count == 0 ? null : report);
            var message = new ChannelMessage(request.IdempotencyKey, recipient, kind == MessageKind.Sms ? _checker.WithSignature(content.Text) : content.Text)
            {
                ContactId = contactId,
                CampaignId = request.CampaignId,
                Subject = content.Subject,
                HtmlBody = content.Html,
                UnsubscribeUrl = request.UnsubscribeUrl,
            };

            // 6. Send through the channel's resilience pipeline (and its failover). From here on the provider may have the
            // message: an exception leaves the key claimed (in doubt) unless every channel that may have sent may resend.
            cancellationToken.ThrowIfCancellationRequested();
            var route = plan.Sender;
            var started = _timeProvider.GetTimestamp();
            SendAttempt attempt;
            try
            {
                attempt = await _sender.SendAsync(route, message, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!MayResendInDoubt(route))
            {
                keepCap = true;
                throw new SendInDoubtException(e);
            }

            var seconds = _timeProvider.GetElapsedTime(started).TotalSeconds;
            sent = attempt.Result.IsAccepted;
            var outcome = new DeliveryOutcome
            {
                IdempotencyKey = request.IdempotencyKey,
                Status = sent ? DeliveryStatus.Sent : DeliveryStatus.Failed,
                At = now,
                Decisions = decisions,
                Channel = attempt.Channel,
                Result = attempt.Result,
                FailedOver = attempt.FailedOver,
                Content = report.Issues.Count == 0 ? null : report,
            };
            if (attempt.InDoubt)
            {
                // A timeout on a channel that may not simply resend: the provider may have accepted it. The key stays
                // claimed (and the cap held), as if the host had died here; after the key's lease the in-doubt path
                // resolves it per capability (ask the provider, or InDoubtPolicy).
                keepCap = true;
                return (outcome with
                {
                    Status = DeliveryStatus.InProgress,
                    Result = DeliveryResult.Failed(
                        DeliveryFailureReason.Timeout,
                        retryable: true,
                        $"in doubt: {attempt.Result.Detail ?? "the provider did not answer in time"} — the provider may have accepted the message, and '{attempt.Channel}' neither honours idempotency keys nor resends in doubt (InDoubtPolicy AtMostOnce); the key stays claimed and the next attempt after its lease resolves it"),
                }, seconds, true);
            }

            if (sent && attempt.Result.ProviderMessageId is { } providerMessageId && _bookkeeping is null) // else written with the key's completion
            {
                // Receipts that carry only the provider's id (bounces, complaints, status callbacks) find the contact through it.
                if (_messageIndex is InMemoryProviderMessageIndex inMemoryIndex)
                {
                    inMemoryIndex.Record(providerMessageId, contact.Id, attempt.Channel, request.IdempotencyKey, now); // no ProviderMessage object, no id text kept
                }
                else
                {
                    try
                    {
                        await _messageIndex.RecordAsync(providerMessageId, new ProviderMessage(contactId, attempt.Channel, request.IdempotencyKey, now), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!_sender.RouteFor(attempt.Channel).MayResendInDoubt)
                    {
                        // Accepted, but not recorded: releasing the key would let a retry send it again.
                        throw new SendInDoubtException(e);
                    }
                }
            }

            return (outcome, seconds, false);
        }
        finally
        {
            if (capHeld && !sent && !keepCap)
            {
                await _caps.ReleaseAsync(contactId, channelName, now, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether every channel that may have sent (the route and its failover) may simply resend an in-doubt send.</summary>
    private bool MayResendInDoubt(ChannelSender.Route route) =>
        route.MayResendInDoubt && (route.FailoverTo is not { } failover || _sender.RouteFor(failover).MayResendInDoubt);

    /// <summary>
    /// Carries an exception thrown once the provider may have accepted the message, so <see cref="DeliverAsync"/> keeps
    /// the key claimed; the original exception is rethrown to the caller.
    /// </summary>
    private sealed class SendInDoubtException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>An outcome of the gate (no send): static, so the hot path allocates no closure.</summary>
    private static DeliveryOutcome Outcome(DeliveryRequest request, string channel, Instant now, GateTrail decisions, DeliveryStatus status) => new()
    {
        IdempotencyKey = request.IdempotencyKey,
        Status = status,
        Channel = channel,
        At = now,
        Decisions = decisions,
    };

    private static DeliveryOutcome Suppress(DeliveryRequest request, string channel, Instant now, GateTrail decisions, GateCheck check, string detail)
    {
        decisions.Refuse(new GateDecision(check, false, detail));
        return Outcome(request, channel, now, decisions, DeliveryStatus.Suppressed) with { SuppressedBy = check };
    }

    private static readonly CapWindow[] NoWindows = [];

    /// <summary>The missing-variable list of the render, reused per thread (the pipeline never awaits while it is in use).</summary>
    [ThreadStatic]
    private static List<string>? t_missing;

    /// <summary>What the pipeline needs of a channel, looked up once per name: the instance, its options and send plan.</summary>
    private sealed class ChannelPlan(IChannel channel, string consentKey, SendWindow? window, MessageKind kind, bool hasCaps, ChannelSender.Route sender)
    {
        public IChannel Channel { get; } = channel;

        public string ConsentKey { get; } = consentKey;

        public SendWindow? Window { get; } = window;

        public MessageKind Kind { get; } = kind;

        public bool HasCaps { get; } = hasCaps;

        public ChannelSender.Route Sender { get; } = sender;
    }

    private ChannelPlan PlanFor(string channelName)
    {
        return _plans.TryGetValue(channelName, out var plan) ? plan : NewPlan(channelName);
    }

    /// <summary>
    /// Builds the plan of a channel on its first send (a method of its own: its lambda's closure would otherwise be
    /// allocated on every call of <see cref="PlanFor"/>, cached plan or not).
    /// </summary>
    private ChannelPlan NewPlan(string channelName)
    {
        var channel = _registry.GetChannel(channelName); // throws KeyNotFoundException naming the registered channels
        var o = _options.ForChannel(channelName);
        var kind = channel.Capabilities.AddressKind switch
        {
            ChannelAddressKind.Phone => MessageKind.Sms,
            ChannelAddressKind.Email => MessageKind.Email,
            _ => MessageKind.Text,
        };
        var hasCaps = _options.FrequencyCaps.Any(c => c.Channel is null || string.Equals(c.Channel, channelName, StringComparison.Ordinal));
        return _plans.GetOrAdd(channelName, new ChannelPlan(channel, o.ConsentKey ?? channelName, o.Window?.ToSendWindow(), kind, hasCaps, _sender.RouteFor(channelName)));
    }

    private ValueTask<bool> IsPausedAsync(string taskId, CancellationToken cancellationToken)
    {
        if (_records is InMemoryExecutionRecords inMemory)
        {
            return new(inMemory.IsPaused(taskId));
        }

        return Slow(_records, taskId, cancellationToken);

        static async ValueTask<bool> Slow(IExecutionRecords records, string taskId, CancellationToken cancellationToken) =>
            (await records.GetAsync(taskId, cancellationToken).ConfigureAwait(false))?.IsPaused == true;
    }

    /// <summary>The contact's zone (tzdb lookups cached per id), or the default zone when it has none or it is unknown.</summary>
    private DateTimeZone ZoneOf(string? zoneId)
    {
        if (zoneId is null)
        {
            return _defaultZone;
        }

        if (!_zones.TryGetValue(zoneId, out var zone))
        {
            zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(zoneId);
            if (_zones.Count < MaxCached)
            {
                _zones.TryAdd(zoneId, zone);
            }
        }

        return zone ?? _defaultZone;
    }

    /// <summary>A detail string that depends only on <paramref name="key"/>, built once per key (up to <see cref="MaxCached"/> keys).</summary>
    private static string Cached(ConcurrentDictionary<string, string> cache, string key, Func<string, string> build)
    {
        if (cache.TryGetValue(key, out var value))
        {
            return value;
        }

        value = build(key);
        if (cache.Count < MaxCached)
        {
            cache.TryAdd(key, value);
        }

        return value;
    }

    private const int MaxCached = 1024;

    /// <summary>The cap whose window <paramref name="full"/> is (windows are built in the order of the caps that apply).</summary>
    private FrequencyCapOptions? CapOf(string channel, IReadOnlyList<CapWindow> windows, CapWindow full)
    {
        var i = 0;
        foreach (var cap in _options.FrequencyCaps)
        {
            if (cap.Channel is not null && !string.Equals(cap.Channel, channel, StringComparison.Ordinal))
            {
                continue;
            }

            if (i < windows.Count && windows[i] == full)
            {
                return cap;
            }

            i++;
        }

        return null;
    }

    private List<CapWindow> CapWindows(string channel, Instant now, DateTimeZone zone)
    {
        var caps = _options.FrequencyCaps;
        var windows = new List<CapWindow>(caps.Count);
        foreach (var cap in caps)
        {
            if (cap.Channel is not null && !string.Equals(cap.Channel, channel, StringComparison.Ordinal))
            {
                continue;
            }

            var from = cap.PerCalendarDay
                ? zone.AtStartOfDay(now.InZone(zone).Date).ToInstant()
                : now - Duration.FromTimeSpan(cap.Window ?? TimeSpan.Zero) + Duration.Epsilon;
            windows.Add(new CapWindow(cap.Channel, from, cap.Limit));
        }

        return windows;
    }

    private static string? Address(Contact contact, ChannelAddressKind kind) => kind switch
    {
        ChannelAddressKind.Email => contact.Identities.Email,
        ChannelAddressKind.Phone => contact.Identities.Phone,
        ChannelAddressKind.WeChatOpenId => contact.Identities.WeChatOpenId,
        ChannelAddressKind.WeComUserId => contact.Identities.WeComExternalUserId,
        _ => null,
    };

    private bool AlertDue(long sent, long failed) =>
        sent + failed >= _options.Alert.MinimumSamples && sent + failed > 0 && (double)failed / (sent + failed) > _options.Alert.FailureRateThreshold;

    private async ValueTask EvaluateAlertAsync(ExecutionRecord record, CancellationToken cancellationToken)
    {
        var rule = _options.Alert;
        if (record.AlertRaisedAt is not null || !AlertDue(record.Sent, record.Failed))
        {
            return;
        }

        var at = _clock.GetCurrentInstant();
        if (!await _records.TryRaiseAlertAsync(record.TaskId, at, rule.PauseTask, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var alert = new DeliveryAlert(record.TaskId, record.FailureRate, rule.FailureRateThreshold, rule.PauseTask, record with { IsPaused = record.IsPaused || rule.PauseTask, AlertRaisedAt = at }, at);
        Activity.Current?.AddEvent(new ActivityEvent("campaigns.delivery.alert"));
        foreach (var observer in _observers)
        {
            await observer.OnAlertAsync(alert, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _sender.Dispose();
}
