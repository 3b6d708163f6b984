using Campaigns;
using Campaigns.Channels;
using Campaigns.Channels.Webhook;
using Microsoft.Extensions.Configuration;
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
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, string name, Action<WebhookChannelOptions> configure) =>
        AddHttpClient(builder, name).AddChannel(name, configure, Create, WebhookChannelOptionsValidator.Validate, name == DefaultName ? "Campaigns:Channels:Webhook" : null);

    /// <summary>Adds a named webhook channel instance bound from a configuration section.</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configuration">The section; validation messages name its keys.</param>
    /// <returns>The builder.</returns>
    public static ICampaignsBuilder AddWebhookChannel(this ICampaignsBuilder builder, string name, IConfiguration configuration) =>
        AddHttpClient(builder, name).AddChannel<WebhookChannel, WebhookChannelOptions>(name, configuration, Create, WebhookChannelOptionsValidator.Validate);

    private static WebhookChannel Create(IServiceProvider services, string name, WebhookChannelOptions options) =>
        new(name, options, services.GetRequiredService<IHttpClientFactory>(), services.GetRequiredService<IClock>());

    private static ICampaignsBuilder AddHttpClient(ICampaignsBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ChannelRegistration.ValidateName(name);
        builder.Services.AddHttpClient(WebhookChannel.HttpClientName(name), client => client.Timeout = System.Threading.Timeout.InfiniteTimeSpan);
        builder.Services.AddKeyedSingleton(name, static (sp, key) =>
        {
            var n = (string)key!;
            return new WebhookReceiptHandler(n, sp.GetRequiredService<IOptionsMonitor<WebhookChannelOptions>>().Get(n).Secrets, sp.GetRequiredService<IDeliveryReceiptSink>(), sp.GetRequiredService<IClock>());
        });
        return builder;
    }
}
