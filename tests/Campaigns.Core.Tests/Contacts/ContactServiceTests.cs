using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Contacts;

public class ContactServiceTests
{
    [Fact]
    public async Task Create_normalizes_identities_and_applies_attribute_defaults()
    {
        using var host = new ContactTestHost();
        var contact = await host.Contacts.CreateAsync(new ContactDraft
        {
            Identities = new ContactIdentities { Phone = "138 0013 8000", Email = "  Ann@Example.COM ", CrmId = " crm-1 " },
            Attributes = new Dictionary<string, FieldValue> { ["region"] = new TextValue("华东") },
        });

        Assert.Equal("+8613800138000", contact.Identities.Phone);
        Assert.Equal("ann@example.com", contact.Identities.Email);
        Assert.Equal("crm-1", contact.Identities.CrmId);
        Assert.Equal(new TextValue("unclassified"), contact.Attributes["industry"]);
        Assert.Equal(LifecycleStage.New, contact.Stage);
        Assert.Equal(host.Clock.GetCurrentInstant(), contact.CreatedAt);
        Assert.Equal(1, contact.Version);
        Assert.Same(contact, await host.Contacts.FindAsync(IdentityKind.Phone, "+86 138-0013-8000"));
        Assert.Same(contact, await host.Contacts.FindAsync(IdentityKind.Email, "ANN@example.com"));
        var change = Assert.Single(host.Listener.Changes);
        Assert.Null(change.Previous);
        Assert.Same(contact, change.Current);
    }

    [Fact]
    public async Task Every_validation_error_names_the_field_and_the_value()
    {
        var schema = new AttributeSchema
        {
            Attributes =
            [
                new AttributeDefinition { Name = "industry", Type = AttributeType.String },
                new AttributeDefinition { Name = "employees", Type = AttributeType.Integer },
                new AttributeDefinition { Name = "tier", Type = AttributeType.Enum, AllowedValues = ["gold", "silver"] },
                new AttributeDefinition { Name = "budget", Type = AttributeType.Decimal },
            ],
        };
        using var host = new ContactTestHost(o => o.Contacts.Schema = schema);
        var ex = await Assert.ThrowsAsync<FieldValidationException>(() => host.Contacts.CreateAsync(new ContactDraft
        {
            Identities = new ContactIdentities { Phone = "12345", Email = "not-an-email" },
            TimeZoneId = "Mars/Olympus_Mons",
            Attributes = new Dictionary<string, FieldValue>
            {
                ["shoe_size"] = new NumberValue(42),
                ["employees"] = new NumberValue(12.5m),
                ["tier"] = new ChoiceValue("bronze"),
                ["budget"] = new TextValue("lots"),
            },
        }));

        string Message(string key) => Assert.Single(ex.Errors, e => e.FieldKey == key).Message;
        Assert.Contains("'12345'", Message("identities.phone"), StringComparison.Ordinal);
        Assert.Contains("'not-an-email'", Message("identities.email"), StringComparison.Ordinal);
        Assert.Contains("'Mars/Olympus_Mons'", Message("timeZoneId"), StringComparison.Ordinal);
        Assert.Contains("'shoe_size'", Message("attributes.shoe_size"), StringComparison.Ordinal);
        Assert.Contains("42", Message("attributes.shoe_size"), StringComparison.Ordinal);
        Assert.Contains("12.5", Message("attributes.employees"), StringComparison.Ordinal);
        Assert.Equal("fraction", ex.Errors.Single(e => e.FieldKey == "attributes.employees").Code);
        Assert.Contains("'bronze'", Message("attributes.tier"), StringComparison.Ordinal);
        Assert.Contains("'lots'", Message("attributes.budget"), StringComparison.Ordinal);
        Assert.Equal(0, await host.Store.CountAsync());
    }

    [Fact]
    public async Task A_contact_needs_an_identity_and_identities_are_unique()
    {
        using var host = new ContactTestHost();
        var ex = await Assert.ThrowsAsync<FieldValidationException>(() => host.Contacts.CreateAsync(new ContactDraft { Name = "Nobody" }));
        Assert.Equal("identities", Assert.Single(ex.Errors).FieldKey);

        await host.CreateAsync("13800138000");
        var dup = await Assert.ThrowsAsync<DuplicateEntityException>(() => host.CreateAsync("+86 138 0013 8000"));
        Assert.Equal("phone:+8613800138000", dup.Key);
        Assert.Equal(1, await host.Store.CountAsync());
    }

    [Fact]
    public async Task Consent_stage_owner_and_time_zone_are_recorded_with_the_clock()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var t0 = host.Clock.GetCurrentInstant();
        contact = await host.Contacts.GrantConsentAsync(contact.Id, "email", "registration form");
        host.Clock.Advance(Duration.FromHours(1));
        contact = await host.Contacts.WithdrawConsentAsync(contact.Id, "email", "unsubscribe link");
        contact = await host.Contacts.GrantConsentAsync(contact.Id, "sms", "import");
        Assert.Equal(new ConsentRecord(false, "unsubscribe link", t0 + Duration.FromHours(1)), contact.Consents["email"]);
        Assert.False(contact.HasConsent("email"));
        Assert.True(contact.HasConsent("sms"));

