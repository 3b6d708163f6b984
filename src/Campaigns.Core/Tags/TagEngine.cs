using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tags;

/// <summary>
/// Keeps rule-based tags (F-3.3) on contacts: a rule tag is on a contact exactly while its condition holds. Driven by
/// ingest (it is an <see cref="IContactChangeListener"/>) and by time through <see cref="AdvanceAsync"/>. Thread-safe.
/// </summary>
/// <remarks>
/// <para>Rule tags carry <see cref="TagSource.Rule"/>, the group id, and <c>tag-rule:{id}</c> as
/// <see cref="ContactTag.AssignedBy"/>; the engine owns exactly those entries and never touches manual, import or
/// campaign tags (so a contact keeps every campaign's tag, F-3.5).</para>
/// <para>Time: when a rule holds, the tag's <see cref="ContactTag.ExpiresAt"/> is set to the first instant the
/// condition stops holding if nothing else happens (e.g. one nanosecond after the older of two events leaves a 30-day
/// window), so every reader sees the tag vanish at the exact instant. The engine also keeps a schedule of the next
/// instant each contact's rule tags can change; <see cref="AdvanceAsync"/> re-evaluates only those contacts — never a
/// scan of all contacts — and physically removes lapsed tags or adds tags whose conditions became true with time.</para>
/// </remarks>
public interface ITagEngine
{
    /// <summary>The earliest instant a contact is scheduled for re-evaluation, or null when none is.</summary>
    Instant? NextDue { get; }

    /// <summary>Re-evaluates every rule on one contact now (clock instant) and stores the result.</summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The contact as stored afterwards.</returns>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    ValueTask<Contact> EvaluateAsync(ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-evaluates the contacts whose scheduled instant is at or before <paramref name="now"/>, at
    /// <paramref name="now"/>. Call it with the clock's instant, e.g. from a timer or hosted service; calling it late is
    /// harmless (tags already expired by their <see cref="ContactTag.ExpiresAt"/>).
    /// </summary>
    /// <param name="now">The instant, normally the clock's.</param>
    /// <param name="cancellationToken">Cancels the call between contacts.</param>
    /// <returns>How many contacts were re-evaluated.</returns>
    ValueTask<int> AdvanceAsync(Instant now, CancellationToken cancellationToken = default);

