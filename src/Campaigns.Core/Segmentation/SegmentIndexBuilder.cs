using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation.Engine;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// Loads a whole contact base into a new <see cref="SegmentIndex"/> in one pass (F-5.3): room is reserved up front and
/// values are appended to the columns without comparing with earlier values of the contact. Three inputs: whole
/// <see cref="Contact"/> records (<see cref="Add(Contact)"/>, <see cref="AddRange"/>, <see cref="AddRangeAsync"/>, e.g. when
/// rebuilding from a durable store at start), behaviour events (<see cref="Apply"/>), and a columnar path for generated or
/// exported data (<see cref="AddContact"/> then <c>Set…</c>/<see cref="AddTag(int, int)"/> by row, with columns and tags
/// resolved to numbers once through <see cref="ColumnOf"/> and <see cref="TagOf"/>, and text values through <see cref="ValueOf"/>
/// for <see cref="SetValue"/>). Values of new rows are buffered and written to the columns a window of rows at a time
/// (number, date, <c>created_at</c> and score slices) or a 65,536-contact chunk at a time (bitmaps), so a row costs a few
/// stores per value; setting a value of an earlier row, or a second value of a row, takes the general path (correct, slower).
/// </summary>
/// <remarks>
/// Each contact is added once (a second <see cref="Add(Contact)"/> or <see cref="AddContact"/> of an id throws); use
/// <see cref="SegmentIndex.Upsert"/> on the built index for later changes. The result is the same index that upserting
/// the same contacts in the same order would build (same ordinals, same members for every filter).
/// Thread safety: not thread-safe; use one builder from one thread at a time. After <see cref="Build"/> the builder
/// cannot be used again.
/// </remarks>
public sealed class SegmentIndexBuilder
{
    private readonly AttributeColumn[] _columns;
    private readonly Dictionary<string, int> _columnNumbers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _tagNumbers = new(StringComparer.Ordinal);
    private BulkBits[] _tagBits = [];
    private int[] _tagBuckets = [];
    private readonly KeyedBitmaps _tags;
    private readonly BulkRuns _live;
    private readonly List<BulkRuns> _allRuns = [];
    private readonly BulkBits?[]?[] _dayArrays;
    private readonly long[] _dayArrayBase;
    private int _rows;
    private readonly List<BulkBits>[] _valueBits;
    private readonly BulkRuns?[] _nonEmptyBits;
    private readonly Dictionary<long, BulkBits>?[] _dayBits;
    private readonly List<BulkBits> _allBits = [];
    private readonly BulkSlices?[] _slices;
    private readonly BulkSlices _createdAt;
    private readonly BulkSlices[] _scores; // one per ScoreKinds entry
    private static readonly ScoreKind[] ScoreKinds = [ScoreKind.Behaviour, ScoreKind.Fit, ScoreKind.Total];
    private readonly List<BulkSlices> _allSlices = [];
    private int _newStageCode;
    private BulkRuns? _newStageBits;
    private BulkRuns? _stageNonEmpty;
    private const int DayArrayDays = 2048;
    private const int DayCacheSize = 1021;
    private readonly (LocalDate Date, long Day, bool Known)[] _dayCache = new (LocalDate, long, bool)[DayCacheSize];
    private bool _pending;
    private SegmentIndex? _index;

    /// <summary>Creates a builder for a new index.</summary>
    /// <param name="schema">The attribute schema; attributes not in it are ignored.</param>
    /// <param name="capacity">The number of contacts to reserve room for (the number that will be added, when known).</param>
    /// <param name="zone">The calendar zone of the index (see <see cref="SegmentIndex.Zone"/>); UTC when null.</param>
    public SegmentIndexBuilder(AttributeSchema schema, int capacity = 0, DateTimeZone? zone = null)
        : this(new SegmentIndex(schema, capacity, zone))
    {
    }

    /// <summary>
    /// Creates a builder that loads into an existing, empty index — for example the one a service container shares with
    /// a <see cref="SegmentRegistry"/>, loaded from a durable store at start. Nothing else may write to the index until
    /// <see cref="Build"/> returns.
    /// </summary>
    /// <param name="target">The index; it must hold no contacts.</param>
    /// <exception cref="ArgumentException"><paramref name="target"/> already holds contacts.</exception>
    public SegmentIndexBuilder(SegmentIndex target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.OrdinalCount != 0)
        {
            throw new ArgumentException($"The index already holds {target.OrdinalCount} contacts; a builder loads only an empty index.", nameof(target));
        }

        _index = target;
        _tags = target.Tags;
        _live = Track(new BulkRuns(target.Live));
        var schema = target.Schema;
        _columns = [.. schema.Attributes.Select(a => _index.Column(a.Name)!).Distinct()];
        for (var i = 0; i < _columns.Length; i++)
        {
            _columnNumbers[_columns[i].Definition.Name] = i;
        }

