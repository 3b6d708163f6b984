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
    IEnumerable<ILeadEventSink> handlers)
    : IScoringEngine, IContactChangeListener
{
    private static readonly Duration MinStep = Duration.FromMilliseconds(1);
    private readonly ILeadEventSink[] _handlers = [.. handlers];
    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ContactSchedule _schedule = new();
    private readonly Dictionary<string, int> _roundRobin = new(StringComparer.Ordinal);
    private readonly Lock _roundRobinGate = new();
    private RuleIndex? _byKind;

    public Instant? NextDue => _schedule.Next;

    public async ValueTask<ContactScores> GetScoresAsync(ContactId contactId, CancellationToken cancellationToken = default) =>
        (await ExplainAsync(contactId, cancellationToken).ConfigureAwait(false)).Scores;

    public async ValueTask<ScoreExplanation> ExplainAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        var contact = await store.GetAsync(contactId, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException("contact", contactId.ToString());
        var ledger = await ledgers.GetAsync(contactId, cancellationToken).ConfigureAwait(false) ?? new ScoreLedger { ContactId = contactId };
        return ScoreCalculator.Explain(models.Current, contact, ledger.Entries, ledger.ThresholdsEntered, clock.GetCurrentInstant(), evaluator);
    }

    public async ValueTask<ContactScores> RescoreAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        var history = new List<BehaviourEvent>();
        await foreach (var e in events.ListAsync(contactId, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            history.Add(e);
        }

        var entries = ScoreCalculator.Match(models.Current, history);
        await ScoreAsync(contactId, clock.GetCurrentInstant(), l => l with { Entries = entries }, cancellationToken).ConfigureAwait(false);
        return await GetScoresAsync(contactId, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> AdvanceAsync(Instant now, CancellationToken cancellationToken = default)
    {
        var due = _schedule.TakeDue(now);
        foreach (var (id, _) in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await ScoreAsync(id, now, null, cancellationToken).ConfigureAwait(false);
        }

        return due.Count;
    }

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        List<ScoreLedgerEntry>? matched = null;
        foreach (var rule in RulesFor(behaviourEvent.Kind))
        {
            if (FilterEvaluator.MatchesEvent(behaviourEvent, rule.EventKind, rule.Where))
            {
                (matched ??= []).Add(new ScoreLedgerEntry(rule.Id, behaviourEvent.EventId, behaviourEvent.OccurredAt, rule.Points));
            }
        }

        if (ScoreAdjustment.EntryOf(behaviourEvent) is { } adjustment)
        {
            (matched ??= []).Add(adjustment);
        }

        if (matched is null)
        {
            return ValueTask.CompletedTask;
        }

        return ScoreAsync(
            behaviourEvent.ContactId,
            clock.GetCurrentInstant(),
            ledger => Contains(ledger.Entries, behaviourEvent.EventId) ? ledger : ledger with { Entries = [.. ledger.Entries, .. matched] },
            cancellationToken);
    }

    private static bool Contains(IReadOnlyList<ScoreLedgerEntry> entries, string eventId)
    {
        for (var i = 0; i < entries.Count; i++)
        {
            if (string.Equals(entries[i].EventId, eventId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The current model's behaviour rules for one event kind, in model order (indexed once per model).</summary>
    private BehaviourRule[] RulesFor(string kind)
    {
        var model = models.Current;
        var index = _byKind;
        if (index is null || !ReferenceEquals(index.Model, model))
        {
            var byKind = new Dictionary<string, BehaviourRule[]>(StringComparer.Ordinal);
            foreach (var group in model.BehaviourRules.GroupBy(r => r.EventKind, StringComparer.Ordinal))
            {
                byKind[group.Key] = [.. group];
            }

            _byKind = index = new RuleIndex(model, byKind);
        }

        return index.Rules.TryGetValue(kind, out var rules) ? rules : [];
    }

    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var model = models.Current;
        // Only fit can change with the profile; without fit rules a contact is scored by its first matching event.
        var affected = model.FitRules.Count > 0
            && (change.Previous is null || model.FitRules.Any(r => ContactDiff.Affects(FilterReads.Of(r.Condition), change.Previous, change.Current)));
        return affected
            ? ScoreAsync(change.Current.Id, clock.GetCurrentInstant(), null, cancellationToken)
            : ValueTask.CompletedTask;
    }

    private async ValueTask ScoreAsync(ContactId id, Instant now, Func<ScoreLedger, ScoreLedger>? change, CancellationToken cancellationToken)
    {
        var model = models.Current;
        var gate = _locks[(id.GetHashCode() & int.MaxValue) % _locks.Length];
        Contact? contact;
        ScoreExplanation explanation;
        List<(ScoreThreshold Threshold, bool Entered, decimal Score)> crossings = [];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            contact = await store.GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (contact is null)
            {
                _schedule.Set(id, null);
                return;
            }

            var before = await ledgers.GetAsync(id, cancellationToken).ConfigureAwait(false) ?? new ScoreLedger { ContactId = id };
            var ledger = change?.Invoke(before) ?? before;
            explanation = ScoreCalculator.Explain(model, contact, ledger.Entries, ledger.ThresholdsEntered, now, evaluator);
            var inside = new List<string>(ledger.ThresholdsEntered);
            foreach (var threshold in model.Thresholds)
            {
                var score = Compared(threshold, explanation.Scores);
                var isInside = inside.Contains(threshold.Id, StringComparer.Ordinal);
                if (!isInside && score >= threshold.Enter)
                {
                    inside.Add(threshold.Id);
                    crossings.Add((threshold, true, score));
                }
                else if (isInside && score < (threshold.Exit ?? threshold.Enter))
                {
                    inside.Remove(threshold.Id);
                    crossings.Add((threshold, false, score));
                }
            }

            ledger = ledger with { ThresholdsEntered = inside };
            explanation = explanation with { ThresholdsEntered = inside };
            if (!ReferenceEquals(ledger, before) || crossings.Count > 0)
            {
                await ledgers.SaveAsync(ledger, cancellationToken).ConfigureAwait(false);
            }

            _schedule.Set(id, NextCrossing(model, ledger, explanation.Scores, now));
        }
        finally
        {
            gate.Release();
        }

        var scores = explanation.Scores;
        var assignments = new List<(ScoreThreshold Threshold, string Assignee, decimal Score)>();
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
                assignments.Add((threshold, assignee, score));
            }
        }

        var previousOwner = contact.OwnerId;
        var newOwner = assignments.Count > 0 ? assignments[^1].Assignee : previousOwner;
        var old = contact.Scores;
        if (old is null || old.Behaviour != scores.Behaviour || old.Fit != scores.Fit || old.Grade != scores.Grade || stage is not null || newOwner != previousOwner)
        {
            await contacts.UpdateAsync(
                id,
                c =>
                {
                    var updated = c.Scores is { } current && current.AsOf > scores.AsOf ? c : c with { Scores = scores };
                    if (stage is { } s && s > c.Stage)
                    {
                        updated = updated with { Stage = s, StageHistory = [.. c.StageHistory, new StageChange(c.Stage, s, now, reason)] };
                    }

                    return newOwner != previousOwner ? updated with { OwnerId = newOwner } : updated;
                },
                cancellationToken).ConfigureAwait(false);
        }

        foreach (var (threshold, entered, score) in crossings)
        {
            await RaiseAsync(new ThresholdCrossed { ContactId = id, ThresholdId = threshold.Id, At = now, Score = score, Entered = entered }, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (threshold, assignee, score) in assignments)
        {
            await RaiseAsync(new LeadAssigned { ContactId = id, ThresholdId = threshold.Id, At = now, Score = score, AssigneeId = assignee, PreviousOwnerId = previousOwner, Explanation = explanation }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A model's behaviour rules by event kind; replaced as a whole when the model changes.</summary>
    private sealed record RuleIndex(ScoringModel Model, Dictionary<string, BehaviourRule[]> Rules);

    private static decimal Compared(ScoreThreshold threshold, ContactScores scores) =>
        threshold.Score == ScoreKind.Total ? scores.Total : scores.Behaviour;

    /// <summary>When the decaying behaviour score next crosses a threshold boundary (score(t) = score(now)·2^(−Δ/H) between events).</summary>
    private static Instant? NextCrossing(ScoringModel model, ScoreLedger ledger, ContactScores scores, Instant now)
    {
        if (model.HalfLife is not { } halfLife || model.Thresholds.Count == 0 || ledger.Entries.Count == 0)
        {
            return null;
        }

        var raw = ScoreCalculator.RawBehaviour(model, ledger.Entries, now);
        Instant? next = null;
        foreach (var threshold in model.Thresholds)
        {
            var inside = ledger.ThresholdsEntered.Contains(threshold.Id, StringComparer.Ordinal);
            var offset = threshold.Score == ScoreKind.Total ? (double)scores.Fit : 0d;
            // The compared score is a sum of values rounded to 4 decimals: aim past the boundary by the most rounding can add.
            var margin = 0.00005 * (ledger.Entries.Count + 1);
            var target = (double)(inside ? threshold.Exit ?? threshold.Enter : threshold.Enter) - offset + (inside ? -margin : margin);

            // Leaving: a positive score decays below a positive target. Entering: a negative score rises to a negative target.
            var reaches = inside ? raw >= target && target > 0 : raw < target && target < 0;
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
