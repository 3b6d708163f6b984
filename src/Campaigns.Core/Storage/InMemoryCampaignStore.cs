using System.Runtime.CompilerServices;
using Campaigns.Modeling;

namespace Campaigns.Storage;

/// <summary>
/// A thread-safe in-memory <see cref="ICampaignStore"/>: the default when no durable store is registered.
/// Contents are lost when the process ends.
/// </summary>
public sealed class InMemoryCampaignStore : ICampaignStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<CampaignId, Campaign> _campaigns = [];

    /// <inheritdoc />
    public Task<Campaign?> GetAsync(CampaignId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_campaigns.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc />
    public Task<Campaign> AddAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        cancellationToken.ThrowIfCancellationRequested();
        if (campaign.Version != 0)
        {
            throw new ArgumentException($"A new campaign must have version 0, not {campaign.Version}.", nameof(campaign));
        }

        var stored = campaign with { Version = 1 };
        lock (_gate)
        {
            if (!_campaigns.TryAdd(campaign.Id, stored))
            {
                throw new DuplicateEntityException("campaign", campaign.Id.ToString());
            }
        }

        return Task.FromResult(stored);
    }

    /// <inheritdoc />
    public Task<Campaign> UpdateAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_campaigns.TryGetValue(campaign.Id, out var current) || current.Version != campaign.Version)
            {
                throw new ConcurrencyException("campaign", campaign.Id.ToString(), campaign.Version, current?.Version);
            }

            var stored = campaign with { Version = campaign.Version + 1 };
            _campaigns[campaign.Id] = stored;
            return Task.FromResult(stored);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Campaign> ListAsync(IReadOnlyCollection<CampaignState>? states = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Campaign[] snapshot;
        lock (_gate)
        {
            snapshot = [.. _campaigns.Values
                .Where(c => states is null || states.Count == 0 || states.Contains(c.State))
                .OrderBy(c => c.CreatedAt)
                .ThenBy(c => c.Id.Value)];
        }

        foreach (var campaign in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return campaign;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
