using Campaigns.Channels.Email;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Channels.Email.Tests;

public class EmailChannelRegistrationTests
{
    [Fact]
    public void AddEmailChannel_registers_a_channel_named_email()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().AddEmailChannel(o => { o.Host = "smtp.example.com"; o.FromAddress = "events@example.com"; });
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var channel = sp.GetRequiredService<IChannelRegistry>().GetChannel("email");
        Assert.Equal("email", channel.Name);
        Assert.IsType<SmtpEmailChannel>(channel);
        Assert.Equal(ChannelAddressKind.Email, channel.Capabilities.AddressKind);
        Assert.True(channel.Capabilities.SupportsRichContent);
        Assert.Equal(587, sp.GetRequiredService<IOptionsMonitor<EmailChannelOptions>>().Get("email").Port);
    }

    [Fact]
    public void Named_instances_have_their_own_options()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Channels:Email:Host"] = "smtp-a.example.com",
            ["Campaigns:Channels:Email:FromAddress"] = "a@example.com",
            ["Campaigns:Channels:Email:Port"] = "465",
            ["Campaigns:Channels:Email:Security"] = "SslOnConnect",
            ["Campaigns:Channels:Transactional:Host"] = "smtp-b.example.com",
            ["Campaigns:Channels:Transactional:FromAddress"] = "b@example.com",
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns()
            .AddEmailChannel(config.GetSection("Campaigns:Channels:Email"))
            .AddEmailChannel("email-transactional", config.GetSection("Campaigns:Channels:Transactional"));
        using var sp = services.BuildServiceProvider();
        var monitor = sp.GetRequiredService<IOptionsMonitor<EmailChannelOptions>>();
        Assert.Equal((465, EmailSecurityMode.SslOnConnect), (monitor.Get("email").Port, monitor.Get("email").Security));
        Assert.Equal("smtp-b.example.com", monitor.Get("email-transactional").Host);
        Assert.Equal(["email", "email-transactional"], sp.GetRequiredService<IChannelRegistry>().Names);
    }

    [Fact]
    public void Bad_settings_fail_the_start_naming_the_configuration_key()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Channels:Email:Host"] = "smtp.example.com",
            ["Campaigns:Channels:Email:Port"] = "70000",
            ["Campaigns:Channels:Email:FromAddress"] = "not an address",
            ["Campaigns:Channels:Email:UserName"] = "u",
            ["Campaigns:Channels:Email:MaxMessagesPerConnection"] = "0",
        }).Build();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().AddEmailChannel(config.GetSection("Campaigns:Channels:Email"));
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Channels:Email:Port: 70000 is not a TCP port", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Channels:Email:FromAddress:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Channels:Email:Password: a password is required", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Channels:Email:MaxMessagesPerConnection:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_named_instance_configured_in_code_is_validated_under_its_name()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().AddEmailChannel("newsletter", o => o.FromAddress = "n@example.com");
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("Campaigns:Channels:newsletter:Host: the SMTP host is required", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_name_twice_fails_the_start()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns()
            .AddEmailChannel(o => { o.Host = "a"; o.FromAddress = "a@example.com"; })
            .AddEmailChannel(o => { o.Host = "b"; o.FromAddress = "b@example.com"; });
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Start());
        Assert.Contains("the channel name 'email' is registered 2 times", ex.Message, StringComparison.Ordinal);
    }
}
