using Campaigns;
using Campaigns.Channels.Webhook;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the signed JSON webhook channel to the Campaigns SDK.</summary>
public static class WebhookChannelBuilderExtensions
{
    /// <summary>The channel name used when none is given: <c>webhook</c>.</summary>
    public const string DefaultName = "webhook";

    /// <summary>Adds the webhook channel named <c>webhook</c>, configured in code.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configure">Sets the options; validated at start (messages name <c>Campaigns:Channels:Webhook:*</c>).</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, Action<WebhookChannelOptions> configure) =>
        builder.AddWebhookChannel(DefaultName, configure);

    /// <summary>Adds the webhook channel named <c>webhook</c>, bound from a configuration section (e.g. <c>Campaigns:Channels:Webhook</c>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, IConfiguration configuration) =>
        builder.AddWebhookChannel(DefaultName, configuration);

    /// <summary>Adds a named webhook channel instance, configured in code.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name; its options are the named options of that name, its HTTP client <c>Campaigns.Channels.Webhook.{name}</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, string name, Action<WebhookChannelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var path = DefaultPath(name);
        builder.Services.AddOptions<WebhookChannelOptions>(name).Configure(o => o.ConfigurationPath = path).Configure(configure);
        return AddChannel(builder, name);
    }

    /// <summary>Adds a named webhook channel instance bound from a configuration section.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var path = configuration is IConfigurationSection section ? section.Path : DefaultPath(name);
        builder.Services.AddOptions<WebhookChannelOptions>(name).Configure(o => o.ConfigurationPath = path).Bind(configuration);
        return AddChannel(builder, name);
    }

    private static string DefaultPath(string name) => name == DefaultName ? "Campaigns:Channels:Webhook" : "Campaigns:Channels:" + name;

    private static ICampaignsBuilder AddChannel(ICampaignsBuilder builder, string name)
    {
        builder.Services.AddOptions<WebhookChannelOptions>(name).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebhookChannelOptions>, WebhookChannelOptionsValidator>());
        builder.Services.AddHttpClient(WebhookChannel.HttpClientName(name), client => client.Timeout = System.Threading.Timeout.InfiniteTimeSpan);
        return builder.AddChannel(name, static (sp, n) => new WebhookChannel(
            n,
            sp.GetRequiredService<IOptionsMonitor<WebhookChannelOptions>>().Get(n),
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IClock>()));
    }
}
