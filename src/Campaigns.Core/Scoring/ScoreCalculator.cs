using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Scoring;

/// <summary>One event's points under a behaviour rule.</summary>
/// <param name="EventId">The event.</param>
/// <param name="OccurredAt">When it happened.</param>
/// <param name="RulePoints">The rule's points per event.</param>
/// <param name="Awarded">The points after the rule's cap (0 when the cap was already reached).</param>
/// <param name="Current">The awarded points decayed to the explanation's instant, rounded to 4 decimals.</param>
public sealed record EarnedPoints(string EventId, Instant OccurredAt, decimal RulePoints, decimal Awarded, decimal Current);

/// <summary>What one behaviour rule contributes to a behaviour score.</summary>
/// <param name="RuleId">The rule.</param>
/// <param name="Name">Its name.</param>
/// <param name="Points">The sum of <see cref="EarnedPoints.Current"/> of its events.</param>
/// <param name="Events">The events that earned (or were capped), oldest first.</param>
public sealed record RuleContribution(string RuleId, string? Name, decimal Points, IReadOnlyList<EarnedPoints> Events);

/// <summary>What one fit rule contributes to the fit score.</summary>
/// <param name="RuleId">The rule.</param>
/// <param name="Name">Its name.</param>
/// <param name="Points">Its points (the contact satisfies its condition).</param>
public sealed record FitContribution(string RuleId, string? Name, decimal Points);

/// <summary>
/// Why a contact has its score (F-4.5): the scores, every behaviour rule with the events that earned each point, and the
/// fit rules that hold. <see cref="ContactScores.Behaviour"/> is the sum of the rules' <see cref="RuleContribution.Points"/>.
/// </summary>
/// <param name="ContactId">The contact.</param>
/// <param name="Scores">The scores as of <see cref="ContactScores.AsOf"/>.</param>
/// <param name="Behaviour">The behaviour rules that matched at least one event, in model order.</param>
/// <param name="Fit">The fit rules that hold, in model order.</param>
/// <param name="ThresholdsEntered">The thresholds the contact is inside of.</param>
public sealed record ScoreExplanation(ContactId ContactId, ContactScores Scores, IReadOnlyList<RuleContribution> Behaviour, IReadOnlyList<FitContribution> Fit, IReadOnlyList<string> ThresholdsEntered);

/// <summary>
/// The reference computation of scores from scratch (F-4): which events match which behaviour rules, caps per period,
/// decay by half-life, fit and grade. The scoring engine gives the same results incrementally. Pure and thread-safe.
/// </summary>
/// <remarks>
/// Behaviour: each event matching a rule (kind and property conditions, evaluated by
/// <see cref="FilterEvaluator.MatchesEvent"/>) earns the rule's points, limited by the rule's cap per period; its
/// current value is <c>awarded × 2^(−max(0, now − occurredAt) / halfLife)</c> rounded to 4 decimals (away from zero), and
/// the behaviour score is the sum of current values. Fit: the sum of the points of the fit rules whose condition holds.
/// Grade: the first band whose minimum the fit reaches, else the last band.
/// </remarks>
public static class ScoreCalculator
{
    /// <summary>The ledger entries of <paramref name="events"/> under the model's behaviour rules.</summary>
    /// <param name="model">The model.</param>
    /// <param name="events">The contact's events, in any order; duplicates by event id count once.</param>
    public static IReadOnlyList<ScoreLedgerEntry> Match(ScoringModel model, IEnumerable<BehaviourEvent> events)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(events);
        var entries = new List<ScoreLedgerEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (!seen.Add(e.EventId))
            {
                continue;
            }

            foreach (var rule in model.BehaviourRules)
            {
                if (FilterEvaluator.MatchesEvent(e, rule.EventKind, rule.Where))
                {
                    entries.Add(new ScoreLedgerEntry(rule.Id, e.EventId, e.OccurredAt, rule.Points));
                }
            }

