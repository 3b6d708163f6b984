using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using NodaTime;

namespace Campaigns.Channels.Email;

/// <summary>
/// The SMTP e-mail channel. One SMTP connection per instance is kept open and reused across messages (sends are
/// serialized on it); it is reopened after <see cref="EmailChannelOptions.MaxMessagesPerConnection"/> messages, after
/// any failure, and when the server dropped it while idle (the send is then tried once more on a new connection).
/// Thread-safe.
/// </summary>
internal sealed class SmtpEmailChannel : IChannel, IAsyncDisposable, IDisposable
{
    private static readonly ChannelCapabilities EmailCapabilities = new()
    {
        AddressKind = ChannelAddressKind.Email,
        MaxContentLength = null,
        SupportsRichContent = true,
        SupportsDeliveryReceipts = true, // bounces (DSN) and complaints (ARF) through EmailReceiptProcessor
        SupportsBatch = false,
    };

    private readonly EmailChannelOptions _options;
    private readonly IClock _clock;
    private readonly SemaphoreSlim _connection = new(1, 1);
    private readonly MailboxAddress _from;
    private readonly string _messageIdDomain;
    private SmtpClient? _client;
    private int _sentOnConnection;
    private bool _disposed;

    public SmtpEmailChannel(string name, EmailChannelOptions options, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        ChannelRegistration.ValidateName(name);
        Name = name;
        _options = options;
        _clock = clock;
        _from = new MailboxAddress(options.FromDisplayName, options.FromAddress);
        _messageIdDomain = options.MessageIdDomain ?? options.FromAddress[(options.FromAddress.LastIndexOf('@') + 1)..];
    }

    public string Name { get; }

    public ChannelCapabilities Capabilities => EmailCapabilities;

    /// <summary>Connections opened so far (for tests and diagnostics).</summary>
    internal int ConnectionsOpened { get; private set; }

