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
    internal int UpsertLocked(Contact contact) => UpsertLocked(contact, out _);

    /// <summary>Upsert under the caller's lock; returns the contact's ordinal and whether it was live before (one id
    /// look-up for the registry, which re-evaluates a live contact only for the segments that read contact data).</summary>
    internal int UpsertLocked(Contact contact, out bool wasLive)
    {
        var o = OrdinalOfLocked(contact.Id);
        if (o < 0)
        {
            wasLive = false;
            o = AddOrdinal(contact.Id);
            WriteLocked(o, contact, fresh: true);
            return o;
        }

        wasLive = _live.Contains(o);
        if (!wasLive)
        {
            _live.Add(o);
        }

        WriteLocked(o, contact, fresh: false);
        return o;
    }

    /// <summary>Adds a contact that must not be in the index yet (the bulk path): no diffing against earlier values.</summary>
    internal int AddNewLocked(Contact contact)
    {
        var o = AddOrdinalNew(contact.Id);
        WriteLocked(o, contact, fresh: true);
        return o;
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

    private void WriteLocked(int o, Contact contact, bool fresh)
    {
        // A rewrite with plain tags (no group, no expiry) touches only the tags that changed.
        var tagsDone = false;
        if (!fresh)
        {
            tagsDone = IsSimple(contact.Tags) && _tags.TryReplaceSimple(o, contact.Tags);
            if (!tagsDone)
            {
                _tags.RemoveOrdinal(o);
            }

            _groups.RemoveOrdinal(o);
            _consents.ReplaceGranted(o, contact.Consents);
        }

        foreach (var column in _columnList)
        {
            // Schema defaults are not applied: stores apply them when contacts are written.
            contact.Attributes.TryGetValue(column.Definition.Name, out var value);
            if (!fresh || value is not null)
            {
                column.Set(o, value);
            }
        }

        if (!fresh || !string.IsNullOrEmpty(contact.OwnerId))
        {
            _ownerIds.Set(o, string.IsNullOrEmpty(contact.OwnerId) ? null : contact.OwnerId);
        }

        var created = contact.CreatedAt.ToUnixTimeTicks();
        if (fresh || !_createdAt.TryGet(o, out var createdBefore) || createdBefore != created)
        {
            _createdAt.Set(o, created);
        }
        SetStage(o, contact.Stage, fresh);
        if (!fresh || contact.Scores?.Grade is not null)
        {
            _grade.Set(o, contact.Scores?.Grade);
        }

        _behaviourScore.Set(o, contact.Scores?.Behaviour ?? 0m);
        _fitScore.Set(o, contact.Scores?.Fit ?? 0m);
        _totalScore.Set(o, contact.Scores?.Total ?? 0m);
        if (fresh && contact.Consents.Count > 0)
        {
            foreach (var (channel, consent) in contact.Consents)
            {
                if (consent.Granted)
                {
                    _consents.Add(channel, o, null);
                }
            }
        }

        if (!tagsDone)
        {
            AddTags(o, contact.Tags);
        }
    }

    internal void SetStage(int o, LifecycleStage stage, bool fresh)
    {
        var s = (int)stage;
        if (!fresh && (uint)s < (uint)_stageCodes.Length && _stageCodes[s] >= 0 && o < _stage.Capacity && _stage.CodeAt(o) == _stageCodes[s] + 1)
        {
            return; // unchanged: no name, no dictionary look-up
        }

        if (!fresh || (uint)s >= (uint)_stageCodes.Length)
        {
            _stage.Set(o, stage.ToString());
            return;
        }

        if (_stageCodes[s] < 0)
        {
            _stageCodes[s] = _stage.CodeOf(stage.ToString());
        }

        _stage.Append(o, _stageCodes[s]);
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
        lock (_gate)
        {
            var o = OrdinalOfLocked(behaviourEvent.ContactId);
            return o >= 0 && _live.Contains(o) && _events.Add(o, behaviourEvent);
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

    private void AddTags(int o, IReadOnlyList<ContactTag> tags)
    {
        if (tags.Count == 0)
        {
            return;
        }

        if (IsSimple(tags))
        {
            for (var i = 0; i < tags.Count; i++)
            {
                var t = tags[i];
                _tags.Add(t.Tag, o, null);
                if (t.Group is { } g)
                {
                    _groups.Add(g, o, null);
                }
            }

            return;
        }

        // A tag (or group) held twice is current until the later expiry; never-expiring wins.
        var byTag = new Dictionary<string, long?>(StringComparer.Ordinal);
        var byGroup = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var t in tags)
        {
            var expiry = t.ExpiresAt?.ToUnixTimeTicks();
            Merge(byTag, t.Tag, expiry);
            if (t.Group is { } g)
            {
                Merge(byGroup, g, expiry);
            }
        }

        foreach (var (tag, expiry) in byTag)
        {
            _tags.Add(tag, o, expiry);
        }

        foreach (var (group, expiry) in byGroup)
        {
            _groups.Add(group, o, expiry);
        }

        static void Merge(Dictionary<string, long?> map, string key, long? expiry)
        {
            if (!map.TryGetValue(key, out var existing))
            {
                map[key] = expiry;
            }
            else if (existing is { } a)
            {
                map[key] = expiry is { } b ? Math.Max(a, b) : null;
            }
        }
    }

    /// <summary>No expiry, no repeated tag, no group: each tag is added as is.</summary>
    private static bool IsSimple(IReadOnlyList<ContactTag> tags)
    {
        for (var i = 0; i < tags.Count; i++)
        {
            // A tag held twice (e.g. given by two campaigns, F-3.5) is still simple when neither copy expires or has a
            // group: both mean "holds the tag", and adding a key twice is idempotent.
            if (tags[i].ExpiresAt is not null || tags[i].Group is not null)
            {
                return false;
            }
        }

        return true;
    }

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
