using Campaigns.Modeling;
using Campaigns.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.DependencyInjection;

public class AddCampaignsTests
{
    [Fact]
    public void Resolves_every_service_a_host_uses()
    {
        var services = new ServiceCollection();
        var builder = services.AddCampaigns().AddCatalogue(TestCatalogue.Document);
        Assert.Same(services, builder.Services);
        using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Assert.IsType<InMemoryCampaignStore>(sp.GetRequiredService<ICampaignStore>());
        Assert.NotNull(sp.GetRequiredService<ICampaignService>());
        Assert.Same(SystemClock.Instance, sp.GetRequiredService<IClock>());
        Assert.Equal("test-seminar", sp.GetRequiredService<ICampaignCatalogue>().GetCampaignType("test-seminar").Id);
        Assert.Equal("Asia/Shanghai", sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.DefaultTimeZone);
    }

    [Fact]
    public void Host_registrations_win_over_defaults_in_either_order()
    {
        var clock = new FakeClock(Instant.FromUtc(2026, 1, 1, 0, 0));
        var before = new ServiceCollection();
        before.AddSingleton<IClock>(clock);
        before.AddCampaigns();
        using var sp1 = before.BuildServiceProvider();
        Assert.Same(clock, sp1.GetRequiredService<IClock>());

        var store = new InMemoryCampaignStore();
        var after = new ServiceCollection();
        after.AddCampaigns();
        after.AddSingleton<ICampaignStore>(store);
        using var sp2 = after.BuildServiceProvider();
        Assert.Same(store, sp2.GetRequiredService<ICampaignStore>());
    }

    [Fact]
    public void Calling_AddCampaigns_twice_registers_services_once()
    {
        var services = new ServiceCollection();
        services.AddCampaigns();
        services.AddCampaigns(o => o.DefaultCurrency = "USD");
        Assert.Single(services, d => d.ServiceType == typeof(ICampaignService));
        Assert.Single(services, d => d.ServiceType == typeof(IValidateOptions<CampaignsOptions>));
        using var sp = services.BuildServiceProvider();
        Assert.Equal("USD", sp.GetRequiredService<IOptions<CampaignsOptions>>().Value.DefaultCurrency);
    }

    [Fact]
    public void Binds_options_from_a_configuration_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campaigns:DefaultTimeZone"] = "Europe/London",
            ["Campaigns:DefaultCurrency"] = "GBP",
            ["Campaigns:IncludeBuiltInCatalogue"] = "false",
        }).Build();
        var services = new ServiceCollection();
        services.AddCampaigns(configuration.GetSection("Campaigns"));
        using var sp = services.BuildServiceProvider();
        var options = sp.GetRequiredService<IOptions<CampaignsOptions>>().Value;
        Assert.Equal(("Europe/London", "GBP", false), (options.DefaultTimeZone, options.DefaultCurrency, options.IncludeBuiltInCatalogue));
        Assert.Empty(sp.GetRequiredService<ICampaignCatalogue>().Types);
    }

    [Theory]
    [InlineData("Campaigns:DefaultTimeZone", "Mars/Olympus_Mons", "Campaigns:DefaultTimeZone: 'Mars/Olympus_Mons' is not an IANA time zone")]
    [InlineData("Campaigns:DefaultCurrency", "yuan", "Campaigns:DefaultCurrency: 'yuan' is not an ISO 4217 code")]
    [InlineData("Campaigns:CatalogueFiles:0", "/nonexistent/types.json", "Campaigns:CatalogueFiles:0: the file '/nonexistent/types.json' does not exist")]
    [InlineData("Campaigns:Contacts:DefaultPhoneRegion", "Narnia", "Campaigns:Contacts:DefaultPhoneRegion: 'Narnia' is not a region")]
    [InlineData("Campaigns:Contacts:AttributeDefaults:shoe_size", "42", "Campaigns:Contacts:AttributeDefaults:shoe_size: the schema has no attribute 'shoe_size'")]
    [InlineData("Campaigns:Contacts:MaxEventClockSkew", "-00:01:00", "Campaigns:Contacts:MaxEventClockSkew: '-00:01:00' is negative")]
    [InlineData("Campaigns:Segmentation:TimeZone", "Mars/Olympus_Mons", "Campaigns:Segmentation:TimeZone: 'Mars/Olympus_Mons' is not an IANA time zone")]
    [InlineData("Campaigns:Segmentation:MaxDegreeOfParallelism", "0", "Campaigns:Segmentation:MaxDegreeOfParallelism: 0 is less than 1")]
    [InlineData("Campaigns:Segmentation:InitialCapacity", "-5", "Campaigns:Segmentation:InitialCapacity: -5 is negative")]
    public async Task A_bad_setting_fails_host_start_naming_the_setting(string key, string value, string expected)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value });
        builder.Services.AddCampaigns(builder.Configuration.GetSection("Campaigns"));
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Good_settings_start_the_host()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCampaigns(o => o.DefaultTimeZone = "America/New_York");
        using var host = builder.Build();
        await host.StartAsync();
        await host.StopAsync();
        Assert.Equal("America/New_York", host.Services.GetRequiredService<IOptions<CampaignsOptions>>().Value.DefaultTimeZone);
    }

    [Fact]
    public void Catalogue_files_from_options_are_merged_after_the_built_in_catalogue()
    {
        var path = Path.Combine(Path.GetTempPath(), $"campaigns-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(TestCatalogue.Document, Campaigns.Serialization.CampaignsJson.Options));
        try
        {
            var services = new ServiceCollection();
            services.AddCampaigns(o => o.CatalogueFiles.Add(path));
            using var sp = services.BuildServiceProvider();
            var catalogue = sp.GetRequiredService<ICampaignCatalogue>();
            Assert.Equal("test-seminar", catalogue.Types[^1].Id);
            Assert.Equal("test-form", catalogue.GetForm("test-form").Id);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
