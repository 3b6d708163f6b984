using Campaigns.Testing;
using MimeKit;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Channels.Email.Tests;

[Collection("smtp")]
public sealed class SmtpEmailChannelTests(SmtpServer server) : IAsyncLifetime
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 1, 1, 30);
    private readonly List<SmtpEmailChannel> _channels = [];

    private SmtpEmailChannel Channel(Action<EmailChannelOptions>? configure = null)
    {
        var options = new EmailChannelOptions
        {
            Host = "127.0.0.1",
            Port = server.Port,
            Security = EmailSecurityMode.None,
            FromAddress = "events@campaigns.test",
            FromDisplayName = "活动中心",
            Timeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        var channel = new SmtpEmailChannel("email", options, new FakeClock(Now));
        _channels.Add(channel);
        return channel;
    }

    private static string Recipient(string tag) => $"{tag}-{Guid.NewGuid():N}@campaigns.test";

    [SmtpFact]
    public async Task Html_and_text_arrive_as_multipart_alternative_with_unsubscribe_headers()
    {
        var channel = Channel();
        var to = Recipient("mime");
        var message = new ChannelMessage("journey-1/step-2/contact-3", to, "您好，李雷：沙龙将于周五举行。")
        {
            Subject = "上海制造业客户沙龙邀请",
            HtmlBody = "<p>您好，<b>李雷</b>：沙龙将于周五举行。</p>",
            UnsubscribeUrl = new Uri("https://example.com/u/abc?c=1"),
            Headers = new Dictionary<string, string> { ["X-Campaign"] = "salon-2026" },
        };

        var result = await channel.SendAsync(message, CancellationToken.None);

        Assert.True(result.IsAccepted, result.ToString());
        Assert.Equal(SmtpEmailChannel.MessageIdFor("journey-1/step-2/contact-3", "campaigns.test"), result.ProviderMessageId);
        var arrived = Assert.Single(server.MessagesTo(to));
        Assert.Equal(result.ProviderMessageId, arrived.MessageId);
        Assert.Equal("上海制造业客户沙龙邀请", arrived.Subject);
        var from = Assert.IsType<MailboxAddress>(Assert.Single(arrived.From));
        Assert.Equal(("活动中心", "events@campaigns.test"), (from.Name, from.Address));
        Assert.Equal(to, Assert.IsType<MailboxAddress>(Assert.Single(arrived.To)).Address);
        Assert.Equal(Now.ToDateTimeOffset(), arrived.Date);
        Assert.Equal("<https://example.com/u/abc?c=1>", arrived.Headers["List-Unsubscribe"]);
        Assert.Equal("List-Unsubscribe=One-Click", arrived.Headers["List-Unsubscribe-Post"]);
        Assert.Equal("salon-2026", arrived.Headers["X-Campaign"]);
        var alternative = Assert.IsType<MultipartAlternative>(arrived.Body);
        Assert.Equal(["text/plain", "text/html"], alternative.Select(p => p.ContentType.MimeType));
        Assert.Equal("您好，李雷：沙龙将于周五举行。", arrived.TextBody?.TrimEnd());
        Assert.Contains("<b>李雷</b>", arrived.HtmlBody ?? "", StringComparison.Ordinal);
    }

    [SmtpFact]
    public async Task Text_only_is_a_single_part_and_no_unsubscribe_headers_without_a_url()
    {
        var to = Recipient("text");
        var result = await Channel().SendAsync(new ChannelMessage("k-text", to, "plain"), CancellationToken.None);
        Assert.True(result.IsAccepted, result.ToString());
        var arrived = Assert.Single(server.MessagesTo(to));
        Assert.Equal("text/plain", arrived.Body!.ContentType.MimeType);
        Assert.False(arrived.Headers.Contains("List-Unsubscribe"));
    }

    [SmtpFact]
    public async Task One_connection_is_reused_across_messages()
    {
        var channel = Channel();
        var before = server.Connections;
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await channel.SendAsync(new ChannelMessage("reuse-" + i, Recipient("reuse"), "hi"), CancellationToken.None)).IsAccepted);
        }

        Assert.Equal(1, channel.ConnectionsOpened);
        Assert.Equal(before + 1, server.Connections);
    }

    [SmtpFact]
    public async Task The_connection_is_renewed_after_MaxMessagesPerConnection()
    {
        var channel = Channel(o => o.MaxMessagesPerConnection = 2);
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await channel.SendAsync(new ChannelMessage("renew-" + i, Recipient("renew"), "hi"), CancellationToken.None)).IsAccepted);
        }

        Assert.Equal(3, channel.ConnectionsOpened);
    }

    [SmtpFact]
    public async Task A_550_on_the_recipient_is_an_invalid_address_and_the_channel_goes_on()
    {
        var channel = Channel();
        var bad = Recipient("unknown");
        server.SetRule(bad, "550");
        var result = await channel.SendAsync(new ChannelMessage("k-550", bad, "hi"), CancellationToken.None);
        Assert.False(result.IsAccepted);
        Assert.Equal(DeliveryFailureReason.InvalidAddress, result.FailureReason);
        Assert.False(result.IsRetryable);
        Assert.StartsWith("SMTP 550", result.Detail, StringComparison.Ordinal);
        Assert.Empty(server.MessagesTo(bad));
        Assert.True((await channel.SendAsync(new ChannelMessage("k-after-550", Recipient("after"), "hi"), CancellationToken.None)).IsAccepted);
    }

    [SmtpFact]
    public async Task A_451_is_a_retryable_provider_error()
    {
        var channel = Channel();
        var busy = Recipient("busy");
        server.SetRule(busy, "451");
        var result = await channel.SendAsync(new ChannelMessage("k-451", busy, "hi"), CancellationToken.None);
        Assert.Equal(DeliveryFailureReason.ProviderError, result.FailureReason);
        Assert.True(result.IsRetryable);
        Assert.StartsWith("SMTP 451", result.Detail, StringComparison.Ordinal);
    }

    [SmtpFact]
    public async Task A_dropped_connection_is_a_retryable_provider_error_and_the_next_send_reconnects()
    {
        var channel = Channel();
        Assert.True((await channel.SendAsync(new ChannelMessage("k-warm", Recipient("warm"), "hi"), CancellationToken.None)).IsAccepted);
        var dropper = Recipient("drop");
        server.SetRule(dropper, "drop");
        var result = await channel.SendAsync(new ChannelMessage("k-drop", dropper, "hi"), CancellationToken.None);
        Assert.Equal(DeliveryFailureReason.ProviderError, result.FailureReason);
        Assert.True(result.IsRetryable);
        Assert.True((await channel.SendAsync(new ChannelMessage("k-after-drop", Recipient("after-drop"), "hi"), CancellationToken.None)).IsAccepted);
        Assert.True(channel.ConnectionsOpened >= 3, $"Expected a reconnect; opened {channel.ConnectionsOpened}.");
    }

    [SmtpFact]
    public async Task A_server_that_stalls_before_the_message_is_a_retryable_provider_error_nothing_sent()
    {
        // RCPT TO never answered: the message's data never went out, so a retry cannot send it twice.
        var channel = Channel(o => o.Timeout = TimeSpan.FromSeconds(1));
        var slow = Recipient("slow");
        server.SetRule(slow, "hang");
        var result = await channel.SendAsync(new ChannelMessage("k-slow", slow, "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.ProviderError, true), (result.FailureReason, result.IsRetryable));
        Assert.Contains("(before the message was sent); nothing was sent", result.Detail, StringComparison.Ordinal);
        Assert.Empty(server.MessagesTo(slow));
    }

    [SmtpFact]
    public async Task A_server_that_stalls_after_the_message_is_a_timeout_in_doubt()
    {
        var channel = Channel(o => o.Timeout = TimeSpan.FromSeconds(1));
        var slow = Recipient("slow-data");
        server.SetRule(slow, "data-hang");
        var result = await channel.SendAsync(new ChannelMessage("k-slow-data", slow, "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.Timeout, true), (result.FailureReason, result.IsRetryable));
        Assert.Contains("(after the message was sent)", result.Detail, StringComparison.Ordinal);
        Assert.Single(server.MessagesTo(slow)); // the server has it: this is why the pipeline must not simply resend
    }

    [SmtpFact]
    public async Task A_connection_that_ends_after_the_message_is_in_doubt_and_not_sent_again_on_a_new_connection()
    {
        // A reused connection that fails is normally retried once on a new one (an idle connection the server closed);
        // not once the message's data went out: the server may have accepted it.
        var channel = Channel();
        Assert.True((await channel.SendAsync(new ChannelMessage("k-warm-2", Recipient("warm"), "hi"), CancellationToken.None)).IsAccepted);
        var opened = channel.ConnectionsOpened;
        var dropper = Recipient("drop-data");
        server.SetRule(dropper, "data-drop");
        var result = await channel.SendAsync(new ChannelMessage("k-drop-data", dropper, "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.Timeout, true), (result.FailureReason, result.IsRetryable));
        Assert.Contains("ended after the message was sent", result.Detail, StringComparison.Ordinal);
        Assert.Single(server.MessagesTo(dropper));
        Assert.Equal(opened, channel.ConnectionsOpened);
        Assert.True((await channel.SendAsync(new ChannelMessage("k-after-drop-data", Recipient("after"), "hi"), CancellationToken.None)).IsAccepted);
    }

    [Fact]
    public async Task A_server_that_never_greets_is_a_retryable_provider_error_not_a_timeout()
    {
        // The listener's backlog completes the TCP handshake, but no SMTP greeting ever comes: nothing can have been sent,
        // so the result must not be a Timeout (which would leave the send in doubt).
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var channel = Channel(o => (o.Port, o.Timeout) = (port, TimeSpan.FromSeconds(1)));
        var result = await channel.SendAsync(new ChannelMessage("k-silent", "a@campaigns.test", "hi"), CancellationToken.None);
        Assert.Equal((DeliveryFailureReason.ProviderError, true), (result.FailureReason, result.IsRetryable));
        Assert.Contains("(connecting); nothing was sent", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_server_listening_is_a_retryable_provider_error()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var channel = Channel(o => o.Port = port);
        var result = await channel.SendAsync(new ChannelMessage("k-down", "a@campaigns.test", "hi"), CancellationToken.None);
        Assert.Equal(DeliveryFailureReason.ProviderError, result.FailureReason);
        Assert.True(result.IsRetryable);
    }

    [Fact]
    public void The_message_id_is_a_stable_hash_of_the_idempotency_key()
    {
        var id = SmtpEmailChannel.MessageIdFor("k", "example.com");
        Assert.Equal(id, SmtpEmailChannel.MessageIdFor("k", "example.com"));
        Assert.NotEqual(id, SmtpEmailChannel.MessageIdFor("k2", "example.com"));
        Assert.Matches("^[0-9a-f]{32}@example.com$", id);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            await channel.DisposeAsync();
        }
    }
}

/// <summary>The SMTP channel passes the conformance kit against the real server.</summary>
[Collection("smtp")]
public sealed class SmtpEmailChannelConformanceTests(SmtpServer server) : ChannelConformanceTests
{
    protected override string? SkipReason => SmtpServer.SkipReason;

    protected override ValueTask<IChannel> CreateChannelAsync()
    {
        var options = new EmailChannelOptions { Host = "127.0.0.1", Port = server.Port, Security = EmailSecurityMode.None, FromAddress = "kit@campaigns.test" };
        return ValueTask.FromResult<IChannel>(new SmtpEmailChannel("email", options, new FakeClock(Instant.FromUtc(2026, 5, 1, 0, 0))));
    }

    protected override string CreateRecipient(string tag) => $"{tag}-{Guid.NewGuid():N}@campaigns.test";

    protected override ValueTask ArrangeFaultAsync(string recipient, ConformanceFault fault)
    {
        server.SetRule(recipient, fault switch
        {
            ConformanceFault.PermanentRejection => "550",
            ConformanceFault.TransientFailure => "451",
            _ => "hang",
        });
        return ValueTask.CompletedTask;
    }

    protected override ValueTask<bool> WasDeliveredWithKeyAsync(ChannelMessage sent) =>
        ValueTask.FromResult(server.MessagesTo(sent.Recipient).Any(m => m.MessageId == SmtpEmailChannel.MessageIdFor(sent.IdempotencyKey, "campaigns.test")));

    /// <summary>The recipient's server bounces the message that arrived: a DSN quoting it, fed through the receipt processor.</summary>
    protected override async ValueTask<IReadOnlyList<DeliveryReceipt>?> ProduceReceiptsAsync(IChannel channel, ChannelMessage sent, DeliveryResult result)
    {
        var arrived = server.MessagesTo(sent.Recipient).Single();
        var sink = new RecordingDeliveryReceiptSink();
        var processor = new EmailReceiptProcessor(sink, new FakeClock(Instant.FromUtc(2026, 5, 2, 0, 0)));
        await processor.ProcessAsync(EmailReceiptParserTests.Load(EmailReceiptParserTests.PermanentBounce(arrived.MessageId!, sent.Recipient)), channel.Name, CancellationToken.None);
        return sink.Receipts;
    }
}
