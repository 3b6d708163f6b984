using System.Diagnostics.CodeAnalysis;

namespace Campaigns.Channels;

/// <summary>The channels of a host, by name. Registered by <c>AddCampaigns</c>; thread-safe.</summary>
public interface IChannelRegistry
{
    /// <summary>The registered channel names, in registration order.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>Returns the channel registered under a name.</summary>
    /// <param name="name">The name (ordinal, case-sensitive).</param>
    /// <returns>The channel; the same instance for every call.</returns>
    /// <exception cref="KeyNotFoundException">No channel has that name; the message lists the names there are.</exception>
    IChannel GetChannel(string name);

    /// <summary>Looks a channel up by name.</summary>
    /// <param name="name">The name (ordinal, case-sensitive).</param>
    /// <param name="channel">The channel when found.</param>
    /// <returns>Whether a channel has that name.</returns>
    bool TryGetChannel(string name, [NotNullWhen(true)] out IChannel? channel);
}

/// <summary>
/// Records that a channel was registered under a name (one singleton per registration). <c>AddChannel</c> adds it; the
/// registry and the start-up check (duplicate names fail the host start) read it.
/// </summary>
public sealed class ChannelRegistration
{
    /// <summary>Creates a registration.</summary>
    /// <param name="name">The channel name; letters, digits, '-', '_' and '.' only.</param>
    /// <param name="channelType">The adapter type, for messages.</param>
    /// <exception cref="ArgumentException">The name is empty or has other characters.</exception>
    public ChannelRegistration(string name, Type channelType)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(channelType);
        Name = name;
        ChannelType = channelType;
    }

    /// <summary>The channel name.</summary>
    public string Name { get; }

    /// <summary>The adapter type.</summary>
    public Type ChannelType { get; }

    /// <summary>Checks a channel name: not empty, at most 64 characters of ASCII letters, digits, '-', '_' and '.'.</summary>
    /// <param name="name">The name.</param>
    /// <exception cref="ArgumentException">The name is not valid; the message says why.</exception>
    public static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"The channel name '{name}' is not valid: use at most 64 ASCII letters, digits, '-', '_' or '.' (e.g. 'email', 'my-sms').", nameof(name));
        }
    }
}
