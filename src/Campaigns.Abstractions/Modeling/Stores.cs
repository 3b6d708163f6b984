namespace Campaigns.Modeling;

/// <summary>
/// Stores campaigns. Implementations are thread-safe and storage-neutral (in-memory, SQLite, PostgreSQL).
/// Writes are optimistic: <see cref="UpdateAsync"/> succeeds only when the given campaign's
/// <see cref="Campaign.Version"/> equals the stored one.
/// </summary>
public interface ICampaignStore
{
    /// <summary>Gets a campaign, or null when it does not exist.</summary>
    /// <param name="id">The campaign id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<Campaign?> GetAsync(CampaignId id, CancellationToken cancellationToken = default);

    /// <summary>Adds a new campaign. Its <see cref="Campaign.Version"/> must be 0; the stored copy (version 1) is returned.</summary>
    /// <param name="campaign">The campaign.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="DuplicateEntityException">A campaign with the same id exists.</exception>
    /// <exception cref="ArgumentException">The version is not 0.</exception>
    Task<Campaign> AddAsync(Campaign campaign, CancellationToken cancellationToken = default);

    /// <summary>Replaces a campaign; the stored copy (version + 1) is returned.</summary>
    /// <param name="campaign">The changed campaign carrying the version it was read at.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ConcurrencyException">The stored version differs (or the campaign is gone); nothing was written.</exception>
    Task<Campaign> UpdateAsync(Campaign campaign, CancellationToken cancellationToken = default);

    /// <summary>Lists campaigns, optionally only those in the given states, ordered by creation time then id.</summary>
    /// <param name="states">The states to include; null or empty for all.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<Campaign> ListAsync(IReadOnlyCollection<CampaignState>? states = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// Stores participants of campaigns. Thread-safe; optimistic like <see cref="ICampaignStore"/>.
/// Within one campaign, a normalized e-mail and a normalized phone each identify at most one participant.
/// </summary>
public interface IParticipantStore
{
    /// <summary>Gets a participant, or null.</summary>
    /// <param name="id">The participant id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<Participant?> GetAsync(ParticipantId id, CancellationToken cancellationToken = default);

    /// <summary>Finds the participant of a campaign with the given normalized e-mail or phone, or null.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="email">A normalized e-mail, or null.</param>
    /// <param name="phone">A normalized phone, or null.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<Participant?> FindAsync(CampaignId campaignId, string? email, string? phone, CancellationToken cancellationToken = default);

    /// <summary>Adds a participant (version 0); returns the stored copy (version 1).</summary>
    /// <param name="participant">The participant.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="DuplicateEntityException">The id, or the e-mail or phone within the campaign, is taken.</exception>
    Task<Participant> AddAsync(Participant participant, CancellationToken cancellationToken = default);

    /// <summary>Replaces a participant; returns the stored copy (version + 1).</summary>
    /// <param name="participant">The changed participant carrying the version it was read at.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ConcurrencyException">The stored version differs; nothing was written.</exception>
    /// <exception cref="DuplicateEntityException">The new e-mail or phone is taken by another participant.</exception>
    Task<Participant> UpdateAsync(Participant participant, CancellationToken cancellationToken = default);

    /// <summary>Lists a campaign's participants in the order they were added.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<Participant> ListAsync(CampaignId campaignId, CancellationToken cancellationToken = default);
}
