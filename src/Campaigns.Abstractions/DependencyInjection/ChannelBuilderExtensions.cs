using Campaigns;
using Campaigns.Channels;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds channel adapters to the Campaigns SDK (like OpenTelemetry's <c>AddXxxExporter</c>).</summary>
public static class ChannelBuilderExtensions
{
    /// <summary>
    /// Registers an integrator's channel type under a name, as a keyed singleton <see cref="IChannel"/> (key = name),
    /// resolvable through <see cref="IChannelRegistry"/>. The container builds <typeparamref name="TChannel"/>; a
    /// constructor parameter marked <c>[ServiceKey] string name</c> receives the name. A name registered twice fails the
    /// host start with a message naming both types.
    /// </summary>
    /// <typeparam name="TChannel">The adapter type.</typeparam>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name; ASCII letters, digits, '-', '_', '.'.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The name is not valid.</exception>
    public static ICampaignsBuilder AddChannel<TChannel>(this ICampaignsBuilder builder, string name)
        where TChannel : class, IChannel
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registration = new ChannelRegistration(name, typeof(TChannel));
        builder.Services.AddSingleton(registration);
        builder.Services.AddKeyedSingleton<IChannel, TChannel>(name);
        return builder;
    }

    /// <summary>Registers a channel built by a factory under a name (see <see cref="AddChannel{TChannel}(ICampaignsBuilder, string)"/>).</summary>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="factory">Builds the channel once, from the services and the name.</param>
    /// <typeparam name="TChannel">The adapter type (for messages).</typeparam>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The name is not valid.</exception>
    public static ICampaignsBuilder AddChannel<TChannel>(this ICampaignsBuilder builder, string name, Func<IServiceProvider, string, TChannel> factory)
        where TChannel : class, IChannel
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        var registration = new ChannelRegistration(name, typeof(TChannel));
        builder.Services.AddSingleton(registration);
        builder.Services.AddKeyedSingleton<IChannel>(name, (sp, _) => factory(sp, name));
        return builder;
    }
}
