using Campaigns.Contacts;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Applies an <see cref="IPersonalDataProtector"/> to the sensitive fields of a contact document (identities except the
/// CRM id, and the name) and computes identity lookup keys. Purposes are the identity names (<c>phone</c>,
/// <c>email</c>, <c>wechat_openid</c>, <c>wechat_unionid</c>, <c>wecom_external_user_id</c>, <c>crm_id</c>) and <c>name</c>.
/// Thread-safe when the protector is.
/// </summary>
internal sealed class ContactProtection(IPersonalDataProtector protector)
{
    private readonly bool _plain = protector is PlainTextPersonalDataProtector;

    public static string Purpose(IdentityKind kind) => kind switch
    {
        IdentityKind.Phone => "phone",
        IdentityKind.Email => "email",
        IdentityKind.WeChatOpenId => "wechat_openid",
        IdentityKind.WeChatUnionId => "wechat_unionid",
        IdentityKind.WeComExternalUserId => "wecom_external_user_id",
        IdentityKind.CrmId => "crm_id",
        _ => kind.ToString(),
    };

    public string LookupKey(IdentityKind kind, string value) => protector.ComputeLookupKey(Purpose(kind), value);

    /// <summary>The lookup keys of a contact's identities (blank values are not indexed; each key once).</summary>
    public List<(IdentityKind Kind, string Key)> KeysOf(ContactIdentities identities)
    {
        var keys = new List<(IdentityKind, string)>(4);
        Add(IdentityKind.Phone, identities.Phone);
        foreach (var phone in identities.AdditionalPhones)
        {
            Add(IdentityKind.Phone, phone);
        }

        Add(IdentityKind.Email, identities.Email);
        foreach (var email in identities.AdditionalEmails)
        {
            Add(IdentityKind.Email, email);
        }

        Add(IdentityKind.WeChatOpenId, identities.WeChatOpenId);
        Add(IdentityKind.WeChatUnionId, identities.WeChatUnionId);
        Add(IdentityKind.WeComExternalUserId, identities.WeComExternalUserId);
        Add(IdentityKind.CrmId, identities.CrmId);
        return keys;

        void Add(IdentityKind kind, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                var key = (kind, LookupKey(kind, value));
                if (!keys.Contains(key))
                {
                    keys.Add(key);
                }
            }
        }
    }

    /// <summary>The plain value of the identity whose lookup key is <paramref name="key"/> (for error messages).</summary>
    public string PlainValueOf(ContactIdentities identities, IdentityKind kind, string key)
    {
        IEnumerable<string?> candidates = kind switch
        {
            IdentityKind.Phone => [identities.Phone, .. identities.AdditionalPhones],
            IdentityKind.Email => [identities.Email, .. identities.AdditionalEmails],
            IdentityKind.WeChatOpenId => [identities.WeChatOpenId],
            IdentityKind.WeChatUnionId => [identities.WeChatUnionId],
            IdentityKind.WeComExternalUserId => [identities.WeComExternalUserId],
            _ => [identities.CrmId],
        };
        return candidates.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v) && string.Equals(LookupKey(kind, v), key, StringComparison.Ordinal)) ?? key;
    }

    /// <summary>The jsonb document of a contact, its sensitive fields protected.</summary>
    public string ToDocument(Contact contact) => Pg.ToJson(_plain ? contact : Transform(contact, protector.Protect));

    /// <summary>A contact read back: its sensitive fields unprotected and its version taken from the row.</summary>
    public Contact FromDocument(string json, long version)
    {
        var contact = Pg.FromJson<Contact>(json);
        return (_plain ? contact : Transform(contact, protector.Unprotect)) with { Version = version };
    }

    private static Contact Transform(Contact contact, Func<string, string, string> apply)
    {
        var i = contact.Identities;
        string? One(IdentityKind kind, string? value) => value is null ? null : apply(Purpose(kind), value);
        return contact with
        {
            Name = contact.Name is null ? null : apply("name", contact.Name),
            Identities = i with
            {
                Phone = One(IdentityKind.Phone, i.Phone),
                Email = One(IdentityKind.Email, i.Email),
                WeChatOpenId = One(IdentityKind.WeChatOpenId, i.WeChatOpenId),
                WeChatUnionId = One(IdentityKind.WeChatUnionId, i.WeChatUnionId),
                WeComExternalUserId = One(IdentityKind.WeComExternalUserId, i.WeComExternalUserId),
                AdditionalPhones = [.. i.AdditionalPhones.Select(p => apply(Purpose(IdentityKind.Phone), p))],
                AdditionalEmails = [.. i.AdditionalEmails.Select(e => apply(Purpose(IdentityKind.Email), e))],
            },
        };
    }
}
