namespace Campaigns.Contacts;

/// <summary>
/// An optional capability of an <see cref="IContactStore"/>: writing many contacts in a few transactions instead of
/// one per contact. The contact importer uses it when the registered store implements it (the SQLite store does);
/// otherwise it writes through <see cref="IContactStore"/> one contact at a time.
/// </summary>
public interface IBulkContactStore
{
    /// <summary>Starts a batch. Dispose it; writes not committed by then are rolled back.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The batch.</returns>
    ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets whether two batches of this store may hold uncommitted writes at the same time without waiting for each
    /// other (each on its own connection, writing different contacts and identities). When true, the contact importer
    /// commits up to two batches in the background (each flushed at once with <see cref="IContactWriteBatch.FlushAsync"/>)
    /// while it looks up and merges the next rows in another batch, where it also sends the next chunk's lookup early; it
    /// never lets a batch read or write a contact or identity an earlier one has not committed yet (it waits for that
    /// commit first), and it commits the batches in order. False by default, for a store whose batch holds the store's
    /// write lock (SQLite).
    /// </summary>
    bool AllowsConcurrentBatches => false;

    /// <summary>
    /// Gets how many writes the contact importer lets one batch of this store gather before it commits it; the importer
    /// checks after each chunk of 1,000 rows, so a multiple of 1,000 fits best, and it must be positive. Fewer writes per
    /// commit keep fewer contacts alive until their commit (the batch and the change listeners hold them until then, and
    /// contacts that outlive a young-generation collection are what makes the garbage collector expensive) but cost more
    /// commits. By default 2,000 when <see cref="AllowsConcurrentBatches"/> is true (up to two commits run in the
    /// background while the next rows are merged, so their cost is mostly hidden, as on PostgreSQL; measured against 1,000
    /// and 4,000 in docs/benchmarks.md) and 4,000 otherwise (the import waits for every commit, e.g. for SQLite's fsync).
    /// </summary>
    int PreferredWritesPerCommit => AllowsConcurrentBatches ? 2_000 : 4_000;
}

/// <summary>
/// A batch of contact writes: an <see cref="IContactStore"/> whose reads see its own uncommitted writes, and whose
/// writes become visible to others (and durable) at <see cref="CommitAsync"/>. Same rules as the store (versions,
/// unique identities, exceptions). Not thread-safe: one caller at a time. While a batch has uncommitted writes it may
/// hold the store's write lock, so commit often (every few thousand contacts) and never wait on other writers of the
/// same store in between.
/// </summary>
public interface IContactWriteBatch : IContactStore, IAsyncDisposable
{
    /// <summary>Gets how many writes are waiting for <see cref="CommitAsync"/>.</summary>
    int PendingWrites { get; }

    /// <summary>Commits the writes so far; the batch can be used for more afterwards.</summary>
    /// <param name="cancellationToken">Cancels before the commit starts.</param>
    /// <returns>Completes when the writes are durable.</returns>
    ValueTask CommitAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends the writes so far to the database without committing them: they stay invisible to others and are made
    /// durable (or rolled back) as before, but a store that keeps writes in memory until the commit (PostgreSQL copies
    /// its new contacts then) does that work now, leaving <see cref="CommitAsync"/> little more than the commit itself.
    /// The contact importer, on a store with <see cref="IBulkContactStore.AllowsConcurrentBatches"/>, flushes a batch
    /// while the batch before it is still committing, then commits it once that commit has completed, so commits stay in
    /// order but their work overlaps. A write refused here may be reported by <see cref="CommitAsync"/> instead. Does
    /// nothing by default.
    /// </summary>
    /// <param name="cancellationToken">Cancels before the flush starts.</param>
    /// <returns>Completes when the writes are in the database (uncommitted).</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }
}
