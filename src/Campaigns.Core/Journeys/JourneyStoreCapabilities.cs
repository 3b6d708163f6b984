using Campaigns.Contacts;
using Campaigns.Delivery;

namespace Campaigns.Journeys;

/// <summary>The answer to <see cref="IContactReadingJourneyRunStore.GetLatestWithContactAsync"/>: a run and its contact, read together.</summary>
/// <param name="Run">The contact's latest run of the journey, exactly as <see cref="IJourneyRunStore.GetLatestAsync"/> would answer; null when it never entered.</param>
/// <param name="Contact">The contact as <see cref="IContactStore.GetAsync"/> would answer at the same moment (null when it was deleted); always null when <paramref name="Run"/> is.</param>
public readonly record struct JourneyRunWithContact(JourneyRun? Run, Contact? Contact);

/// <summary>
/// An optional capability of an <see cref="IJourneyRunStore"/> that keeps the contacts in the same database: a due
/// step's two reads (the run and its contact) are answered together in one round trip, instead of two. The journey
/// runner uses it only when <see cref="ReadsContactsOf"/> says the registered contact store is the one it reads;
/// otherwise it asks each store. The step sees the same state either way (the contact read at the moment of the run's
/// read instead of a moment after it). Implementations are thread-safe.
/// </summary>
public interface IContactReadingJourneyRunStore : IJourneyRunStore
{
    /// <summary>Whether <see cref="GetLatestWithContactAsync"/> reads exactly this contact store (the same table of the same database, decoded the same way).</summary>
    /// <param name="contacts">The contact store the runner uses.</param>
    /// <returns>True when the combined read may replace the separate reads.</returns>
    bool ReadsContactsOf(IContactStore contacts);

    /// <summary>The contact's latest run of a journey and, when there is one, the contact itself, in one round trip.</summary>
    /// <param name="journeyId">The journey's id.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The run (null when the contact never entered) and the contact (null without a run, or when the contact no longer exists).</returns>
    ValueTask<JourneyRunWithContact> GetLatestWithContactAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default);
}

/// <summary>The answer to <see cref="IReadAheadJourneyRunStore.TryUpdateAndReadNextAsync"/>.</summary>
/// <param name="Stored">The stored run, exactly as <see cref="IJourneyRunStore.TryUpdateAsync"/> would answer (null when the expected version was stale).</param>
/// <param name="Next">
/// The next run and its contact, exactly as <see cref="IContactReadingJourneyRunStore.GetLatestWithContactAsync"/> would
/// answer right after the update; null when the read did not complete (e.g. it failed or was cancelled after the update
/// committed): the caller then reads it itself.
/// </param>
public readonly record struct JourneyRunUpdateAndRead(JourneyRun? Stored, JourneyRunWithContact? Next);

/// <summary>
/// An optional capability of an <see cref="IContactReadingJourneyRunStore"/>: the version-guarded update that ends one
/// run's turn and the read of the next due run of the batch (with its contact) go to the database in one round trip,
/// instead of two. The journey runner uses it only when it advances a batch's runs one after the other
/// (<see cref="JourneyOptions.MaxParallelism"/> 1), when the update ends the run's turn, and when no
/// <see cref="IJourneyObserver"/> is registered — so the next run is read at exactly the point of the flow where it
/// would be read otherwise (right after the update). Implementations are thread-safe.
/// </summary>
public interface IReadAheadJourneyRunStore : IContactReadingJourneyRunStore
{
    /// <summary>
    /// Does what <see cref="IJourneyRunStore.TryUpdateAsync"/> does for <paramref name="run"/>, then what
    /// <see cref="IContactReadingJourneyRunStore.GetLatestWithContactAsync"/> does for the next run, in one round trip.
    /// The update commits on its own: nothing that happens to the read can undo it. When the update itself fails, this
    /// throws what <see cref="IJourneyRunStore.TryUpdateAsync"/> would throw, and nothing is read.
    /// </summary>
    /// <param name="run">The new state of the run (its version is ignored; the stored one is <paramref name="expectedVersion"/> + 1).</param>
    /// <param name="expectedVersion">The version the run must still have.</param>
    /// <param name="nextJourneyId">The journey of the run to read after the update.</param>
    /// <param name="nextContactId">The contact of the run to read after the update.</param>
    /// <param name="cancellationToken">Cancels the call; if it cancels after the update committed, the update's answer is returned without the read.</param>
    /// <returns>The update's answer, and the read's (null when the read did not complete).</returns>
    ValueTask<JourneyRunUpdateAndRead> TryUpdateAndReadNextAsync(JourneyRun run, long expectedVersion, string nextJourneyId, ContactId nextContactId, CancellationToken cancellationToken = default);
}

