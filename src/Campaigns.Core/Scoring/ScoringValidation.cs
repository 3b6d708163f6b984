using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>Validates scoring models: every problem is a <see cref="RuleDefinitionException"/> naming the field and value.</summary>
public static class ScoringModelValidator
{
    /// <summary>Throws for the first problem of <paramref name="model"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="context">The attribute schema and event kinds the rules may use.</param>
    /// <exception cref="RuleDefinitionException">An unknown event kind or attribute, a duplicate id, zero points, a bad cap, grade, half-life or threshold.</exception>
    public static void ThrowIfInvalid(ScoringModel model, FilterContext context)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(context);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < model.BehaviourRules.Count; i++)
        {
            var rule = model.BehaviourRules[i];
            var path = $"behaviourRules[{I(i)}]";
            RequireId(rule?.Id, path, ids);
            RuleDefinitionException.ThrowIfInvalidEvent(rule!.EventKind, rule.Where, context, path);
            if (rule.Points == 0)
            {
                Fail(path + ".points", "0", "a rule must give or take points");
            }

            if (rule.Cap is { } cap)
            {
                if (cap.MaxPoints <= 0)
                {
                    Fail(path + ".cap.maxPoints", I(cap.MaxPoints), "the cap must be positive");
                }

                if (cap.Calendar is { } calendar)
                {
                    if (!Enum.IsDefined(calendar))
                    {
                        Fail(path + ".cap.calendar", calendar.ToString(), "not a calendar period (Day, Week, Month, Year)");
                    }

                    if (cap.Period != Duration.Zero)
                    {
                        Fail(path + ".cap.period", cap.Period.ToString(), "give either a fixed period or a calendar period, not both");
                    }
                }
                else if (cap.Period <= Duration.Zero)
                {
                    Fail(path + ".cap.period", cap.Period.ToString(), "the period must be positive (or set a calendar period)");
                }
            }
        }

        ids.Clear();
        for (var i = 0; i < model.FitRules.Count; i++)
        {
            var rule = model.FitRules[i];
            var path = $"fitRules[{I(i)}]";
            RequireId(rule?.Id, path, ids);
            RuleDefinitionException.ThrowIfInvalid(rule!.Condition, context, path + ".condition");
            var reads = FilterReads.Of(rule.Condition);
            if (reads.EventKinds.Count > 0)
            {
                Fail(path + ".condition", reads.EventKinds.First(), "fit rules score the profile; count behaviour with behaviour rules");
            }

            if (reads.Scores || reads.Grade)
            {
                Fail(path + ".condition", reads.Scores ? "score" : "grade", "a fit rule cannot read scores or grades");
            }
        }

        if (model.Grades.Count == 0)
        {
            Fail("grades", "[]", "at least one grade is needed");
        }

        ids.Clear();
        for (var i = 0; i < model.Grades.Count; i++)
        {
            var band = model.Grades[i];
            var path = $"grades[{I(i)}]";
            if (string.IsNullOrWhiteSpace(band?.Grade) || !ids.Add(band.Grade))
            {
                Fail(path + ".grade", band?.Grade, "grades must be non-blank and distinct");
            }

            if (i > 0 && band!.MinFit >= model.Grades[i - 1].MinFit)
            {
                Fail(path + ".minFit", I(band.MinFit), "grades must be listed best first with decreasing minimum fit");
            }
        }

        if (model.HalfLife is { } halfLife && halfLife <= Duration.Zero)
        {
            Fail("halfLife", halfLife.ToString(), "the half-life must be positive");
        }

        ids.Clear();
        for (var i = 0; i < model.Thresholds.Count; i++)
        {
            var threshold = model.Thresholds[i];
            var path = $"thresholds[{I(i)}]";
            RequireId(threshold?.Id, path, ids);
            if (threshold!.Score is not (ScoreKind.Behaviour or ScoreKind.Total))
            {
                Fail(path + ".score", threshold.Score.ToString(), "a threshold compares the behaviour or the total score");
            }

            if (threshold.Enter <= 0)
            {
                Fail(path + ".enter", I(threshold.Enter), "the threshold must be positive");
            }

            if (threshold.Exit is { } exit && exit > threshold.Enter)
            {
                Fail(path + ".exit", I(exit), $"the exit score must not exceed the enter score {I(threshold.Enter)}");
            }

            if (threshold.MoveToStage is { } stage && !Enum.IsDefined(stage))
            {
                Fail(path + ".moveToStage", stage.ToString(), "not a lifecycle stage");
            }

            if (threshold.Assignment is { } policy)
            {
                for (var a = 0; a < policy.Assignees.Count; a++)
                {
                    if (string.IsNullOrWhiteSpace(policy.Assignees[a]))
                    {
                        Fail($"{path}.assignment.assignees[{I(a)}]", policy.Assignees[a], "an assignee is blank");
                    }
                }

                if (policy.Mode == AssignmentMode.RoundRobin && policy.Assignees.Count == 0)
                {
                    Fail(path + ".assignment.assignees", "[]", "round robin needs at least one assignee");
                }

                if (policy.Mode == AssignmentMode.ByRegion && context.Schema.Find(policy.RegionAttribute) is null)
                {
                    Fail(path + ".assignment.regionAttribute", policy.RegionAttribute, "the schema has no such attribute");
                }
            }
        }
    }

    private static void RequireId(string? id, string path, HashSet<string> ids)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            Fail(path + ".id", id, "the id is blank");
        }

        if (!ids.Add(id!))
        {
            Fail(path + ".id", id, "the id is used twice");
        }
    }

    private static string I(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Fail(string field, string? value, string why) =>
        throw new RuleDefinitionException(field, value, $"Field '{field}': '{value}': {why}.");
}

