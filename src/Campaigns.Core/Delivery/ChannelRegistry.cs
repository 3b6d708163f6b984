using System.Diagnostics.CodeAnalysis;
using Campaigns.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Campaigns.Delivery;

/// <summary>Resolves channels by name from the keyed <see cref="IChannel"/> registrations. Thread-safe (the container caches the singletons).</summary>
internal sealed class ChannelRegistry(IServiceProvider services, IEnumerable<ChannelRegistration> registrations) : IChannelRegistry
{
    private readonly string[] _names = registrations.Select(r => r.Name).Distinct(StringComparer.Ordinal).ToArray();

    public IReadOnlyList<string> Names => _names;

    public IChannel GetChannel(string name) =>
        TryGetChannel(name, out var channel)
            ? channel
            : throw new KeyNotFoundException(_names.Length == 0
                ? $"No channel is named '{name}': no channel is registered (add one with AddEmailChannel, AddWebhookChannel or AddChannel<T>(name))."
                : $"No channel is named '{name}'; the registered channels are: {string.Join(", ", _names)}.");

    public bool TryGetChannel(string name, [NotNullWhen(true)] out IChannel? channel)
    {
        ArgumentNullException.ThrowIfNull(name);
        channel = Array.IndexOf(_names, name) >= 0 ? services.GetRequiredKeyedService<IChannel>(name) : null;
        return channel is not null;
    }
}

/// <summary>An empty options type whose start-up validation checks the channel registrations.</summary>
internal sealed class ChannelRegistrationCheck;

/// <summary>Fails the host start when two channels share a name.</summary>
internal sealed class ChannelRegistrationValidator(IEnumerable<ChannelRegistration> registrations) : IValidateOptions<ChannelRegistrationCheck>
{
    public ValidateOptionsResult Validate(string? name, ChannelRegistrationCheck options)
    {
        if (name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = registrations
            .GroupBy(r => r.Name, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"Campaigns:Channels:{g.Key}: the channel name '{g.Key}' is registered {g.Count()} times (by {string.Join(", ", g.Select(r => r.ChannelType.Name))}); give each channel instance its own name.")
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
