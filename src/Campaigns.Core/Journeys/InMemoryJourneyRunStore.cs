using System.Runtime.CompilerServices;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>
/// The in-memory <see cref="IJourneyRunStore"/>: the latest run per (journey, contact) and one timer per active run,
/// ordered by due instant (ties in the order the timers were written). Thread-safe (one lock); lost on restart — share
/// one instance between runners to simulate a restart in tests, use the storage packages in production.
/// </summary>
/// <remarks>
/// Runs that have not ended are held in a compact form (about 95 bytes per waiting run with its timer: a 72-byte slot
/// in chunked arrays, journey, node and event ids interned, instants as Unix nanoseconds; an indexed binary heap of
/// 16-byte entries — due instant or lease expiry, write order, slot — as the timer queue, so sifting never reads a
/// slot; an open hash of slot numbers as the key index), so ten million pending timers fit in about 1 GB. Ended runs, and the rare run whose values do not fit the compact form (instants beyond
/// ±292 years of 1970, more than 65,535 touches, ...), are kept as <see cref="JourneyRun"/> records.
/// </remarks>
public sealed class InMemoryJourneyRunStore : IJourneyRunStore
{
    private const int ChunkBits = 16;
    private const int ChunkSize = 1 << ChunkBits;
    private const int ChunkMask = ChunkSize - 1;
    private const long NoInstant = long.MinValue;
    private const byte FullRecord = 0x10;
    private const byte Leased = 0x20;
    private const byte StatusMask = 0x0F;
    private static readonly Duration MinNanos = Duration.FromNanoseconds(long.MinValue + 1);
    private static readonly Duration MaxNanos = Duration.FromNanoseconds(long.MaxValue);

    private readonly Lock _gate = new();
    private readonly List<Slot[]> _slots = [];
    private readonly List<HeapEntry[]> _heap = [];
    private readonly Dictionary<int, JourneyRun> _full = [];
    private readonly Dictionary<string, int> _journeyIndex = new(StringComparer.Ordinal);
    private readonly List<string> _journeyNames = [];
    private readonly Dictionary<string, int> _nameIndex = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private int[] _buckets = new int[16];
    private int _count;
    private int _heapCount;
    private int _sequence;

    /// <summary>One run (its timer is a <see cref="HeapEntry"/>). Field order keeps the struct at 72 bytes.</summary>
    private struct Slot
    {
        public long EnteredAt;
        public long NodeEnteredAt;
        public long DueAt;       // Unix nanoseconds, NoInstant for none; for a full record the (clamped) timer instant
        public Guid Contact;
        public int Next;         // the next slot (1-based) in the hash chain; 0 ends it
        public int Step;
        public int Version;
        public int HeapIndex;    // the timer's position in the heap, -1 for none
        public int RunNumber;
        public int Journey;
        public ushort Node;      // interned name + 1; 0 for null
        public ushort Waiting;   // interned name + 1; 0 for null
        public ushort Touches;
        public byte Attempts;
        public byte State;       // the run status (low 4 bits) and the FullRecord / Leased flags

        public byte Status
        {
            readonly get => (byte)(State & StatusMask);
            set => State = (byte)((State & ~StatusMask) | value);
        }

        public byte Flags
        {
            readonly get => (byte)(State & ~StatusMask);
            set => State = (byte)((State & StatusMask) | value);
        }
    }

    /// <summary>
    /// A pending timer in the heap: its order key (the due instant, or the lease expiry of a claimed timer, in Unix
    /// nanoseconds), its write order (ties) and its slot, so that sifting compares heap entries without reading slots.
    /// </summary>
    private struct HeapEntry
    {
        public long Key;
        public int Seq;
        public int Slot;
    }

