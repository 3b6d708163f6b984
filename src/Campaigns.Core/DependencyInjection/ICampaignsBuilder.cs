using Microsoft.Extensions.DependencyInjection;

namespace Campaigns;

internal sealed class CampaignsBuilder(IServiceCollection services) : ICampaignsBuilder
{
    public IServiceCollection Services { get; } = services;
}

/// <summary>A catalogue document added in code with <c>AddCatalogue</c>; merged after the configured files.</summary>
/// <param name="Source">A name for messages.</param>
/// <param name="Document">The document.</param>
internal sealed record CatalogueRegistration(string Source, Modeling.CatalogueDocument Document);
