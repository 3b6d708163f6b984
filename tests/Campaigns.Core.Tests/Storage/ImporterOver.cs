using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Tests.Storage;

/// <summary>The contact importer of a default service provider whose contact store is the one given (for the contract suite's import checks).</summary>
internal static class ImporterOver
{
    public static IContactImporter Store(IContactStore store)
    {
        var services = new ServiceCollection();
        services.AddSingleton(store);
        services.AddCampaigns();

        // The provider owns nothing that needs disposing here: the store is the test's.
        return services.BuildServiceProvider().GetRequiredService<IContactImporter>();
    }
}