    /// <summary>The number of pending timers.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _heapCount;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        lock (_gate)
        {
            var i = Find(journeyId, contactId);
            return ValueTask.FromResult(i < 0 ? null : Read(i));
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (_gate)
        {
            var i = Find(run.JourneyId, run.ContactId);
            if (i >= 0)
            {
                ref var existing = ref At(i);
                var ended = (existing.Flags & FullRecord) != 0 ? _full[i].IsEnded : IsEnded(existing.Status);
                if (!ended || existing.RunNumber >= run.RunNumber)
                {
                    return ValueTask.FromResult<JourneyRun?>(null);
                }
            }
            else
            {
                i = Add(run.JourneyId, run.ContactId);
            }

            var stored = run.Version == 1 ? run : run with { Version = 1 }; // immutable: a run already at version 1 is kept as is
            Write(i, stored);
            return ValueTask.FromResult<JourneyRun?>(stored);
        }
    }

    /// <summary>
    /// <see cref="TryCreateAsync"/> for a run that starts now, without building (or returning) a <see cref="JourneyRun"/>:
    /// run <paramref name="runNumber"/> of the contact, active at version 1, step 0 at <paramref name="nodeId"/> since
    /// <paramref name="enteredAt"/>, due at <paramref name="due"/>. Created under the same rule (no run yet, or the
    /// latest ended with a lower number). For the runner's batch entry, which only counts the runs it starts.
    /// </summary>
    /// <returns>Whether the run was created.</returns>
    internal bool TryStart(string journeyId, ContactId contactId, int runNumber, string nodeId, Instant enteredAt, Instant due, string? waitingFor)
    {
        lock (_gate)
        {
            var i = Find(journeyId, contactId);
            if (i >= 0)
            {
                ref var existing = ref At(i);
                var ended = (existing.Flags & FullRecord) != 0 ? _full[i].IsEnded : IsEnded(existing.Status);
                if (!ended || existing.RunNumber >= runNumber)
                {
                    return false;
                }
            }
            else
            {
                i = Add(journeyId, contactId);
            }

            var node = Name(nodeId);
            var waiting = Name(waitingFor);
            if (node == ushort.MaxValue || waiting == ushort.MaxValue || !TryNanos(enteredAt, out var entered) || !TryNanos(due, out var dueNanos))
            {
                // Beyond the compact form: the record, as TryCreateAsync keeps it.
                Write(i, new JourneyRun
                {
                    JourneyId = journeyId,
                    ContactId = contactId,
                    RunNumber = runNumber,
                    NodeId = nodeId,
                    EnteredAt = enteredAt,
                    NodeEnteredAt = enteredAt,
                    DueAt = due,
                    WaitingForEvent = waitingFor,
                    Version = 1,
                });
                return true;
            }

            // What Write does for this run, field by field.
            ref var slot = ref At(i);
            if (slot.HeapIndex >= 0)
            {
                HeapRemove(slot.HeapIndex);
            }

            _full.Remove(i);
            slot.State = (byte)JourneyRunStatus.Active;
            slot.EnteredAt = entered;
            slot.NodeEnteredAt = entered;
            slot.DueAt = dueNanos;
            slot.Step = 0;
            slot.Version = 1;
            slot.Node = node;
            slot.Waiting = waiting;
            slot.Touches = 0;
            slot.Attempts = 0;
            slot.RunNumber = runNumber;
            HeapInsert(i, dueNanos);
            return true;
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (_gate)
        {
            var i = Find(run.JourneyId, run.ContactId);
            if (i < 0)
            {
                return ValueTask.FromResult<JourneyRun?>(null);
            }

            ref var slot = ref At(i);
            var (version, runNumber) = (slot.Flags & FullRecord) != 0 ? (_full[i].Version, _full[i].RunNumber) : (slot.Version, slot.RunNumber);
            if (version != expectedVersion || runNumber != run.RunNumber)
            {
                return ValueTask.FromResult<JourneyRun?>(null);
            }

            var stored = run.Version == expectedVersion + 1 ? run : run with { Version = expectedVersion + 1 };
            Write(i, stored);
            return ValueTask.FromResult<JourneyRun?>(stored);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(excludedJourneys);
        List<JourneyTimer> claimed;
        lock (_gate)
        {
            var nowNanos = Clamp(now);
            var leaseUntil = Clamp(now + lease);
            claimed = new List<JourneyTimer>(Math.Min(batchSize, _heapCount));
            var taken = new List<int>(claimed.Capacity);
            List<HeapEntry>? skipped = null;
            while (_heapCount > 0 && claimed.Count < batchSize)
            {
                var top = HeapRef(0);
                if (top.Key > nowNanos)
                {
                    break;
                }

                var i = top.Slot;
                HeapRemove(0);
                if (excludedJourneys.Count > 0 && excludedJourneys.Contains(_journeyNames[At(i).Journey]))
                {
                    (skipped ??= []).Add(top);
                    continue;
                }

                claimed.Add(Timer(i));
                taken.Add(i);
            }

            // Skipped timers go back unchanged (same order); a claimed timer is leased: ordered by its lease expiry,
            // so it comes back only if the host dies.
            foreach (var entry in skipped ?? [])
            {
                HeapInsert(entry);
            }

            foreach (var i in taken)
            {
                At(i).Flags |= Leased;
                HeapInsert(i, leaseUntil);
            }
        }

        return ValueTask.FromResult<IReadOnlyList<JourneyTimer>>(claimed);
    }

    /// <inheritdoc />
    public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_heapCount == 0)
            {
                return ValueTask.FromResult<Instant?>(null);
            }

            var top = HeapRef(0);
            var i = top.Slot;
            return ValueTask.FromResult<Instant?>((At(i).Flags & (FullRecord | Leased)) == FullRecord ? _full[i].DueAt : ToInstant(top.Key));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var runs = new List<JourneyRun>();
        lock (_gate)
        {
            if (_journeyIndex.TryGetValue(journeyId, out var journey))
            {
                for (var i = 0; i < _count; i++)
                {
                    if (At(i).Journey == journey)
                    {
                        runs.Add(Read(i));
                    }
                }
            }
        }

        foreach (var run in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return run;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static bool IsEnded(byte status) => (JourneyRunStatus)status is JourneyRunStatus.Completed or JourneyRunStatus.Exited or JourneyRunStatus.Cancelled;

    private ref Slot At(int i) => ref _slots[i >> ChunkBits][i & ChunkMask];

    private static int Hash(int journey, Guid contact) => HashCode.Combine(journey, contact) & int.MaxValue;

    private int Find(string journeyId, ContactId contactId)
    {
        if (!_journeyIndex.TryGetValue(journeyId, out var journey))
        {
            return -1;
        }

        var contact = contactId.Value;
        for (var n = _buckets[Hash(journey, contact) & (_buckets.Length - 1)]; n != 0; n = At(n - 1).Next)
        {
            ref var slot = ref At(n - 1);
            if (slot.Journey == journey && slot.Contact == contact)
            {
                return n - 1;
            }
        }

        return -1;
    }

    private int Add(string journeyId, ContactId contactId)
    {
        if (!_journeyIndex.TryGetValue(journeyId, out var journey))
        {
            journey = _journeyNames.Count;
            _journeyNames.Add(journeyId);
            _journeyIndex[journeyId] = journey;
        }

        if (_count == _slots.Count * ChunkSize)
        {
            _slots.Add(new Slot[ChunkSize]);
        }

        if (_count == _buckets.Length)
        {
            Rehash(_buckets.Length * 2);
        }

        var i = _count++;
        ref var slot = ref At(i);
        slot.Journey = journey;
        slot.Contact = contactId.Value;
        slot.HeapIndex = -1;
        ref var bucket = ref _buckets[Hash(journey, slot.Contact) & (_buckets.Length - 1)];
        slot.Next = bucket;
        bucket = i + 1;
        return i;
    }

    private void Rehash(int size)
    {
        var buckets = new int[size];
        for (var i = 0; i < _count; i++)
        {
            ref var slot = ref At(i);
            ref var bucket = ref buckets[Hash(slot.Journey, slot.Contact) & (size - 1)];
            slot.Next = bucket;
            bucket = i + 1;
        }

        _buckets = buckets;
    }

    private ushort Name(string? name)
    {
        if (name is null)
        {
            return 0;
        }

        if (!_nameIndex.TryGetValue(name, out var index))
        {
            if (_names.Count >= ushort.MaxValue - 1)
            {
                return ushort.MaxValue; // too many distinct names: the caller keeps the full record
            }

            index = _names.Count;
            _names.Add(name);
            _nameIndex[name] = index;
        }

        return (ushort)(index + 1);
    }

    private static bool TryNanos(Instant? instant, out long nanos)
    {
        if (instant is not { } value)
        {
            nanos = NoInstant;
            return true;
        }

        var d = value - NodaConstants.UnixEpoch;
        if (d < MinNanos || d > MaxNanos)
        {
            nanos = 0;
            return false;
        }

        nanos = d.ToInt64Nanoseconds();
        return true;
    }

    private static long Clamp(Instant instant) => TryNanos(instant, out var nanos) ? nanos : instant < NodaConstants.UnixEpoch ? long.MinValue + 1 : long.MaxValue;

    private static Instant? ToInstant(long nanos) => nanos == NoInstant ? null : NodaConstants.UnixEpoch + Duration.FromNanoseconds(nanos);

    /// <summary>Stores a run in slot <paramref name="i"/> (compact when it fits) and replaces its timer.</summary>
    private void Write(int i, JourneyRun run)
    {
        ref var slot = ref At(i);
        if (slot.HeapIndex >= 0)
        {
            HeapRemove(slot.HeapIndex);
        }

        var node = Name(run.NodeId);
        var waiting = Name(run.WaitingForEvent);
        var instantsFit = TryNanos(run.EnteredAt, out var entered) & TryNanos(run.NodeEnteredAt, out var nodeEntered) & TryNanos(run.DueAt, out var due);
        var compact = instantsFit && run.EndedAt is null && run.EndReason is null
            && node != ushort.MaxValue && waiting != ushort.MaxValue
            && run.Step is >= 0 and <= int.MaxValue && run.Version is >= 0 and <= int.MaxValue
            && run.Touches is >= 0 and <= ushort.MaxValue && run.Attempts is >= 0 and <= byte.MaxValue
            && (int)run.Status is >= 0 and <= StatusMask;
        if (compact)
        {
            _full.Remove(i);
            slot.State = 0;
            slot.EnteredAt = entered;
            slot.NodeEnteredAt = nodeEntered;
            slot.DueAt = due;
            slot.Step = (int)run.Step;
            slot.Version = (int)run.Version;
            slot.Node = node;
            slot.Waiting = waiting;
            slot.Touches = (ushort)run.Touches;
            slot.Attempts = (byte)run.Attempts;
            slot.Status = (byte)run.Status;
        }
        else
        {
            _full[i] = run;
            slot.State = FullRecord;
            slot.DueAt = run.DueAt is { } d ? Clamp(d) : NoInstant;
        }

        slot.RunNumber = run.RunNumber;
        if (run.Status == JourneyRunStatus.Active && run.DueAt is not null)
        {
            HeapInsert(i, slot.DueAt);
        }
    }

    /// <summary>The timer of slot <paramref name="i"/> (an active run with a due instant), read without building the run.</summary>
    private JourneyTimer Timer(int i)
    {
        ref var slot = ref At(i);
        if ((slot.Flags & FullRecord) != 0)
        {
            var run = _full[i];
            return new JourneyTimer(run.JourneyId, run.ContactId, run.RunNumber, run.DueAt!.Value, run.Version);
        }

        return new JourneyTimer(_journeyNames[slot.Journey], new ContactId(slot.Contact), slot.RunNumber, ToInstant(slot.DueAt)!.Value, slot.Version);
    }

    private JourneyRun Read(int i)
    {
        ref var slot = ref At(i);
        if ((slot.Flags & FullRecord) != 0)
        {
            return _full[i];
        }

        return new JourneyRun
        {
            JourneyId = _journeyNames[slot.Journey],
            ContactId = new ContactId(slot.Contact),
            RunNumber = slot.RunNumber,
            Status = (JourneyRunStatus)slot.Status,
            NodeId = slot.Node == 0 ? null : _names[slot.Node - 1],
            Step = slot.Step,
            Touches = slot.Touches,
            Attempts = slot.Attempts,
            EnteredAt = ToInstant(slot.EnteredAt)!.Value,
            NodeEnteredAt = ToInstant(slot.NodeEnteredAt)!.Value,
            DueAt = ToInstant(slot.DueAt),
            WaitingForEvent = slot.Waiting == 0 ? null : _names[slot.Waiting - 1],
            Version = slot.Version,
        };
    }

    private int NextSequence()
    {
        if (_sequence == int.MaxValue)
        {
            Renumber();
        }

        return ++_sequence;
    }

    /// <summary>Reassigns the write order 1..n in heap order (a sorted array is a valid heap); runs when the counter would overflow.</summary>
    private void Renumber()
    {
        var order = new HeapEntry[_heapCount];
        for (var k = 0; k < _heapCount; k++)
        {
            order[k] = HeapRef(k);
        }

        Array.Sort(order, static (a, b) => Less(a, b) ? -1 : Less(b, a) ? 1 : 0);
        for (var k = 0; k < order.Length; k++)
        {
            order[k].Seq = k + 1;
            HeapSet(k, order[k]);
        }

        _sequence = order.Length;
    }

    /// <summary>Test hook: the next write order is <paramref name="value"/> + 1 (so a test reaches the renumbering).</summary>
    internal void SetSequence(int value)
    {
        lock (_gate)
        {
            _sequence = value;
        }
    }

    // The timer queue: an indexed binary min-heap of entries ordered by (key, write order); a slot knows its entry's position.
    private static bool Less(in HeapEntry a, in HeapEntry b) => a.Key < b.Key || (a.Key == b.Key && a.Seq < b.Seq);

    private ref HeapEntry HeapRef(int k) => ref _heap[k >> ChunkBits][k & ChunkMask];

    private void HeapSet(int k, in HeapEntry entry)
    {
        HeapRef(k) = entry;
        At(entry.Slot).HeapIndex = k;
    }

    /// <summary>Queues slot <paramref name="i"/>'s timer at <paramref name="key"/>, after every timer written before it.</summary>
    private void HeapInsert(int i, long key) => HeapInsert(new HeapEntry { Key = key, Seq = NextSequence(), Slot = i });

    /// <summary>Queues an entry as it is (a skipped timer keeps its place among equal keys).</summary>
    private void HeapInsert(HeapEntry entry)
    {
        if (_heapCount == _heap.Count * ChunkSize)
        {
            _heap.Add(new HeapEntry[ChunkSize]);
        }

        var k = _heapCount++;
        HeapSet(k, entry);
        SiftUp(k);
    }

    private void HeapRemove(int k)
    {
        var removed = HeapRef(k).Slot;
        var last = HeapRef(--_heapCount);
        At(removed).HeapIndex = -1;
        if (k < _heapCount)
        {
            HeapSet(k, last);
            SiftUp(k);
            SiftDown(At(last.Slot).HeapIndex);
        }
    }

    private void SiftUp(int k)
    {
        var entry = HeapRef(k);
        while (k > 0)
        {
            var parent = (k - 1) / 2;
            ref var p = ref HeapRef(parent);
            if (!Less(entry, p))
            {
                break;
            }

            HeapSet(k, p);
            k = parent;
        }

        HeapSet(k, entry);
    }

    private void SiftDown(int k)
    {
        var entry = HeapRef(k);
        while (true)
        {
            var child = (2 * k) + 1;
            if (child >= _heapCount)
            {
                break;
            }

            if (child + 1 < _heapCount && Less(HeapRef(child + 1), HeapRef(child)))
            {
                child++;
            }

            ref var c = ref HeapRef(child);
            if (!Less(c, entry))
            {
                break;
            }

            HeapSet(k, c);
            k = child;
        }

        HeapSet(k, entry);
    }
}
