using Campaigns;
using Campaigns.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses how durable stores protect personal data (see <see cref="IPersonalDataProtector"/>).</summary>
public static class StorageBuilderExtensions
{
    /// <summary>
    /// Encrypts personal data at rest with <see cref="AesGcmPersonalDataProtector"/>, replacing the plain-text default.
    /// Options are validated at start (messages name <c>Campaigns:Storage:Protection:*</c>).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configure">Sets the keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UseAesGcmDataProtection(this ICampaignsBuilder builder, Action<AesGcmProtectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<AesGcmProtectionOptions>().Configure(configure);
        return AddAesGcm(builder);
    }

    /// <summary>Encrypts personal data at rest with <see cref="AesGcmPersonalDataProtector"/>, bound from a section (e.g. <c>Campaigns:Storage:Protection</c>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configuration">The section with <c>Key</c>, <c>PreviousKeys</c> and <c>LookupKey</c>.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder UseAesGcmDataProtection(this ICampaignsBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.AddOptions<AesGcmProtectionOptions>().Bind(configuration);
        return AddAesGcm(builder);
    }

    private static ICampaignsBuilder AddAesGcm(ICampaignsBuilder builder)
    {
        builder.Services.AddOptions<AesGcmProtectionOptions>().ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AesGcmProtectionOptions>, AesGcmProtectionOptionsValidator>());
        builder.Services.Replace(ServiceDescriptor.Singleton<IPersonalDataProtector, AesGcmPersonalDataProtector>());
        return builder;
    }
}
