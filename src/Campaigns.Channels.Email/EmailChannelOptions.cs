namespace Campaigns.Channels.Email;

/// <summary>How the SMTP connection is secured.</summary>
public enum EmailSecurityMode
{
    /// <summary>Use STARTTLS when the server offers it, else plain text (MailKit's <c>Auto</c>: SSL on connect for port 465).</summary>
    Auto = 0,

    /// <summary>Plain text; only for a local relay or tests.</summary>
    None = 1,

    /// <summary>Connect in plain text and upgrade with STARTTLS; fails when the server does not offer it (port 587).</summary>
    StartTls = 2,

    /// <summary>TLS from the first byte (implicit TLS, port 465).</summary>
    SslOnConnect = 3,
}

/// <summary>
/// Settings of one e-mail channel instance, bound from configuration (by convention <c>Campaigns:Channels:Email</c>) or set
/// in code. Validated when the host starts; a bad setting fails the start with a message naming it.
/// </summary>
public sealed class EmailChannelOptions
{
    /// <summary>The SMTP server host name or IP address. Required.</summary>
    public string Host { get; set; } = "";

    /// <summary>The SMTP port, 1–65535 (default 587, submission).</summary>
    public int Port { get; set; } = 587;

    /// <summary>How the connection is secured (default <see cref="EmailSecurityMode.Auto"/>).</summary>
    public EmailSecurityMode Security { get; set; } = EmailSecurityMode.Auto;

    /// <summary>The user name for SMTP AUTH; null or empty for no authentication.</summary>
    public string? UserName { get; set; }

    /// <summary>The password for SMTP AUTH; required when <see cref="UserName"/> is set. Never logged.</summary>
    public string? Password { get; set; }

    /// <summary>The sender address (<c>From</c> and the envelope sender), e.g. <c>events@example.com</c>. Required.</summary>
    public string FromAddress { get; set; } = "";

    /// <summary>The sender's display name, e.g. <c>Campaigns Team</c>; optional.</summary>
    public string? FromDisplayName { get; set; }

    /// <summary>
    /// How long one send may take (connect, authenticate and transfer), 1 s – 10 min (default 30 s). When it expires the
    /// connection is closed and the result is <c>Failed(Timeout, retryable: true)</c> once the message was being sent (the
    /// server may have it), or <c>Failed(ProviderError, retryable: true)</c> while connecting (nothing was sent).
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many messages go through one SMTP connection before it is closed and a new one opened, 1–100000 (default 100).</summary>
    public int MaxMessagesPerConnection { get; set; } = 100;

    /// <summary>
    /// The domain of the generated <c>Message-ID</c> (derived from the idempotency key); default: the domain of
    /// <see cref="FromAddress"/>.
    /// </summary>
    public string? MessageIdDomain { get; set; }
}