            if (ScoreAdjustment.EntryOf(e) is { } adjustment)
            {
                entries.Add(adjustment);
            }
        }

        return entries;
    }

    /// <summary>Scores a contact from scratch.</summary>
    /// <param name="model">The model.</param>
    /// <param name="contact">The contact (for fit).</param>
    /// <param name="events">Its events.</param>
    /// <param name="now">The instant to decay to.</param>
    /// <param name="evaluator">The evaluator of fit conditions; <see cref="FilterEvaluator.Default"/> when null.</param>
    /// <param name="defaultZone">The zone of calendar-period caps for a contact without a time zone; UTC when null.</param>
    public static ContactScores Score(ScoringModel model, Contact contact, IEnumerable<BehaviourEvent> events, Instant now, FilterEvaluator? evaluator = null, DateTimeZone? defaultZone = null) =>
        Explain(model, contact, Match(model, events), [], now, evaluator, defaultZone).Scores;

    /// <summary>Explains a contact's score from its ledger entries.</summary>
    /// <param name="model">The model.</param>
    /// <param name="contact">The contact (for fit).</param>
    /// <param name="entries">Its ledger entries.</param>
    /// <param name="thresholdsEntered">The thresholds it is inside of.</param>
    /// <param name="now">The instant to decay to.</param>
    /// <param name="evaluator">The evaluator of fit conditions; <see cref="FilterEvaluator.Default"/> when null.</param>
    /// <param name="defaultZone">The zone of calendar-period caps for a contact without a time zone; UTC when null.</param>
    public static ScoreExplanation Explain(ScoringModel model, Contact contact, IReadOnlyList<ScoreLedgerEntry> entries, IReadOnlyList<string> thresholdsEntered, Instant now, FilterEvaluator? evaluator = null, DateTimeZone? defaultZone = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(entries);
        var zone = ZoneOf(contact, defaultZone);
        var rules = new List<RuleContribution>();
        var behaviour = 0m;
        var byRule = ByRule(entries);
        foreach (var rule in model.BehaviourRules)
        {
            if (!byRule.TryGetValue(rule.Id, out var mine))
            {
                continue;
            }

            var earned = Award(rule, mine, model.HalfLife, now, zone);
            var points = 0m;
            foreach (var e in earned)
            {
                points += e.Current;
            }

            behaviour += points;
            rules.Add(new RuleContribution(rule.Id, rule.Name, points, earned));
        }

        var adjusted = Adjustments(entries, model.HalfLife, now);
        if (adjusted.Count > 0)
        {
            var points = adjusted.Sum(e => e.Current);
            behaviour += points;
            rules.Add(new RuleContribution(ScoreAdjustment.RuleId, "Score adjustments (journeys, operators)", points, adjusted));
        }

        var (fit, fits) = Fit(model, contact, now, evaluator ?? FilterEvaluator.Default);
        return new ScoreExplanation(contact.Id, new ContactScores(behaviour, fit, GradeOf(model, fit), now), rules, fits, thresholdsEntered);
    }

    /// <summary>The decay factor <c>2^(−max(0, age) / halfLife)</c>, 1 without a half-life.</summary>
    /// <param name="halfLife">The half-life, or null.</param>
    /// <param name="age">The age of the points.</param>
    public static double DecayFactor(Duration? halfLife, Duration age) =>
        halfLife is { } h && age > Duration.Zero ? Math.Pow(2, -(age.TotalNanoseconds / h.TotalNanoseconds)) : 1d;

    /// <summary>The grade of a fit score.</summary>
    /// <param name="model">The model.</param>
    /// <param name="fit">The fit score.</param>
    public static string? GradeOf(ScoringModel model, decimal fit)
    {
        ArgumentNullException.ThrowIfNull(model);
        var grades = model.Grades;
        for (var i = 0; i < grades.Count; i++)
        {
            if (fit >= grades[i].MinFit)
            {
                return grades[i].Grade;
            }
        }

        return grades.Count > 0 ? grades[^1].Grade : null;
    }

    internal static (decimal Fit, List<FitContribution> Rules) Fit(ScoringModel model, Contact contact, Instant now, FilterEvaluator evaluator)
    {
        var fit = 0m;
        var rules = new List<FitContribution>();
        foreach (var rule in model.FitRules)
        {
            if (evaluator.Matches(rule.Condition, contact, [], now))
            {
                fit += rule.Points;
                rules.Add(new FitContribution(rule.Id, rule.Name, rule.Points));
            }
        }

        return (fit, rules);
    }

    private static List<EarnedPoints> Adjustments(IReadOnlyList<ScoreLedgerEntry> entries, Duration? halfLife, Instant now)
    {
        var earned = new List<EarnedPoints>();
        foreach (var entry in entries)
        {
            if (string.Equals(entry.RuleId, ScoreAdjustment.RuleId, StringComparison.Ordinal))
            {
                var current = Math.Round(entry.Points * (decimal)DecayFactor(halfLife, now - entry.OccurredAt), 4, MidpointRounding.AwayFromZero);
                earned.Add(new EarnedPoints(entry.EventId, entry.OccurredAt, entry.Points, entry.Points, current));
            }
        }

        return earned;
    }

    private static List<EarnedPoints> Award(BehaviourRule rule, List<ScoreLedgerEntry> mine, Duration? halfLife, Instant now, DateTimeZone zone)
    {
        var earned = new List<EarnedPoints>(mine.Count);
        var awards = Capped(rule, mine, zone);
        for (var i = 0; i < mine.Count; i++)
        {
            var entry = mine[i];
            var awarded = awards[i];
            var current = Math.Round(awarded * (decimal)DecayFactor(halfLife, now - entry.OccurredAt), 4, MidpointRounding.AwayFromZero);
            earned.Add(new EarnedPoints(entry.EventId, entry.OccurredAt, entry.Points, awarded, current));
        }

        return earned;
    }

    /// <summary>The zone calendar-period caps use for the contact: its own, else <paramref name="defaultZone"/>, else UTC.</summary>
    internal static DateTimeZone ZoneOf(Contact contact, DateTimeZone? defaultZone) =>
        contact.TimeZoneId is { } id && DateTimeZoneProviders.Tzdb.GetZoneOrNull(id) is { } zone ? zone : defaultZone ?? DateTimeZone.Utc;

    /// <summary>The cap period an instant falls in, as a number that is equal for instants of the same period and grows with time.</summary>
    internal static long PeriodOf(ScoreCap cap, Instant at, DateTimeZone zone)
    {
        if (cap.Calendar is not { } calendar)
        {
            var period = cap.Period.BclCompatibleTicks;
            var ticks = at.ToUnixTimeTicks();
            return ticks >= 0 ? ticks / period : ((ticks + 1) / period) - 1;
        }

        var date = at.InZone(zone).Date;
        return calendar switch
        {
            CalendarPeriod.Day => date.ToDateOnly().DayNumber,
            CalendarPeriod.Week => date.ToDateOnly().DayNumber - ((int)date.DayOfWeek - 1),
            CalendarPeriod.Month => (date.Year * 12L) + date.Month,
            _ => date.Year,
        };
    }

    /// <summary>The entries per rule id, each list oldest first (then by event id, ordinal). One pass over the ledger.</summary>
    private static Dictionary<string, List<ScoreLedgerEntry>> ByRule(IReadOnlyList<ScoreLedgerEntry> entries)
    {
        var byRule = new Dictionary<string, List<ScoreLedgerEntry>>(StringComparer.Ordinal);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (!byRule.TryGetValue(entry.RuleId, out var list))
            {
                byRule[entry.RuleId] = list = [];
            }

            list.Add(entry);
        }

        foreach (var list in byRule.Values)
        {
            if (list.Count > 1)
            {
                list.Sort(OldestFirst);
            }
        }

        return byRule;
    }

    internal static int OldestFirst(ScoreLedgerEntry a, ScoreLedgerEntry b)
    {
        var byTime = a.OccurredAt.CompareTo(b.OccurredAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.EventId, b.EventId);
    }

    /// <summary>The points each of the rule's entries (sorted oldest first) is awarded under the rule's cap, by index.</summary>
    private static decimal[] Capped(BehaviourRule rule, List<ScoreLedgerEntry> mine, DateTimeZone zone)
    {
        var awarded = new decimal[mine.Count];
        if (rule.Cap is not { } cap)
        {
            for (var i = 0; i < mine.Count; i++)
            {
                awarded[i] = mine[i].Points;
            }

            return awarded;
        }

        long? bucket = null;
        var remaining = 0m;
        for (var i = 0; i < mine.Count; i++)
        {
            var entry = mine[i];
            var b = PeriodOf(cap, entry.OccurredAt, zone);
            if (b != bucket)
            {
                bucket = b;
                remaining = cap.MaxPoints;
            }

            var magnitude = Math.Min(Math.Abs(entry.Points), remaining);
            remaining -= magnitude;
            awarded[i] = Math.Sign(entry.Points) * magnitude;
        }

        return awarded;
    }
}
