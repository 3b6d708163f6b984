using System.Security.Cryptography;
using System.Text;

namespace Campaigns.Channels.Webhook;

/// <summary>Standard Webhooks signing: <c>v1,</c> + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)).</summary>
internal static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    public static bool TryDecodeSecret(string? secret, out byte[] key)
    {
        key = [];
        if (secret is null || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        }
        catch (FormatException)
        {
            return false;
        }

        return key.Length is >= 24 and <= 64;
    }

    /// <summary>Whether any <c>v1,</c> signature in the space-separated header matches any key (constant-time comparison).</summary>
    public static bool Verify(IReadOnlyList<byte[]> keys, string id, long timestamp, ReadOnlySpan<byte> body, string signatureHeader)
    {
        var prefix = Encoding.UTF8.GetBytes(FormattableString.Invariant($"{id}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        Span<byte> expected = stackalloc byte[32];
        Span<byte> given = stackalloc byte[64];
        foreach (var key in keys)
        {
            HMACSHA256.HashData(key, content, expected);
            foreach (var part in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part.StartsWith("v1,", StringComparison.Ordinal)
                    && Convert.TryFromBase64String(part[3..], given, out var written)
                    && written == 32
                    && CryptographicOperations.FixedTimeEquals(expected, given[..written]))
                {
                    return true;
                }
            }
        }

        return false;
    }

    public static string Sign(IReadOnlyList<byte[]> keys, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(FormattableString.Invariant($"{id}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return string.Join(' ', keys.Select(key => "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content))));
    }
}
