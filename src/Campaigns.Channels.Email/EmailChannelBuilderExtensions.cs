using Campaigns;
using Campaigns.Channels;
using Campaigns.Channels.Email;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NodaTime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the SMTP e-mail channel to the Campaigns SDK.</summary>
public static class EmailChannelBuilderExtensions
{
    /// <summary>The channel name used when none is given: <c>email</c>.</summary>
    public const string DefaultName = "email";

    /// <summary>Adds the e-mail channel named <c>email</c>, configured in code.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configure">Sets the options; validated at start (messages name <c>Campaigns:Channels:Email:*</c>).</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, Action<EmailChannelOptions> configure) =>
        builder.AddEmailChannel(DefaultName, configure);

    /// <summary>Adds the e-mail channel named <c>email</c>, bound from a configuration section (e.g. <c>Campaigns:Channels:Email</c>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, IConfiguration configuration) =>
        builder.AddEmailChannel(DefaultName, configuration);

    /// <summary>Adds a named e-mail channel instance (e.g. <c>email-transactional</c> beside <c>email</c>), configured in code.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name; its options are the named options of that name.</param>
    /// <param name="configure">Sets the options; validated at start (messages name <c>Campaigns:Channels:{name}:*</c>).</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, string name, Action<EmailChannelOptions> configure) =>
        AddShared(builder).AddChannel(name, configure, Create, EmailChannelOptionsValidator.Validate, name == DefaultName ? "Campaigns:Channels:Email" : null);

    /// <summary>Adds a named e-mail channel instance bound from a configuration section.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, string name, IConfiguration configuration) =>
        AddShared(builder).AddChannel<SmtpEmailChannel, EmailChannelOptions>(name, configuration, Create, EmailChannelOptionsValidator.Validate);

    private static SmtpEmailChannel Create(IServiceProvider services, string name, EmailChannelOptions options) =>
        new(name, options, services.GetRequiredService<IClock>());

    /// <summary>What every e-mail channel of a host shares: the processor that feeds bounce and complaint reports to the receipt sink.</summary>
    private static ICampaignsBuilder AddShared(ICampaignsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => new EmailReceiptProcessor(sp.GetRequiredService<IDeliveryReceiptSink>(), sp.GetRequiredService<IClock>()));
        return builder;
    }
}
