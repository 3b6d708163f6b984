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

    /// <summary><c>target &amp;= u0 | u1 | …</c> (up to four arrays of at least <c>target.Length</c> words; none clears
    /// <paramref name="target"/>) in one pass.</summary>
    public static void AndUnion(Span<ulong> target, ReadOnlySpan<ulong[]?> union)
    {
        var n = target.Length;
        var tv = MemoryMarshal.Cast<ulong, Vector<ulong>>(target);
        var vn = tv.Length;
        switch (union.Length)
        {
            case 0:
                target.Clear();
                return;
            case 1:
                And(target, union[0]);
                return;
            case 2:
            {
                var a = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[0].AsSpan(0, n));
                var b = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[1].AsSpan(0, n));
                for (var i = 0; i < vn; i++)
                {
                    tv[i] &= a[i] | b[i];
                }

                break;
            }

            case 3:
            {
                var a = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[0].AsSpan(0, n));
                var b = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[1].AsSpan(0, n));
                var c = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[2].AsSpan(0, n));
                for (var i = 0; i < vn; i++)
                {
                    tv[i] &= a[i] | b[i] | c[i];
                }

                break;
            }

            default:
            {
                var a = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[0].AsSpan(0, n));
                var b = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[1].AsSpan(0, n));
                var c = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[2].AsSpan(0, n));
                var d = MemoryMarshal.Cast<ulong, Vector<ulong>>(union[3].AsSpan(0, n));
                for (var i = 0; i < vn; i++)
                {
                    tv[i] &= a[i] | b[i] | c[i] | d[i];
                }

                break;
            }
        }

        for (var i = vn * Vector<ulong>.Count; i < n; i++)
        {
            var u = 0UL;
            foreach (var w in union)
            {
                u |= w![i];
            }

            target[i] &= u;
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
