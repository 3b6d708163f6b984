using System.Globalization;
using PhoneNumbers;

namespace Campaigns.Contacts;

/// <summary>
/// Settings of contacts, events and import (F-2), bound from the <c>Contacts</c> sub-section of the Campaigns section
/// (e.g. <c>Campaigns:Contacts:DefaultPhoneRegion</c>) through <see cref="CampaignsOptions.Contacts"/>. Validated when
/// the host starts; a bad setting fails the start with a message naming its configuration key.
/// </summary>
public sealed class ContactsOptions
{
    /// <summary>
    /// The ISO 3166-1 alpha-2 region used to read phone numbers written without a country code (default <c>CN</c>, so
    /// <c>138 0013 8000</c> becomes <c>+8613800138000</c>).
    /// </summary>
    public string DefaultPhoneRegion { get; set; } = "CN";

    /// <summary>
    /// The attribute schema: every attribute contacts may carry, with its type. Set in code (it is not bound from
    /// configuration); defaults to <see cref="DefaultSchema"/>.
    /// </summary>
    public AttributeSchema Schema { get; set; } = DefaultSchema;

    /// <summary>
    /// Values given to attributes a contact has no value for, as text read per the attribute's type, by attribute name
    /// (default: <c>industry</c> → <c>unclassified</c>, the seed's "待分類"). Override an
    /// <see cref="AttributeDefinition.Default"/> of the schema. Bound from <c>Campaigns:Contacts:AttributeDefaults:NAME</c>.
    /// </summary>
    public IDictionary<string, string> AttributeDefaults { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["industry"] = "unclassified",
    };

    /// <summary>
    /// How far in the future of the clock an event's occurred-at instant may be before ingest rejects it, to catch
    /// producers with wrong clocks or time zones (default 5 minutes). Events in the past are always accepted.
    /// </summary>
    public TimeSpan MaxEventClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The default attribute schema of F-2.1: <c>industry</c>, <c>region</c>, <c>company</c>, <c>company_size</c>,
    /// <c>budget_range</c>, <c>job_title</c> (strings) and <c>interested_products</c> (string list).
    /// </summary>
    public static AttributeSchema DefaultSchema { get; } = new()
    {
        Attributes =
        [
            new AttributeDefinition { Name = "industry", Type = AttributeType.String, Description = "The contact's industry, e.g. manufacturing (所属行业)." },
            new AttributeDefinition { Name = "region", Type = AttributeType.String, Description = "The region, e.g. East China (地区)." },
            new AttributeDefinition { Name = "company", Type = AttributeType.String, Description = "The company name." },
            new AttributeDefinition { Name = "company_size", Type = AttributeType.String, Description = "The company size band, e.g. 100-500 (企业规模)." },
            new AttributeDefinition { Name = "budget_range", Type = AttributeType.String, Description = "The budget band, e.g. 10-50万 (预算范围)." },
            new AttributeDefinition { Name = "job_title", Type = AttributeType.String, Description = "The job title." },
            new AttributeDefinition { Name = "interested_products", Type = AttributeType.StringList, Description = "Products the contact is interested in (关注产品)." },
        ],
    };

    /// <summary>Adds a failure per bad setting, each naming its configuration key under <paramref name="prefix"/>.</summary>
    internal static void Validate(ContactsOptions? options, string prefix, List<string> failures)
    {
        if (options is null)
        {
            failures.Add($"{prefix}: the contacts options are missing.");
            return;
        }

        if (string.IsNullOrWhiteSpace(options.DefaultPhoneRegion)
            || !PhoneNumberUtil.GetInstance().GetSupportedRegions().Contains(options.DefaultPhoneRegion))
        {
            failures.Add($"{prefix}:DefaultPhoneRegion: '{options.DefaultPhoneRegion}' is not a region known to libphonenumber (an ISO 3166-1 alpha-2 code such as CN, US, GB).");
        }

        if (options.MaxEventClockSkew < TimeSpan.Zero)
        {
            failures.Add($"{prefix}:MaxEventClockSkew: '{options.MaxEventClockSkew}' is negative.");
        }

        if (options.Schema is null)
        {
            failures.Add($"{prefix}:Schema: no attribute schema is set.");
            return;
        }

        foreach (var error in ContactAttributes.ValidateSchema(options.Schema))
        {
            failures.Add($"{prefix}:Schema: {error}");
        }

        foreach (var (name, text) in options.AttributeDefaults)
        {
            var definition = options.Schema.Find(name);
            if (definition is null)
            {
                failures.Add($"{prefix}:AttributeDefaults:{name}: the schema has no attribute '{name}'.");
            }
            else if (!ContactAttributes.TryParse(definition, text, out _, out var error))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}:AttributeDefaults:{name}: {error.Message}"));
            }
        }
    }
}