    /// <summary>
    /// The usage report (F-3.4): per tag definition, how many contacts carry it now and when it was last assigned;
    /// unused tags (no contact) and stale tags (carried, but not assigned to anyone for longer than
    /// <paramref name="staleAfter"/>). Streams every contact once.
    /// </summary>
    /// <param name="staleAfter">How long a tag may go without a new assignment; 90 days when null.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    ValueTask<TagUsageReport> ReportAsync(Duration? staleAfter = null, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="ITagEngine"/>.</summary>
internal sealed class TagEngine(TagCatalog catalog, IContactService contacts, IContactStore store, IEventStore events, IClock clock, FilterEvaluator evaluator)
    : ITagEngine, IContactChangeListener, IContactChangeContributor
{
    private const int MaxProbes = 256;

    [ThreadStatic]
    private static BehaviourWindow.Outcome[]? t_outcomes;

    [ThreadStatic]
    private static bool[]? t_groupDone;

    [ThreadStatic]
    private static List<ContactTag>? t_result;

    private readonly ContactSchedule _schedule = new();
    private Tuple<IReadOnlyList<CompiledTagRule>, RulePlan>? _fullPlan;
    private Tuple<IReadOnlyList<CompiledTagRule>, FilterReads>? _union;

    public Instant? NextDue => _schedule.Next;

    public async ValueTask<Contact> EvaluateAsync(ContactId contactId, CancellationToken cancellationToken = default) =>
        await ProcessAsync(contactId, clock.GetCurrentInstant(), cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("contact", contactId.ToString());

    public async ValueTask<int> AdvanceAsync(Instant now, CancellationToken cancellationToken = default)
    {
        var due = _schedule.TakeDue(now);
        foreach (var (id, _) in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await ProcessAsync(id, now, cancellationToken).ConfigureAwait(false);
        }

        return due.Count;
    }

    public async ValueTask<TagUsageReport> ReportAsync(Duration? staleAfter = null, CancellationToken cancellationToken = default)
    {
        var now = clock.GetCurrentInstant();
        var limit = staleAfter ?? Duration.FromDays(90);
        var definitions = catalog.Models.SelectMany(m => m.Groups.SelectMany(g => g.Tags.Select(t => (Tag: t, Group: g)))).ToList();
        var counts = new long[definitions.Count];
        var last = new Instant?[definitions.Count];
        var byRule = new Dictionary<string, int>(StringComparer.Ordinal);
        var byName = new Dictionary<(string Group, string Name), int>();
        for (var i = 0; i < definitions.Count; i++)
        {
            byRule[TagCatalog.RulePrefix + definitions[i].Tag.Id] = i;
            byName.TryAdd((definitions[i].Group.Id, definitions[i].Tag.Name), i);
        }

        await foreach (var contact in store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            var seen = new HashSet<int>();
            foreach (var tag in contact.Tags)
            {
                var index = tag.Source == TagSource.Rule && tag.AssignedBy is { } by && byRule.TryGetValue(by, out var r) ? r
                    : tag.Group is { } group && byName.TryGetValue((group, tag.Tag), out var n) ? n
                    : -1;
                if (index < 0)
                {
                    continue;
                }

                if (last[index] is not { } previous || tag.AssignedAt > previous)
                {
                    last[index] = tag.AssignedAt;
                }

                if ((tag.ExpiresAt is not { } expires || expires > now) && seen.Add(index))
                {
                    counts[index]++;
                }
            }
        }

        var rows = new List<TagUsage>(definitions.Count);
        for (var i = 0; i < definitions.Count; i++)
        {
            var (tag, group) = definitions[i];
            var unused = counts[i] == 0;
            var stale = !unused && last[i] is { } at && now - at > limit;
            rows.Add(new TagUsage(tag.Id, tag.Name, group.Id, tag.Owner, counts[i], last[i], unused, stale));
        }

        return new TagUsageReport(now, rows);
    }

    public async ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        // One check against what any rule reads (the union), not one per rule: a change no rule reads costs one diff.
        var rules = catalog.Rules;
        var union = _union;
        if (union is null || !ReferenceEquals(union.Item1, rules))
        {
            _union = union = Tuple.Create(rules, ReadsUnion.Of(rules.Select(r => r.Reads)));
        }

        if (rules.Count > 0 && ContactDiff.Affects(union.Item2, change.Previous, change.Current))
        {
            await ProcessAsync(change.Current.Id, clock.GetCurrentInstant(), cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);

        // Only the rules that read the event's kind can change: the others keep their tags, expiries and scheduled instants.
        return catalog.RulesReading(behaviourEvent.Kind) is { } reading
            ? ProcessPartAsync(behaviourEvent.ContactId, clock.GetCurrentInstant(), reading, cancellationToken)
            : ValueTask.CompletedTask;
    }

    public ValueTask ContributeAsync(BehaviourEvent behaviourEvent, PendingContactUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ArgumentNullException.ThrowIfNull(update);
        return catalog.RulesReading(behaviourEvent.Kind) is { } reading
            ? ProcessPartAsync(behaviourEvent.ContactId, clock.GetCurrentInstant(), reading, cancellationToken, update)
            : ValueTask.CompletedTask;
    }

    private ValueTask ProcessPartAsync(ContactId id, Instant now, KindRules reading, CancellationToken cancellationToken, PendingContactUpdate? update = null)
    {
        // No second state machine when the evaluation completed synchronously (always, with the in-memory stores).
        var task = ProcessAsync(id, now, reading, cancellationToken, update);
        if (task.IsCompletedSuccessfully)
        {
            _ = task.Result;
            return ValueTask.CompletedTask;
        }

        return new ValueTask(task.AsTask());
    }

    private ValueTask<Contact?> ProcessAsync(ContactId id, Instant now, CancellationToken cancellationToken) =>
        ProcessAsync(id, now, null, cancellationToken);

    /// <summary>
    /// Evaluates the rules of <paramref name="part"/> (every rule when null) on the contact at <paramref name="now"/> and
    /// stores the tags when they changed. A partial evaluation leaves the tags of the other rules as they are and only
    /// brings the contact's scheduled instant forward (an early instant is harmless: it runs a full evaluation). With
    /// <paramref name="update"/> the tags are not written here but added to the event's one pending contact update.
    /// </summary>
    private async ValueTask<Contact?> ProcessAsync(ContactId id, Instant now, KindRules? part, CancellationToken cancellationToken, PendingContactUpdate? update = null)
    {
        IReadOnlyList<CompiledTagRule> rules = part is null ? catalog.Rules : part.Rules;
        var contact = await store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        if (contact is null)
        {
            _schedule.Set(id, null);
            return null;
        }

        // With the in-memory store the contact's events are read in place under its lock (no copy per event): history
        // stays null and a recomputation on a changed contact reads them again.
        IReadOnlyList<BehaviourEvent>? history = [];
        var memory = events as InMemoryEventStore;
        var partial = part is not null;
        (IReadOnlyList<ContactTag>? Tags, Instant? Next) computed;
        if (!partial && !AnyReadsEvents(rules))
        {
            computed = Compute(contact, history, now, rules, partial, part);
        }
        else if (memory is not null)
        {
            history = null;
            computed = ComputeInPlace(memory, contact, now, rules, part);
        }
        else
        {
            var list = new List<BehaviourEvent>();
            await foreach (var e in events.ListAsync(id, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (part is null || part.Kinds.Contains(e.Kind))
                {
                    list.Add(e);
                }
            }

            history = list;
            computed = Compute(contact, history, now, rules, partial, part);
        }

        var (tags, next) = computed;
        if (partial)
        {
            _schedule.Advance(id, next);
        }
        else
        {
            _schedule.Set(id, next);
        }

        if (tags is null)
        {
            return contact;
        }

        var change = new TagChange(this, contact, history, memory, now, rules, part, tags);
        if (update is not null)
        {
            update.Add(change);
            return contact;
        }

        return await contacts.UpdateAsync(id, change.Apply, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The rule tags computed on <c>read</c>; they hold unless another writer changed the contact meanwhile (or a part before
    /// this one in a pending update did), and then they are computed again on the contact given (over <c>history</c>, or
    /// when it is null over the in-memory store's events read in place again).
    /// </summary>
    private sealed class TagChange(TagEngine engine, Contact read, IReadOnlyList<BehaviourEvent>? history, InMemoryEventStore? memory, Instant now, IReadOnlyList<CompiledTagRule> rules, KindRules? part, IReadOnlyList<ContactTag> tags)
        : ContactContribution
    {
        public override Contact Apply(Contact contact)
        {
            if (ReferenceEquals(contact, read))
            {
                return contact with { Tags = tags };
            }

            var fresh = history is null
                ? engine.ComputeInPlace(memory!, contact, now, rules, part).Tags
                : engine.Compute(contact, history, now, rules, part is not null, part).Tags;
            return fresh is null ? contact : contact with { Tags = fresh };
        }

        public override bool TryEdit(Contact contact, ref ContactEdit edit)
        {
            // Only the tags computed on the contact as read (the common case); otherwise Apply recomputes them.
            if (!ReferenceEquals(contact, read) || !ReferenceEquals(edit.Tags, contact.Tags))
            {
                return false;
            }

            edit.Tags = tags;
            return true;
        }
    }

    /// <summary><see cref="Compute"/> over the in-memory store's events of the contact, read in place under the contact's lock (no copy).</summary>
    private (IReadOnlyList<ContactTag>? Tags, Instant? Next) ComputeInPlace(InMemoryEventStore memory, Contact contact, Instant now, IReadOnlyList<CompiledTagRule> rules, KindRules? part) =>
        memory.Read(
            contact.Id,
            (Engine: this, Contact: contact, Now: now, Rules: rules, Part: part),
            static (s, history) => s.Engine.Compute(s.Contact, history, s.Now, s.Rules, s.Part is not null, s.Part));

    private static bool AnyReadsEvents(IReadOnlyList<CompiledTagRule> rules)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].Reads.EventKinds.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The contact's tags with the rule tags as they should be at <paramref name="now"/> (null when unchanged), and the next instant to look again.</summary>
    /// <remarks>When <paramref name="partial"/>, only the owned tags of <paramref name="rules"/> are recomputed; other rules' tags are kept.</remarks>
    private (IReadOnlyList<ContactTag>? Tags, Instant? Next) Compute(Contact contact, IReadOnlyList<BehaviourEvent> history, Instant now, IReadOnlyList<CompiledTagRule> rules, bool partial, KindRules? part)
    {
        // Behaviour rules counting one kind over one window with an equality on one property are evaluated together.
        var plan = PlanOf(rules, part);
        BehaviourWindow.Outcome[]? outcomes = null;
        bool[]? groupDone = null;
        if (plan.Groups.Length > 0)
        {
            outcomes = t_outcomes is { } o && o.Length >= rules.Count ? o : t_outcomes = new BehaviourWindow.Outcome[Math.Max(rules.Count, 16)];
            groupDone = t_groupDone is { } d && d.Length >= plan.Groups.Length ? d : t_groupDone = new bool[Math.Max(plan.Groups.Length, 8)];
            Array.Clear(groupDone, 0, plan.Groups.Length);
        }

        // The tags are gathered in this thread's scratch list (Compute does not nest) and copied out only when they changed.
        var stored = contact.Tags;
        var result = t_result ??= [];
        result.Clear();
        for (var i = 0; i < stored.Count; i++)
        {
            var tag = stored[i];
            if (!IsOwned(tag) || (partial && !IsOf(tag, rules)))
            {
                result.Add(tag);
            }
        }

        Instant? next = null;
        var zone = evaluator.DefaultZone;
        SortedSet<Instant>? candidates = null;
        for (var r = 0; r < rules.Count; r++)
        {
            var rule = rules[r];
            if (!rule.Tag.Enabled)
            {
                continue;
            }

            var condition = rule.Tag.Condition!;
            Instant? until = null;
            if (condition is BehaviourFilter behaviour)
            {
                // The common shape (count of events within a window): one pass and binary searches, same results.
                BehaviourWindow.Outcome outcome;
                if (plan.GroupOf[r] is var g and >= 0)
                {
                    if (!groupDone![g])
                    {
                        BehaviourWindow.EvaluateGroup(plan.Groups[g], contact.Id, history, now, MaxProbes, outcomes!);
                        groupDone[g] = true;
                    }

                    outcome = outcomes![r];
                }
                else
                {
                    outcome = BehaviourWindow.Evaluate(behaviour, contact.Id, history, now, MaxProbes);
                }

                next = Earliest(next, outcome.Next);
                if (!outcome.Holds || TagCatalog.RenderName(rule, contact) is not { } rendered)
                {
                    continue;
                }

                until = outcome.Until;
                AddRuleTag(result, contact, rule, rendered, now, until, ref next);
                continue;
            }

            candidates ??= [];
            candidates.Clear();
            TimeBoundaries.Collect(condition, contact, history, now, zone, candidates);
            if (candidates.Count > 0)
            {
                next = Earliest(next, candidates.Min);
            }

            if (!evaluator.Matches(condition, contact, history, now) || TagCatalog.RenderName(rule, contact) is not { } name)
            {
                continue;
            }

            var probes = 0;
            foreach (var candidate in candidates)
            {
                if (++probes > MaxProbes)
                {
                    break;
                }

                if (!evaluator.Matches(condition, contact, history, candidate))
                {
                    until = candidate;
                    break;
                }
            }

            AddRuleTag(result, contact, rule, name, now, until, ref next);
        }

        var changed = SameTags(result, contact.Tags) ? null : result.ToArray();
        result.Clear();
        return (changed, next);
    }

    private RulePlan PlanOf(IReadOnlyList<CompiledTagRule> rules, KindRules? part)
    {
        if (part is not null && ReferenceEquals(rules, part.Rules))
        {
            return part.Plan;
        }

        var cached = _fullPlan;
        if (cached is null || !ReferenceEquals(cached.Item1, rules))
        {
            _fullPlan = cached = Tuple.Create(rules, RulePlan.Of(rules));
        }

        return cached.Item2;
    }

    /// <summary>Adds the rule's tag as it holds now (keeping the assignment instant of the tag it continues), and its expiry to <paramref name="next"/>.</summary>
    private static void AddRuleTag(List<ContactTag> result, Contact contact, CompiledTagRule rule, string name, Instant now, Instant? until, ref Instant? next)
    {
        ContactTag? existing = null;
        var tags = contact.Tags;
        for (var i = 0; i < tags.Count; i++)
        {
            var t = tags[i];
            if (IsOwned(t) && t.AssignedBy == rule.AssignedBy && t.Tag == name && (t.ExpiresAt is not { } e || e > now))
            {
                existing = t;
                break;
            }
        }

        var assignedAt = existing?.AssignedAt ?? now;
        var expires = rule.Tag.Validity is { } validity ? Earliest(until, assignedAt + validity) : until;
        if (expires is { } x)
        {
            next = Earliest(next, x);
        }

        // The found tag already has this name, source and rule (see above); equal in the other fields it is the tag to add.
        if (existing is not null && existing.AssignedAt == assignedAt && existing.ExpiresAt == expires && existing.CampaignId is null
            && string.Equals(existing.Group, rule.GroupId, StringComparison.Ordinal))
        {
            result.Add(existing); // unchanged: no new record (the common case on an event that keeps the tag)
            return;
        }

        result.Add(new ContactTag
        {
            Tag = name,
            Group = rule.GroupId,
            Source = TagSource.Rule,
            AssignedBy = rule.AssignedBy,
            AssignedAt = assignedAt,
            ExpiresAt = expires,
        });
    }

    private static bool IsOf(ContactTag tag, IReadOnlyList<CompiledTagRule> rules)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            if (string.Equals(tag.AssignedBy, rules[i].AssignedBy, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether two tag lists hold the same tags (in any order); the lists are short, so no set is built.</summary>
    private static bool SameTags(List<ContactTag> computed, IReadOnlyList<ContactTag> stored)
    {
        if (computed.Count != stored.Count)
        {
            return false;
        }

        for (var c = 0; c < computed.Count; c++)
        {
            var tag = computed[c];
            var found = false;
            for (var i = 0; i < stored.Count && !found; i++)
            {
                found = tag.Equals(stored[i]);
            }

            if (!found)
            {
                return false;
            }
        }

        for (var i = 0; i < stored.Count; i++)
        {
            if (!computed.Contains(stored[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsOwned(ContactTag tag) =>
        tag.Source == TagSource.Rule && tag.AssignedBy is { } by && by.StartsWith(TagCatalog.RulePrefix, StringComparison.Ordinal);

    private static Instant? Earliest(Instant? a, Instant? b) => a is null ? b : b is null ? a : Instant.Min(a.Value, b.Value);
}

/// <summary>The union of what several filters read: a change affects the union exactly when it affects one of them.</summary>
internal static class ReadsUnion
{
    public static FilterReads Of(IEnumerable<FilterReads> all)
    {
        HashSet<string> fields = new(StringComparer.Ordinal), tags = new(StringComparer.Ordinal), groups = new(StringComparer.Ordinal),
            kinds = new(StringComparer.Ordinal), channels = new(StringComparer.Ordinal), segments = new(StringComparer.Ordinal);
        bool scores = false, grade = false, stage = false, time = false;
        foreach (var r in all)
        {
            fields.UnionWith(r.Fields);
            tags.UnionWith(r.Tags);
            groups.UnionWith(r.TagGroups);
            kinds.UnionWith(r.EventKinds);
            channels.UnionWith(r.Channels);
            segments.UnionWith(r.Segments);
            scores |= r.Scores;
            grade |= r.Grade;
            stage |= r.Stage;
            time |= r.TimeRelative;
        }

        return new FilterReads
        {
            Fields = fields, Tags = tags, TagGroups = groups, EventKinds = kinds, Channels = channels, Segments = segments,
            Scores = scores, Grade = grade, Stage = stage, TimeRelative = time,
        };
    }
}
