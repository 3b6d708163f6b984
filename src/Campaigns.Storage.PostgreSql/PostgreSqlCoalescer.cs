namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Merges concurrent calls of one store operation into one round trip (client-side group commit): a call that finds
/// no round trip of this operation in flight starts one at once with just itself, on its own flow (so a lone caller
/// waits no longer, and costs no more thread hand-offs, than an uncoalesced call); calls that arrive while one is in flight queue, and the next round trip takes all of them (up to
/// <c>max</c>) as one set-based statement. Every caller still gets its own result only after the statement that
/// carries it has committed, so each call keeps the guarantee of the single-statement path. Items whose
/// <c>conflictKey</c> is already in the round trip being formed wait for the next one (a statement cannot upsert one
/// row twice). When a merged round trip fails (e.g. a deadlock with another host), its items are retried one by one
/// through the single-statement path, so one bad item fails only itself. Thread-safe.
/// </summary>
/// <typeparam name="TIn">The arguments of one call.</typeparam>
/// <typeparam name="TOut">The result of one call.</typeparam>
internal sealed class PostgreSqlCoalescer<TIn, TOut>(
    Func<TIn, CancellationToken, Task<TOut>> one,
    Func<IReadOnlyList<TIn>, Task<IReadOnlyList<TOut>>> many,
    Func<TIn, string>? conflictKey = null,
    int max = 256)
{
    private readonly Lock _gate = new();
    private readonly List<Item> _queue = [];
    private bool _running;

    /// <summary>How many round trips and items went through (diagnostics and tests).</summary>
    public (long RoundTrips, long Items) Stats => (Interlocked.Read(ref _roundTrips), Interlocked.Read(ref _items));

    private long _roundTrips;
    private long _items;

    public Task<TOut> RunAsync(TIn input, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Item? item = null;
        lock (_gate)
        {
            if (_running)
            {
                item = new Item(input, new TaskCompletionSource<TOut>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
                _queue.Add(item);
            }

            _running = true;
        }

        // Nothing in flight: this call goes out at once, alone and on the caller's own flow (no hand-off to a pump
        // thread and back, which at one call in flight would cost two thread-pool wake-ups per round trip).
        return item is null ? RunAloneAsync(input).WaitAsync(cancellationToken) : item.Done.Task.WaitAsync(cancellationToken);
    }

    private async Task<TOut> RunAloneAsync(TIn input)
    {
        Interlocked.Increment(ref _roundTrips);
        Interlocked.Increment(ref _items);
        try
        {
            return await one(input, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            // Calls that queued meanwhile go out together in the next round trip.
            bool pump;
            lock (_gate)
            {
                pump = _queue.Count > 0;
                _running = pump;
            }

            if (pump)
            {
                _ = Task.Run(PumpAsync, CancellationToken.None);
            }
        }
    }

    private async Task PumpAsync()
    {
        var batch = new List<Item>();
        var keys = conflictKey is null ? null : new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            batch.Clear();
            keys?.Clear();
            lock (_gate)
            {
                for (var i = 0; i < _queue.Count && batch.Count < max; i++)
                {
                    var item = _queue[i];
                    if (item.CancellationToken.IsCancellationRequested)
                    {
                        // Not sent: the caller gave up before its statement went out.
                        item.Done.TrySetCanceled(item.CancellationToken);
                        _queue.RemoveAt(i--);
                        continue;
                    }

                    if (keys is not null && !keys.Add(conflictKey!(item.Input)))
                    {
                        continue;
                    }

                    batch.Add(item);
                    _queue.RemoveAt(i--);
                }

                if (batch.Count == 0)
                {
                    _running = false;
                    return;
                }
            }

            Interlocked.Increment(ref _roundTrips);
            Interlocked.Add(ref _items, batch.Count);
            if (batch.Count == 1)
            {
                await OneAsync(batch[0]).ConfigureAwait(false);
                continue;
            }

            IReadOnlyList<TOut>? results = null;
            try
            {
                results = await many([.. batch.Select(b => b.Input)]).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Retried one by one below; an item that fails again fails alone, with its own exception.
            }

            if (results is not null)
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(results[i]);
                }

                continue;
            }

            foreach (var item in batch)
            {
                await OneAsync(item).ConfigureAwait(false);
            }
        }
    }

    private async Task OneAsync(Item item)
    {
        try
        {
            item.Done.TrySetResult(await one(item.Input, CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            item.Done.TrySetException(ex);
        }
    }

    private sealed record Item(TIn Input, TaskCompletionSource<TOut> Done, CancellationToken CancellationToken);
}
