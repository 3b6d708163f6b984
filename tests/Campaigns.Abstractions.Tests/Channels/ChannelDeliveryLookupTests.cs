using Campaigns.Channels;

namespace Campaigns.Tests.Channels;

public class ChannelDeliveryLookupTests
{
    [Fact]
    public void Results_carry_their_status_id_and_detail()
    {
        var sent = ChannelDeliveryLookupResult.Sent("m-1");
        Assert.Equal((ChannelDeliveryLookupStatus.Sent, "m-1", (string?)null), (sent.Status, sent.ProviderMessageId, sent.Detail));
        Assert.Equal("Sent(m-1)", sent.ToString());
        Assert.Equal("NotFound", ChannelDeliveryLookupResult.NotFound().ToString());
        var unknown = ChannelDeliveryLookupResult.Unknown("HTTP 503");
        Assert.Equal((ChannelDeliveryLookupStatus.Unknown, "HTTP 503"), (unknown.Status, unknown.Detail));
        Assert.Equal("Unknown(HTTP 503)", unknown.ToString());
        Assert.Equal(ChannelDeliveryLookupStatus.Unknown, default(ChannelDeliveryLookupResult).Status); // default: cannot tell
    }

    [Fact]
    public void Capabilities_do_not_claim_key_deduplication_by_default() =>
        Assert.False(new ChannelCapabilities { AddressKind = ChannelAddressKind.Email }.HonoursIdempotencyKeys);
}
