using Campaigns.Channels;
using NodaTime;

namespace Campaigns.Tests.Channels;

public class ChannelContractTests
{
    [Fact]
    public void Results_are_values()
    {
        var ok = DeliveryResult.Accepted("m-1");
        Assert.True(ok.IsAccepted);
        Assert.False(ok.IsRetryable);
        Assert.Equal(ok, DeliveryResult.Accepted("m-1"));

        var limited = DeliveryResult.RateLimited(Duration.FromSeconds(30), "429");
        Assert.False(limited.IsAccepted);
        Assert.True(limited.IsRetryable);
        Assert.Equal(DeliveryFailureReason.RateLimited, limited.FailureReason);
        Assert.Equal(Duration.FromSeconds(30), limited.RetryAfter);
        Assert.Contains("retry after", limited.ToString(), StringComparison.Ordinal);

        var fallback = default(DeliveryResult);
        Assert.False(fallback.IsAccepted);
        Assert.Equal(DeliveryFailureReason.Unknown, fallback.FailureReason);
        Assert.Throws<ArgumentOutOfRangeException>(() => DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, null, Duration.FromSeconds(-1)));
    }

    [Fact]
    public void Messages_validate_their_key_and_recipient()
    {
        var message = new ChannelMessage("k-1", "a@example.com", "hi") { Subject = "s" };
        Assert.Empty(message.Headers);
        Assert.Equal("k-1", (message with { Subject = "t" }).IdempotencyKey);
        Assert.Throws<ArgumentException>(() => new ChannelMessage(" ", "a@example.com", "hi"));
        Assert.Throws<ArgumentException>(() => new ChannelMessage("k", "", "hi"));
        Assert.Throws<ArgumentException>(() => new ChannelMessage(new string('k', 201), "a", "hi"));
        Assert.Throws<ArgumentNullException>(() => new ChannelMessage("k", "a", null!));
    }

    [Fact]
    public async Task The_default_batch_sends_one_by_one_in_order()
    {
        IChannel channel = new EchoChannel();
        var results = await channel.SendBatchAsync([new ChannelMessage("1", "a", ""), new ChannelMessage("2", "b", "")], CancellationToken.None);
        Assert.Equal(["a", "b"], results.Select(r => r.ProviderMessageId));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await channel.SendBatchAsync([new ChannelMessage("1", "a", "")], new CancellationToken(canceled: true)));
    }

    private sealed class EchoChannel : IChannel
    {
        public string Name => "echo";

        public ChannelCapabilities Capabilities { get; } = new() { AddressKind = ChannelAddressKind.Custom };

        public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken) =>
            ValueTask.FromResult(DeliveryResult.Accepted(message.Recipient));
    }
}