/// <summary>Holds the current scoring model. Implementations are thread-safe.</summary>
public interface IScoringModelStore
{
    /// <summary>The current model (an empty model until one is set).</summary>
    ScoringModel Current { get; }

    /// <summary>Validates and replaces the model. Ledgers keep their events; call <see cref="IScoringEngine.RescoreAsync"/> to re-score contacts under new rules.</summary>
    /// <param name="model">The model.</param>
    /// <exception cref="RuleDefinitionException">The model is invalid; the current one is kept.</exception>
    void Replace(ScoringModel model);
}

/// <summary>The in-memory <see cref="IScoringModelStore"/>.</summary>
/// <param name="context">What rules are validated against.</param>
public sealed class InMemoryScoringModelStore(FilterContext context) : IScoringModelStore
{
    private ScoringModel _current = new();

    /// <inheritdoc />
    public ScoringModel Current => Volatile.Read(ref _current);

    /// <summary>What rules are validated against.</summary>
    public FilterContext Context { get; } = context ?? throw new ArgumentNullException(nameof(context));

    /// <inheritdoc />
    public void Replace(ScoringModel model)
    {
        ScoringModelValidator.ThrowIfInvalid(model, Context);
        Volatile.Write(ref _current, model);
    }
}

/// <summary>One event that matched a behaviour rule, as recorded in a contact's ledger (raw points, before caps and decay).</summary>
/// <param name="RuleId">The behaviour rule.</param>
/// <param name="EventId">The event.</param>
/// <param name="OccurredAt">When the event happened.</param>
/// <param name="Points">The rule's points at the time.</param>
public sealed record ScoreLedgerEntry(string RuleId, string EventId, Instant OccurredAt, decimal Points);

/// <summary>A contact's scoring ledger: the events that earned points and the thresholds the contact is inside of.</summary>
public sealed record ScoreLedger
{
    /// <summary>The contact.</summary>
    public required ContactId ContactId { get; init; }

    /// <summary>The entries, in arrival order.</summary>
    public IReadOnlyList<ScoreLedgerEntry> Entries { get; init; } = [];

    /// <summary>The ids of the thresholds the contact has entered and not left.</summary>
    public IReadOnlyList<string> ThresholdsEntered { get; init; } = [];
}

/// <summary>Stores scoring ledgers. Thread-safe; the scoring engine serializes writes per contact.</summary>
public interface IScoreLedgerStore
{
    /// <summary>The contact's ledger, or null when it has none.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<ScoreLedger?> GetAsync(ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>Stores the contact's ledger, replacing the previous one.</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask SaveAsync(ScoreLedger ledger, CancellationToken cancellationToken = default);
}

/// <summary>The in-memory <see cref="IScoreLedgerStore"/>. Thread-safe.</summary>
/// <remarks>
/// Each contact's ledger sits in a holder made on its first save; later saves replace the holder's reference with a
/// volatile write (last writer wins, as with a dictionary indexer) instead of a locked dictionary write, so the
/// scoring hot path takes no lock here.
/// </remarks>
public sealed class InMemoryScoreLedgerStore : IScoreLedgerStore
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ContactId, Holder> _ledgers = new();

    /// <inheritdoc />
    public ValueTask<ScoreLedger?> GetAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_ledgers.TryGetValue(contactId, out var holder) ? Volatile.Read(ref holder.Ledger) : null);
    }

    /// <inheritdoc />
    public ValueTask SaveAsync(ScoreLedger ledger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        cancellationToken.ThrowIfCancellationRequested();
        if (_ledgers.TryGetValue(ledger.ContactId, out var holder))
        {
            Volatile.Write(ref holder.Ledger, ledger);
        }
        else
        {
            // First save, or a race with another first save: whichever holder is in the dictionary gets this ledger.
            holder = _ledgers.GetOrAdd(ledger.ContactId, static (_, l) => new Holder(l), ledger);
            Volatile.Write(ref holder.Ledger, ledger);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>One contact's current ledger.</summary>
    private sealed class Holder(ScoreLedger ledger)
    {
        public ScoreLedger Ledger = ledger;
    }
}
