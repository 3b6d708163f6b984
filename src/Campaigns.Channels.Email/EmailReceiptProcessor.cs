using MimeKit;
using NodaTime;

namespace Campaigns.Channels.Email;

/// <summary>What <see cref="EmailReceiptProcessor"/> did with a batch of mailbox messages.</summary>
/// <param name="Messages">Messages read.</param>
/// <param name="Reports">Messages that were DSN or ARF reports (the others are left alone).</param>
/// <param name="Receipts">Receipts handed to the sink.</param>
public readonly record struct EmailReceiptBatch(int Messages, int Reports, int Receipts);

/// <summary>
/// Feeds the bounce/feedback mailbox of an e-mail channel into the host's <see cref="IDeliveryReceiptSink"/>: every
/// RFC 3464 DSN and RFC 5965 ARF report becomes receipts (see <see cref="EmailReceiptParser"/>). Use it from whatever
/// reads the mailbox (an IMAP poller with MailKit, a pipe from the MTA, a hosted service) with
/// <see cref="ProcessAsync(MimeMessage, string, CancellationToken)"/>, or point it at a Maildir with
/// <see cref="ProcessMaildirAsync"/>. <c>AddEmailChannel</c> registers one per host. Thread-safe.
/// </summary>
public sealed class EmailReceiptProcessor
{
    private readonly IDeliveryReceiptSink _sink;
    private readonly IClock _clock;

    /// <summary>Creates a processor.</summary>
    /// <param name="sink">Where receipts go (the SDK's sink feeds contacts).</param>
    /// <param name="clock">The clock, for reports without a date.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public EmailReceiptProcessor(IDeliveryReceiptSink sink, IClock clock)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(clock);
        _sink = sink;
        _clock = clock;
    }

    /// <summary>Parses one message and hands its receipts to the sink.</summary>
    /// <param name="message">A message from the mailbox.</param>
    /// <param name="channelName">The e-mail channel whose bounces the mailbox receives (e.g. <c>email</c>).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many receipts it produced (0 when it is not a report).</returns>
    public async ValueTask<int> ProcessAsync(MimeMessage message, string channelName, CancellationToken cancellationToken)
    {
        var receipts = EmailReceiptParser.Parse(message, channelName, _clock.GetCurrentInstant());
        foreach (var receipt in receipts)
        {
            await _sink.OnReceiptAsync(receipt, cancellationToken).ConfigureAwait(false);
        }

        return receipts.Count;
    }

    /// <summary>Parses several messages and hands their receipts to the sink, in order.</summary>
    /// <param name="messages">Messages from the mailbox.</param>
    /// <param name="channelName">The e-mail channel whose bounces the mailbox receives (e.g. <c>email</c>).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The counts.</returns>
    public async ValueTask<EmailReceiptBatch> ProcessAsync(IEnumerable<MimeMessage> messages, string channelName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (read, reports, receipts) = (0, 0, 0);
        foreach (var message in messages)
        {
            var n = await ProcessAsync(message, channelName, cancellationToken).ConfigureAwait(false);
            read++;
            reports += n > 0 ? 1 : 0;
            receipts += n;
        }

        return new EmailReceiptBatch(read, reports, receipts);
    }

    /// <summary>
    /// Processes the new messages of a Maildir (as Postfix, Exim or Dovecot deliver them): every file in <c>new/</c> is
    /// parsed, its receipts handed to the sink, then moved to <c>cur/</c> marked seen (<c>:2,S</c>), so a later call does
    /// not see it again. A message whose hand-over fails stays in <c>new/</c>.
    /// </summary>
    /// <param name="maildir">The Maildir (the directory holding <c>new</c>, <c>cur</c> and <c>tmp</c>).</param>
    /// <param name="channelName">The e-mail channel whose bounces the mailbox receives (e.g. <c>email</c>).</param>
    /// <param name="cancellationToken">Cancels; messages done so far stay done.</param>
    /// <returns>The counts.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="maildir"/> has no <c>new</c> directory.</exception>
    public async ValueTask<EmailReceiptBatch> ProcessMaildirAsync(string maildir, string channelName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(maildir);
        var incoming = Path.Combine(maildir, "new");
        if (!Directory.Exists(incoming))
        {
            throw new DirectoryNotFoundException($"'{maildir}' is not a Maildir: it has no 'new' directory.");
        }

        var seen = Path.Combine(maildir, "cur");
        Directory.CreateDirectory(seen);
        var (read, reports, receipts) = (0, 0, 0);
        foreach (var file in Directory.GetFiles(incoming).Order(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            MimeMessage message;
            using (var stream = File.OpenRead(file))
            {
                message = await MimeMessage.LoadAsync(stream, cancellationToken).ConfigureAwait(false);
            }

            var n = await ProcessAsync(message, channelName, cancellationToken).ConfigureAwait(false);
            read++;
            reports += n > 0 ? 1 : 0;
            receipts += n;
            File.Move(file, Path.Combine(seen, Path.GetFileName(file) + ":2,S"), overwrite: true);
        }

        return new EmailReceiptBatch(read, reports, receipts);
    }
}
