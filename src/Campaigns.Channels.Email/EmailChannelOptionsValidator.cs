using MimeKit;

namespace Campaigns.Channels.Email;

/// <summary>Validates <see cref="EmailChannelOptions"/>; every message names the setting as it appears in configuration.</summary>
internal static class EmailChannelOptionsValidator
{
    public static IEnumerable<string> Validate(string path, EmailChannelOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Host))
        {
            failures.Add($"{path}:Host: the SMTP host is required (e.g. smtp.example.com).");
        }

        if (options.Port is < 1 or > 65535)
        {
            failures.Add($"{path}:Port: {options.Port} is not a TCP port; use 1-65535 (587 for STARTTLS submission, 465 for SSL on connect, 25 for relay).");
        }

        if (!Enum.IsDefined(options.Security))
        {
            failures.Add($"{path}:Security: '{options.Security}' is not one of Auto, None, StartTls, SslOnConnect.");
        }

        if (!string.IsNullOrEmpty(options.UserName) && string.IsNullOrEmpty(options.Password))
        {
            failures.Add($"{path}:Password: a password is required when {path}:UserName is set.");
        }

        if (!IsMailbox(options.FromAddress))
        {
            failures.Add($"{path}:FromAddress: '{options.FromAddress}' is not an e-mail address (e.g. events@example.com).");
        }

        if (options.Timeout < TimeSpan.FromSeconds(1) || options.Timeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{path}:Timeout: {options.Timeout} is out of range; use 00:00:01 to 00:10:00.");
        }

        if (options.MaxMessagesPerConnection is < 1 or > 100_000)
        {
            failures.Add($"{path}:MaxMessagesPerConnection: {options.MaxMessagesPerConnection} is out of range; use 1-100000.");
        }

        if (options.MessageIdDomain is { } domain && (domain.Length == 0 || domain.Any(c => char.IsWhiteSpace(c) || c is '@' or '<' or '>')))
        {
            failures.Add($"{path}:MessageIdDomain: '{domain}' is not a domain name.");
        }

        return failures;
    }

    internal static bool IsMailbox(string? address) =>
        !string.IsNullOrWhiteSpace(address)
        && MailboxAddress.TryParse(address, out var mailbox)
        && mailbox.Address.IndexOf('@', StringComparison.Ordinal) is > 0 and var at
        && at < mailbox.Address.Length - 1
        && !mailbox.Address.Any(char.IsWhiteSpace);
}
