using Campaigns.Contacts;

namespace Campaigns;

/// <summary>
/// Settings of the Campaigns SDK, bound from configuration (section <c>Campaigns</c> by convention) or set in code.
/// Validated when the host starts; a bad setting fails the start with a message naming it.
/// </summary>
public sealed class CampaignsOptions
{
    /// <summary>The IANA time zone used when a campaign or contact has none (default <c>Asia/Shanghai</c>).</summary>
    public string DefaultTimeZone { get; set; } = "Asia/Shanghai";

    /// <summary>The ISO 4217 currency used when none is given (default <c>CNY</c>).</summary>
    public string DefaultCurrency { get; set; } = "CNY";

    /// <summary>Whether the built-in catalogue of seed 000 is loaded (default true).</summary>
    public bool IncludeBuiltInCatalogue { get; set; } = true;

    /// <summary>Paths of catalogue JSON documents loaded after the built-in one; later documents override earlier ones by id.</summary>
    public IList<string> CatalogueFiles { get; } = [];

    /// <summary>Settings of contacts, events and import (section <c>Campaigns:Contacts</c>).</summary>
    public ContactsOptions Contacts { get; } = new();

    /// <summary>Settings of audience segmentation: business calendar and index (section <c>Campaigns:Segmentation</c>).</summary>
    public Segmentation.SegmentationOptions Segmentation { get; set; } = new();

    /// <summary>Settings of the delivery pipeline (section <c>Campaigns:Delivery</c>).</summary>
    public Delivery.DeliveryOptions Delivery { get; set; } = new();

    /// <summary>Settings of the durable definitions: how often other instances' changes are looked for (section <c>Campaigns:Definitions</c>).</summary>
    public Storage.DefinitionsOptions Definitions { get; set; } = new();
}
