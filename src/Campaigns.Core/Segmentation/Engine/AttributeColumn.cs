using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Segmentation.Engine;

/// <summary>How an attribute is stored.</summary>
internal enum ColumnKind
{
    Text,
    Boolean,
    Number,
    Date,
    List,
}

/// <summary>
/// The column of one schema attribute. Text, enum and bool attributes are dictionary-encoded; integer and decimal
/// attributes are exact bit-sliced numbers; dates are bit-sliced day numbers (days since 1970-01-01); string lists
/// are a bitmap per element. Empty text, an empty list and a value of the wrong type for the attribute are stored as
/// no value. Not thread-safe.
/// </summary>
internal sealed class AttributeColumn
{
    public static readonly int EpochDay = new DateOnly(1970, 1, 1).DayNumber;
    private string[] _elementKeys = []; // scratch of SetElements (the column is written under one lock)
    private long?[] _noExpiries = [];

    public AttributeColumn(AttributeDefinition definition)
    {
        Definition = definition;
        Kind = definition.Type switch
        {
            AttributeType.String or AttributeType.Enum => ColumnKind.Text,
            AttributeType.Bool => ColumnKind.Boolean,
            AttributeType.Integer or AttributeType.Decimal => ColumnKind.Number,
            AttributeType.Date => ColumnKind.Date,
            _ => ColumnKind.List,
        };
        switch (Kind)
        {
            case ColumnKind.Text or ColumnKind.Boolean:
                Categorical = new CategoricalColumn();
                break;
            case ColumnKind.Number:
                Numbers = new NumberColumn();
                break;
            case ColumnKind.Date:
                Dates = new BitSlicedColumn();
                DayBitmaps = [];
                break;
            default:
                Elements = new KeyedBitmaps();
                NonEmpty = new RoaringBitmap();
                break;
        }
    }

    public AttributeDefinition Definition { get; }

    public ColumnKind Kind { get; }

    public CategoricalColumn? Categorical { get; }

    public NumberColumn? Numbers { get; }

    public BitSlicedColumn? Dates { get; }

    public KeyedBitmaps? Elements { get; }

    /// <summary>Most distinct days a date column keeps a bitmap per day for; beyond it the bitmaps are dropped and range
    /// predicates scan the bit slices only.</summary>
    public const int MaxDayBitmaps = 1024;

    /// <summary>
    /// For date columns with at most <see cref="MaxDayBitmaps"/> distinct days: the contacts per day number, so a short
    /// window (<c>within 7d</c>) reads a few sparse bitmaps instead of every bit slice; null once there are more days.
    /// </summary>
    public Dictionary<long, RoaringBitmap>? DayBitmaps { get; private set; }

    /// <summary>The bitmap of a day, created when new; null when the column no longer keeps day bitmaps.</summary>
    public RoaringBitmap? DayBitmap(long day)
    {
        if (DayBitmaps is not { } days)
        {
            return null;
        }

        if (!days.TryGetValue(day, out var bits))
        {
            if (days.Count >= MaxDayBitmaps)
            {
                DayBitmaps = null;
                return null;
            }

            days[day] = bits = new RoaringBitmap();
        }

        return bits;
    }

    /// <summary>The day bitmaps of [lo, hi] when they are cheaper to read than the bit slices (their values take less than
    /// a quarter of the slices' bytes), else null.</summary>
    public List<RoaringBitmap>? DayBitmapsIfCheap(long lo, long hi, int population)
    {
        if (DayBitmaps is not { } days || Dates is not { } col)
        {
            return null;
        }

        var chosen = new List<RoaringBitmap>();
        long values = 0;
        foreach (var (day, bits) in days)
        {
            if (day >= lo && day <= hi)
            {
                chosen.Add(bits);
                values += bits.Cardinality;
            }
        }

        // Array containers: 2 bytes per value; slices: (width + 1) bits per contact. The narrow offsets (2 bytes per contact
        // for day numbers) are not cheaper to scan than the slices for a dense candidate set, and on a shared machine the
        // union's 2 bytes per value (few, sequential reads; bit writes into a cache-resident chunk) beat them: measured
        // with `query-stats`, see docs/benchmarks.md.
        return values * 2 * 4 < (long)population * (col.Width + 1) / 8 ? chosen : null;
    }

    public RoaringBitmap? NonEmpty { get; }

    public static long DayNumber(LocalDate date) => date.ToDateOnly().DayNumber - EpochDay;

    public void EnsureCapacity(int ordinals)
    {
        Categorical?.EnsureCapacity(ordinals);
        Numbers?.Bits.EnsureCapacity(ordinals);
        Dates?.EnsureCapacity(ordinals);
    }

    /// <summary>Sets (null: clears) an ordinal's value.</summary>
    /// <returns>False when the value was already stored (nothing written).</returns>
    public bool Set(int ordinal, FieldValue? value)
    {
        switch (Kind)
        {
            case ColumnKind.Text:
                return Categorical!.Set(ordinal, value switch
                {
                    TextValue { Value.Length: > 0 } t => t.Value,
                    ChoiceValue { Value.Length: > 0 } c => c.Value,
                    _ => null, // empty text is no value
                });
            case ColumnKind.Boolean:
                return Categorical!.Set(ordinal, value is BooleanValue b ? BoolText(b.Value) : null);
            case ColumnKind.Number:
                return Numbers!.Set(ordinal, value is NumberValue n ? n.Value : null);
            case ColumnKind.Date:
                var had = Dates!.TryGet(ordinal, out var old);
                if (value is DateValue same ? had && old == DayNumber(same.Value) : !had)
                {
                    return false; // unchanged
                }

                if (had && DayBitmaps is not null)
                {
                    DayBitmaps.GetValueOrDefault(old)?.Remove(ordinal);
                }

                if (value is DateValue d)
                {
                    var day = DayNumber(d.Value);
                    Dates.Set(ordinal, day);
                    DayBitmap(day)?.Add(ordinal);
                }
                else
                {
                    Dates.Clear(ordinal);
                }

                return true;
            default:
                return SetElements(ordinal, value is ChoicesValue { Values.Count: > 0 } list ? list.Values : null);
        }
    }

    /// <summary>A list value: only the elements that changed are written (see <see cref="KeyedBitmaps.Replace"/>).</summary>
    private bool SetElements(int ordinal, IReadOnlyList<string>? values)
    {
        var changed = values is null ? NonEmpty!.Remove(ordinal) : NonEmpty!.Add(ordinal);
        var count = values?.Count ?? 0;
        if (count == 0)
        {
            return Elements!.Replace(ordinal, [], []) | changed;
        }

        if (_elementKeys.Length < count)
        {
            _elementKeys = new string[Math.Max(count, _elementKeys.Length * 2)];
            _noExpiries = new long?[_elementKeys.Length];
        }

        for (var i = 0; i < count; i++)
        {
            _elementKeys[i] = values![i];
        }

        changed |= Elements!.Replace(ordinal, _elementKeys.AsSpan(0, count), _noExpiries.AsSpan(0, count));
        Array.Clear(_elementKeys, 0, count);
        return changed;
    }

    public static string BoolText(bool value) => value ? "true" : "false";
}
