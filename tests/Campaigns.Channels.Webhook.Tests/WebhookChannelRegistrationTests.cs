using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Channels.Webhook.Tests;

public class WebhookChannelRegistrationTests
{
    [Fact]
    public void AddWebhookChannel_binds_a_section_and_resolves_by_name()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Channels:Webhook:Endpoint"] = "https://crm.example.com/hooks",
            ["Campaigns:Channels:Webhook:Secrets:0"] = "whsec_" + Convert.ToBase64String(new byte[32]),
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns().AddWebhookChannel(config.GetSection("Campaigns:Channels:Webhook"));
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var channel = sp.GetRequiredService<IChannelRegistry>().GetChannel("webhook");
        Assert.IsType<WebhookChannel>(channel);
        Assert.Equal("webhook", channel.Name);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void A_receiver_that_deduplicates_makes_the_channel_honour_idempotency_keys(string? setting, bool honours)
    {
        var values = new Dictionary<string, string?>
        {
            ["Campaigns:Channels:Webhook:Endpoint"] = "https://crm.example.com/hooks",
            ["Campaigns:Channels:Webhook:Secrets:0"] = "whsec_" + Convert.ToBase64String(new byte[32]),
        };
        if (setting is not null)
        {
            values["Campaigns:Channels:Webhook:ReceiverDeduplicates"] = setting;
        }

        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddCampaigns().AddWebhookChannel(config.GetSection("Campaigns:Channels:Webhook"));
        using var sp = services.BuildServiceProvider();
        var capabilities = sp.GetRequiredService<IChannelRegistry>().GetChannel("webhook").Capabilities;
        Assert.Equal(honours, capabilities.HonoursIdempotencyKeys);
        Assert.True(capabilities.SupportsDeliveryReceipts); // the rest unchanged
    }

    [Fact]
    public void Bad_settings_fail_the_start_naming_the_key_without_showing_secrets()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().AddWebhookChannel("crm", o =>
        {
            o.Endpoint = new Uri("ftp://example.com");
            o.Secrets.Add("whsec_c2hvcnQ=");
            o.Timeout = TimeSpan.Zero;
        });
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Channels:crm:Endpoint: 'ftp://example.com/' is not an absolute http(s) URL", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Channels:crm:Secrets:0: not a signing secret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Channels:crm:Timeout:", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2hvcnQ", ex.Message, StringComparison.Ordinal);
    }
}