        _valueBits = [.. _columns.Select(_ => new List<BulkBits>())];
        _dayBits = new Dictionary<long, BulkBits>?[_columns.Length];
        _dayArrays = new BulkBits?[_columns.Length][];
        _dayArrayBase = new long[_columns.Length];
        _nonEmptyBits = [.. _columns.Select(c => c.Categorical is { } cat ? Track(new BulkRuns(cat.NonEmpty)) : null)];

        // Number, date, created_at and score values of new rows are buffered and written a window of rows at a time.
        _slices = [.. _columns.Select(c => (c.Numbers?.Bits ?? c.Dates) is { } bits ? Track(new BulkSlices(bits)) : null)];
        _createdAt = Track(new BulkSlices(target.CreatedAt));
        _scores = [.. ScoreKinds.Select(k => Track(new BulkSlices(target.Score(k).Bits)))];
    }

    /// <summary>The number of contacts added so far.</summary>
    public int Count => Index.OrdinalCount;

    private SegmentIndex Index => _index ?? throw new InvalidOperationException("Build() has been called; create a new SegmentIndexBuilder to load another index.");

    /// <summary>Adds a contact: its attributes, built-in fields, scores, stage, consents and tags.</summary>
    /// <param name="contact">The contact.</param>
    /// <exception cref="ArgumentException">The contact's id was added before.</exception>
    public void Add(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        FlushAll();
        var o = Index.AddNewLocked(contact);
        _rows = o + 1;
        foreach (var s in _allSlices)
        {
            s.Flush(o + 1); // the row's values are in the columns: later values for it are written directly
        }
    }

    /// <summary>Adds contacts (see <see cref="Add(Contact)"/>).</summary>
    /// <param name="contacts">The contacts.</param>
    public void AddRange(IEnumerable<Contact> contacts)
    {
        ArgumentNullException.ThrowIfNull(contacts);
        foreach (var c in contacts)
        {
            Add(c);
        }
    }

    /// <summary>Adds contacts streamed from a store (see <see cref="Add(Contact)"/>).</summary>
    /// <param name="contacts">The contacts.</param>
    /// <param name="cancellationToken">Stops the load between contacts.</param>
    /// <returns>The number of contacts added by this call.</returns>
    public async Task<int> AddRangeAsync(IAsyncEnumerable<Contact> contacts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contacts);
        var n = 0;
        await foreach (var c in contacts.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            Add(c);
            n++;
        }

        return n;
    }

    /// <summary>Records a behaviour event of a contact added before (idempotent on <see cref="BehaviourEvent.EventId"/>).</summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <returns>False when the event is a duplicate or its contact has not been added.</returns>
    public bool Apply(BehaviourEvent behaviourEvent)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        return Index.ApplyLoading(behaviourEvent);
    }

    /// <summary>Adds a contact with no attribute values, no tags, stage <see cref="LifecycleStage.New"/> and zero scores (the columnar path).</summary>
    /// <param name="id">The contact.</param>
    /// <param name="createdAt">The contact's creation instant (<c>created_at</c>).</param>
    /// <returns>The row to pass to the <c>Set…</c> and <c>AddTag</c> methods (rows are 0, 1, 2, … in order of addition).</returns>
    /// <exception cref="ArgumentException">The id was added before.</exception>
    public int AddContact(ContactId id, Instant createdAt)
    {
        var index = Index;
        var o = index.AddOrdinalNew(id, live: false);
        _live.Add(o);
        _rows = o + 1;
        if (!_createdAt.TryAdd(o, createdAt.ToUnixTimeTicks()))
        {
            Direct(_createdAt, o);
            index.CreatedAt.Set(o, createdAt.ToUnixTimeTicks());
        }

        var stage = index.Stage;
        if (_newStageBits is null)
        {
            _newStageCode = stage.CodeOf(nameof(LifecycleStage.New)); // the name SegmentIndex.SetStage stores
            _newStageBits = Track(new BulkRuns(stage.Bitmap(_newStageCode)));
            _stageNonEmpty = Track(new BulkRuns(stage.NonEmpty));
        }

        stage.SetCodeOnly(o, _newStageCode);
        _newStageBits.Add(o);
        _stageNonEmpty!.Add(o);
        for (var k = 0; k < _scores.Length; k++)
        {
            if (!_scores[k].TryAdd(o, 0))
            {
                Direct(_scores[k], o);
                index.Score(ScoreKinds[k]).SetInteger(o, 0);
            }
        }

        _pending = true;
        return o;
    }

    /// <summary>The number of an attribute's column, for the <c>Set…</c> methods.</summary>
    /// <param name="attribute">The attribute's name in the schema.</param>
    /// <exception cref="ArgumentException">The schema has no such attribute.</exception>
    public int ColumnOf(string attribute)
    {
        ArgumentNullException.ThrowIfNull(attribute);
        return _columnNumbers.TryGetValue(attribute, out var n)
            ? n
            : throw new ArgumentException($"The schema has no attribute '{attribute}'.", nameof(attribute));
    }

    /// <summary>The number of a tag, for <see cref="AddTag(int, int)"/>.</summary>
    /// <param name="tag">The tag.</param>
    public int TagOf(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        if (!_tagNumbers.TryGetValue(tag, out var n))
        {
            n = _tagBits.Length;
            FlushAll();
            var bits = Track(new BulkBits(Index.Tags.BitsOf(tag)));
            _tagBits = [.. _tagBits, bits];
            _tagBuckets = [.. _tagBuckets, Index.Tags.BucketOf(tag)];
            _tagNumbers.Add(tag, n);
        }

        return n;
    }

    /// <summary>Gives a row a tag without group or expiry.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="tag">The tag's number from <see cref="TagOf"/>.</param>
    public void AddTag(int row, int tag)
    {
        CheckRow(row);
        var tagBits = _tagBits;
        if ((uint)tag >= (uint)tagBits.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(tag), tag, "Not a tag number from TagOf.");
        }

        tagBits[tag].Add(row);
        _tags.Track(row, _tagBuckets[tag]);
        _pending = true;
    }

    /// <summary>Sets a text or enum attribute of a row; empty text is no value.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetText(int row, int column, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var c = Column(row, column, ColumnKind.Text, "SetText", "a string or enum");
        var cat = c.Categorical!;
        if (value.Length == 0 || cat.CodeAt(row) != 0)
        {
            // Clearing or replacing a value: the general path, on flushed bitmaps.
            FlushAll();
            cat.Set(row, value.Length == 0 ? null : value);
            return;
        }

        AppendCode(row, column, cat, cat.CodeOf(value));
    }

    /// <summary>
    /// The number of a text or enum value in a column, for <see cref="SetValue"/>: a load that resolves each distinct value
    /// once (as <see cref="TagOf"/> does for tags) does not hash the text on every row.
    /// </summary>
    /// <param name="column">The column from <see cref="ColumnOf"/>; a string or enum attribute.</param>
    /// <param name="value">The value; not empty (empty text is no value: clear with <see cref="SetText"/> and "").</param>
    /// <exception cref="ArgumentException">The value is empty, or the column is not a string or enum attribute.</exception>
    public int ValueOf(int column, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _ = Index;
        return ColumnOnly(column, ColumnKind.Text, "ValueOf", "a string or enum").Categorical!.CodeOf(value);
    }

    /// <summary>Sets a text or enum attribute of a row to a value from <see cref="ValueOf"/> (the same as <see cref="SetText"/>
    /// with that value's text).</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value's number from <see cref="ValueOf"/> for this column.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a number from <see cref="ValueOf"/> for this column.</exception>
    public void SetValue(int row, int column, int value)
    {
        var cat = Column(row, column, ColumnKind.Text, "SetValue", "a string or enum").Categorical!;
        if ((uint)value >= (uint)cat.DistinctCount || cat.IsEmptyValue(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"Not a value number from ValueOf for column {column}.");
        }

        if (cat.CodeAt(row) != 0)
        {
            FlushAll();
            cat.Set(row, cat.ValueAt(value));
            return;
        }

        AppendCode(row, column, cat, value);
    }

    private void AppendCode(int row, int column, CategoricalColumn cat, int code)
    {
        var bits = _valueBits[column];
        while (bits.Count <= code)
        {
            bits.Add(Track(new BulkBits(cat.Bitmap(bits.Count))));
        }

        cat.SetCodeOnly(row, code);
        bits[code].Add(row);
        _nonEmptyBits[column]!.Add(row);
        _pending = true;
    }

    /// <summary>Sets a boolean attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetBool(int row, int column, bool value)
    {
        var c = Column(row, column, ColumnKind.Boolean, "SetBool", "a bool");
        FlushAll();
        c.Categorical!.Set(row, AttributeColumn.BoolText(value));
    }

    /// <summary>Sets an integer or decimal attribute of a row to a whole number (the fastest number path).</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetNumber(int row, int column, long value)
    {
        var numbers = Column(row, column, ColumnKind.Number, "SetNumber", "an integer or decimal").Numbers!;
        var slices = _slices[column]!;
        if (numbers.Scale == 0 && slices.TryAdd(row, value))
        {
            _pending = true;
            return;
        }

        Direct(slices, row);
        numbers.SetInteger(row, value);
    }

    /// <summary>Sets an integer or decimal attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetNumber(int row, int column, decimal value)
    {
        var numbers = Column(row, column, ColumnKind.Number, "SetNumber", "an integer or decimal").Numbers!;
        Direct(_slices[column]!, row);
        numbers.Set(row, value);
    }

    /// <summary>Sets a date attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetDate(int row, int column, LocalDate value)
    {
        var c = Column(row, column, ColumnKind.Date, "SetDate", "a date");
        // Day numbers of recent dates come from a small cache (the conversion from a calendar date is most of the cost).
        ref var cached = ref _dayCache[(uint)value.GetHashCode() % DayCacheSize];
        if (cached.Date != value || !cached.Known)
        {
            cached = (value, AttributeColumn.DayNumber(value), true);
        }

        var day = cached.Day;
        var slices = _slices[column]!;
        if (!slices.TryAdd(row, day))
        {
            // A second value for the row, or a row already written: the general path (replaces the value and its day bit).
            Direct(slices, row);
            c.Set(row, new DateValue(value));
            return;
        }

        _pending = true;
        if (c.DayBitmaps is null)
        {
            return; // too many distinct days: the column dropped its day bitmaps
        }

        // Days near the first one are found by position (no hashing per row); others through the dictionary.
        var near = _dayArrays[column];
        if (near is null)
        {
            _dayArrayBase[column] = day - (DayArrayDays / 2);
            _dayArrays[column] = near = new BulkBits?[DayArrayDays];
        }

        var slot = day - _dayArrayBase[column];
        if ((ulong)slot < DayArrayDays && near[slot] is { } nearBits)
        {
            nearBits.Add(row);
            return;
        }

        var days = _dayBits[column] ??= [];
        if (!days.TryGetValue(day, out var bits))
        {
            if (c.DayBitmap(day) is not { } bitmap)
            {
                return; // too many distinct days: the column dropped its day bitmaps
            }

            days[day] = bits = Track(new BulkBits(bitmap));
            if ((ulong)slot < DayArrayDays)
            {
                near[slot] = bits;
            }
        }

        bits.Add(row);
    }

    /// <summary>Adds an element to a string-list attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="element">The element; empty elements are ignored.</param>
    public void AddElement(int row, int column, string element)
    {
        ArgumentNullException.ThrowIfNull(element);
        var c = Column(row, column, ColumnKind.List, "AddElement", "a string list");
        if (element.Length > 0)
        {
            c.Elements!.Add(element, row, null);
            c.NonEmpty!.Add(row);
        }
    }

    /// <summary>Finishes the load and returns the index, ready for <see cref="SegmentIndex.Evaluate"/> and changes.</summary>
    public SegmentIndex Build()
    {
        var index = Index;
        FlushAll();
        _index = null;
        _rows = 0;
        return index;
    }

    private AttributeColumn Column(int row, int column, ColumnKind kind, string method, string expected)
    {
        CheckRow(row);
        return ColumnOnly(column, kind, method, expected);
    }

    private AttributeColumn ColumnOnly(int column, ColumnKind kind, string method, string expected)
    {
        if ((uint)column >= (uint)_columns.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(column), column, "Not a column number from ColumnOf.");
        }

        var c = _columns[column];
        return c.Kind == kind
            ? c
            : throw new ArgumentException($"Attribute '{c.Definition.Name}' is {c.Definition.Type}; {method} needs {expected} attribute.", nameof(column));
    }

    private BulkBits Track(BulkBits bits)
    {
        _allBits.Add(bits);
        return bits;
    }

    private BulkRuns Track(BulkRuns runs)
    {
        _allRuns.Add(runs);
        return runs;
    }

    private BulkSlices Track(BulkSlices slices)
    {
        _allSlices.Add(slices);
        return slices;
    }

    /// <summary>Before writing a row's value to a column directly: everything buffered is written first, and the row is
    /// never buffered for that column again.</summary>
    private void Direct(BulkSlices slices, int row)
    {
        FlushAll();
        slices.Flush(row + 1);
    }

    private void FlushAll()
    {
        if (!_pending)
        {
            return;
        }

        _pending = false;
        foreach (var b in _allBits)
        {
            b.Flush();
        }

        foreach (var r in _allRuns)
        {
            r.Flush();
        }

        foreach (var s in _allSlices)
        {
            s.Flush();
        }
    }

    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)_rows)
        {
            ThrowBadRow(row);
        }
    }

    private void ThrowBadRow(int row) =>
        throw new ArgumentOutOfRangeException(nameof(row), row, $"Not a row added to this builder (0 to {Index.OrdinalCount - 1}).");
}
