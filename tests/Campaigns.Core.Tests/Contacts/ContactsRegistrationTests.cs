using Campaigns.Contacts;
using Campaigns.Modeling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Tests.Contacts;

public class ContactsRegistrationTests
{
    [Fact]
    public void A_host_resolves_the_contact_services_and_can_replace_the_stores()
    {
        var services = new ServiceCollection();
        services.AddCampaigns();
        var store = new InMemoryContactStore();
        services.AddSingleton<IContactStore>(store);
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Assert.Same(store, sp.GetRequiredService<IContactStore>());
        Assert.IsType<InMemoryEventStore>(sp.GetRequiredService<IEventStore>());
        Assert.NotNull(sp.GetRequiredService<IContactService>());
        Assert.NotNull(sp.GetRequiredService<IContactEvents>());
        Assert.NotNull(sp.GetRequiredService<IContactImporter>());
        var options = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.Contacts;
        Assert.Equal(("CN", "unclassified"), (options.DefaultPhoneRegion, options.AttributeDefaults["industry"]));
    }

    [Fact]
    public async Task Contacts_settings_bind_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:Contacts:DefaultPhoneRegion"] = "GB",
            ["Campaigns:Contacts:AttributeDefaults:industry"] = "待分类",
            ["Campaigns:Contacts:AttributeDefaults:region"] = "unknown",
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns(configuration.GetSection("Campaigns"));
        using var sp = services.BuildServiceProvider();
        var contact = await sp.GetRequiredService<IContactService>().CreateAsync(new ContactDraft
        {
            Identities = new ContactIdentities { Phone = "07400 123456" },
        });
        Assert.Equal("+447400123456", contact.Identities.Phone);
        Assert.Equal(new TextValue("待分类"), contact.Attributes["industry"]);
        Assert.Equal(new TextValue("unknown"), contact.Attributes["region"]);
    }

    [Fact]
    public async Task A_bad_schema_or_default_type_fails_host_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCampaigns(o =>
        {
            o.Contacts.Schema = new AttributeSchema
            {
                Attributes =
                [
                    new AttributeDefinition { Name = "industry", Type = AttributeType.String },
                    new AttributeDefinition { Name = "Employees", Type = AttributeType.Integer },
                    new AttributeDefinition { Name = "tier", Type = AttributeType.Enum },
                    new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal },
                ],
            };
            o.Contacts.AttributeDefaults["budget"] = "lots";
        });
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Campaigns:Contacts:Schema: attribute name 'Employees'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Contacts:Schema: attribute 'tier' is an enum without allowed values", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Contacts:AttributeDefaults:budget: Attribute 'budget': 'lots' is not a number", ex.Message, StringComparison.Ordinal);
    }
}
