using System.Globalization;
using System.Numerics;
using Campaigns.Contacts;
using Campaigns.Segmentation.Engine;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>A contact entered or exited a live segment.</summary>
public sealed class SegmentMembershipChangedEventArgs : EventArgs
{
    internal SegmentMembershipChangedEventArgs(string segmentId, ContactId contactId, bool entered, Instant at)
    {
        SegmentId = segmentId;
        ContactId = contactId;
        Entered = entered;
        At = at;
    }

    /// <summary>The segment.</summary>
    public string SegmentId { get; }

    /// <summary>The contact.</summary>
    public ContactId ContactId { get; }

    /// <summary>True for SegmentEntered, false for SegmentExited.</summary>
    public bool Entered { get; }

    /// <summary>The instant membership was evaluated at.</summary>
    public Instant At { get; }
}

/// <summary>
/// Live segments over a <see cref="SegmentIndex"/> with incremental membership (F-5.3): a change to a contact
/// re-evaluates only that contact, and only for the segments that read what changed (contact data, or events of
/// one kind); time-relative predicates (<c>within 7d</c>, behaviour windows, tag expiry) are re-evaluated for a contact
/// at the instant its result can change, from a priority queue, when <see cref="AdvanceTo"/> passes it.
/// </summary>
/// <remarks>
/// Thread safety: all members are safe to call from any thread and are serialized by one internal lock;
/// <see cref="MembershipChanged"/> handlers run on the calling thread while the lock is held and must not call back
/// into the registry. Write contacts and events through the registry (not the index directly) to keep membership live.
/// </remarks>
public sealed class SegmentRegistry
{
    private readonly Lock _gate = new();
    private readonly SegmentIndex _index;
    private readonly Dictionary<string, Live> _segments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SegmentDefinition> _definitions = new(StringComparer.Ordinal);

    // The dependency index: the segments that read contact data (in order of definition; each has the change slots it
    // reads, see SegmentIndex.SlotOf), and per event kind the segments that count events of it.
    private readonly List<Live> _contactDependents = [];
    private readonly Dictionary<string, List<Live>> _eventDependents = new(StringComparer.Ordinal);
    private readonly PriorityQueue<(Live Segment, int Ordinal), long> _schedule = new();
    private int _dueCount;

    /// <summary>Creates a registry over an index.</summary>
    /// <param name="index">The index; the registry writes contacts and events into it.</param>
    public SegmentRegistry(SegmentIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        _index = index;
    }

    /// <summary>Raised for every contact that enters or exits a segment.</summary>
    public event EventHandler<SegmentMembershipChangedEventArgs>? MembershipChanged;

    /// <summary>The number of scheduled time-relative re-evaluations (one per contact and segment at most).</summary>
    public int ScheduledCount
    {
        get
        {
            lock (_gate)
            {
                return _dueCount;
            }
        }
    }

    /// <summary>
    /// The earliest instant at which <see cref="AdvanceTo"/> has work (a contact whose time-relative result may flip), or
    /// null when nothing is scheduled. A hosted worker sleeps until then (see <c>AddSegmentClockWorker</c>).
    /// </summary>
    public Instant? NextDue
    {
        get
        {
            lock (_gate)
            {
                while (_schedule.TryPeek(out var item, out var due))
                {
                    if (item.Segment.Due.TryGetValue(item.Ordinal, out var expected) && expected == due
                        && _segments.TryGetValue(item.Segment.Definition.Id, out var current) && current == item.Segment)
                    {
                        return Instant.FromUnixTimeTicks(due);
                    }

                    _schedule.Dequeue(); // superseded
                }

                return null;
            }
        }
    }

    /// <summary>
    /// Drops behaviour events no live segment can count any more: for each event kind that live segments read, the
    /// events that occurred before <paramref name="now"/> minus the longest window any of them counts that kind in.
    /// Kinds read without a window (all-time counts such as <c>never(purchase)</c> or <c>count(x) &gt;= 3</c>) and kinds
    /// no live segment reads are kept whole. Memberships do not change (the dropped events are outside every window);
    /// afterwards the index refuses events of a trimmed kind older than the cut, and evaluating a filter with a longer
    /// window, or at an earlier instant, sees only the kept events.
    /// </summary>
    /// <param name="now">The current instant.</param>
    /// <returns>The number of events dropped.</returns>
    public int TrimEvents(Instant now)
    {
        lock (_gate)
        {
            var longest = new Dictionary<string, Duration?>(StringComparer.Ordinal);
            foreach (var live in _segments.Values)
            {
                CollectWindows(live.Definition.Filter, longest, []);
            }

            var dropped = 0;
            foreach (var (kind, window) in longest)
            {
                if (window is { } w)
                {
                    dropped += _index.TrimEvents(kind, now - w);
                }
            }

            return dropped;
        }
    }

