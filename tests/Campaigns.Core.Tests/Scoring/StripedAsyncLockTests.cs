using Campaigns.Scoring;

namespace Campaigns.Tests.Scoring;

/// <summary>Issue 4: the scoring engine's per-contact lock (an interlocked fast path, a semaphore hand-over when contended).</summary>
public sealed class StripedAsyncLockTests
{
    [Fact]
    public async Task An_uncontended_entry_completes_synchronously_and_exit_frees_the_stripe()
    {
        var stripe = new StripedAsyncLock(4).For(7);

        var entry = stripe.EnterAsync(CancellationToken.None);

        Assert.True(entry.IsCompletedSuccessfully);
        await entry;
        Assert.Equal(1, stripe.Count);
        stripe.Exit();
        Assert.Equal(0, stripe.Count);
    }

    [Fact]
    public async Task A_second_entry_waits_until_the_holder_exits()
    {
        var stripe = new StripedAsyncLock(1).For(1);
        await stripe.EnterAsync(CancellationToken.None);

        var second = stripe.EnterAsync(CancellationToken.None).AsTask();

        Assert.False(second.IsCompleted);
        Assert.Equal(2, stripe.Count);
        stripe.Exit();
        await second;
        Assert.Equal(1, stripe.Count);
        stripe.Exit();
        Assert.Equal(0, stripe.Count);
    }

    [Fact]
    public async Task Keys_hash_onto_their_stripes()
    {
        var locks = new StripedAsyncLock(8);

        Assert.Same(locks.For(3), locks.For(11));
        Assert.Same(locks.For(-5), locks.For(-5));
        Assert.NotSame(locks.For(3), locks.For(4));
        await locks.For(3).EnterAsync(CancellationToken.None);
        Assert.True(await EntersAtOnceAsync(locks.For(4)));
    }

    [Fact]
    public async Task A_waiter_cancelled_while_waiting_throws_after_its_turn_and_leaves_the_stripe_usable()
    {
        var stripe = new StripedAsyncLock(1).For(0);
        await stripe.EnterAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        var waiter = stripe.EnterAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        stripe.Exit();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        Assert.Equal(0, stripe.Count);
        Assert.True(await EntersAtOnceAsync(stripe));
    }

    [Fact]
    public async Task A_cancelled_token_is_refused_before_entering()
    {
        var stripe = new StripedAsyncLock(1).For(0);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stripe.EnterAsync(new CancellationToken(true)));
        Assert.Equal(0, stripe.Count);
    }

    [Fact]
    public void Exiting_more_often_than_entering_is_an_error()
    {
        var stripe = new StripedAsyncLock(1).For(0);

        Assert.Throws<SynchronizationLockException>(stripe.Exit);
        Assert.Equal(0, stripe.Count);
    }

    [Fact]
    public void At_least_one_stripe_is_required() =>
        Assert.Equal("stripes", Assert.Throws<ArgumentOutOfRangeException>(() => new StripedAsyncLock(0)).ParamName);

    [Fact]
    public async Task Concurrent_holders_never_overlap_and_every_entry_gets_its_turn()
    {
        var stripe = new StripedAsyncLock(2).For(1);
        var inside = 0;
        var overlaps = 0;
        var done = 0;

        async Task WorkAsync()
        {
            for (var i = 0; i < 500; i++)
            {
                await stripe.EnterAsync(CancellationToken.None);
                try
                {
                    if (Interlocked.Increment(ref inside) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    if (i % 50 == 0)
                    {
                        await Task.Yield();
                    }

                    Interlocked.Decrement(ref inside);
                    Interlocked.Increment(ref done);
                }
                finally
                {
                    stripe.Exit();
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(WorkAsync)));

        Assert.Equal(0, overlaps);
        Assert.Equal(4_000, done);
        Assert.Equal(0, stripe.Count);
    }

    /// <summary>Enters a stripe and says whether that completed synchronously (the uncontended fast path).</summary>
    private static async Task<bool> EntersAtOnceAsync(StripedAsyncLock.Stripe stripe)
    {
        var entry = stripe.EnterAsync(CancellationToken.None);
        var atOnce = entry.IsCompletedSuccessfully;
        await entry;
        return atOnce;
    }
}
