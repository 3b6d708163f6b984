using System.Globalization;
using Campaigns.Contacts;
using FsCheck.Xunit;

namespace Campaigns.Tests.Contacts;

/// <summary>
/// The phone fast path (11-digit Chinese numbers 1[3-9]…, plain or +86, validity memoized by five-digit prefix) must give
/// exactly libphonenumber's answer: validity and E.164.
/// </summary>
public sealed class ContactIdentityNormalizerTests
{
    [Theory]
    [InlineData("13800138000", "CN", "+8613800138000")]
    [InlineData("+8613800138000", "CN", "+8613800138000")]
    [InlineData("+8613800138000", "US", "+8613800138000")]
    [InlineData("138 0013 8000", "CN", "+8613800138000")]
    [InlineData("+86-138-0013-8000", "CN", "+8613800138000")]
    [InlineData("(0086) 13800138000", "CN", "+8613800138000")]
    [InlineData("１３８００１３８０００", "CN", "+8613800138000")]
    [InlineData("16000000000", "CN", null)]
    [InlineData("16101234567", "CN", "+8616101234567")]
    [InlineData("17405123456", "CN", "+8617405123456")]
    [InlineData("17406123456", "CN", null)]
    [InlineData("14612345678", "CN", null)]
    [InlineData("12345", "CN", null)]
    [InlineData("13800138000", "US", null)]
    [InlineData("", "CN", null)]
    [InlineData("not a phone", "CN", null)]
    public void Normalizes_phones_as_libphonenumber(string raw, string region, string? expected)
    {
        var valid = ContactIdentityNormalizer.TryNormalizePhone(raw, region, out var e164);

        Assert.Equal(expected is not null, valid);
        Assert.Equal(expected, e164);
        Assert.Equal(ContactIdentityNormalizer.LibPhoneNumber(raw, region, out var reference), valid);
        Assert.Equal(reference, e164);
    }

    [Theory]
    [InlineData("CN")]
    [InlineData("US")]
    public void Every_five_digit_prefix_gives_libphonenumbers_answer(string region)
    {
        // Every prefix 10000–19999 (the fast path's shapes and the ones it leaves to libphonenumber: 11…, 12…, 179…),
        // several suffixes each, plain and +86: the first call of a prefix fills the memo, the later ones read it.
        var random = new Random(86);
        var fast = 0;
        for (var prefix = 10_000; prefix < 20_000; prefix++)
        {
            foreach (var suffix in new[] { "000000", "999999", random.Next(1_000_000).ToString("D6", CultureInfo.InvariantCulture), random.Next(1_000_000).ToString("D6", CultureInfo.InvariantCulture) })
            {
                var digits = prefix.ToString(CultureInfo.InvariantCulture) + suffix;
                foreach (var raw in new[] { digits, "+86" + digits })
                {
                    if (ContactIdentityNormalizer.TryChineseMobileShape(raw, region, out _, out _))
                    {
                        fast++;
                    }

                    AssertSame(raw, region);
                }
            }
        }

        // Plain digits take the fast path only with the CN default region; +86 with any.
        Assert.Equal(region == "CN" ? 2 * 4 * 6_900 : 4 * 6_900, fast);
    }

    [Property(MaxTest = 200)]
    public void Real_shaped_and_junk_numbers_give_libphonenumbers_answer(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        string[] regions = ["CN", "US", "HK", "GB", "DE"];
        string[] starts = ["1", "13", "138", "15", "17", "179", "11", "12", "16", "19", "14", "010", "021", "0755", "+86", "+861", "+8617", "+1", "+852", "+44", "0086", "00", "86", "400", "800", "95", "+", "１３", "+８６", " ", "-", "(", "a"];
        string[] parts = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "00", "12", "345", "6789", " ", "-", "x", "１", "#", "ext. 1"];
        for (var i = 0; i < 200; i++)
        {
            var text = starts[random.Next(starts.Length)];
            var target = random.Next(100) < 70 ? 11 + (text.StartsWith('+') ? 3 : 0) : random.Next(1, 18);
            while (text.Length < target)
            {
                text += random.Next(100) < 85 ? ((char)('0' + random.Next(10))).ToString() : parts[random.Next(parts.Length)];
            }

            AssertSame(text, regions[random.Next(regions.Length)]);
        }
    }

    private static void AssertSame(string raw, string region)
    {
        var expectedValid = ContactIdentityNormalizer.LibPhoneNumber(raw, region, out var expected);
        var valid = ContactIdentityNormalizer.TryNormalizePhone(raw, region, out var e164);
        Assert.True(expectedValid == valid, $"{raw} in {region}: libphonenumber says {expectedValid}, the normalizer {valid}");
        Assert.Equal(expected, e164);
    }
}
