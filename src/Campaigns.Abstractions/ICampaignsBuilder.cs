using Microsoft.Extensions.DependencyInjection;

namespace Campaigns;

/// <summary>
/// Returned by <c>AddCampaigns</c>; channel adapters and storage packages add themselves through it.
/// It lives in <c>Campaigns.Abstractions</c> so that an adapter package extends it without depending on <c>Campaigns.Core</c>.
/// </summary>
public interface ICampaignsBuilder
{
    /// <summary>The host's service collection.</summary>
    IServiceCollection Services { get; }
}
