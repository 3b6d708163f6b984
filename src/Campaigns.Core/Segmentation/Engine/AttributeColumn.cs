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

    public void Set(int ordinal, FieldValue? value)
    {
        switch (Kind)
        {
            case ColumnKind.Text:
                Categorical!.Set(ordinal, value switch
                {
                    TextValue { Value.Length: > 0 } t => t.Value,
                    ChoiceValue { Value.Length: > 0 } c => c.Value,
                    _ => null, // empty text is no value
                });
                break;
            case ColumnKind.Boolean:
                Categorical!.Set(ordinal, value is BooleanValue b ? BoolText(b.Value) : null);
                break;
            case ColumnKind.Number:
                Numbers!.Set(ordinal, value is NumberValue n ? n.Value : null);
                break;
            case ColumnKind.Date:
                if (value is DateValue same && Dates!.TryGet(ordinal, out var current) && current == DayNumber(same.Value))
                {
                    break; // unchanged
                }

                if (DayBitmaps is not null && Dates!.TryGet(ordinal, out var old))
                {
                    DayBitmaps.GetValueOrDefault(old)?.Remove(ordinal);
                }

                if (value is DateValue d)
                {
                    var day = DayNumber(d.Value);
                    Dates!.Set(ordinal, day);
                    DayBitmap(day)?.Add(ordinal);
                }
                else
                {
                    Dates!.Clear(ordinal);
                }

                break;
            default:
                Elements!.RemoveOrdinal(ordinal);
                NonEmpty!.Remove(ordinal);
                if (value is ChoicesValue { Values.Count: > 0 } list)
                {
                    NonEmpty.Add(ordinal);
                    foreach (var e in list.Values)
                    {
                        Elements.Add(e, ordinal, null);
                    }
                }

                break;
        }
    }

    public static string BoolText(bool value) => value ? "true" : "false";
}
