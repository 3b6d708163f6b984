using System.Security.Cryptography;
using Campaigns.Contacts;
using Campaigns.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace Campaigns.Core.Tests.Storage;

public sealed class AesGcmPersonalDataProtectorTests
{
    private static readonly string KeyA = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string KeyB = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());

    private static AesGcmPersonalDataProtector Create(string key, string[]? previous = null, string? lookup = null)
    {
        var options = new AesGcmProtectionOptions { Key = key, LookupKey = lookup };
        foreach (var p in previous ?? [])
        {
            options.PreviousKeys.Add(p);
        }

        return new AesGcmPersonalDataProtector(options);
    }

    [Fact]
    public void Round_trips_and_hides_the_value_with_a_key_id_prefix()
    {
        var p = Create(KeyA);
        var stored = p.Protect("phone", "+8613800138000");

        Assert.DoesNotContain("13800138000", stored, StringComparison.Ordinal);
        Assert.StartsWith($"v1.{p.CurrentKeyId}.", stored, StringComparison.Ordinal);
        Assert.Equal("+8613800138000", p.Unprotect("phone", stored));
        Assert.Equal("张伟", p.Unprotect("name", p.Protect("name", "张伟")));
        Assert.Equal(string.Empty, p.Unprotect("name", p.Protect("name", string.Empty)));
        Assert.NotEqual(stored, p.Protect("phone", "+8613800138000")); // a fresh nonce each time
    }

    [Fact]
    public void A_tampered_value_fails_authentication()
    {
        var p = Create(KeyA);
        var stored = p.Protect("email", "a@example.com");
        var data = System.Buffers.Text.Base64Url.DecodeFromChars(stored.Split('.')[2]);
        data[14] ^= 1;
        var tampered = $"v1.{p.CurrentKeyId}.{System.Buffers.Text.Base64Url.EncodeToString(data)}";

        var ex = Assert.Throws<CryptographicException>(() => p.Unprotect("email", tampered));
        Assert.Contains("tampered", ex.Message, StringComparison.Ordinal);
        Assert.Throws<CryptographicException>(() => p.Unprotect("email", "a@example.com"));
        Assert.Throws<CryptographicException>(() => p.Unprotect("email", $"v1.{p.CurrentKeyId}.AAAA"));
    }

    [Fact]
    public void A_value_protected_for_one_purpose_does_not_open_for_another()
    {
        var p = Create(KeyA);
        var phone = p.Protect("phone", "+8613800138000");
        Assert.Throws<CryptographicException>(() => p.Unprotect("email", phone));
    }

    [Fact]
    public void After_a_rotation_old_values_still_open_while_the_old_key_is_listed()
    {
        var before = Create(KeyA);
        var old = before.Protect("phone", "+8613800138000");

        var rotated = Create(KeyB, previous: [KeyA], lookup: KeyA);
        Assert.Equal("+8613800138000", rotated.Unprotect("phone", old));
        Assert.StartsWith($"v1.{rotated.CurrentKeyId}.", rotated.Protect("phone", "x"), StringComparison.Ordinal);
        Assert.NotEqual(before.CurrentKeyId, rotated.CurrentKeyId);

        // Lookup keys and the scheme stay when the lookup key stays.
        Assert.Equal(before.ComputeLookupKey("phone", "+8613800138000"), rotated.ComputeLookupKey("phone", "+8613800138000"));
        Assert.Equal(before.Scheme, rotated.Scheme);

        var forgotten = Create(KeyB);
        var ex = Assert.Throws<CryptographicException>(() => forgotten.Unprotect("phone", old));
        Assert.Contains(before.CurrentKeyId, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Campaigns:Storage:Protection:PreviousKeys", ex.Message, StringComparison.Ordinal);
        Assert.NotEqual(before.Scheme, forgotten.Scheme);
    }

    [Fact]
    public void Lookup_keys_are_deterministic_keyed_and_separated_by_purpose()
    {
        var p = Create(KeyA);
        var key = p.ComputeLookupKey("phone", "+8613800138000");
        Assert.Equal(key, Create(KeyA).ComputeLookupKey("phone", "+8613800138000"));
        Assert.NotEqual(key, p.ComputeLookupKey("crm_id", "+8613800138000"));
        Assert.NotEqual(key, Create(KeyB).ComputeLookupKey("phone", "+8613800138000"));
        Assert.DoesNotContain("138", key, StringComparison.Ordinal);
        Assert.StartsWith("aes-256-gcm;lookup=", p.Scheme, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "Campaigns:Storage:Protection:Key: a key is required")]
    [InlineData("not base64!", "Campaigns:Storage:Protection:Key: the value is not base64")]
    [InlineData("AAAA", "Campaigns:Storage:Protection:Key: the value decodes to 3 bytes")]
    public void Bad_keys_are_refused_naming_the_setting(string? key, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => Create(key!));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        var previous = Assert.Throws<ArgumentException>(() => Create(KeyA, previous: ["AAAA"]));
        Assert.Contains("Campaigns:Storage:Protection:PreviousKeys:0", previous.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_replaces_the_default_and_validates_at_start()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().UseAesGcmDataProtection(o => o.Key = KeyA);
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.IsType<AesGcmPersonalDataProtector>(provider.GetRequiredService<IPersonalDataProtector>());
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCampaigns().UseAesGcmDataProtection(o => o.Key = "short");
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Campaigns:Storage:Protection:Key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Personal_fields_of_a_contact_are_protected_and_restored()
    {
        var p = Create(KeyA);
        var contact = new Contact
        {
            Id = ContactId.New(),
            CreatedAt = NodaTime.Instant.FromUtc(2026, 5, 1, 0, 0),
            Name = "张伟",
            Identities = new ContactIdentities
            {
                Phone = "+8613800138000",
                Email = "a@example.com",
                AdditionalEmails = ["b@example.com"],
                AdditionalPhones = ["+8613900139000"],
                WeChatOpenId = "o1",
                WeChatUnionId = "u1",
                WeComExternalUserId = "w1",
                CrmId = "crm-1",
            },
            QualityFlags = [new DataQualityFlag("phone", "12345", "invalid-phone", "bad", NodaTime.Instant.FromUtc(2026, 5, 1, 0, 0))],
        };

        var stored = PersonalDataFields.Protect(contact, p);
        var json = StorageJson.Serialize(stored);
        foreach (var secret in new[] { "张伟", "+8613800138000", "a@example.com", "b@example.com", "+8613900139000", "\"o1\"", "\"u1\"", "\"w1\"", "12345" })
        {
            Assert.DoesNotContain(secret, json, StringComparison.Ordinal);
        }

        Assert.Contains("crm-1", json, StringComparison.Ordinal); // documented: the CRM id is not protected
        Assert.Equal(StorageJson.Serialize(contact), StorageJson.Serialize(PersonalDataFields.Unprotect(StorageJson.Deserialize<Contact>(json), p)));
        Assert.Same(contact, PersonalDataFields.Protect(contact, PlainTextPersonalDataProtector.Instance));
    }
}
