using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation.Engine;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// A columnar in-memory index of a contact base for segment evaluation (F-5.3): dense contact ordinals,
/// dictionary-encoded text columns with a compressed bitmap per value, exact bit-sliced number and date columns,
/// a bitmap per tag, tag group and consent channel (with expiry), score, grade and stage columns, and each
/// contact's behaviour events by kind. <see cref="Evaluate"/> compiles a <see cref="Filter"/> into a plan of
/// bitmap operations and column scans.
/// </summary>
/// <remarks>
/// Thread safety: every member is safe to call from any thread; calls are serialized by one internal lock (one
/// writer or one evaluation at a time). <see cref="SegmentMemberSet"/> results are immutable and can be read while the
/// index changes. Ordinals are assigned in order of first <see cref="Upsert"/> and never reused (a removed contact
/// keeps its ordinal), so member enumeration order is stable; memory is not reclaimed on removal.
/// </remarks>
public sealed class SegmentIndex
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AttributeColumn> _columns = new(StringComparer.Ordinal);
    private readonly CategoricalColumn _stage = new();
    private readonly CategoricalColumn _grade = new();
    private readonly CategoricalColumn _ownerIds = new();
    private readonly BitSlicedColumn _createdAt = new();
    private readonly NumberColumn _behaviourScore = new();
    private readonly NumberColumn _fitScore = new();
    private readonly NumberColumn _totalScore = new();
    private readonly KeyedBitmaps _tags = new(trackOrdinals: true);
    private readonly KeyedBitmaps _groups = new();
    private readonly KeyedBitmaps _consents = new();
    private readonly EventStore _events = new();
    private readonly RoaringBitmap _live = new();
    private readonly AttributeColumn[] _columnList;
    private readonly int[] _stageCodes = [.. Enum.GetValues<LifecycleStage>().Select(_ => -1)];
    private ContactId[] _ids;
    private int[] _slots;
    private int _next;
    private int _parallelism = Environment.ProcessorCount;
    private int _used;

    // Scratch of a write (writes hold the lock): a contact's tags and groups merged to one expiry each, no allocation.
    private string[] _tagKeys = new string[8];
    private long?[] _tagExpiries = new long?[8];
    private string[] _groupKeys = new string[8];
    private long?[] _groupExpiries = new long?[8];
    private readonly Dictionary<string, int> _tagPositions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _groupPositions = new(StringComparer.Ordinal);

    /// <summary>Creates an empty index for contacts of the schema.</summary>
    /// <param name="schema">The attribute schema; attributes not in it are ignored.</param>
    /// <param name="initialCapacity">The number of contacts to reserve room for (avoids growth copies when known).</param>
    /// <param name="zone">The zone whose calendar says what "today" is for date attributes (<c>within</c>/<c>before</c>) and
    /// which day an instant such as <c>created_at</c> falls on; UTC when null. Use the same zone as the
    /// <see cref="FilterEvaluator"/> of tag rules and journeys (<see cref="FilterEvaluator.DefaultZone"/>).</param>
    public SegmentIndex(AttributeSchema schema, int initialCapacity = 0, DateTimeZone? zone = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        Schema = schema;
        Zone = zone ?? DateTimeZone.Utc;
        foreach (var a in schema.Attributes)
        {
            _columns[a.Name] = new AttributeColumn(a);
        }

        _columnList = [.. _columns.Values];

        _ids = new ContactId[Math.Max(16, initialCapacity)];
        _slots = new int[SlotsFor(_ids.Length)];
        Reserve(_ids.Length);
    }

    /// <summary>The attribute schema.</summary>
    public AttributeSchema Schema { get; }

    /// <summary>The zone of the calendar that date attributes and <c>created_at</c> dates are compared in.</summary>
    public DateTimeZone Zone { get; }

    /// <summary>The number of contacts in the index.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return (int)_live.Cardinality;
            }
        }
    }

    /// <summary>Adds a contact or replaces everything the index holds about it except its events.</summary>
    /// <param name="contact">The contact.</param>
    public void Upsert(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_gate)
        {
            UpsertLocked(contact);
        }
    }

    /// <summary>Upsert under the caller's lock; returns the contact's ordinal.</summary>
    internal int UpsertLocked(Contact contact) => UpsertLocked(contact, null, out _, []);

    /// <summary>
    /// Upsert under the caller's lock; returns the contact's ordinal and whether it was live before (one id look-up for the
    /// registry, which re-evaluates a live contact only for the segments that read what changed). Only the columns whose
    /// stored value differs from the contact's are written; the bit of each such column family's change slot
    /// (<see cref="SlotOf"/>, <see cref="ScoresSlot"/> …) is set in <paramref name="changed"/> (which the caller clears,
    /// <see cref="ChangeWords"/> long; a shorter span records nothing). A contact new to the index sets no bit.
    /// </summary>
    /// <param name="contact">The contact.</param>
    /// <param name="previous">The version <paramref name="contact"/> was made from, when the caller knows the index holds it
    /// (the live listener's <see cref="ContactChange.Previous"/>): families it shares by reference with
    /// <paramref name="contact"/> (tags, attributes, consents, scores; contacts are immutable records, so a family nobody
    /// changed is the same object) are not even compared. Null: every family is compared with what the index holds.</param>
    /// <param name="wasLive">Whether the contact was live before.</param>
    /// <param name="changed">The change mask.</param>
    internal int UpsertLocked(Contact contact, Contact? previous, out bool wasLive, Span<ulong> changed)
    {
        var o = OrdinalOfLocked(contact.Id);
        if (o < 0)
        {
            wasLive = false;
            o = AddOrdinal(contact.Id);
            WriteLocked(o, contact, fresh: true, []);
            return o;
        }

        wasLive = _live.Contains(o);
        if (!wasLive)
        {
            _live.Add(o);
            previous = null; // removed earlier: its columns were cleared
        }

        WriteLocked(o, contact, fresh: false, changed, previous);
        return o;
    }

    /// <summary>Adds a contact that must not be in the index yet (the bulk path): no diffing against earlier values.</summary>
    internal int AddNewLocked(Contact contact)
    {
        var o = AddOrdinalNew(contact.Id);
        WriteLocked(o, contact, fresh: true, []);
        return o;
    }

    /// <summary>Change slot of the scores (behaviour, fit, total): what <see cref="ScoreFilter"/>s read.</summary>
    internal const int ScoresSlot = 0;

    /// <summary>Change slot of the grade.</summary>
    internal const int GradeSlot = 1;

    /// <summary>Change slot of the lifecycle stage.</summary>
    internal const int StageSlot = 2;

    /// <summary>Change slot of the owner (<see cref="BuiltInFields.OwnerId"/>).</summary>
    internal const int OwnerSlot = 3;

    /// <summary>Change slot of <see cref="BuiltInFields.CreatedAt"/>.</summary>
    internal const int CreatedAtSlot = 4;

    /// <summary>Change slot of the tags and tag groups (with their expiries).</summary>
    internal const int TagsSlot = 5;

    /// <summary>Change slot of the granted consent channels.</summary>
    internal const int ConsentsSlot = 6;

    /// <summary>Change slot of the first schema attribute; attribute i of the schema has slot <c>FirstAttributeSlot + i</c>.</summary>
    internal const int FirstAttributeSlot = 7;

    /// <summary>The number of 64-bit words a change mask needs (see <see cref="UpsertLocked(Contact, Contact, out bool, Span{ulong})"/>).</summary>
    internal int ChangeWords => (FirstAttributeSlot + _columnList.Length + 63) >> 6;

    /// <summary>The change slot of a field (an attribute or a built-in field); -1 when the index does not store it.</summary>
    internal int SlotOf(string field)
    {
        switch (field)
        {
            case BuiltInFields.OwnerId:
                return OwnerSlot;
            case BuiltInFields.CreatedAt:
                return CreatedAtSlot;
        }

        for (var i = 0; i < _columnList.Length; i++)
        {
            if (string.Equals(_columnList[i].Definition.Name, field, StringComparison.Ordinal))
            {
                return FirstAttributeSlot + i;
            }
        }

        return -1;
    }

    /// <summary>Adds a new ordinal for an id that must not be in the index yet (the bulk path): one walk of the id table
    /// both checks for the id and finds the free slot.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="live">Whether to mark the ordinal live here; false when the caller adds it to <see cref="Live"/> itself
    /// (the builder does, a chunk at a time).</param>
    /// <exception cref="ArgumentException">The id is already in the index.</exception>
    internal int AddOrdinalNew(ContactId id, bool live = true)
    {
        MakeRoomForOne();
        var mask = _slots.Length - 1;
        var free = -1;
        for (var h = id.GetHashCode() & mask; ; h = (h + 1) & mask)
        {
            var s = _slots[h];
            if (s == 0)
            {
                free = free < 0 ? h : free;
                break;
            }

            if (s > 0 && _ids[s - 1] == id)
            {
                throw new ArgumentException($"Contact {id} was added twice; a bulk load takes each contact once (use SegmentIndex.Upsert for changes).", nameof(id));
            }

            if (s < 0 && free < 0)
            {
                free = h;
            }
        }

        return Place(id, free, live);
    }

    /// <summary>The live ordinals (the builder appends to it in bulk).</summary>
    internal RoaringBitmap Live => _live;

    internal Lock Gate => _gate;

    /// <summary>
    /// Writes what the index stores of a contact. A fresh ordinal (nothing stored yet) gets every value that is set. Otherwise
    /// each column family is compared with what is stored and written only when it differs; each family that changed sets
    /// its slot's bit in <paramref name="changed"/>, so a change of the scores alone writes the score columns only and
    /// re-evaluates only the segments that read scores (see <see cref="SegmentRegistry"/>).
    /// </summary>
    private void WriteLocked(int o, Contact contact, bool fresh, Span<ulong> changed, Contact? previous = null)
    {
        var columns = _columnList;
        if (columns.Length > 0 && !Same(previous?.Attributes, contact.Attributes))
        {
            var attributes = contact.Attributes;
            for (var i = 0; i < columns.Length; i++)
            {
                // Schema defaults are not applied: stores apply them when contacts are written.
                var column = columns[i];
                attributes.TryGetValue(column.Definition.Name, out var value);
                if ((!fresh || value is not null) && column.Set(o, value))
                {
                    Mark(changed, FirstAttributeSlot + i);
                }
            }
        }

        if ((!fresh || !string.IsNullOrEmpty(contact.OwnerId)) && _ownerIds.Set(o, string.IsNullOrEmpty(contact.OwnerId) ? null : contact.OwnerId))
        {
            Mark(changed, OwnerSlot);
        }

        var created = contact.CreatedAt.ToUnixTimeTicks();
        if (fresh || !_createdAt.TryGet(o, out var createdBefore) || createdBefore != created)
        {
            _createdAt.Set(o, created);
            Mark(changed, CreatedAtSlot);
        }

        if (SetStage(o, contact.Stage, fresh))
        {
            Mark(changed, StageSlot);
        }

        var scores = contact.Scores;
        if (previous is null || !ReferenceEquals(previous.Scores, scores))
        {
            if ((!fresh || scores?.Grade is not null) && _grade.Set(o, scores?.Grade))
            {
                Mark(changed, GradeSlot);
            }

            // Not short-circuited: each score column is compared (and written when it differs).
            if (_behaviourScore.Set(o, scores?.Behaviour ?? 0m) | _fitScore.Set(o, scores?.Fit ?? 0m) | _totalScore.Set(o, scores?.Total ?? 0m))
            {
                Mark(changed, ScoresSlot);
            }
        }

        if (!fresh)
        {
            if (!Same(previous?.Consents, contact.Consents) && _consents.ReplaceGranted(o, contact.Consents))
            {
                Mark(changed, ConsentsSlot);
            }
        }
        else if (contact.Consents.Count > 0)
        {
            foreach (var (channel, consent) in contact.Consents)
            {
                if (consent.Granted)
                {
                    _consents.Add(channel, o, null);
                }
            }
        }

        if (Same(previous?.Tags, contact.Tags))
        {
            return;
        }

        var tags = MergeTags(contact.Tags, out var groups);
        if (!fresh)
        {
            // Only the tags (groups) gained, lost or with a new expiry are written.
            if (_tags.Replace(o, _tagKeys.AsSpan(0, tags), _tagExpiries.AsSpan(0, tags)) | _groups.Replace(o, _groupKeys.AsSpan(0, groups), _groupExpiries.AsSpan(0, groups)))
            {
                Mark(changed, TagsSlot);
            }
        }
        else
        {
            for (var i = 0; i < tags; i++)
            {
                _tags.Add(_tagKeys[i], o, _tagExpiries[i]);
            }

            for (var i = 0; i < groups; i++)
            {
                _groups.Add(_groupKeys[i], o, _groupExpiries[i]);
            }
        }
    }

    /// <summary>Whether a family of the previous version (null: unknown) is the very object of the new one.</summary>
    private static bool Same(object? previous, object current) => ReferenceEquals(previous, current);

    private static void Mark(Span<ulong> changed, int slot)
    {
        if ((uint)(slot >> 6) < (uint)changed.Length)
        {
            changed[slot >> 6] |= 1UL << slot;
        }
    }

    /// <summary>
    /// Copies a contact's tags into <see cref="_tagKeys"/> and its groups into <see cref="_groupKeys"/> with their expiries.
    /// When any expires, each key is listed once with one expiry: a tag (or group) held twice is current until the later
    /// expiry; never-expiring wins. When none expires, keys may repeat (all mean "held, never expiring").
    /// </summary>
    /// <returns>The number of tags listed; <paramref name="groups"/> the number of groups listed.</returns>
    private int MergeTags(IReadOnlyList<ContactTag> tags, out int groups)
    {
        var count = tags.Count;
        groups = 0;
        if (count == 0)
        {
            return 0;
        }

        if (_tagKeys.Length < count)
        {
            var size = Math.Max(count, _tagKeys.Length * 2);
            _tagKeys = new string[size];
            _tagExpiries = new long?[size];
            _groupKeys = new string[size];
            _groupExpiries = new long?[size];
        }

        var expiring = false;
        for (var i = 0; i < count && !expiring; i++)
        {
            expiring = tags[i].ExpiresAt is not null;
        }

        if (!expiring)
        {
            // The common case: nothing expires, so a key listed twice (a tag given by two campaigns, F-3.5, or a group of
            // several tags) needs no merging: KeyedBitmaps.Replace holds it once.
            for (var i = 0; i < count; i++)
            {
                var t = tags[i];
                _tagKeys[i] = t.Tag;
                _tagExpiries[i] = null;
                if (t.Group is { } g)
                {
                    _groupKeys[groups] = g;
                    _groupExpiries[groups++] = null;
                }
            }

            return count;
        }

        // Few tags: a linear search of the keys merged so far beats hashing; many: a (reused) position map.
        Dictionary<string, int>? tagPositions = null;
        Dictionary<string, int>? groupPositions = null;
        if (count > 16)
        {
            (tagPositions = _tagPositions).Clear();
            (groupPositions = _groupPositions).Clear();
        }

        var n = 0;
        for (var i = 0; i < count; i++)
        {
            var t = tags[i];
            var expiry = t.ExpiresAt?.ToUnixTimeTicks();
            n = Merge(_tagKeys, _tagExpiries, n, t.Tag, expiry, tagPositions);
            if (t.Group is { } g)
            {
                groups = Merge(_groupKeys, _groupExpiries, groups, g, expiry, groupPositions);
            }
        }

        return n;

        static int Merge(string[] keys, long?[] expiries, int n, string key, long? expiry, Dictionary<string, int>? positions)
        {
            var at = -1;
            if (positions is null)
            {
                for (var j = 0; j < n; j++)
                {
                    if (string.Equals(keys[j], key, StringComparison.Ordinal))
                    {
                        at = j;
                        break;
                    }
                }
            }
            else if (!positions.TryGetValue(key, out at))
            {
                at = -1;
            }

            if (at < 0)
            {
                positions?.Add(key, n);
                keys[n] = key;
                expiries[n] = expiry;
                return n + 1;
            }

            if (expiries[at] is { } a)
            {
                expiries[at] = expiry is { } b ? Math.Max(a, b) : null;
            }

            return n;
        }
    }

    /// <summary>Sets a contact's stage; false when it was stored already.</summary>
    internal bool SetStage(int o, LifecycleStage stage, bool fresh)
    {
        var s = (int)stage;
        if (!fresh && (uint)s < (uint)_stageCodes.Length && _stageCodes[s] >= 0 && o < _stage.Capacity && _stage.CodeAt(o) == _stageCodes[s] + 1)
        {
            return false; // unchanged: no name, no dictionary look-up
        }

        if (!fresh || (uint)s >= (uint)_stageCodes.Length)
        {
            var changed = _stage.Set(o, stage.ToString());
            if ((uint)s < (uint)_stageCodes.Length && _stageCodes[s] < 0)
            {
                _stageCodes[s] = _stage.CodeAt(o) - 1; // learnt once (a bulk-built index has none): later writes compare codes
            }

            return changed;
        }

        if (_stageCodes[s] < 0)
        {
            _stageCodes[s] = _stage.CodeOf(stage.ToString());
        }

        _stage.Append(o, _stageCodes[s]);
        return true;
    }

    /// <summary>Removes a contact and its events.</summary>
    /// <param name="id">The contact.</param>
    /// <returns>False when the index did not hold it.</returns>
    public bool Remove(ContactId id)
    {
        lock (_gate)
        {
            var o = OrdinalOfLocked(id);
            if (o < 0 || !_live.Contains(o))
            {
                return false;
            }

            foreach (var column in _columns.Values)
            {
                column.Set(o, null);
            }

            _stage.Set(o, null);
            _grade.Set(o, null);
            _ownerIds.Set(o, null);
            _createdAt.Clear(o);
            _behaviourScore.Set(o, null);
            _fitScore.Set(o, null);
            _totalScore.Set(o, null);
            _tags.RemoveOrdinal(o);
            _groups.RemoveOrdinal(o);
            _consents.RemoveOrdinal(o);
            _events.RemoveOrdinal(o);
            _live.Remove(o);

            // The id keeps its ordinal: results evaluated earlier still contain it, and a re-added contact gets it back.
            return true;
        }
    }

    /// <summary>Records a behaviour event of a contact in the index (idempotent on <see cref="BehaviourEvent.EventId"/>).</summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <returns>False when the event is a duplicate or its contact is not in the index.</returns>
    public bool Apply(BehaviourEvent behaviourEvent)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        return Record(behaviourEvent) >= 0;
    }

    /// <summary><see cref="Apply"/>, returning the contact's ordinal, or -1 when the event was not recorded (one id look-up
    /// for the registry).</summary>
    internal int Record(BehaviourEvent behaviourEvent)
    {
        lock (_gate)
        {
            var o = OrdinalOfLocked(behaviourEvent.ContactId);
            return o >= 0 && _live.Contains(o) && _events.Add(o, behaviourEvent) ? o : -1;
        }
    }

    /// <summary>Records an event during a bulk load: every ordinal added so far is live (the builder marks them live a chunk
    /// at a time, so the live bitmap is not asked).</summary>
    internal bool ApplyLoading(BehaviourEvent behaviourEvent)
    {
        var o = OrdinalOfLocked(behaviourEvent.ContactId);
        return o >= 0 && _events.Add(o, behaviourEvent);
    }

    /// <summary>Drops the events of a kind that occurred before an instant, and refuses older events of that kind from then
    /// on (see <see cref="SegmentRegistry.TrimEvents"/>, which picks the instant from the live segments' windows).</summary>
    /// <param name="eventKind">The event kind.</param>
    /// <param name="before">Events strictly before this instant are dropped.</param>
    /// <returns>The number of events dropped.</returns>
    public int TrimEvents(string eventKind, Instant before)
    {
        ArgumentNullException.ThrowIfNull(eventKind);
        lock (_gate)
        {
            return _events.Trim(eventKind, before.ToUnixTimeTicks());
        }
    }

    /// <summary>The number of behaviour events the index holds.</summary>
    public long EventCount
    {
        get
        {
            lock (_gate)
            {
                return _events.EventCount;
            }
        }
    }

    /// <summary>Evaluates a filter over the whole contact base.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="now">The instant relative windows (<c>within 7d</c>) and tag expiry are evaluated at.</param>
    /// <param name="segments">Definitions that <see cref="SegmentFilter"/>s refer to, by id; null when there are none.</param>
    /// <returns>The members.</returns>
    /// <exception cref="ArgumentException">The filter names an unknown field or segment, compares a field with values
    /// of the wrong type or with an operator its type does not support, or segment references form a cycle.</exception>
    public SegmentMemberSet Evaluate(Filter filter, Instant now, IReadOnlyDictionary<string, SegmentDefinition>? segments = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_gate)
        {
            var plan = new FilterCompiler(this, now, segments).Compile(filter);
            var members = EvaluateLocked(plan);
            return new SegmentMemberSet(members, _ids, OrdinalOf, now);
        }
    }

    /// <summary>
    /// The number of threads one <see cref="Evaluate"/> may use (chunks of 65,536 contacts are evaluated in parallel when
    /// the base has at least <see cref="ParallelChunkThreshold"/> of them); <see cref="Environment.ProcessorCount"/> by
    /// default, 1 = always on the calling thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _parallelism;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxDegreeOfParallelism));
            _parallelism = value;
        }
    }

    /// <summary>The number of 65,536-contact chunks from which <see cref="Evaluate"/> runs chunks in parallel (8: about 500,000 contacts).</summary>
    public const int ParallelChunkThreshold = 8;

    /// <summary>
    /// Estimates the number of members without evaluating: bitmap cardinalities and column value ranges, assuming
    /// independent predicates. Microseconds; for previews, not for sends.
    /// </summary>
    /// <param name="filter">The filter.</param>
    /// <param name="now">The instant relative windows are evaluated at.</param>
    /// <param name="segments">Definitions that <see cref="SegmentFilter"/>s refer to, by id.</param>
    public long EstimateCount(Filter filter, Instant now, IReadOnlyDictionary<string, SegmentDefinition>? segments = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_gate)
        {
            var plan = new FilterCompiler(this, now, segments).Compile(filter);
            return (long)Math.Round(plan.Selectivity * _live.Cardinality);
        }
    }

    internal int LiveCount => (int)_live.Cardinality;

    /// <summary>The chunk count from which evaluation goes parallel (tests lower it to run the parallel path on small bases).</summary>
    internal int ParallelThreshold { get; set; } = ParallelChunkThreshold;

    /// <summary>Runs a plan over the whole base, chunk by chunk (65,536 contacts, 8 KB of candidates, so intermediate results stay
    /// in L1/L2 cache); chunks on several threads for large bases. Each chunk's result is stored compressed.</summary>
    internal RoaringBitmap EvaluateLocked(PlanNode plan, int? parallelism = null)
    {
        var total = WordsFor(_next);
        var chunks = (total + 1023) >> 10;
        var results = new Container?[chunks];
        var dop = Math.Min(parallelism ?? _parallelism, chunks);
        if (chunks >= ParallelThreshold && dop > 1)
        {
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = dop }, k => results[k] = EvaluateChunk(plan, k, total));
        }
        else
        {
            for (var k = 0; k < chunks; k++)
            {
                results[k] = EvaluateChunk(plan, k, total);
            }
        }

        return RoaringBitmap.FromChunks(results);
    }

    private Container? EvaluateChunk(PlanNode plan, int k, int totalWords)
    {
        Span<ulong> buffer = stackalloc ulong[1024];
        var start = k << 10;
        var chunk = buffer[..Math.Min(1024, totalWords - start)];
        if (_live.ChunkCardinality(k) == 1 << 16)
        {
            chunk.Fill(ulong.MaxValue); // every contact of the chunk is live: no need to read the live bitmap's 8 KB
        }
        else
        {
            chunk.Clear();
            _live.OrIntoChunk(chunk, k);
        }

        plan.AndInto(chunk, start);
        return RoaringBitmap.ChunkContainer(chunk);
    }

    /// <summary>Changes whenever a new dictionary value, key, event kind or day of a date column appears (compiled plans hold
    /// bitmap lists). A sum of counts that only grow, so it only grows.</summary>
    internal long DictionaryVersion
    {
        get
        {
            long v = _stage.DistinctCount + _grade.DistinctCount + _ownerIds.DistinctCount + _tags.KeyCount + _groups.KeyCount + _consents.KeyCount + _events.KindCount;
            foreach (var c in _columns.Values)
            {
                v += (c.Categorical?.DistinctCount ?? 0) + (c.Elements?.KeyCount ?? 0);
                if (c.Kind == ColumnKind.Date)
                {
                    // Plans hold lists of day bitmaps; a new day (or dropping them, which counts as more) changes the version.
                    v += c.DayBitmaps?.Count ?? AttributeColumn.MaxDayBitmaps + 1;
                }
            }

            return v;
        }
    }

    internal int OrdinalCount => _next;

    internal bool IsLive(int ordinal) => _live.Contains(ordinal);

    internal ContactId IdAt(int ordinal) => _ids[ordinal];

    internal PlanNode Compile(Filter filter, Instant now, IReadOnlyDictionary<string, SegmentDefinition>? segments) =>
        new FilterCompiler(this, now, segments).Compile(filter);

    internal SegmentMemberSet MemberSet(ulong[] words, Instant now) => new(RoaringBitmap.FromDense(words), _ids, OrdinalOf, now);

    internal int WordCount => WordsFor(_next);

    internal AttributeColumn? Column(string name) => _columns.GetValueOrDefault(name);

    internal CategoricalColumn Stage => _stage;

    internal CategoricalColumn Grade => _grade;

    internal CategoricalColumn OwnerIds => _ownerIds;

    internal BitSlicedColumn CreatedAt => _createdAt;

    internal NumberColumn Score(ScoreKind kind) => kind switch
    {
        ScoreKind.Behaviour => _behaviourScore,
        ScoreKind.Fit => _fitScore,
        _ => _totalScore,
    };

    internal KeyedBitmaps Tags => _tags;

    internal KeyedBitmaps Groups => _groups;

    internal KeyedBitmaps Consents => _consents;

    internal EventStore Events => _events;

    internal int OrdinalOf(ContactId id)
    {
        lock (_gate)
        {
            return OrdinalOfLocked(id);
        }
    }

    private static int WordsFor(int ordinals) => ((ordinals + 511) >> 9) * BitSlicedColumn.BlockWords;

    private static int SlotsFor(int capacity) => (int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity + (capacity / 2))));

    private void Reserve(int ordinals)
    {
        foreach (var c in _columns.Values)
        {
            c.EnsureCapacity(ordinals);
        }

        _stage.EnsureCapacity(ordinals);
        _tags.EnsureCapacity(ordinals);
        _grade.EnsureCapacity(ordinals);
        _ownerIds.EnsureCapacity(ordinals);
        _createdAt.EnsureCapacity(ordinals);
        _behaviourScore.Bits.EnsureCapacity(ordinals);
        _fitScore.Bits.EnsureCapacity(ordinals);
        _totalScore.Bits.EnsureCapacity(ordinals);
    }

    private int AddOrdinal(ContactId id)
    {
        MakeRoomForOne();
        return Place(id, FreeSlot(id), live: true);
    }

    /// <summary>Grows the id array and the slot table, when needed, so that one more ordinal fits.</summary>
    private void MakeRoomForOne()
    {
        if (_next == _ids.Length)
        {
            Grow();
        }

        if ((_used + 1) * 3 > _slots.Length * 2)
        {
            Rehash(SlotsFor(Math.Max(_ids.Length, _used * 2)));
        }
    }

    /// <summary>Gives <paramref name="id"/> the next ordinal, in <paramref name="slot"/> (empty or a tombstone) of the table.</summary>
    private int Place(ContactId id, int slot, bool live)
    {
        var o = _next++;
        _ids[o] = id;
        Occupy(slot, o);
        if (live)
        {
            _live.Add(o);
        }

        return o;
    }

    private void Grow()
    {
        var grown = new ContactId[_ids.Length + (_ids.Length >> 1)];
        _ids.AsSpan().CopyTo(grown);
        _ids = grown; // results hold the old array, which keeps every ordinal they can contain.
        Reserve(grown.Length);
    }

    private int OrdinalOfLocked(ContactId id)
    {
        var mask = _slots.Length - 1;
        for (var h = id.GetHashCode() & mask; ; h = (h + 1) & mask)
        {
            var s = _slots[h];
            if (s == 0)
            {
                return -1;
            }

            if (s > 0 && _ids[s - 1] == id)
            {
                return s - 1;
            }
        }
    }

    /// <summary>The first slot on <paramref name="id"/>'s probe path that holds no ordinal (empty or a tombstone).</summary>
    private int FreeSlot(ContactId id)
    {
        var mask = _slots.Length - 1;
        var h = id.GetHashCode() & mask;
        while (_slots[h] > 0)
        {
            h = (h + 1) & mask;
        }

        return h;
    }

    private void Occupy(int slot, int ordinal)
    {
        if (_slots[slot] == 0)
        {
            _used++;
        }

        _slots[slot] = ordinal + 1;
    }

    private void Rehash(int size)
    {
        var old = _slots;
        _slots = new int[size];
        _used = 0;
        foreach (var s in old)
        {
            if (s > 0)
            {
                Occupy(FreeSlot(_ids[s - 1]), s - 1);
            }
        }
    }
}
