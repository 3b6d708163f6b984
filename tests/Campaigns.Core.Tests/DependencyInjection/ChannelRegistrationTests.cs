using Campaigns.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Tests.DependencyInjection;

public class ChannelRegistrationTests
{
    [Fact]
    public void AddChannel_registers_a_keyed_singleton_resolvable_by_name()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().AddChannel<NamedChannel>("my-sms").AddChannel("other", (_, name) => new NamedChannel(name));
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var registry = sp.GetRequiredService<IChannelRegistry>();
        Assert.Equal(["my-sms", "other"], registry.Names);
        var channel = registry.GetChannel("my-sms");
        Assert.Equal("my-sms", channel.Name);
        Assert.Same(channel, registry.GetChannel("my-sms"));
        Assert.Same(channel, sp.GetRequiredKeyedService<IChannel>("my-sms"));
        Assert.Equal("other", registry.GetChannel("other").Name);
        Assert.False(registry.TryGetChannel("nope", out _));
        var ex = Assert.Throws<KeyNotFoundException>(() => registry.GetChannel("nope"));
        Assert.Contains("my-sms, other", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_registered_twice_fails_the_start_naming_it()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().AddChannel<NamedChannel>("sms").AddChannel("sms", (_, n) => new NamedChannel(n));
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Channels:sms: the channel name 'sms' is registered 2 times (by NamedChannel, NamedChannel)", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("中文")]
    public void Bad_names_are_refused_at_registration(string name)
    {
        var services = new ServiceCollection();
        Assert.ThrowsAny<ArgumentException>(() => services.AddCampaigns().AddChannel<NamedChannel>(name));
    }

    private sealed class NamedChannel([ServiceKey] string name) : IChannel
    {
        public string Name { get; } = name;

        public ChannelCapabilities Capabilities { get; } = new() { AddressKind = ChannelAddressKind.Phone, MaxContentLength = 70 };

        public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken) =>
            ValueTask.FromResult(DeliveryResult.Accepted("id"));
    }
}
