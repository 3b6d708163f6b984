using System.Globalization;

namespace Campaigns.Channels.Webhook;

/// <summary>Validates <see cref="WebhookChannelOptions"/>; every message names the setting as it appears in configuration.</summary>
internal static class WebhookChannelOptionsValidator
{
    public static IEnumerable<string> Validate(string path, WebhookChannelOptions options)
    {
        var failures = new List<string>();
        if (options.Endpoint is not { IsAbsoluteUri: true } endpoint || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"{path}:Endpoint: '{options.Endpoint}' is not an absolute http(s) URL (e.g. https://crm.example.com/hooks/campaigns).");
        }

        if (options.Secrets.Count == 0)
        {
            failures.Add($"{path}:Secrets: at least one signing secret is required ('whsec_' followed by base64 of 24-64 random bytes).");
        }

        for (var i = 0; i < options.Secrets.Count; i++)
        {
            if (!WebhookSignature.TryDecodeSecret(options.Secrets[i], out _))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Secrets:{i}: not a signing secret; expected 'whsec_' followed by base64 of 24-64 random bytes (the value is not shown)."));
            }
        }

        if (options.Timeout < TimeSpan.FromSeconds(1) || options.Timeout > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{path}:Timeout: {options.Timeout} is out of range; use 00:00:01 to 00:05:00.");
        }

        if (string.IsNullOrWhiteSpace(options.EventType))
        {
            failures.Add($"{path}:EventType: the payload type is required (e.g. campaigns.message).");
        }

        return failures;
    }
}
