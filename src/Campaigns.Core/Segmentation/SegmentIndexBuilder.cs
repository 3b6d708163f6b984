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
/// resolved to numbers once through <see cref="ColumnOf"/> and <see cref="TagOf"/>).
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
    private readonly List<BulkBits> _tagBits = [];
    private readonly List<int> _tagBuckets = [];
    private readonly List<BulkBits>[] _valueBits;
    private readonly BulkBits?[] _nonEmptyBits;
    private readonly Dictionary<long, BulkBits>?[] _dayBits;
    private readonly List<BulkBits> _allBits = [];
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
        var schema = target.Schema;
        _columns = [.. schema.Attributes.Select(a => _index.Column(a.Name)!).Distinct()];
        for (var i = 0; i < _columns.Length; i++)
        {
            _columnNumbers[_columns[i].Definition.Name] = i;
        }

        _valueBits = [.. _columns.Select(_ => new List<BulkBits>())];
        _dayBits = new Dictionary<long, BulkBits>?[_columns.Length];
        _nonEmptyBits = [.. _columns.Select(c => c.Categorical is { } cat ? Track(new BulkBits(cat.NonEmpty)) : null)];

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
        Index.AddNewLocked(contact);
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
    public bool Apply(BehaviourEvent behaviourEvent) => Index.Apply(behaviourEvent);

    /// <summary>Adds a contact with no attribute values, no tags, stage <see cref="LifecycleStage.New"/> and zero scores (the columnar path).</summary>
    /// <param name="id">The contact.</param>
    /// <param name="createdAt">The contact's creation instant (<c>created_at</c>).</param>
    /// <returns>The row to pass to the <c>Set…</c> and <c>AddTag</c> methods (rows are 0, 1, 2, … in order of addition).</returns>
    /// <exception cref="ArgumentException">The id was added before.</exception>
    public int AddContact(ContactId id, Instant createdAt)
    {
        var index = Index;
        var o = index.AddOrdinalNew(id);
        index.CreatedAt.Set(o, createdAt.ToUnixTimeTicks());
        index.SetStage(o, LifecycleStage.New, fresh: true);
        index.Score(ScoreKind.Behaviour).SetInteger(o, 0);
        index.Score(ScoreKind.Fit).SetInteger(o, 0);
        index.Score(ScoreKind.Total).SetInteger(o, 0);
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
            n = _tagBits.Count;
            FlushAll();
            _tagBits.Add(Track(new BulkBits(Index.Tags.BitsOf(tag))));
            _tagBuckets.Add(Index.Tags.BucketOf(tag));
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
        if ((uint)tag >= (uint)_tagBits.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(tag), tag, "Not a tag number from TagOf.");
        }

        _tagBits[tag].Add(row);
        Index.Tags.Track(row, _tagBuckets[tag]);
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

        var code = cat.CodeOf(value);
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
    public void SetNumber(int row, int column, long value) =>
        Column(row, column, ColumnKind.Number, "SetNumber", "an integer or decimal").Numbers!.SetInteger(row, value);

    /// <summary>Sets an integer or decimal attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetNumber(int row, int column, decimal value) =>
        Column(row, column, ColumnKind.Number, "SetNumber", "an integer or decimal").Numbers!.Set(row, value);

    /// <summary>Sets a date attribute of a row.</summary>
    /// <param name="row">The row from <see cref="AddContact"/>.</param>
    /// <param name="column">The column from <see cref="ColumnOf"/>.</param>
    /// <param name="value">The value.</param>
    public void SetDate(int row, int column, LocalDate value)
    {
        var c = Column(row, column, ColumnKind.Date, "SetDate", "a date");
        var day = AttributeColumn.DayNumber(value);
        if (c.Dates!.TryGet(row, out _))
        {
            FlushAll();
            c.Set(row, new DateValue(value));
            return;
        }

        c.Dates.Set(row, day);
        var days = _dayBits[column] ??= [];
        if (!days.TryGetValue(day, out var bits))
        {
            if (c.DayBitmap(day) is not { } bitmap)
            {
                return; // too many distinct days: the column dropped its day bitmaps
            }

            days[day] = bits = Track(new BulkBits(bitmap));
        }
        else if (c.DayBitmaps is null)
        {
            return;
        }

        bits.Add(row);
        _pending = true;
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
        return index;
    }

    private AttributeColumn Column(int row, int column, ColumnKind kind, string method, string expected)
    {
        CheckRow(row);
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
    }

    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)Index.OrdinalCount)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"Not a row added to this builder (0 to {Index.OrdinalCount - 1}).");
        }
    }
}
