namespace Campaigns.Scoring;

/// <summary>
/// Per-key mutual exclusion for async code over a fixed number of stripes, with an uncontended fast path of one
/// interlocked increment to enter and one decrement to leave (no monitor, no allocation). Each stripe counts its holder
/// and waiters; only a contended entry waits on the stripe's <see cref="SemaphoreSlim"/>, which the leaving holder
/// signals to hand the stripe over to exactly one waiter. Thread-safe.
/// </summary>
/// <remarks>
/// A waiter does not give up its place when its token is cancelled while it waits (a benaphore cannot withdraw a
/// counted waiter): it waits for its turn, then leaves at once and throws <see cref="OperationCanceledException"/>.
/// The wait is bounded by the holders ahead of it, which only hold the stripe for one contact's update.
/// </remarks>
internal sealed class StripedAsyncLock
{
    private readonly Stripe[] _stripes;

    /// <summary>Makes a lock with <paramref name="stripes"/> stripes (keys hash onto them).</summary>
    /// <param name="stripes">At least 1.</param>
    public StripedAsyncLock(int stripes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stripes, 1);
        _stripes = new Stripe[stripes];
        for (var i = 0; i < stripes; i++)
        {
            _stripes[i] = new Stripe();
        }
    }

    /// <summary>The stripe of a key's hash code.</summary>
    /// <param name="hashCode">The key's hash code.</param>
    public Stripe For(int hashCode) => _stripes[(hashCode & int.MaxValue) % _stripes.Length];

    /// <summary>One stripe: enter with <see cref="EnterAsync"/>, leave with <see cref="Exit"/> exactly once per entry.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "SemaphoreSlim only needs disposing once its AvailableWaitHandle was created, which is never read here; the stripes live as long as the engine.")]
    internal sealed class Stripe
    {
        private readonly SemaphoreSlim _handOver = new(0, int.MaxValue);
        private int _count;

        /// <summary>The holder plus the waiters (for tests).</summary>
        internal int Count => Volatile.Read(ref _count);

        /// <summary>Enters the stripe; completes synchronously when nobody holds it.</summary>
        /// <param name="cancellationToken">Checked before entering and after a contended wait.</param>
        public ValueTask EnterAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Interlocked.Increment(ref _count) == 1 ? ValueTask.CompletedTask : WaitAsync(cancellationToken);
        }

        /// <summary>Leaves the stripe, handing it to one waiter if any.</summary>
        public void Exit()
        {
            var left = Interlocked.Decrement(ref _count);
            if (left > 0)
            {
                _handOver.Release();
            }
            else if (left < 0)
            {
                Interlocked.Increment(ref _count);
                throw new SynchronizationLockException("A stripe was left more often than it was entered.");
            }
        }

        private async ValueTask WaitAsync(CancellationToken cancellationToken)
        {
            // Counted already: the hand-over permit for this waiter will come, so wait for it whatever the token says.
            await _handOver.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                Exit();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }
}
