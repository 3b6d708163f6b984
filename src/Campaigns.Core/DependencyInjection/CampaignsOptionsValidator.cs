using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns;

/// <summary>Validates <see cref="CampaignsOptions"/>; every message names the setting as it appears in configuration.</summary>
internal sealed class CampaignsOptionsValidator : IValidateOptions<CampaignsOptions>
{
    public ValidateOptionsResult Validate(string? name, CampaignsOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DefaultTimeZone) || DateTimeZoneProviders.Tzdb.GetZoneOrNull(options.DefaultTimeZone) is null)
        {
            failures.Add($"Campaigns:DefaultTimeZone: '{options.DefaultTimeZone}' is not an IANA time zone id known to tzdb (e.g. Asia/Shanghai, Europe/London).");
        }

        if (options.DefaultCurrency is not { Length: 3 } currency || !currency.All(char.IsAsciiLetterUpper))
        {
            failures.Add($"Campaigns:DefaultCurrency: '{options.DefaultCurrency}' is not an ISO 4217 code such as CNY or USD.");
        }

        for (var i = 0; i < options.CatalogueFiles.Count; i++)
        {
            var path = options.CatalogueFiles[i];
            if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
            {
                failures.Add($"Campaigns:CatalogueFiles:{i}: the file '{path}' does not exist.");
            }
        }

        Contacts.ContactsOptions.Validate(options.Contacts, "Campaigns:Contacts", failures);
        Segmentation.SegmentationOptions.Validate(options.Segmentation ?? new(), "Campaigns:Segmentation", failures);
        failures.AddRange(Delivery.DeliveryOptionsValidator.Validate(options.Delivery));
        Storage.DefinitionsOptions.Validate(options.Definitions ?? new(), "Campaigns:Definitions", failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
