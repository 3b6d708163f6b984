using System.Text;
using Campaigns.Testing;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Channels.Email.Tests;

/// <summary>Bounces (RFC 3464 DSN) and complaints (RFC 5965 ARF) become receipts carrying the original Message-ID.</summary>
public class EmailReceiptParserTests
{
    private static readonly Instant Received = Instant.FromUtc(2026, 5, 2, 0, 0);

    /// <summary>A Postfix-style DSN for a hard bounce, with the original message attached as message/rfc822.</summary>
    internal static string PermanentBounce(string messageId, string recipient) => $"""
        Return-Path: <>
        Date: Fri, 01 May 2026 09:31:02 +0800 (CST)
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
        Subject: Undelivered Mail Returned to Sender
        To: bounces@campaigns.test
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
        Message-Id: <20260501013102.0A1B2@mx.example.net>

        This is a MIME-encapsulated message.

        --B1
        Content-Description: Notification
        Content-Type: text/plain; charset=us-ascii

        I'm sorry to have to inform you that your message could not
        be delivered to one or more recipients.

        <{recipient}>: host mx.example.net said: 550 5.1.1 User unknown

        --B1
        Content-Description: Delivery report
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net
        X-Postfix-Queue-ID: 0A1B2
        X-Postfix-Sender: rfc822; events@campaigns.test
        Arrival-Date: Fri, 01 May 2026 09:31:00 +0800 (CST)

        Final-Recipient: rfc822; {recipient}
        Original-Recipient: rfc822;{recipient}
        Action: failed
        Status: 5.1.1
        Remote-MTA: dns; mx.example.net
        Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

        --B1
        Content-Description: Undelivered Message
        Content-Type: message/rfc822

        Message-ID: <{messageId}>
        Date: Fri, 01 May 2026 09:30:15 +0800
        From: events@campaigns.test
        To: {recipient}
        Subject: =?utf-8?B?5LiK5rW35Yi26YCg5Lia5a6i5oi35rKZ6b6Z6YKA6K+3?=
        MIME-Version: 1.0
        Content-Type: text/plain; charset=utf-8

        hello

        --B1--
        """;

    internal static MimeMessage Load(string text) =>
        MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\r\n"))));

