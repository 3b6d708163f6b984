using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>Something that happened to a lead because of its score, told to every <see cref="ILeadEventSink"/>.</summary>
public abstract record LeadEvent
{
    /// <summary>The contact.</summary>
    public required ContactId ContactId { get; init; }

    /// <summary>The threshold involved.</summary>
    public required string ThresholdId { get; init; }

    /// <summary>When (the engine's evaluation instant).</summary>
    public required Instant At { get; init; }

    /// <summary>The compared score (behaviour or total) at <see cref="At"/>.</summary>
    public required decimal Score { get; init; }
}

/// <summary>A contact entered (reached <see cref="ScoreThreshold.Enter"/>) or left (fell below <see cref="ScoreThreshold.Exit"/>) a threshold.</summary>
public sealed record ThresholdCrossed : LeadEvent
{
    /// <summary>True when entering, false when leaving.</summary>
    public required bool Entered { get; init; }
}

/// <summary>A lead was assigned on entering a threshold: the notification for the salesperson (a host or channel handler delivers it).</summary>
public sealed record LeadAssigned : LeadEvent
{
    /// <summary>The salesperson (user id) now owning the lead.</summary>
    public required string AssigneeId { get; init; }

    /// <summary>The owner before, or null.</summary>
    public string? PreviousOwnerId { get; init; }

    /// <summary>Why the contact has its score, for the notification.</summary>
    public required ScoreExplanation Explanation { get; init; }
}

/// <summary>The progress and result of <see cref="IScoringEngine.RescoreAllAsync"/>.</summary>
/// <param name="Contacts">Contacts rescored so far.</param>
/// <param name="Changed">Of those, the contacts whose behaviour score, fit score or grade changed.</param>
public readonly record struct RescoreProgress(long Contacts, long Changed);

/// <summary>
/// Handles lead events (threshold crossings, assignments): notify the salesperson through a channel, open a CRM task,
/// raise a journey trigger. Register any number in the service collection; they are called one after the other after
/// the contact is stored, and must be thread-safe. A failing handler does not undo the change.
/// </summary>
public interface ILeadEventSink
{
    /// <summary>Handles one event.</summary>
    /// <param name="leadEvent">A <see cref="ThresholdCrossed"/> or <see cref="LeadAssigned"/>.</param>
    /// <param name="cancellationToken">The writer's cancellation token.</param>
    ValueTask HandleAsync(LeadEvent leadEvent, CancellationToken cancellationToken);
}

/// <summary>
/// Lead scoring (F-4), driven by ingest (it is an <see cref="IContactChangeListener"/>): each matching event is recorded
/// in the contact's ledger, the scores are written to <see cref="Contact.Scores"/> (behaviour decayed to
/// <see cref="ContactScores.AsOf"/>, fit, grade), and thresholds are applied with hysteresis. Decay needs no sweep: a
/// score is computed from the clock when read, and the engine schedules, per contact, the instant the decaying score
/// crosses a threshold; <see cref="AdvanceAsync"/> handles only those. Thread-safe.
/// </summary>
public interface IScoringEngine
{
    /// <summary>The earliest scheduled threshold crossing by decay, or null.</summary>
    Instant? NextDue { get; }

