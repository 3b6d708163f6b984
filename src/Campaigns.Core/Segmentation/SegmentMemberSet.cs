using System.Collections;
using Campaigns.Segmentation.Engine;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// The members of a segment as evaluated by a <see cref="SegmentIndex"/> at an instant: a compressed membership bitmap over the
/// index's contact ordinals. Enumeration is in a stable order (the order contacts were first added to the index).
/// Immutable and safe to share between threads; later changes to the index do not change it.
/// </summary>
public sealed class SegmentMemberSet : IReadOnlyCollection<ContactId>
{
    private readonly RoaringBitmap _members;
    private readonly ContactId[] _ids;
    private readonly Func<ContactId, int> _ordinalOf;

    internal SegmentMemberSet(RoaringBitmap members, ContactId[] ids, Func<ContactId, int> ordinalOf, Instant evaluatedAt)
    {
        _members = members;
        _ids = ids;
        _ordinalOf = ordinalOf;
        EvaluatedAt = evaluatedAt;
        Count = (int)members.Cardinality;
    }

    /// <summary>The number of members.</summary>
    public int Count { get; }

    /// <summary>The instant the filter was evaluated at ("now" of relative windows).</summary>
    public Instant EvaluatedAt { get; }

    /// <summary>Whether the contact is a member.</summary>
    /// <param name="id">The contact.</param>
    public bool Contains(ContactId id)
    {
        var o = _ordinalOf(id);
        return o >= 0 && _members.Contains(o);
    }

    /// <summary>A frozen member list for a send (F-5.4), in the stable order.</summary>
    public IReadOnlyList<ContactId> ToSnapshot() => [.. this];

    /// <inheritdoc />
    public IEnumerator<ContactId> GetEnumerator()
    {
        foreach (var o in _members.Enumerate())
        {
            yield return _ids[o];
        }
    }

    /// <inheritdoc />
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal ulong[] ToDense(int wordCount) => _members.ToDense(wordCount);
}