/// <summary>The answer to <see cref="IBookkeepingJourneyRunStore.TryUpdateWithBookkeepingAsync"/>.</summary>
/// <param name="Record">The task's execution record after counting the send (null without a task), as <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/> answers.</param>
/// <param name="Stored">The stored run (null when the expected version was stale, or when <paramref name="UpdateError"/> is set).</param>
/// <param name="Next">The next run and its contact when one was asked for and read, else null (the caller reads it itself).</param>
/// <param name="UpdateError">The run update's failure, after the bookkeeping committed (the caller rethrows it once it has used <paramref name="Record"/>), or null.</param>
public readonly record struct JourneyRunUpdateWithBookkeeping(ExecutionRecord? Record, JourneyRun? Stored, JourneyRunWithContact? Next, Exception? UpdateError);

/// <summary>
/// An optional capability of an <see cref="IReadAheadJourneyRunStore"/> whose database also holds the delivery
/// pipeline's idempotency keys, execution records and provider-message index: the bookkeeping of a step's completed send
/// (<see cref="SendBookkeeping"/>) and the version-guarded update of its run go to the database in one round trip,
/// instead of two, without becoming one transaction. The journey runner uses it where it uses the read-ahead (steps one
/// after the other, no journey observer) and when <see cref="WritesBookkeepingOf"/> says the pipeline's store is covered.
/// Implementations are thread-safe.
/// </summary>
public interface IBookkeepingJourneyRunStore : IReadAheadJourneyRunStore
{
    /// <summary>Whether <see cref="TryUpdateWithBookkeepingAsync"/> writes exactly what this store's <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/> writes.</summary>
    /// <param name="idempotency">The delivery pipeline's idempotency store (one that has accepted its records and index).</param>
    /// <returns>True when the combined write may replace the two separate ones.</returns>
    bool WritesBookkeepingOf(IBookkeepingIdempotencyStore idempotency);

    /// <summary>
    /// In one round trip and in this order: (1) what <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/> does
    /// for <paramref name="bookkeeping"/>, committed on its own, so the run update cannot undo it; (2) only when (1)
    /// committed, what <see cref="IJourneyRunStore.TryUpdateAsync"/> does for <paramref name="run"/>, committed on its own;
    /// (3) when <paramref name="nextJourneyId"/> is given, the next run's read as in
    /// <see cref="IReadAheadJourneyRunStore.TryUpdateAndReadNextAsync"/>. Once sent, the call completes (the token is
    /// checked before it starts, as the bookkeeping's own call does).
    /// </summary>
    /// <param name="bookkeeping">The completed send's bookkeeping (its key claimed by this host).</param>
    /// <param name="run">The new state of the run (its version is ignored; the stored one is <paramref name="expectedVersion"/> + 1).</param>
    /// <param name="expectedVersion">The version the run must still have.</param>
    /// <param name="nextJourneyId">The journey of the run to read after the update, or null for no read.</param>
    /// <param name="nextContactId">The contact of the run to read after the update (ignored without <paramref name="nextJourneyId"/>).</param>
    /// <param name="cancellationToken">Cancels before the call is sent.</param>
    /// <returns>The record, the update's answer or its failure, and the read's answer.</returns>
    /// <remarks>When (1) fails, this throws what <see cref="IBookkeepingIdempotencyStore.CompleteSendAsync"/> would throw and the run is not updated.</remarks>
    ValueTask<JourneyRunUpdateWithBookkeeping> TryUpdateWithBookkeepingAsync(SendBookkeeping bookkeeping, JourneyRun run, long expectedVersion, string? nextJourneyId, ContactId nextContactId, CancellationToken cancellationToken = default);
}