        contact = await host.Contacts.ChangeStageAsync(contact.Id, LifecycleStage.Mql, "score reached 20");
        contact = await host.Contacts.ChangeStageAsync(contact.Id, LifecycleStage.Mql, "again");
        contact = await host.Contacts.ChangeStageAsync(contact.Id, LifecycleStage.Sql, "qualified", "sales-1");
        Assert.Equal(LifecycleStage.Sql, contact.Stage);
        Assert.Equal(
            [
                new StageChange(LifecycleStage.New, LifecycleStage.Mql, host.Clock.GetCurrentInstant(), "score reached 20"),
                new StageChange(LifecycleStage.Mql, LifecycleStage.Sql, host.Clock.GetCurrentInstant(), "qualified", "sales-1"),
            ],
            contact.StageHistory);

        contact = await host.Contacts.AssignOwnerAsync(contact.Id, "sales-1");
        contact = await host.Contacts.SetTimeZoneAsync(contact.Id, "Europe/London");
        Assert.Equal(("sales-1", "Europe/London"), (contact.OwnerId, contact.TimeZoneId));
        var bad = await Assert.ThrowsAsync<FieldValidationException>(() => host.Contacts.SetTimeZoneAsync(contact.Id, "Europe/Atlantis"));
        Assert.Contains("'Europe/Atlantis'", bad.Message, StringComparison.Ordinal);
        Assert.Equal("Europe/London", (await host.Contacts.GetAsync(contact.Id)).TimeZoneId);
    }

    [Fact]
    public async Task Attributes_are_set_and_removed_and_the_default_comes_back()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        contact = await host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?> { ["industry"] = new TextValue("manufacturing") });
        Assert.Equal(new TextValue("manufacturing"), contact.Attributes["industry"]);
        contact = await host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?> { ["industry"] = null });
        Assert.Equal(new TextValue("unclassified"), contact.Attributes["industry"]);
        await Assert.ThrowsAsync<FieldValidationException>(() =>
            host.Contacts.SetAttributesAsync(contact.Id, new Dictionary<string, FieldValue?> { ["industry"] = new NumberValue(3) }));
        Assert.Equal(contact.Version, (await host.Contacts.GetAsync(contact.Id)).Version);
    }

    [Fact]
    public async Task Manual_tags_keep_every_campaign_and_record_who_and_when()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        var c1 = CampaignId.New();
        var c2 = CampaignId.New();
        await host.Contacts.AddTagAsync(contact.Id, "报名: 2026-05-20+上海+数字化工厂", "ops-1", group: "registration", campaignId: c1, source: TagSource.Campaign);
        await host.Contacts.AddTagAsync(contact.Id, "报名: 2026-05-20+上海+数字化工厂", "ops-1", group: "registration", campaignId: c2, source: TagSource.Campaign);
        var expiry = host.Clock.GetCurrentInstant() + Duration.FromDays(30);
        contact = await host.Contacts.AddTagAsync(contact.Id, "意向产品: A产品", "sales-1", expiresAt: expiry);
        contact = await host.Contacts.AddTagAsync(contact.Id, "意向产品: A产品", "sales-2", expiresAt: expiry);
        Assert.Equal(3, contact.Tags.Count);
        var manual = Assert.Single(contact.Tags, t => t.Source == TagSource.Manual);
        Assert.Equal(("sales-2", host.Clock.GetCurrentInstant(), expiry), (manual.AssignedBy, manual.AssignedAt, manual.ExpiresAt));

        Assert.Equal(3, contact.ActiveTags(host.Clock.GetCurrentInstant()).Count());
        Assert.Equal(2, contact.ActiveTags(expiry).Count());

        contact = await host.Contacts.RemoveTagAsync(contact.Id, "报名: 2026-05-20+上海+数字化工厂", c1);
        Assert.Equal(c2, Assert.Single(contact.Tags, t => t.CampaignId is not null).CampaignId);
        await Assert.ThrowsAsync<ArgumentException>(() => host.Contacts.AddTagAsync(contact.Id, "x", "ops-1", expiresAt: host.Clock.GetCurrentInstant()));
    }

    [Fact]
    public async Task Concurrent_changes_are_all_kept()
    {
        using var host = new ContactTestHost();
        var contact = await host.CreateAsync();
        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(() =>
            host.Contacts.GrantConsentAsync(contact.Id, $"channel{i}", "test"))));
        var stored = await host.Contacts.GetAsync(contact.Id);
        Assert.Equal(10, stored.Consents.Count);
        Assert.Equal(11, stored.Version);
    }
}