    /// <summary>The contact's scores now (clock instant), decayed exactly.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    ValueTask<ContactScores> GetScoresAsync(ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>Why the contact has its score now (F-4.5): by rule, with the events that earned each point.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    ValueTask<ScoreExplanation> ExplainAsync(ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>Rebuilds the contact's ledger from its stored events under the current model (after rules changed), then applies thresholds.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<ContactScores> RescoreAsync(ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Rescores every contact (after a model change): streams the contact store once, rebuilding each contact's ledger
    /// from its stored events under the current model (as <see cref="RescoreAsync"/>) and applying thresholds. Memory
    /// stays constant in the number of contacts. Progress is reported every 1,000 contacts and at the end.
    /// </summary>
    /// <param name="progress">Receives the running counts; may be null.</param>
    /// <param name="cancellationToken">Cancels between contacts; the contacts already rescored keep their new scores.</param>
    /// <returns>How many contacts were rescored and how many of their scores (behaviour, fit or grade) changed.</returns>
    ValueTask<RescoreProgress> RescoreAllAsync(IProgress<RescoreProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Handles the contacts whose scheduled decay crossing is at or before <paramref name="now"/>; call it with the clock's instant.</summary>
    /// <param name="now">The instant.</param>
    /// <param name="cancellationToken">Cancels between contacts.</param>
    /// <returns>How many contacts were handled.</returns>
    ValueTask<int> AdvanceAsync(Instant now, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IScoringEngine"/>.</summary>
internal sealed class ScoringEngine(
    IScoringModelStore models,
    IScoreLedgerStore ledgers,
    IContactService contacts,
    IContactStore store,
    IEventStore events,
    IClock clock,
    FilterEvaluator evaluator,
    IEnumerable<ILeadEventSink> handlers,
    Microsoft.Extensions.Options.IOptions<CampaignsOptions> options)
    : IScoringEngine, IContactChangeListener, IContactChangeContributor
{
    private const int RescoreProgressEvery = 1_000;
    private static readonly Duration MinStep = Duration.FromMilliseconds(1);
    private static readonly List<(ScoreThreshold Threshold, bool Entered, decimal Score)> NoCrossings = [];
    private readonly ILeadEventSink[] _handlers = [.. handlers];
    private readonly StripedAsyncLock _locks = new(64);
    private readonly ContactSchedule _schedule = new();
    private readonly Dictionary<string, int> _roundRobin = new(StringComparer.Ordinal);
    private readonly Lock _roundRobinGate = new();
    private readonly DateTimeZone _defaultZone = Scheduling.LocalTimeResolution.GetZone(options.Value.DefaultTimeZone, "Campaigns:DefaultTimeZone");

    // Running per-contact states, kept only with the in-memory ledger store (whose reads return the object last saved,
    // so a state is known to be current when its ledger is the one read); other stores get a state per call.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ContactId, ScoreState>? _states = ledgers is InMemoryScoreLedgerStore ? new() : null;
    private RuleIndex? _byKind;
    private Tuple<ScoringModel, FilterReads, bool>? _fitReads;

    public Instant? NextDue => _schedule.Next;

    public async ValueTask<ContactScores> GetScoresAsync(ContactId contactId, CancellationToken cancellationToken = default) =>
        (await ExplainAsync(contactId, cancellationToken).ConfigureAwait(false)).Scores;

    public async ValueTask<ScoreExplanation> ExplainAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        var contact = await store.GetAsync(contactId, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException("contact", contactId.ToString());
        var ledger = await ledgers.GetAsync(contactId, cancellationToken).ConfigureAwait(false) ?? new ScoreLedger { ContactId = contactId };
        return ScoreCalculator.Explain(models.Current, contact, ledger.Entries, ledger.ThresholdsEntered, clock.GetCurrentInstant(), evaluator, _defaultZone);
    }

    public async ValueTask<ContactScores> RescoreAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        var history = new List<BehaviourEvent>();
        await foreach (var e in events.ListAsync(contactId, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            history.Add(e);
        }

        var entries = ScoreCalculator.Match(models.Current, history);
        return await ScoreAsync(contactId, clock.GetCurrentInstant(), null, entries, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("contact", contactId.ToString());
    }

    public async ValueTask<RescoreProgress> RescoreAllAsync(IProgress<RescoreProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        long done = 0, changed = 0;
        await foreach (var contact in store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var history = new List<BehaviourEvent>();
            await foreach (var e in events.ListAsync(contact.Id, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                history.Add(e);
            }

            var scores = await ScoreAsync(contact.Id, clock.GetCurrentInstant(), null, ScoreCalculator.Match(models.Current, history), cancellationToken).ConfigureAwait(false);
            done++;
            if (scores is not null && (contact.Scores is not { } old || old.Behaviour != scores.Behaviour || old.Fit != scores.Fit || old.Grade != scores.Grade))
            {
                changed++;
            }

            if (done % RescoreProgressEvery == 0)
            {
                progress?.Report(new RescoreProgress(done, changed));
            }
        }

        var result = new RescoreProgress(done, changed);
        progress?.Report(result);
        return result;
    }

    public async ValueTask<int> AdvanceAsync(Instant now, CancellationToken cancellationToken = default)
    {
        var due = _schedule.TakeDue(now);
        foreach (var (id, _) in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await ScoreAsync(id, now, null, null, cancellationToken).ConfigureAwait(false);
        }

        return due.Count;
    }

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) =>
        IngestAsync(behaviourEvent, null, cancellationToken);

    public ValueTask ContributeAsync(BehaviourEvent behaviourEvent, PendingContactUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        return IngestAsync(behaviourEvent, update, cancellationToken);
    }

    /// <summary>Books the event's entries and scores the contact; the contact change goes to <paramref name="update"/> when given, else it is written here.</summary>
    private ValueTask IngestAsync(BehaviourEvent behaviourEvent, PendingContactUpdate? update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ScoreLedgerEntry[]? matched = null;
        RulesFor(behaviourEvent.Kind)?.Match(behaviourEvent, ref matched);

        if (ScoreAdjustment.EntryOf(behaviourEvent) is { } adjustment)
        {
            KindRuleMatcher.Append(ref matched, adjustment);
        }

        if (matched is null)
        {
            return ValueTask.CompletedTask;
        }

        return Untyped(ScoreAsync(behaviourEvent.ContactId, clock.GetCurrentInstant(), matched, null, cancellationToken, update));
    }

    private static ValueTask Untyped(ValueTask<ContactScores?> task)
    {
        if (task.IsCompletedSuccessfully)
        {
            _ = task.Result;
            return ValueTask.CompletedTask;
        }

        return new ValueTask(task.AsTask());
    }

    /// <summary>The current model's behaviour rules for one event kind, in model order (indexed once per model).</summary>
    private KindRuleMatcher? RulesFor(string kind) =>
        IndexOf(models.Current).Rules.GetValueOrDefault(kind);

    private Dictionary<string, int> RuleIdsOf(ScoringModel model) => IndexOf(model).RuleIds;

    private RuleIndex IndexOf(ScoringModel model)
    {
        var index = _byKind;
        if (index is null || !ReferenceEquals(index.Model, model))
        {
            var byKind = new Dictionary<string, KindRuleMatcher>(StringComparer.Ordinal);
            foreach (var group in model.BehaviourRules.GroupBy(r => r.EventKind, StringComparer.Ordinal))
            {
                byKind[group.Key] = new KindRuleMatcher([.. group]);
            }

            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < model.BehaviourRules.Count; i++)
            {
                ids[model.BehaviourRules[i].Id] = i;
            }

            _byKind = index = new RuleIndex(model, byKind, ids);
        }

        return index;
    }

    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var model = models.Current;
        // Only fit can change with the profile; without fit rules a contact is scored by its first matching event.
        var affected = model.FitRules.Count > 0
            && (change.Previous is null || ContactDiff.Affects(FitReads(model).Reads, change.Previous, change.Current));
        return affected
            ? Untyped(ScoreAsync(change.Current.Id, clock.GetCurrentInstant(), null, null, cancellationToken))
            : ValueTask.CompletedTask;
    }

    /// <summary>
    /// Scores a contact at <paramref name="now"/> after booking <paramref name="append"/> (one event's entries; nothing when
    /// the event is already booked) or replacing the ledger's entries with <paramref name="replace"/> (a rescore), then
    /// applies thresholds. Uses the contact's running <see cref="ScoreState"/>: no copy of the ledger, no from-scratch pass.
    /// With <paramref name="update"/> the contact change and the lead events go to the event's one pending contact update.
    /// </summary>
    private async ValueTask<ContactScores?> ScoreAsync(
        ContactId id,
        Instant now,
        ScoreLedgerEntry[]? append,
        IReadOnlyList<ScoreLedgerEntry>? replace,
        CancellationToken cancellationToken,
        PendingContactUpdate? update = null)
    {
        var model = models.Current;
        var gate = _locks.For(id.GetHashCode());
        Contact? contact;
        ContactScores scores;
        ScoreLedger ledger;
        List<(ScoreThreshold Threshold, bool Entered, decimal Score)>? crossings = null;
        await gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            contact = await store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
            if (contact is null)
            {
                _schedule.Set(id, null);
                _states?.TryRemove(id, out _);
                return null;
            }

            var before = await ledgers.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? new ScoreLedger { ContactId = id };
            var zone = ScoreCalculator.ZoneOf(contact, _defaultZone);
            ledger = before;
            ScoreState state;
            var cachedHit = false;
            if (replace is not null)
            {
                ledger = before with { Entries = LedgerEntries.Append([], replace) };
                state = new ScoreState(model, RuleIdsOf(model), zone, ledger);
            }
            else
            {
                ScoreState? cached = null;
                cachedHit = _states is not null && _states.TryGetValue(id, out cached)
                    && ReferenceEquals(cached.Ledger, before) && ReferenceEquals(cached.Model, model) && string.Equals(cached.ZoneId, zone.Id, StringComparison.Ordinal);
                state = cachedHit ? cached! : new ScoreState(model, RuleIdsOf(model), zone, before);
                if (append is { Length: > 0 } && !state.Contains(append[0]))
                {
                    for (var i = 0; i < append.Length; i++)
                    {
                        state.Add(append[i]);
                    }

                    ledger = before with { Entries = LedgerEntries.Append(before.Entries, append) };
                }
            }

            var behaviour = state.BehaviourAt(now);
            var fit = 0m;
            if (model.FitRules.Count > 0)
            {
                fit = ScoreCalculator.Fit(model, contact, now, evaluator).Fit;
            }

            scores = new ContactScores(behaviour, fit, ScoreCalculator.GradeOf(model, fit), now);
            List<string>? inside = null;
            var thresholds = model.Thresholds;
            for (var t = 0; t < thresholds.Count; t++)
            {
                var threshold = thresholds[t];
                var score = Compared(threshold, scores);
                var isInside = IsEntered(inside ?? ledger.ThresholdsEntered, threshold.Id);
                if (!isInside && score >= threshold.Enter)
                {
                    (inside ??= [.. ledger.ThresholdsEntered]).Add(threshold.Id);
                    (crossings ??= []).Add((threshold, true, score));
                }
                else if (isInside && score < (threshold.Exit ?? threshold.Enter))
                {
                    (inside ??= [.. ledger.ThresholdsEntered]).Remove(threshold.Id);
                    (crossings ??= []).Add((threshold, false, score));
                }
            }

            if (inside is not null)
            {
                ledger = ledger with { ThresholdsEntered = inside };
            }

            if (!ReferenceEquals(ledger, before))
            {
                await ledgers.SaveAsync(ledger, cancellationToken).ConfigureAwait(false);
            }

            state.Ledger = ledger;
            if (_states is not null && !cachedHit)
            {
                _states[id] = state;
            }

            var next = NextCrossing(model, state, ledger, scores, now);
            if (FitReadsTags(model) && NextTagExpiry(contact, now) is { } expiry && (next is not { } n || expiry < n))
            {
                // A fit rule reading tags changes when a tag expires, with no contact change to tell us.
                next = expiry;
            }

            _schedule.Set(id, next);
        }
        finally
        {
            gate.Exit();
        }

        // Most events cross no threshold: the lists are made only when one is crossed.
        crossings ??= NoCrossings;
        List<(ScoreThreshold Threshold, string Assignee, decimal Score)>? assignments = null;
        LifecycleStage? stage = null;
        string? reason = null;
        foreach (var (threshold, entered, score) in crossings)
        {
            if (!entered)
            {
                continue;
            }

            if (threshold.MoveToStage is { } target && target > (stage ?? contact.Stage))
            {
                stage = target;
                reason = $"score {score.ToString(System.Globalization.CultureInfo.InvariantCulture)} reached threshold '{threshold.Id}' ({threshold.Enter.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
            }

            if (threshold.Assignment is { } policy && Assign(threshold.Id, policy, contact) is { } assignee)
            {
                (assignments ??= []).Add((threshold, assignee, score));
            }
        }

        var previousOwner = contact.OwnerId;
        var newOwner = assignments is { Count: > 0 } ? assignments[^1].Assignee : previousOwner;
        var old = contact.Scores;
        var write = old is null || old.Behaviour != scores.Behaviour || old.Fit != scores.Fit || old.Grade != scores.Grade || stage is not null || newOwner != previousOwner;
        if (!write && crossings.Count == 0)
        {
            return scores;
        }

        // The common case (new scores, no crossing, no stage or owner change) is a part that carries only the scores.
        ContactContribution change = crossings.Count == 0 && stage is null && newOwner == previousOwner
            ? new ScoresChange(scores)
            : new ScoreChange(this, model, contact, ledger, scores, now, write, stage, reason, previousOwner, newOwner, crossings, assignments);
        if (update is not null)
        {
            update.Add(change);
            return scores;
        }

        if (write)
        {
            await contacts.UpdateAsync(id, change.Apply, cancellationToken).ConfigureAwait(false);
        }

        await change.StoredAsync(cancellationToken).ConfigureAwait(false);
        return scores;
    }

    private ScoreExplanation Explain(ScoringModel model, Contact contact, ScoreLedger ledger, Instant now) =>
        ScoreCalculator.Explain(model, contact, ledger.Entries, ledger.ThresholdsEntered, now, evaluator, _defaultZone);

    /// <summary>
    /// A scoring's contact change that only sets the scores (no threshold crossed, no stage or owner change): what
    /// <see cref="ScoreChange"/> does in that case, without its lead-event state (most events).
    /// </summary>
    private sealed class ScoresChange(ContactScores scores) : ContactContribution
    {
        public override Contact Apply(Contact c) =>
            c.Scores is { } current && current.AsOf > scores.AsOf ? c : c with { Scores = scores };

        public override bool TryEdit(Contact contact, ref ContactEdit edit)
        {
            if (edit.Scores is not { } current || current.AsOf <= scores.AsOf)
            {
                edit.Scores = scores;
            }

            return true;
        }
    }

    /// <summary>A scoring's contact change (scores, stage, owner) and, after the write, its lead events.</summary>
    private sealed class ScoreChange(
        ScoringEngine engine,
        ScoringModel model,
        Contact contact,
        ScoreLedger ledger,
        ContactScores scores,
        Instant now,
        bool write,
        LifecycleStage? stage,
        string? reason,
        string? previousOwner,
        string? newOwner,
        List<(ScoreThreshold Threshold, bool Entered, decimal Score)> crossings,
        List<(ScoreThreshold Threshold, string Assignee, decimal Score)>? assignments)
        : ContactContribution
    {
        public override bool Changes => write;

        public override Contact Apply(Contact c)
        {
            if (!write)
            {
                return c;
            }

            var updated = c.Scores is { } current && current.AsOf > scores.AsOf ? c : c with { Scores = scores };
            if (stage is { } s && s > c.Stage)
            {
                updated = updated with { Stage = s, StageHistory = [.. c.StageHistory, new StageChange(c.Stage, s, now, reason)] };
            }

            return newOwner != previousOwner ? updated with { OwnerId = newOwner } : updated;
        }

        public override bool TryEdit(Contact contact, ref ContactEdit edit)
        {
            // As Apply on the contact carrying the edit's fields.
            if (!write)
            {
                return true;
            }

            if (edit.Scores is not { } current || current.AsOf <= scores.AsOf)
            {
                edit.Scores = scores;
            }

            if (stage is { } s && s > edit.Stage)
            {
                edit.StageHistory = [.. edit.StageHistory, new StageChange(edit.Stage, s, now, reason)];
                edit.Stage = s;
            }

            if (newOwner != previousOwner)
            {
                edit.OwnerId = newOwner;
            }

            return true;
        }

        public override async ValueTask StoredAsync(CancellationToken cancellationToken)
        {
            var id = contact.Id;
            foreach (var (threshold, entered, score) in crossings)
            {
                await engine.RaiseAsync(new ThresholdCrossed { ContactId = id, ThresholdId = threshold.Id, At = now, Score = score, Entered = entered }, cancellationToken).ConfigureAwait(false);
            }

            if (assignments is not { Count: > 0 })
            {
                return; // the common case: no list is made for nothing to assign
            }

            var explanation = engine.Explain(model, contact, ledger, now);
            foreach (var (threshold, assignee, score) in assignments)
            {
                await engine.RaiseAsync(new LeadAssigned { ContactId = id, ThresholdId = threshold.Id, At = now, Score = score, AssigneeId = assignee, PreviousOwnerId = previousOwner, Explanation = explanation }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>What the model's fit rules read together, and whether that includes tags; cached per model.</summary>
    private (FilterReads Reads, bool Tags) FitReads(ScoringModel model)
    {
        var cached = _fitReads;
        if (cached is null || !ReferenceEquals(cached.Item1, model))
        {
            var reads = Tags.ReadsUnion.Of(model.FitRules.Select(r => FilterReads.Of(r.Condition)));
            _fitReads = cached = Tuple.Create(model, reads, reads.Tags.Count > 0 || reads.TagGroups.Count > 0);
        }

        return (cached.Item2, cached.Item3);
    }

    private bool FitReadsTags(ScoringModel model) => model.FitRules.Count > 0 && FitReads(model).Tags;

    private static Instant? NextTagExpiry(Contact contact, Instant now)
    {
        Instant? next = null;
        foreach (var tag in contact.Tags)
        {
            if (tag.ExpiresAt is { } at && at > now && (next is not { } n || at < n))
            {
                next = at;
            }
        }

        return next;
    }

    /// <summary>A model's behaviour rules by event kind; replaced as a whole when the model changes.</summary>
    private sealed record RuleIndex(ScoringModel Model, Dictionary<string, KindRuleMatcher> Rules, Dictionary<string, int> RuleIds);

    private static decimal Compared(ScoreThreshold threshold, ContactScores scores) =>
        threshold.Score == ScoreKind.Total ? scores.Total : scores.Behaviour;

    /// <summary>When the decaying behaviour score next crosses a threshold boundary (score(t) = score(now)·2^(−Δ/H) between events).</summary>
    private static Instant? NextCrossing(ScoringModel model, ScoreState state, ScoreLedger ledger, ContactScores scores, Instant now)
    {
        if (model.HalfLife is not { } halfLife || model.Thresholds.Count == 0 || ledger.Entries.Count == 0)
        {
            return null;
        }

        double? rawNow = null;
        Instant? next = null;
        var thresholds = model.Thresholds;
        for (var t = 0; t < thresholds.Count; t++)
        {
            var threshold = thresholds[t];
            var inside = IsEntered(ledger.ThresholdsEntered, threshold.Id);
            var offset = threshold.Score == ScoreKind.Total ? (double)scores.Fit : 0d;
            // The compared score is a sum of values rounded to 4 decimals: aim past the boundary by the most rounding can add.
            var margin = 0.00005 * (ledger.Entries.Count + 1);
            var target = (double)(inside ? threshold.Exit ?? threshold.Enter : threshold.Enter) - offset + (inside ? -margin : margin);

            // Leaving: a positive score decays below a positive target. Entering: a negative score rises to a negative target.
            // Decay never crosses a positive entry or a negative exit target, so the raw sum is only computed when needed.
            if (inside ? target <= 0 : target >= 0)
            {
                continue;
            }

            var raw = rawNow ??= state.RawAt(now);
            var reaches = inside ? raw >= target : raw < target;
            if (!reaches)
            {
                continue;
            }

            var halfLives = Math.Log2(raw / target);
            var step = Duration.FromNanoseconds(Math.Ceiling(halfLives * halfLife.TotalNanoseconds));
            var at = now + (step < MinStep ? MinStep : step);
            next = next is { } n && n < at ? n : at;
        }

        return next;
    }

    private static bool IsEntered(IReadOnlyList<string> entered, string thresholdId)
    {
        for (var i = 0; i < entered.Count; i++)
        {
            if (string.Equals(entered[i], thresholdId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private string? Assign(string thresholdId, AssignmentPolicy policy, Contact contact)
    {
        if ((policy.KeepExistingOwner || policy.Mode == AssignmentMode.KeepOwner) && contact.OwnerId is { } owner)
        {
            return owner;
        }

        if (policy.Mode == AssignmentMode.ByRegion
            && contact.Attributes.TryGetValue(policy.RegionAttribute, out var value)
            && value is TextValue or ChoiceValue
            && policy.RegionMap.TryGetValue(value is TextValue t ? t.Value : ((ChoiceValue)value).Value, out var regional))
        {
            return regional;
        }

        if (policy.Assignees.Count == 0)
        {
            return null;
        }

        lock (_roundRobinGate)
        {
            var turn = _roundRobin.GetValueOrDefault(thresholdId);
            _roundRobin[thresholdId] = turn + 1;
            return policy.Assignees[turn % policy.Assignees.Count];
        }
    }

    private async ValueTask RaiseAsync(LeadEvent leadEvent, CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        foreach (var handler in _handlers)
        {
            try
            {
                await handler.HandleAsync(leadEvent, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            throw new AggregateException("A lead event handler failed; the contact change itself is stored.", failures);
        }
    }
}
