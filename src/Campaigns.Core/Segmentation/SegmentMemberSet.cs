using System.Collections;
using System.Numerics;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// The members of a segment as evaluated by a <see cref="SegmentIndex"/> at an instant: a membership bitmap over the
/// index's contact ordinals. Enumeration is in a stable order (the order contacts were first added to the index).
/// Immutable and safe to share between threads; later changes to the index do not change it.
/// </summary>
public sealed class SegmentMemberSet : IReadOnlyCollection<ContactId>
{
    private readonly ulong[] _words;
    private readonly ContactId[] _ids;
    private readonly Func<ContactId, int> _ordinalOf;

    internal SegmentMemberSet(ulong[] words, ContactId[] ids, Func<ContactId, int> ordinalOf, Instant evaluatedAt)
    {
        _words = words;
        _ids = ids;
        _ordinalOf = ordinalOf;
        EvaluatedAt = evaluatedAt;
        long count = 0;
        foreach (var w in words)
        {
            count += BitOperations.PopCount(w);
        }

        Count = (int)count;
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
        return o >= 0 && (o >> 6) < _words.Length && (_words[o >> 6] & (1UL << o)) != 0;
    }

    /// <summary>A frozen member list for a send (F-5.4), in the stable order.</summary>
    public IReadOnlyList<ContactId> ToSnapshot() => [.. this];

    /// <inheritdoc />
    public IEnumerator<ContactId> GetEnumerator()
    {
        for (var w = 0; w < _words.Length; w++)
        {
            var word = _words[w];
            while (word != 0)
            {
                yield return _ids[(w << 6) + BitOperations.TrailingZeroCount(word)];
                word &= word - 1;
            }
        }
    }

    /// <inheritdoc />
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal ReadOnlySpan<ulong> Words => _words;
}
