using Campaigns.Contacts;

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
