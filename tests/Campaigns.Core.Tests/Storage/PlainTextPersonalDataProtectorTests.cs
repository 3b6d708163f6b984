using Campaigns.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Campaigns.Core.Tests.Storage;

public sealed class PlainTextPersonalDataProtectorTests
{
    [Fact]
    public void Round_trips_values_unchanged_and_uses_them_as_lookup_keys()
    {
        var p = PlainTextPersonalDataProtector.Instance;
        Assert.Equal("+8613800138000", p.Protect("phone", "+8613800138000"));
        Assert.Equal("a@b.cn", p.Unprotect("email", "a@b.cn"));
        Assert.Equal("a@b.cn", p.ComputeLookupKey("email", "a@b.cn"));
        Assert.Equal("plain", p.Scheme);
        Assert.Throws<ArgumentNullException>(() => p.Protect("phone", null!));
    }

    [Fact]
    public void Is_the_default_registration()
    {
        var services = new ServiceCollection();
        services.AddCampaigns();
        using var provider = services.BuildServiceProvider();
        Assert.IsType<PlainTextPersonalDataProtector>(provider.GetRequiredService<IPersonalDataProtector>());
    }
}
