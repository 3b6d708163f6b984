using Campaigns;
using Campaigns.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The registration shape every channel adapter package shares: a channel instance whose settings are named options
/// (name = channel name) set in code or bound from configuration, validated when the host starts with messages that
/// name the configuration key. An adapter package's own <c>AddXxxChannel</c> overloads (<c>Action&lt;TOptions&gt;</c>,
/// <c>IConfiguration</c>, a named instance) each call one of these. Registration is not thread-safe (like any
/// <see cref="IServiceCollection"/> use); the registered validators are.
/// </summary>
public static class ChannelOptionsBuilderExtensions
{
    /// <summary>
    /// Registers a channel configured in code: <paramref name="configure"/> sets the named options
    /// <typeparamref name="TOptions"/> of <paramref name="name"/>; <paramref name="validate"/> checks them at start; the
    /// channel is built once by <paramref name="factory"/> as a keyed singleton (see
    /// <see cref="ChannelBuilderExtensions.AddChannel{TChannel}(ICampaignsBuilder, string, Func{IServiceProvider, string, TChannel})"/>).
    /// </summary>
    /// <typeparam name="TChannel">The adapter type.</typeparam>
    /// <typeparam name="TOptions">The adapter's options type.</typeparam>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configure">Sets the options.</param>
    /// <param name="factory">Builds the channel from the services, its name and its options.</param>
    /// <param name="validate">
    /// Returns the problems of the options, each a sentence starting with the key it is about (build keys from the
    /// configuration path passed in, e.g. <c>$"{path}:Host: the SMTP host is required."</c>); null for no validation.
    /// </param>
    /// <param name="configurationPath">The key validation messages use as the options' path (default <c>Campaigns:Channels:{name}</c>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The name is not a valid channel name.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static ICampaignsBuilder AddChannel<TChannel, TOptions>(
        this ICampaignsBuilder builder,
        string name,
        Action<TOptions> configure,
        Func<IServiceProvider, string, TOptions, TChannel> factory,
        Func<string, TOptions, IEnumerable<string>>? validate,
        string? configurationPath)
        where TChannel : class, IChannel
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        ChannelRegistration.ValidateName(name);
        builder.Services.AddOptions<TOptions>(name).Configure(configure);
        return Register(builder, name, configurationPath ?? DefaultPath(name), factory, validate);
    }

    /// <summary>
    /// Registers a channel bound from a configuration section: the named options <typeparamref name="TOptions"/> of
    /// <paramref name="name"/> are bound from <paramref name="configuration"/> (and follow its reloads); validation
    /// messages name the section's keys.
    /// </summary>
    /// <typeparam name="TChannel">The adapter type.</typeparam>
    /// <typeparam name="TOptions">The adapter's options type.</typeparam>
    /// <param name="builder">The builder returned by <c>AddCampaigns</c>.</param>
    /// <param name="name">The channel name.</param>
    /// <param name="configuration">The section, e.g. <c>Campaigns:Channels:Email</c>.</param>
    /// <param name="factory">Builds the channel from the services, its name and its options.</param>
    /// <param name="validate">Returns the problems of the options, each naming its key under the path passed in; null for none.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The name is not a valid channel name.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static ICampaignsBuilder AddChannel<TChannel, TOptions>(
        this ICampaignsBuilder builder,
        string name,
        IConfiguration configuration,
        Func<IServiceProvider, string, TOptions, TChannel> factory,
        Func<string, TOptions, IEnumerable<string>>? validate)
        where TChannel : class, IChannel
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        ChannelRegistration.ValidateName(name);
        builder.Services.AddOptions<TOptions>(name).Bind(configuration);
        var path = configuration is IConfigurationSection section ? section.Path : DefaultPath(name);
        return Register(builder, name, path, factory, validate);
    }

    private static string DefaultPath(string name) => "Campaigns:Channels:" + name;

    private static ICampaignsBuilder Register<TChannel, TOptions>(
        ICampaignsBuilder builder,
        string name,
        string path,
        Func<IServiceProvider, string, TOptions, TChannel> factory,
        Func<string, TOptions, IEnumerable<string>>? validate)
        where TChannel : class, IChannel
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddOptions<TOptions>(name).ValidateOnStart();
        if (validate is not null)
        {
            builder.Services.AddSingleton<IValidateOptions<TOptions>>(new NamedChannelOptionsValidator<TOptions>(name, path, validate));
        }

        return builder.AddChannel(name, (sp, n) => factory(sp, n, sp.GetRequiredService<IOptionsMonitor<TOptions>>().Get(n)));
    }

    /// <summary>Validates the options of one channel name; other names are skipped.</summary>
    private sealed class NamedChannelOptionsValidator<TOptions>(string name, string path, Func<string, TOptions, IEnumerable<string>> validate) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? optionsName, TOptions options)
        {
            if (!string.Equals(optionsName, name, StringComparison.Ordinal))
            {
                return ValidateOptionsResult.Skip;
            }

            var failures = validate(path, options).ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
