using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Testing.Storage;

/// <summary>
/// A contact and a participant with a value in every personal-data field that <c>PersonalDataFields</c> protects, and
/// those values as they must never appear in a database written with an encrypting protector. Every storage package
/// checks its database against the same list, so all providers protect the same fields. Stateless and thread-safe.
/// </summary>
public static class PersonalDataSamples
{
    /// <summary>
    /// Gets the plain values that must not appear anywhere in the database (documents, index rows, files): names,
    /// phones (their national digits), e-mail addresses, WeChat/WeCom ids and the raw value of a data-quality flag.
    /// </summary>
    public static IReadOnlyList<string> PlainValues { get; } =
    [
        "张伟保密", "13912345678", "zhang.secret@example.com", "13987654321", "zw.secret@example.org",
        "oSecretOpenId123", "uSecretUnionId456", "wmSecretExternal789", "139-1234-BAD",
        "王芳保密", "pat.secret@example.com", "13711112222",
    ];

    /// <summary>A new contact (version 0) with every protected field set (and a CRM id, which is not protected).</summary>
    /// <returns>The contact.</returns>
    public static Contact Contact() => new()
    {
        Id = ContactId.New(),
        Name = "张伟保密",
        CreatedAt = Instant.FromUtc(2026, 5, 1, 0, 0),
        Identities = new ContactIdentities
        {
            Phone = "+8613912345678",
            Email = "zhang.secret@example.com",
            AdditionalPhones = ["+8613987654321"],
            AdditionalEmails = ["zw.secret@example.org"],
            WeChatOpenId = "oSecretOpenId123",
            WeChatUnionId = "uSecretUnionId456",
            WeComExternalUserId = "wmSecretExternal789",
            CrmId = "crm-public-1",
        },
        QualityFlags = [new DataQualityFlag("phone", "139-1234-BAD", "invalid-phone", "not a phone number", Instant.FromUtc(2026, 5, 1, 0, 0), "import a.csv row 2")],
    };

    /// <summary>A new participant (version 0) of <paramref name="campaign"/> with its e-mail, phone and name set.</summary>
    /// <param name="campaign">The campaign.</param>
    /// <returns>The participant.</returns>
    public static Participant Participant(CampaignId campaign) => new()
    {
        Id = ParticipantId.New(),
        CampaignId = campaign,
        Name = "王芳保密",
        Email = "pat.secret@example.com",
        Phone = "+8613711112222",
    };
}
