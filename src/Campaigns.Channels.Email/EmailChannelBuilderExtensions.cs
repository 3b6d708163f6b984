using Campaigns;
using Campaigns.Channels.Email;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
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
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, string name, Action<EmailChannelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var path = DefaultPath(name);
        builder.Services.AddOptions<EmailChannelOptions>(name).Configure(o => o.ConfigurationPath = path).Configure(configure);
        return AddChannel(builder, name);
    }

    /// <summary>Adds a named e-mail channel instance bound from a configuration section.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddEmailChannel(this ICampaignsBuilder builder, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var path = configuration is IConfigurationSection section ? section.Path : DefaultPath(name);
        builder.Services.AddOptions<EmailChannelOptions>(name).Configure(o => o.ConfigurationPath = path).Bind(configuration);
        return AddChannel(builder, name);
    }

    private static string DefaultPath(string name) => name == DefaultName ? "Campaigns:Channels:Email" : "Campaigns:Channels:" + name;

    private static ICampaignsBuilder AddChannel(ICampaignsBuilder builder, string name)
    {
        builder.Services.AddOptions<EmailChannelOptions>(name).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailChannelOptions>, EmailChannelOptionsValidator>());
        return builder.AddChannel(name, static (sp, n) =>
            new SmtpEmailChannel(n, sp.GetRequiredService<IOptionsMonitor<EmailChannelOptions>>().Get(n), sp.GetRequiredService<IClock>()));
    }
}