    [Fact]
    public void A_5xx_DSN_is_a_permanent_bounce_with_the_original_message_id()
    {
        Assert.True(EmailReceiptParser.TryParse(Load(PermanentBounce("abc123@campaigns.test", "nobody@example.net")), "email", Received, out var receipt));
        Assert.Equal(("email", DeliveryReceiptKind.Bounced, true), (receipt.ChannelName, receipt.Kind, receipt.IsPermanent));
        Assert.Equal("abc123@campaigns.test", receipt.ProviderMessageId);
        Assert.Equal("nobody@example.net", receipt.Recipient);
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 1, 31), receipt.OccurredAt); // the Arrival-Date
        Assert.Contains("5.1.1", receipt.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_4xx_delayed_DSN_with_returned_headers_is_a_transient_bounce()
    {
        const string text = """
            Date: Fri, 01 May 2026 10:00:00 +0000
            From: postmaster@mx.example.net
            To: bounces@campaigns.test
            Subject: Delivery Status Notification (Delay)
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="X"

            --X
            Content-Type: text/plain

            Delivery to the following recipient has been delayed: li.lei@example.com

            --X
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.example.net

            Final-Recipient: rfc822; li.lei@example.com
            Action: delayed
            Status: 4.2.2
            Diagnostic-Code: smtp; 452 4.2.2 Mailbox full
            Last-Attempt-Date: Fri, 01 May 2026 09:58:00 +0000

            --X
            Content-Type: text/rfc822-headers

            Message-ID: <def456@campaigns.test>
            From: events@campaigns.test
            To: li.lei@example.com
            Subject: hi

            --X--
            """;
        Assert.True(EmailReceiptParser.TryParse(Load(text), "email", Received, out var receipt));
        Assert.Equal((DeliveryReceiptKind.Bounced, false), (receipt.Kind, receipt.IsPermanent));
        Assert.Equal(("def456@campaigns.test", "li.lei@example.com"), (receipt.ProviderMessageId, receipt.Recipient));
        Assert.Equal(Instant.FromUtc(2026, 5, 1, 9, 58), receipt.OccurredAt); // Last-Attempt-Date
    }

    [Theory]
    [InlineData("failed", "4.4.7", DeliveryReceiptKind.Bounced, false)]
    [InlineData("failed", "5.7.1", DeliveryReceiptKind.Bounced, true)]
    [InlineData("delivered", "2.0.0", DeliveryReceiptKind.Delivered, false)]
    [InlineData("relayed", "2.0.0", DeliveryReceiptKind.Delivered, false)]
    public void Each_recipient_of_a_DSN_is_one_receipt(string action, string status, DeliveryReceiptKind kind, bool permanent)
    {
        var text = PermanentBounce("m@campaigns.test", "a@example.net")
            .Replace("Action: failed", $"Action: {action}", StringComparison.Ordinal)
            .Replace("Status: 5.1.1", $"Status: {status}", StringComparison.Ordinal)
            .Replace("Remote-MTA: dns; mx.example.net\n", "\nFinal-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.1.1\n", StringComparison.Ordinal);
        var receipts = EmailReceiptParser.Parse(Load(text), "email", Received);
        Assert.Equal(2, receipts.Count);
        Assert.Equal((kind, permanent, "a@example.net"), (receipts[0].Kind, receipts[0].IsPermanent, receipts[0].Recipient));
        Assert.Equal((DeliveryReceiptKind.Bounced, true, "b@example.net"), (receipts[1].Kind, receipts[1].IsPermanent, receipts[1].Recipient));
        Assert.All(receipts, r => Assert.Equal("m@campaigns.test", r.ProviderMessageId));
    }

    internal static string AbuseReport(string messageId, string recipient) => $"""
        From: <abuse-reports@mailbox.example.com>
        Date: Sat, 02 May 2026 08:00:00 +0800
        Subject: FW: 上海制造业客户沙龙邀请
        To: <fbl@campaigns.test>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="part1_13d.2e68ed54_boundary"

        --part1_13d.2e68ed54_boundary
        Content-Type: text/plain; charset="US-ASCII"
        Content-Transfer-Encoding: 7bit

        This is an email abuse report for an email message received from IP 192.0.2.1 on Sat, 02 May 2026 07:59:00 +0800.

        --part1_13d.2e68ed54_boundary
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: SomeGenerator/1.0
        Version: 1
        Original-Mail-From: <events@campaigns.test>
        Original-Rcpt-To: <{recipient}>
        Arrival-Date: Thu, 30 Apr 2026 20:00:00 +0800
        Reporting-MTA: dns; mail.mailbox.example.com
        Source-IP: 192.0.2.1

        --part1_13d.2e68ed54_boundary
        Content-Type: message/rfc822
        Content-Disposition: inline

        From: <events@campaigns.test>
        Received: from mailserver.campaigns.test (mailserver.campaigns.test [192.0.2.1])
          by mail.mailbox.example.com with ESMTP; Thu, 30 Apr 2026 20:00:00 +0800
        To: <{recipient}>
        Subject: Offer
        MIME-Version: 1.0
        Message-ID: <{messageId}>
        Date: Thu, 30 Apr 2026 19:59:00 +0800
        Content-Type: text/plain

        Spam Spam Spam

        --part1_13d.2e68ed54_boundary--
        """;

    [Fact]
    public void An_ARF_abuse_report_is_a_complaint()
    {
        Assert.True(EmailReceiptParser.TryParse(Load(AbuseReport("ghi789@campaigns.test", "han.meimei@example.com")), "email-marketing", Received, out var receipt));
        Assert.Equal(("email-marketing", DeliveryReceiptKind.Complained), (receipt.ChannelName, receipt.Kind));
        Assert.Equal(("ghi789@campaigns.test", "han.meimei@example.com"), (receipt.ProviderMessageId, receipt.Recipient));
        Assert.Equal(Instant.FromUtc(2026, 4, 30, 12, 0), receipt.OccurredAt);
        Assert.Contains("abuse", receipt.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Mail_that_is_not_a_report_gives_no_receipt()
    {
        var reply = Load("From: li.lei@example.com\r\nTo: bounces@campaigns.test\r\nSubject: Re: hi\r\nDate: Fri, 01 May 2026 10:00:00 +0000\r\n\r\nThanks!\r\n");
        Assert.False(EmailReceiptParser.TryParse(reply, "email", Received, out var none));
        Assert.Null(none);
        var notSpam = Load(AbuseReport("x@campaigns.test", "a@example.com").Replace("Feedback-Type: abuse", "Feedback-Type: not-spam", StringComparison.Ordinal));
        Assert.Empty(EmailReceiptParser.Parse(notSpam, "email", Received));
    }

    [Fact]
    public void Bad_arguments_name_themselves()
    {
        Assert.Equal("message", Assert.Throws<ArgumentNullException>(() => EmailReceiptParser.Parse(null!, "email", Received)).ParamName);
        Assert.Equal("channelName", Assert.ThrowsAny<ArgumentException>(() => EmailReceiptParser.Parse(new MimeMessage(), " ", Received)).ParamName);
    }

    [Fact]
    public async Task A_Maildir_is_processed_once_into_the_sink()
    {
        var maildir = Path.Combine(Path.GetTempPath(), "campaigns-maildir-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(maildir, "new"));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(maildir, "new", "1.host"), PermanentBounce("m1@campaigns.test", "a@example.net").ReplaceLineEndings("\r\n"));
            await File.WriteAllTextAsync(Path.Combine(maildir, "new", "2.host"), AbuseReport("m2@campaigns.test", "b@example.net").ReplaceLineEndings("\r\n"));
            await File.WriteAllTextAsync(Path.Combine(maildir, "new", "3.host"), "From: x@example.net\r\nSubject: out of office\r\n\r\nback monday\r\n");
            var sink = new RecordingDeliveryReceiptSink();
            var processor = new EmailReceiptProcessor(sink, new FakeClock(Received));
            var batch = await processor.ProcessMaildirAsync(maildir, "email", CancellationToken.None);
            Assert.Equal(new EmailReceiptBatch(3, 2, 2), batch);
            Assert.Equal([("m1@campaigns.test", DeliveryReceiptKind.Bounced), ("m2@campaigns.test", DeliveryReceiptKind.Complained)], sink.Receipts.Select(r => (r.ProviderMessageId, r.Kind)));
            Assert.Empty(Directory.GetFiles(Path.Combine(maildir, "new")));
            Assert.Equal(3, Directory.GetFiles(Path.Combine(maildir, "cur"), "*:2,S").Length);
            Assert.Equal(new EmailReceiptBatch(0, 0, 0), await processor.ProcessMaildirAsync(maildir, "email", CancellationToken.None));
            await Assert.ThrowsAsync<DirectoryNotFoundException>(async () => await processor.ProcessMaildirAsync(Path.Combine(maildir, "nope"), "email", CancellationToken.None));
        }
        finally
        {
            Directory.Delete(maildir, recursive: true);
        }
    }

    [Fact]
    public void AddEmailChannel_registers_the_receipt_processor()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().AddEmailChannel(o => { o.Host = "smtp.example.com"; o.FromAddress = "events@example.com"; });
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        Assert.Same(sp.GetRequiredService<EmailReceiptProcessor>(), sp.GetRequiredService<EmailReceiptProcessor>());
    }
}

/// <summary>A bounce of a message the SMTP channel really sent, returned through the real SMTP server.</summary>
[Collection("smtp")]
public sealed class EmailReceiptRoundTripTests(SmtpServer server)
{
    [SmtpFact]
    public async Task The_bounce_of_a_sent_message_carries_the_provider_message_id_the_send_returned()
    {
        var options = new EmailChannelOptions { Host = "127.0.0.1", Port = server.Port, Security = EmailSecurityMode.None, FromAddress = "events@campaigns.test" };
        await using var channel = new SmtpEmailChannel("email", options, new FakeClock(Instant.FromUtc(2026, 5, 1, 0, 0)));
        var to = $"gone-{Guid.NewGuid():N}@campaigns.test";
        var result = await channel.SendAsync(new ChannelMessage("journey-1/step-1/contact-9", to, "您好") { Subject = "s" }, CancellationToken.None);
        Assert.True(result.IsAccepted, result.ToString());
        var arrived = Assert.Single(server.MessagesTo(to));
        Assert.Equal(arrived.MessageId, result.ProviderMessageId);

        // The receiving MTA bounces it to our bounce address, through the same server.
        var bounces = $"bounces-{Guid.NewGuid():N}@campaigns.test";
        var dsn = EmailReceiptParserTests.Load(EmailReceiptParserTests.PermanentBounce(arrived.MessageId!, to));
        using (var smtp = new SmtpClient())
        {
            await smtp.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None);
            await smtp.SendAsync(dsn, MailboxAddress.Parse("postmaster@mx.example.net"), [MailboxAddress.Parse(bounces)]);
            await smtp.DisconnectAsync(true);
        }

        var sink = new RecordingDeliveryReceiptSink();
        var batch = await new EmailReceiptProcessor(sink, new FakeClock(Instant.FromUtc(2026, 5, 2, 0, 0))).ProcessAsync(server.MessagesTo(bounces), "email", CancellationToken.None);
        Assert.Equal(new EmailReceiptBatch(1, 1, 1), batch);
        var receipt = Assert.Single(sink.Receipts);
        Assert.Equal((DeliveryReceiptKind.Bounced, true, result.ProviderMessageId, to), (receipt.Kind, receipt.IsPermanent, receipt.ProviderMessageId, receipt.Recipient));
    }
}