    /// <summary>The Message-ID (without angle brackets) sent for an idempotency key: a hash of the key at the configured domain.</summary>
    internal static string MessageIdFor(string idempotencyKey, string domain)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(idempotencyKey));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16)) + "@" + domain;
    }

    internal string MessageIdFor(string idempotencyKey) => MessageIdFor(idempotencyKey, _messageIdDomain);

    public async ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);

        if (!EmailChannelOptionsValidator.IsMailbox(message.Recipient))
        {
            return DeliveryResult.Failed(DeliveryFailureReason.InvalidAddress, false, $"'{message.Recipient}' is not an e-mail address.");
        }

        MimeMessage mime;
        try
        {
            mime = BuildMime(message);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or ParseException)
        {
            return DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, "The message cannot be written as MIME: " + ex.Message);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await _connection.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Nothing was sent: a retryable provider error, not a timeout (which would leave the send in doubt).
            return NotSent("waiting for the SMTP connection");
        }

        try
        {
            return await SendOnConnectionAsync(mime, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connection.Release();
        }
    }

    private async Task<DeliveryResult> SendOnConnectionAsync(MimeMessage mime, CancellationToken token, CancellationToken callerToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var reused = _client is { IsConnected: true };
            var connected = false;
            var data = new DataProgress();
            try
            {
                var client = await EnsureConnectedAsync(token).ConfigureAwait(false);
                connected = true;
                await client.SendAsync(mime, token, data).ConfigureAwait(false);
                if (++_sentOnConnection >= _options.MaxMessagesPerConnection)
                {
                    await CloseAsync(quit: true).ConfigureAwait(false);
                }

                return DeliveryResult.Accepted(mime.MessageId);
            }
            catch (OperationCanceledException) when (callerToken.IsCancellationRequested)
            {
                await CloseAsync(quit: false).ConfigureAwait(false);
                throw;
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
            {
                // Our linked timeout cancels the token; MailKit's own socket timeout (the same length) throws
                // TimeoutException. Whichever fires first, it is the same retryable timeout. Before the message's data
                // went out nothing was sent (a provider error: a server delivers nothing without the data's final dot);
                // once it went out the server may have it (a timeout: in doubt, see DeliveryFailureReason.Timeout).
                await CloseAsync(quit: false).ConfigureAwait(false);
                return data.Started ? TimedOut("after the message was sent") : NotSent(connected ? "before the message was sent" : "connecting");
            }
            catch (SmtpCommandException ex)
            {
                // The server refused a command; the session may be mid-transaction, so start clean next time.
                await CloseAsync(quit: true).ConfigureAwait(false);
                return Map(ex);
            }
            catch (AuthenticationException ex)
            {
                await CloseAsync(quit: false).ConfigureAwait(false);
                return DeliveryResult.Failed(DeliveryFailureReason.Unauthorized, false, "SMTP authentication failed: " + ex.Message);
            }
            catch (SslHandshakeException ex)
            {
                await CloseAsync(quit: false).ConfigureAwait(false);
                return DeliveryResult.Failed(DeliveryFailureReason.ProviderError, false, "TLS handshake with the SMTP server failed (check Security and Port): " + ex.Message);
            }
            catch (Exception ex) when (IsConnectionFailure(ex) && data.Started)
            {
                // The connection ended once the message's data went out: the server may have accepted it and its answer
                // been lost. Never sent again on a new connection here; in doubt (DeliveryFailureReason.Timeout), settled
                // by the delivery pipeline according to the channel's in-doubt policy.
                await CloseAsync(quit: false).ConfigureAwait(false);
                return DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, "The SMTP connection ended after the message was sent, before the server's answer: " + ex.Message);
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                await CloseAsync(quit: false).ConfigureAwait(false);
                if (reused && attempt == 0)
                {
                    continue; // the server closed an idle connection: reconnect once
                }

                return DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, "The SMTP connection failed: " + ex.Message);
            }
        }
    }

    private async Task<SmtpClient> EnsureConnectedAsync(CancellationToken token)
    {
        if (_client is { IsConnected: true } connected)
        {
            return connected;
        }

        await CloseAsync(quit: false).ConfigureAwait(false);
        var client = new SmtpClient { Timeout = (int)Math.Min(int.MaxValue, _options.Timeout.TotalMilliseconds) };
        _client = client;
        _sentOnConnection = 0;
        await client.ConnectAsync(_options.Host, _options.Port, ToSocketOptions(_options.Security), token).ConfigureAwait(false);
        ConnectionsOpened++;
        if (!string.IsNullOrEmpty(_options.UserName))
        {
            await client.AuthenticateAsync(_options.UserName, _options.Password ?? "", token).ConfigureAwait(false);
        }

        return client;
    }

    private async Task CloseAsync(bool quit)
    {
        var client = _client;
        _client = null;
        if (client is null)
        {
            return;
        }

        try
        {
            if (quit && client.IsConnected)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await client.DisconnectAsync(true, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException || IsConnectionFailure(ex) || ex is SmtpCommandException)
        {
            // Closing a broken connection: nothing to report.
        }
        finally
        {
            client.Dispose();
        }
    }

    private MimeMessage BuildMime(ChannelMessage message)
    {
        var mime = new MimeMessage
        {
            MessageId = MessageIdFor(message.IdempotencyKey),
            Date = _clock.GetCurrentInstant().ToDateTimeOffset(),
            Subject = message.Subject ?? "",
        };
        mime.From.Add(_from);
        mime.To.Add(MailboxAddress.Parse(message.Recipient));
        foreach (var (name, value) in message.Headers)
        {
            mime.Headers.Add(name, value);
        }

        if (message.UnsubscribeUrl is { } unsubscribe)
        {
            mime.Headers.Add("List-Unsubscribe", "<" + unsubscribe.AbsoluteUri + ">");
            if (unsubscribe.Scheme == Uri.UriSchemeHttps)
            {
                mime.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"); // RFC 8058: one-click needs an https URI
            }
        }

        var body = new BodyBuilder { TextBody = message.TextBody, HtmlBody = message.HtmlBody };
        mime.Body = body.ToMessageBody();
        return mime;
    }

    private static DeliveryResult Map(SmtpCommandException ex)
    {
        var code = (int)ex.StatusCode;
        var detail = string.Create(CultureInfo.InvariantCulture, $"SMTP {code}: {ex.Message}");
        if (code is >= 400 and < 500)
        {
            return DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, detail);
        }

        return ex.ErrorCode switch
        {
            SmtpErrorCode.RecipientNotAccepted => DeliveryResult.Failed(DeliveryFailureReason.InvalidAddress, false, detail),
            SmtpErrorCode.MessageNotAccepted => DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, detail),
            SmtpErrorCode.SenderNotAccepted => DeliveryResult.Failed(DeliveryFailureReason.Unauthorized, false, detail),
            _ => DeliveryResult.Failed(DeliveryFailureReason.ProviderError, false, detail),
        };
    }

    private DeliveryResult NotSent(string what) =>
        DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, string.Create(CultureInfo.InvariantCulture, $"The SMTP server did not answer within {_options.Timeout.TotalSeconds} s ({what}); nothing was sent."));

    private DeliveryResult TimedOut(string what) =>
        DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, string.Create(CultureInfo.InvariantCulture, $"The SMTP server did not answer within {_options.Timeout.TotalSeconds} s ({what})."));

    /// <summary>Whether any of the message's data went out (MailKit reports the DATA/BDAT bytes as it writes them).</summary>
    private sealed class DataProgress : ITransferProgress
    {
        private int _started;

        public bool Started => Volatile.Read(ref _started) != 0;

        public void Report(long bytesTransferred, long totalSize) => Report(bytesTransferred);

        public void Report(long bytesTransferred)
        {
            if (bytesTransferred > 0)
            {
                Volatile.Write(ref _started, 1);
            }
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is IOException or SocketException or SmtpProtocolException or ServiceNotConnectedException or ProtocolException;

    private static SecureSocketOptions ToSocketOptions(EmailSecurityMode mode) => mode switch
    {
        EmailSecurityMode.None => SecureSocketOptions.None,
        EmailSecurityMode.StartTls => SecureSocketOptions.StartTls,
        EmailSecurityMode.SslOnConnect => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.Auto,
    };

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _connection.WaitAsync().ConfigureAwait(false);
        try
        {
            await CloseAsync(quit: true).ConfigureAwait(false);
        }
        finally
        {
            _connection.Release();
            _connection.Dispose();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _client?.Dispose();
        _client = null;
        _connection.Dispose();
    }
}
