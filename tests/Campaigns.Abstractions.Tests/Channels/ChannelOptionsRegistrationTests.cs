using Campaigns.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Campaigns.Tests.Channels;

/// <summary>The shared <c>AddChannel&lt;TChannel, TOptions&gt;</c> registration shape of adapter packages.</summary>
public class ChannelOptionsRegistrationTests
{
    private sealed class Builder : ICampaignsBuilder
    {
        public IServiceCollection Services { get; } = new ServiceCollection();
    }

    private sealed class GatewayOptions
    {
        public string? Url { get; set; }

        public int Port { get; set; } = 443;
    }

    private sealed class GatewayChannel(string name, GatewayOptions options) : IChannel
    {
        public string Name { get; } = name;

        public GatewayOptions Options { get; } = options;

        public ChannelCapabilities Capabilities { get; } = new() { AddressKind = ChannelAddressKind.Custom };

        public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken) => new(DeliveryResult.Accepted("1"));
    }

    private static IEnumerable<string> Validate(string path, GatewayOptions o)
    {
        if (string.IsNullOrEmpty(o.Url))
        {
            yield return $"{path}:Url: the gateway URL is required.";
        }
    }

    private static GatewayChannel Create(IServiceProvider sp, string name, GatewayOptions o) => new(name, o);

    [Fact]
    public void Code_and_configuration_shapes_register_named_channels_with_their_own_options()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Campaigns:Channels:B:Url"] = "https://b", ["Campaigns:Channels:B:Port"] = "8443" }).Build();
        var builder = new Builder();
        builder.AddChannel("a", (GatewayOptions o) => o.Url = "https://a", Create, Validate, null)
            .AddChannel<GatewayChannel, GatewayOptions>("b", config.GetSection("Campaigns:Channels:B"), Create, Validate);
        using var sp = builder.Services.BuildServiceProvider();
        var a = (GatewayChannel)sp.GetRequiredKeyedService<IChannel>("a");
        var b = (GatewayChannel)sp.GetRequiredKeyedService<IChannel>("b");
        Assert.Equal(("a", "https://a", 443), (a.Name, a.Options.Url, a.Options.Port));
        Assert.Equal(("b", "https://b", 8443), (b.Name, b.Options.Url, b.Options.Port));
        Assert.Equal(["a", "b"], sp.GetServices<ChannelRegistration>().Select(r => r.Name));
        Assert.Same(a, sp.GetRequiredKeyedService<IChannel>("a"));
    }

    [Fact]
    public void Validation_names_the_key_of_the_failing_instance_only()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Gateways:B:Port"] = "1" }).Build();
        var builder = new Builder();
        builder.AddChannel("a", (GatewayOptions o) => o.Url = "https://a", Create, Validate, null)
            .AddChannel<GatewayChannel, GatewayOptions>("b", config.GetSection("Gateways:B"), Create, Validate)
            .AddChannel("c", (GatewayOptions _) => { }, Create, Validate, "MyApp:Sms");
        using var sp = builder.Services.BuildServiceProvider();
        var monitor = sp.GetRequiredService<IOptionsMonitor<GatewayOptions>>();
        Assert.Equal("https://a", monitor.Get("a").Url);
        Assert.Equal("Gateways:B:Url: the gateway URL is required.", Assert.Single(Assert.Throws<OptionsValidationException>(() => monitor.Get("b")).Failures));
        Assert.Equal("MyApp:Sms:Url: the gateway URL is required.", Assert.Single(Assert.Throws<OptionsValidationException>(() => monitor.Get("c")).Failures));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var builder = new Builder();
        Assert.Throws<ArgumentException>(() => builder.AddChannel("bad name", (GatewayOptions _) => { }, Create, null, null));
        Assert.Throws<ArgumentNullException>(() => builder.AddChannel<GatewayChannel, GatewayOptions>("x", (Action<GatewayOptions>)null!, Create, null, null));
        Assert.Throws<ArgumentNullException>(() => builder.AddChannel<GatewayChannel, GatewayOptions>("x", (IConfiguration)null!, Create, null));
    }
}