    private void CollectWindows(Filter filter, Dictionary<string, Duration?> longest, HashSet<string> visiting)
    {
        switch (filter)
        {
            case AndFilter a:
                foreach (var f in a.Operands)
                {
                    CollectWindows(f, longest, visiting);
                }

                break;
            case OrFilter o:
                foreach (var f in o.Operands)
                {
                    CollectWindows(f, longest, visiting);
                }

                break;
            case NotFilter n:
                CollectWindows(n.Operand, longest, visiting);
                break;
            case BehaviourFilter b:
                // null = all time: nothing of the kind may go.
                var w = b.Window?.Duration;
                longest[b.EventKind] = longest.TryGetValue(b.EventKind, out var seen)
                    ? (seen is { } x && w is { } y ? Duration.Max(x, y) : null)
                    : w;
                break;
            case SegmentFilter s when visiting.Add(s.SegmentId) && _definitions.TryGetValue(s.SegmentId, out var d):
                CollectWindows(d.Filter, longest, visiting);
                break;
        }
    }

    /// <summary>Entries in the time queue, superseded ones included (tests check it stays proportional to <see cref="ScheduledCount"/>).</summary>
    internal int QueueLength => _schedule.Count;

    /// <summary>Adds (or replaces) a live segment and evaluates it over the whole base at <paramref name="now"/>.</summary>
    /// <param name="definition">The definition; it may refer to segments defined before it.</param>
    /// <param name="now">The instant.</param>
    /// <exception cref="ArgumentException">The filter is invalid for the index (see <see cref="SegmentIndex.Evaluate"/>).</exception>
    public void Define(SegmentDefinition definition, Instant now)
    {
        ArgumentNullException.ThrowIfNull(definition);
        lock (_gate)
        {
            _definitions[definition.Id] = definition;
            var members = _index.Evaluate(definition.Filter, now, _definitions);
            if (_segments.Remove(definition.Id, out var old))
            {
                _dueCount -= old.Due.Count;
                old.ClearDue();
                RemoveDependent(old);
            }

            var live = new Live(definition, members.ToDense(_index.WordCount), members.Count);
            _segments[definition.Id] = live;
            var kinds = new HashSet<string>(StringComparer.Ordinal);
            var slots = new ulong[_index.ChangeWords];
            var timeRelative = false;
            CollectReads(definition.Filter, kinds, slots, [], ref timeRelative);
            live.TimeRelative = timeRelative;
            if (slots.AsSpan().ContainsAnyExcept(0UL))
            {
                live.ContactSlots = slots;
                live.ContactSlots0 = slots[0];
                _contactDependents.Add(live);
            }

            foreach (var kind in kinds)
            {
                if (!_eventDependents.TryGetValue(kind, out var list))
                {
                    _eventDependents[kind] = list = [];
                }

                list.Add(live);
            }

            var plan = PlanAt(live, now);
            if (live.TimeRelative)
            {
                for (var o = 0; o < _index.OrdinalCount; o++)
                {
                    if (_index.IsLive(o))
                    {
                        Schedule(live, o, plan.NextChange(o));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Drops a live segment: it stops being evaluated, its scheduled re-evaluations are discarded and its definition is
    /// forgotten. Its members do not exit (no <see cref="MembershipChanged"/> is raised): the segment no longer exists,
    /// so nothing is left to exit from. Take a snapshot first (<see cref="Members"/>) if the last membership matters.
    /// </summary>
    /// <param name="segmentId">The segment.</param>
    /// <returns>False when no live segment has that id.</returns>
    /// <exception cref="InvalidOperationException">Another live segment refers to it (<c>in_segment</c>); the message names them. Nothing changed.</exception>
    public bool Drop(string segmentId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(segmentId);
        lock (_gate)
        {
            if (!_segments.TryGetValue(segmentId, out var live))
            {
                return false;
            }

            ThrowIfReferenced(segmentId);
            _segments.Remove(segmentId);
            _definitions.Remove(segmentId);
            _dueCount -= live.Due.Count;
            live.ClearDue(); // queue entries left behind are superseded: AdvanceTo and NextDue skip them
            RemoveDependent(live);
            return true;
        }
    }

    /// <summary>Throws when another live segment refers to <paramref name="segmentId"/> (<c>in_segment</c>), naming them.</summary>
    /// <param name="segmentId">The segment about to be dropped.</param>
    /// <exception cref="InvalidOperationException">Another live segment refers to it.</exception>
    internal void ThrowIfReferenced(string segmentId)
    {
        lock (_gate)
        {
            var referrers = _segments.Values
                .Where(other => !string.Equals(other.Definition.Id, segmentId, StringComparison.Ordinal) && FilterReads.Of(other.Definition.Filter).Segments.Contains(segmentId))
                .Select(other => other.Definition.Id)
                .Order(StringComparer.Ordinal)
                .ToList();
            if (referrers.Count > 0)
            {
                throw new InvalidOperationException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"The segment '{segmentId}' cannot be dropped: {string.Join(", ", referrers.Select(r => "'" + r + "'"))} refer(s) to it with in_segment; drop or change those first."));
            }
        }
    }

    /// <summary>The current members of a live segment (a frozen copy).</summary>
    /// <param name="segmentId">The segment.</param>
    /// <param name="now">The instant to stamp the copy with.</param>
    public SegmentMemberSet Members(string segmentId, Instant now)
    {
        lock (_gate)
        {
            return _index.MemberSet(Get(segmentId).Words.ToArray(), now);
        }
    }

    /// <summary>The ids of the live segments, in the order they were first defined (a copy).</summary>
    public IReadOnlyList<string> SegmentIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _definitions.Keys.Where(_segments.ContainsKey)];
            }
        }
    }

    /// <summary>The definition of a live segment.</summary>
    /// <param name="segmentId">The segment.</param>
    public SegmentDefinition Definition(string segmentId)
    {
        lock (_gate)
        {
            return Get(segmentId).Definition;
        }
    }

    /// <summary>The number of members of a live segment: O(1).</summary>
    /// <param name="segmentId">The segment.</param>
    public int SizeOf(string segmentId)
    {
        lock (_gate)
        {
            return Get(segmentId).Count;
        }
    }

    /// <summary>
    /// Adds or changes a contact and re-evaluates it for the segments that read what changed: the index writes only the
    /// columns whose value differs from what it holds, and a segment is re-evaluated only when it reads one of them (a
    /// change of the scores alone re-evaluates only segments that read scores; a write that changes nothing the index
    /// holds re-evaluates none). A contact new to the index (or added again after <see cref="Remove"/>) is evaluated for
    /// every segment.
    /// </summary>
    /// <param name="contact">The contact.</param>
    /// <param name="now">The instant.</param>
    public void Upsert(Contact contact, Instant now) => Upsert(contact, null, now);

    /// <summary><see cref="Upsert(Contact, Instant)"/> with the version the contact was made from, when the index holds it
    /// (the live listener's <see cref="ContactChange.Previous"/>): families shared by reference are not compared.</summary>
    internal void Upsert(Contact contact, Contact? previous, Instant now)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_gate)
        {
            int o;
            bool wasLive;
            var words = _index.ChangeWords;
            Span<ulong> changed = words <= 16 ? stackalloc ulong[16] : new ulong[words];
            changed = changed[..words];
            changed.Clear();
            lock (_index.Gate)
            {
                o = _index.UpsertLocked(contact, previous, out wasLive, changed);
            }

            if (!wasLive)
            {
                // A new contact can match event-only filters such as "never did".
                var version = _index.DictionaryVersion;
                foreach (var live in _segments.Values)
                {
                    Reevaluate(live, o, now, version);
                }
            }
            else if (changed.ContainsAnyExcept(0UL))
            {
                var version = _index.DictionaryVersion;
                foreach (var live in _contactDependents)
                {
                    if (Reads(live, changed))
                    {
                        Reevaluate(live, o, now, version);
                    }
                }
            }
        }
    }

    /// <summary>Whether a segment reads one of the changed slots.</summary>
    private static bool Reads(Live live, ReadOnlySpan<ulong> changed)
    {
        // Word 0 (scores, grade, stage, owner, created_at, tags, consents and the first 57 attributes) in a field: the
        // common case is one AND per segment.
        if ((live.ContactSlots0 & changed[0]) != 0)
        {
            return true;
        }

        var slots = live.ContactSlots!;
        for (var i = 1; i < slots.Length && i < changed.Length; i++)
        {
            if ((slots[i] & changed[i]) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records an event and re-evaluates its contact for the segments that count events of its kind.</summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="now">The instant.</param>
    /// <returns>False when the event is a duplicate or its contact is unknown.</returns>
    public bool Apply(BehaviourEvent behaviourEvent, Instant now)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        lock (_gate)
        {
            var o = _index.Record(behaviourEvent);
            if (o < 0)
            {
                return false;
            }

            if (_eventDependents.TryGetValue(behaviourEvent.Kind, out var segments))
            {
                var version = _index.DictionaryVersion;
                foreach (var live in segments)
                {
                    Reevaluate(live, o, now, version);
                }
            }

            return true;
        }
    }

    /// <summary>Removes a contact; it exits every segment it was in.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="now">The instant.</param>
    public bool Remove(ContactId id, Instant now)
    {
        lock (_gate)
        {
            var o = _index.OrdinalOf(id);
            if (!_index.Remove(id))
            {
                return false;
            }

            foreach (var live in _segments.Values)
            {
                SetMember(live, o, false, now);
            }

            return true;
        }
    }

    /// <summary>Re-evaluates every contact whose time-relative result could have changed by <paramref name="now"/>.</summary>
    /// <param name="now">The instant; earlier than a previous call is allowed but finds nothing due.</param>
    /// <returns>The number of re-evaluations.</returns>
    public int AdvanceTo(Instant now)
    {
        lock (_gate)
        {
            var ticks = now.ToUnixTimeTicks();
            var n = 0;
            while (_schedule.TryPeek(out var item, out var due) && due <= ticks)
            {
                _schedule.Dequeue();
                var (live, o) = item;
                if (!live.Due.TryGetValue(o, out var expected) || expected != due || !_segments.TryGetValue(live.Definition.Id, out var current) || current != live)
                {
                    continue; // superseded (rescheduled, or the segment was replaced or removed)
                }

                live.Due.Remove(o);
                _dueCount--;
                if (!_index.IsLive(o))
                {
                    continue;
                }

                var member = PlanAt(live, now).Evaluate(o, out var next);
                SetMember(live, o, member, now);
                Schedule(live, o, next);
                n++;
            }

            return n;
        }
    }

    private Live Get(string segmentId) =>
        _segments.TryGetValue(segmentId, out var live) ? live : throw new ArgumentException($"Unknown segment '{segmentId}'.", nameof(segmentId));

    /// <summary>The number of (contact, segment) re-evaluations caused by contact changes and events (for tests).</summary>
    internal long Reevaluations { get; private set; }

    private void Reevaluate(Live live, int ordinal, Instant now, long version)
    {
        Reevaluations++;
        var member = PlanAt(live, now, version).Evaluate(ordinal, out var next);
        SetMember(live, ordinal, member, now);
        if (live.TimeRelative)
        {
            Schedule(live, ordinal, next);
        }
    }

    private void RemoveDependent(Live live)
    {
        _contactDependents.Remove(live);
        foreach (var list in _eventDependents.Values)
        {
            list.Remove(live);
        }
    }

    private PlanNode PlanAt(Live live, Instant now, long? version = null)
    {
        var v = version ?? _index.DictionaryVersion;
        if (live.Plan is null || live.PlanVersion != v)
        {
            // Compiled again only when the dictionaries change (new values, tags, event kinds); a new "now" re-anchors the
            // windows of the compiled plan (PlanNode.Retarget) instead.
            live.Plan = _index.Compile(live.Definition.Filter, now, _definitions);
            live.PlanAt = now;
            live.PlanVersion = v;
        }
        else if (live.PlanAt != now)
        {
            live.Plan.Retarget(now.ToUnixTimeTicks());
            live.PlanAt = now;
        }

        return live.Plan;
    }

    private void Schedule(Live live, int ordinal, long due)
    {
        if (due == long.MaxValue)
        {
            // Most re-evaluated contacts are not scheduled: one bit test instead of a dictionary look-up.
            if (live.MaybeDue(ordinal) && live.Due.Remove(ordinal))
            {
                _dueCount--;
            }

            return;
        }

        live.MarkDue(ordinal);
        if (live.Due.TryGetValue(ordinal, out var existing))
        {
            if (existing == due)
            {
                return;
            }
        }
        else
        {
            _dueCount++;
        }

        live.Due[ordinal] = due;
        _schedule.Enqueue((live, ordinal), due);
        if (_schedule.Count > 1024 && _schedule.Count > 4 * _dueCount)
        {
            Compact();
        }
    }

    /// <summary>Drops superseded entries (a contact rescheduled or no longer due) so the queue stays proportional to what is due.</summary>
    private void Compact()
    {
        _schedule.Clear();
        foreach (var live in _segments.Values)
        {
            foreach (var (o, due) in live.Due)
            {
                _schedule.Enqueue((live, o), due);
            }
        }
    }

    private void SetMember(Live live, int ordinal, bool member, Instant now)
    {
        if ((ordinal >> 6) >= live.Words.Length)
        {
            if (!member)
            {
                return;
            }

            var grown = new ulong[Math.Max(live.Words.Length * 2, ((ordinal >> 9) + 1) * 8)];
            live.Words.CopyTo(grown, 0);
            live.Words = grown;
        }

        ref var word = ref live.Words[ordinal >> 6];
        var bit = 1UL << ordinal;
        if (((word & bit) != 0) == member)
        {
            return;
        }

        word ^= bit;
        live.Count += member ? 1 : -1;
        MembershipChanged?.Invoke(this, new SegmentMembershipChangedEventArgs(live.Definition.Id, _index.IdAt(ordinal), member, now));
    }

    /// <summary>Collects the event kinds a filter counts and the change slots (<see cref="SegmentIndex.SlotOf"/>) of the
    /// contact data it reads, through the segments it refers to.</summary>
    private void CollectReads(Filter filter, HashSet<string> kinds, ulong[] slots, HashSet<string> visiting, ref bool timeRelative)
    {
        var r = FilterReads.Of(filter);
        kinds.UnionWith(r.EventKinds);
        foreach (var field in r.Fields)
        {
            var slot = _index.SlotOf(field);
            if (slot < 0)
            {
                slots.AsSpan().Fill(ulong.MaxValue); // not a column of the index: re-evaluate on any change
            }
            else
            {
                Mark(slot);
            }
        }

        if (r.Tags.Count > 0 || r.TagGroups.Count > 0)
        {
            Mark(SegmentIndex.TagsSlot);
        }

        if (r.Channels.Count > 0)
        {
            Mark(SegmentIndex.ConsentsSlot);
        }

        if (r.Scores)
        {
            Mark(SegmentIndex.ScoresSlot);
        }

        if (r.Grade)
        {
            Mark(SegmentIndex.GradeSlot);
        }

        if (r.Stage)
        {
            Mark(SegmentIndex.StageSlot);
        }

        // Time alone changes: relative dates, tag expiry, and any behaviour filter (a window edge, or without a
        // window a future-dated event starting to count).
        timeRelative |= r.TimeRelative || r.EventKinds.Count > 0 || r.Tags.Count > 0 || r.TagGroups.Count > 0;
        foreach (var id in r.Segments)
        {
            if (visiting.Add(id) && _definitions.TryGetValue(id, out var referenced))
            {
                CollectReads(referenced.Filter, kinds, slots, visiting, ref timeRelative);
            }
        }

        void Mark(int slot) => slots[slot >> 6] |= 1UL << slot;
    }

    private sealed class Live(SegmentDefinition definition, ulong[] words, int count)
    {
        public SegmentDefinition Definition { get; } = definition;

        public ulong[] Words { get; set; } = words;

        public int Count { get; set; } = count;

        public bool TimeRelative { get; set; }

        /// <summary>The change slots of the contact data it reads (null: it reads none).</summary>
        public ulong[]? ContactSlots { get; set; }

        /// <summary>Word 0 of <see cref="ContactSlots"/>.</summary>
        public ulong ContactSlots0 { get; set; }

        /// <summary>The scheduled re-evaluations: contact ordinal → due instant (Unix ticks).</summary>
        public Dictionary<int, long> Due { get; } = [];

        /// <summary>One bit per ordinal that may be in <see cref="Due"/> (set when scheduled, never cleared but by
        /// <see cref="ClearDue"/>): a clear bit proves the contact is not scheduled.</summary>
        private ulong[] _mayBeDue = [];

        public bool MaybeDue(int ordinal) => (uint)(ordinal >> 6) < (uint)_mayBeDue.Length && (_mayBeDue[ordinal >> 6] & (1UL << ordinal)) != 0;

        public void MarkDue(int ordinal)
        {
            if ((ordinal >> 6) >= _mayBeDue.Length)
            {
                Array.Resize(ref _mayBeDue, Math.Max((ordinal >> 6) + 1, _mayBeDue.Length * 2));
            }

            _mayBeDue[ordinal >> 6] |= 1UL << ordinal;
        }

        public void ClearDue()
        {
            Due.Clear();
            Array.Clear(_mayBeDue);
        }

        public PlanNode? Plan { get; set; }

        public Instant PlanAt { get; set; }

        public long PlanVersion { get; set; }
    }
}
