using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Storage;

/// <summary>
/// Which contact and participant fields are personal data, and how a durable store protects them with an
/// <see cref="IPersonalDataProtector"/> before writing and unprotects them after reading. Shared by the storage
/// packages so that every store protects the same fields the same way. Stateless and thread-safe.
/// </summary>
/// <remarks>
/// <para>Protected (purpose in brackets): a contact's phone and additional phones (<c>phone</c>), e-mail and additional
/// e-mails (<c>email</c>), WeChat openid (<c>wechat_openid</c>) and unionid (<c>wechat_unionid</c>), WeCom external user
/// id (<c>wecom_external_user_id</c>), name (<c>name</c>), and the raw value of data-quality flags (<c>quality_flag</c>,
/// it is often a mistyped phone or e-mail); a participant's e-mail, phone and name (same purposes).</para>
/// <para>Not protected: the CRM id (the host's own pseudonymous key, kept searchable for joins with the CRM, which
/// holds the personal data already), attributes, tags, consents and events. Every identity — the CRM id included — is
/// indexed by <see cref="IPersonalDataProtector.ComputeLookupKey"/> with the purpose of its kind, never by its value.</para>
/// </remarks>
public static class PersonalDataFields
{
    /// <summary>The purpose of names.</summary>
    public const string NamePurpose = "name";

    /// <summary>The purpose of the raw values of data-quality flags.</summary>
    public const string QualityFlagPurpose = "quality_flag";

    /// <summary>The purpose (and index name) of an identity kind: <c>phone</c>, <c>email</c>, <c>wechat_openid</c>, <c>wechat_unionid</c>, <c>wecom_external_user_id</c>, <c>crm_id</c>.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The purpose.</returns>
    public static string PurposeOf(IdentityKind kind) => IdentityNames.Of(kind);

    /// <summary>
    /// The identities of a contact as (kind, value) pairs, each once, blank values left out: what a store indexes and
    /// what must be unique across contacts.
    /// </summary>
    /// <param name="identities">The identities.</param>
    /// <returns>The pairs, phone first.</returns>
    public static IReadOnlyList<(IdentityKind Kind, string Value)> IdentityKeys(ContactIdentities identities)
    {
        ArgumentNullException.ThrowIfNull(identities);
        return InMemoryContactStore.KeysOf(identities);
    }

    /// <summary>The name of an identity kind as duplicate errors use it (e.g. <c>phone:+8613800138000</c>).</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="value">The value.</param>
    /// <returns>The key text.</returns>
    public static string DuplicateKey(IdentityKind kind, string value) => $"{IdentityNames.Of(kind)}:{value}";

    /// <summary>Returns a copy of the contact with its personal fields protected (the input is unchanged).</summary>
    /// <param name="contact">The contact.</param>
    /// <param name="protector">The protector.</param>
    /// <returns>The contact to serialize.</returns>
    public static Contact Protect(Contact contact, IPersonalDataProtector protector) => Transform(contact, protector, protect: true);

    /// <summary>Reverses <see cref="Protect(Contact, IPersonalDataProtector)"/>.</summary>
    /// <param name="contact">The contact as stored.</param>
    /// <param name="protector">The protector.</param>
    /// <returns>The plain contact.</returns>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A value was not protected by this protector or was tampered with.</exception>
    public static Contact Unprotect(Contact contact, IPersonalDataProtector protector) => Transform(contact, protector, protect: false);

    /// <summary>Returns a copy of the participant with its e-mail, phone and name protected.</summary>
    /// <param name="participant">The participant.</param>
    /// <param name="protector">The protector.</param>
    /// <returns>The participant to serialize.</returns>
    public static Participant Protect(Participant participant, IPersonalDataProtector protector) => Transform(participant, protector, protect: true);

    /// <summary>Reverses <see cref="Protect(Participant, IPersonalDataProtector)"/>.</summary>
    /// <param name="participant">The participant as stored.</param>
    /// <param name="protector">The protector.</param>
    /// <returns>The plain participant.</returns>
    public static Participant Unprotect(Participant participant, IPersonalDataProtector protector) => Transform(participant, protector, protect: false);

    private static bool IsPlain(IPersonalDataProtector protector) => protector is PlainTextPersonalDataProtector;

    private static Contact Transform(Contact contact, IPersonalDataProtector protector, bool protect)
    {
        ArgumentNullException.ThrowIfNull(contact);
        ArgumentNullException.ThrowIfNull(protector);
        // The plain protector changes nothing: no copy, and no closure for the lambdas below (TransformCore).
        return IsPlain(protector) ? contact : TransformCore(contact, protector, protect);
    }

    private static Contact TransformCore(Contact contact, IPersonalDataProtector protector, bool protect)
    {
        var ids = contact.Identities;
        var identities = ids with
        {
            Phone = Apply(protector, protect, "phone", ids.Phone),
            Email = Apply(protector, protect, "email", ids.Email),
            WeChatOpenId = Apply(protector, protect, "wechat_openid", ids.WeChatOpenId),
            WeChatUnionId = Apply(protector, protect, "wechat_unionid", ids.WeChatUnionId),
            WeComExternalUserId = Apply(protector, protect, "wecom_external_user_id", ids.WeComExternalUserId),
            AdditionalPhones = ids.AdditionalPhones.Count == 0 ? ids.AdditionalPhones : [.. ids.AdditionalPhones.Select(p => Apply(protector, protect, "phone", p)!)],
            AdditionalEmails = ids.AdditionalEmails.Count == 0 ? ids.AdditionalEmails : [.. ids.AdditionalEmails.Select(e => Apply(protector, protect, "email", e)!)],
        };
        return contact with
        {
            Identities = identities,
            Name = Apply(protector, protect, NamePurpose, contact.Name),
            QualityFlags = contact.QualityFlags.Count == 0
                ? contact.QualityFlags
                : [.. contact.QualityFlags.Select(f => f with { Value = Apply(protector, protect, QualityFlagPurpose, f.Value)! })],
        };
    }

    private static Participant Transform(Participant participant, IPersonalDataProtector protector, bool protect)
    {
        ArgumentNullException.ThrowIfNull(participant);
        ArgumentNullException.ThrowIfNull(protector);
        if (IsPlain(protector))
        {
            return participant;
        }

        return participant with
        {
            Email = Apply(protector, protect, "email", participant.Email),
            Phone = Apply(protector, protect, "phone", participant.Phone),
            Name = Apply(protector, protect, NamePurpose, participant.Name),
        };
    }

    private static string? Apply(IPersonalDataProtector protector, bool protect, string purpose, string? value) =>
        value is null ? null : protect ? protector.Protect(purpose, value) : protector.Unprotect(purpose, value);
}
