using System.Numerics;
using System.Runtime.InteropServices;

namespace Campaigns.Segmentation.Engine;

/// <summary>
/// Word-wise operations on plain <c>ulong</c> bitmaps (bit <c>i</c> of word <c>w</c> is ordinal <c>64·w + i</c>),
/// vectorized with <see cref="Vector{T}"/>. Used for full-base intermediate results of an evaluation.
/// </summary>
internal static class DenseBits
{
    public static int WordCount(int bits) => (bits + 63) >> 6;

    public static void And(Span<ulong> target, ReadOnlySpan<ulong> other)
    {
        var n = Math.Min(target.Length, other.Length);
        var tv = MemoryMarshal.Cast<ulong, Vector<ulong>>(target[..n]);
        var ov = MemoryMarshal.Cast<ulong, Vector<ulong>>(other[..n]);
        for (var i = 0; i < tv.Length; i++)
        {
            tv[i] &= ov[i];
        }

        for (var i = tv.Length * Vector<ulong>.Count; i < n; i++)
        {
            target[i] &= other[i];
        }

        target[n..].Clear();
    }

    public static void Or(Span<ulong> target, ReadOnlySpan<ulong> other)
    {
        var n = Math.Min(target.Length, other.Length);
        var tv = MemoryMarshal.Cast<ulong, Vector<ulong>>(target[..n]);
        var ov = MemoryMarshal.Cast<ulong, Vector<ulong>>(other[..n]);
        for (var i = 0; i < tv.Length; i++)
        {
            tv[i] |= ov[i];
        }

        for (var i = tv.Length * Vector<ulong>.Count; i < n; i++)
        {
            target[i] |= other[i];
        }
    }

    public static void AndNot(Span<ulong> target, ReadOnlySpan<ulong> other)
    {
        var n = Math.Min(target.Length, other.Length);
        var tv = MemoryMarshal.Cast<ulong, Vector<ulong>>(target[..n]);
        var ov = MemoryMarshal.Cast<ulong, Vector<ulong>>(other[..n]);
        for (var i = 0; i < tv.Length; i++)
        {
            tv[i] = Vector.AndNot(tv[i], ov[i]);
        }

        for (var i = tv.Length * Vector<ulong>.Count; i < n; i++)
        {
            target[i] &= ~other[i];
        }
    }

    public static bool IsZero(ReadOnlySpan<ulong> words)
    {
        var v = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
        var any = Vector<ulong>.Zero;
        for (var i = 0; i < v.Length; i++)
        {
            any |= v[i];
        }

        for (var i = v.Length * Vector<ulong>.Count; i < words.Length; i++)
        {
            if (words[i] != 0)
            {
                return false;
            }
        }

        return any == Vector<ulong>.Zero;
    }

    public static long PopCount(ReadOnlySpan<ulong> words)
    {
        long count = 0;
        foreach (var w in words)
        {
            count += BitOperations.PopCount(w);
        }

        return count;
    }

    public static bool Get(ReadOnlySpan<ulong> words, int bit) => (uint)(bit >> 6) < (uint)words.Length && (words[bit >> 6] & (1UL << bit)) != 0;

    public static void Set(Span<ulong> words, int bit) => words[bit >> 6] |= 1UL << bit;

    public static void Clear(Span<ulong> words, int bit) => words[bit >> 6] &= ~(1UL << bit);

    /// <summary>Calls <paramref name="action"/> for every set bit in ascending order.</summary>
    public static void ForEach<TState>(ReadOnlySpan<ulong> words, ref TState state, BitAction<TState> action)
    {
        for (var w = 0; w < words.Length; w++)
        {
            var word = words[w];
            while (word != 0)
            {
                var bit = BitOperations.TrailingZeroCount(word);
                action(ref state, (w << 6) + bit);
                word &= word - 1;
            }
        }
    }
}

/// <summary>A callback per set bit.</summary>
internal delegate void BitAction<TState>(ref TState state, int ordinal);
