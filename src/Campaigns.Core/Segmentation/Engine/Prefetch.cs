using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Campaigns.Segmentation.Engine;

/// <summary>Software prefetch (x86 <c>prefetcht0</c>; a no-op elsewhere): lets scattered probes of large columns overlap
/// their cache misses instead of waiting for each in turn.</summary>
internal static class Prefetch
{
    /// <summary>Asks the CPU to bring the cache line holding <paramref name="at"/> into L1. Never faults; if the GC moves the
    /// array meanwhile, a stale line is fetched and nothing else happens.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="at">An element of a managed array.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Line<T>(ref T at)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref at));
        }
    }
}
