using Campaigns.Channels;

namespace Campaigns.Testing;

/// <summary>Loose well-formedness checks per address kind, as a real adapter would make before calling its provider.</summary>
internal static class AddressRules
{
    public static bool IsWellFormed(ChannelAddressKind kind, string address) => kind switch
    {
        ChannelAddressKind.Email => IsEmail(address),
        ChannelAddressKind.Phone => address.Length is >= 8 and <= 16 && address[0] == '+' && address[1] is >= '1' and <= '9' && address.AsSpan(1).ContainsAnyExceptInRange('0', '9') is false,
        ChannelAddressKind.Url => Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp),
        _ => !string.IsNullOrWhiteSpace(address),
    };

    private static bool IsEmail(string address)
    {
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at == address.LastIndexOf('@') && at < address.Length - 1 && !address.Any(char.IsWhiteSpace) && address.IndexOf('.', at) > at + 1;
    }

    /// <summary>An address that no channel of the kind should take.</summary>
    public static string Malformed(ChannelAddressKind kind) => kind switch
    {
        ChannelAddressKind.Url => "not a url",
        _ => "not an address",
    };
}
