using System.Diagnostics.CodeAnalysis;
using System.Text;
using Campaigns.Modeling;
using PhoneNumbers;

namespace Campaigns.Contacts;

/// <summary>
/// Normalizes contact identities (F-2.3) so that the same person written two ways is found once: phones to E.164 with
/// libphonenumber (a number without country code is read in a default region), e-mails trimmed, full-width characters
/// folded (NFKC) and lower-cased. Thread-safe: the only state is a memo of libphonenumber's validity answer per
/// five-digit prefix of plain Chinese mobile numbers, filled idempotently (a race only computes the same answer twice).
/// </summary>
public static class ContactIdentityNormalizer
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>
    /// Reads a phone number written in any common way (<c>138 0013 8000</c>, <c>+86-138-0013-8000</c>,
    /// <c>(0086) 13800138000</c>, full-width digits) and gives its E.164 form (<c>+8613800138000</c>).
    /// </summary>
    /// <param name="raw">The number as written.</param>
    /// <param name="defaultRegion">The ISO 3166-1 alpha-2 region of numbers written without a country code, e.g. <c>CN</c>.</param>
    /// <param name="e164">The E.164 form, when valid.</param>
    /// <returns>Whether the text is a valid phone number (a number of a real numbering plan, not just digits).</returns>
    public static bool TryNormalizePhone(string? raw, string defaultRegion, [NotNullWhen(true)] out string? e164)
    {
        if (raw is not null && TryChineseMobileShape(raw, defaultRegion, out var digits, out var prefix))
        {
            // Memoized per five-digit prefix (see TryChineseMobileShape): the first number of a prefix goes through
            // libphonenumber, later ones reuse its answer. A race between threads only computes the same answer twice.
            var known = ChineseMobileValidity[prefix];
            if (known == 0)
            {
                known = LibPhoneNumber(raw, defaultRegion, out var first) ? (sbyte)1 : (sbyte)-1;
                ChineseMobileValidity[prefix] = known;
                e164 = first;
                return known > 0;
            }

            e164 = known > 0 ? string.Concat("+86", digits) : null;
            return known > 0;
        }

        return LibPhoneNumber(raw, defaultRegion, out e164);
    }

    // Validity of 11-digit Chinese numbers 1[3-9]xxxxxxxxx (not 179…) by their first five digits: 0 not known yet,
    // 1 valid, -1 invalid.
    private static readonly sbyte[] ChineseMobileValidity = new sbyte[100_000];

    /// <summary>
    /// Whether <paramref name="raw"/> is exactly 11 ASCII digits <c>1[3-9]…</c> (with <paramref name="defaultRegion"/>
    /// <c>CN</c>) or <c>+86</c> followed by them, not starting <c>179</c>. For exactly these, libphonenumber's answer is
    /// <c>+86</c> and the 11 digits when valid, and validity depends only on the first five digits: CN's national prefix
    /// for parsing (<c>(1(?:[12]\d|79)\d\d)|0</c>, a carrier code stripped from 11…, 12…, 179… and 0…) matches none
    /// of them, and of CN's number types only the mobile pattern (<c>1(?:610\d|740[0-5])\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}</c>)
    /// can match an 11-digit number starting 1[3-9]. The property tests compare this path with libphonenumber on every
    /// five-digit prefix (so a metadata update that breaks the assumption fails them).
    /// </summary>
    internal static bool TryChineseMobileShape(string raw, string defaultRegion, out ReadOnlySpan<char> digits, out int prefix)
    {
        digits = default;
        prefix = 0;
        ReadOnlySpan<char> text = raw;
        if (text.Length == 14 && text.StartsWith("+86", StringComparison.Ordinal))
        {
            text = text[3..];
        }
        else if (text.Length != 11 || !string.Equals(defaultRegion, "CN", StringComparison.Ordinal))
        {
            return false;
        }

        if (text[0] != '1' || text[1] < '3' || text[1] > '9' || (text[1] == '7' && text[2] == '9'))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        for (var i = 0; i < 5; i++)
        {
            prefix = (prefix * 10) + (text[i] - '0');
        }

        digits = text;
        return true;
    }

    /// <summary>libphonenumber's answer (the reference the fast path is tested against).</summary>
    internal static bool LibPhoneNumber(string? raw, string defaultRegion, [NotNullWhen(true)] out string? e164)
    {
        e164 = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            return false;
        }

        try
        {
            var text = raw.Trim().Normalize(NormalizationForm.FormKC);
            if (text.StartsWith("00", StringComparison.Ordinal))
            {
                text = "+" + text[2..];
            }

            var number = Phones.Parse(text, defaultRegion);
            if (!Phones.IsValidNumber(number))
            {
                return false;
            }

            e164 = Phones.Format(number, PhoneNumberFormat.E164);
            return true;
        }
        catch (NumberParseException)
        {
            return false;
        }
    }

    /// <summary>Normalizes an e-mail address (trimmed, NFKC-folded so full-width <c>＠</c> reads as <c>@</c>, lower-case) and checks its shape.</summary>
    /// <param name="raw">The address as written.</param>
    /// <param name="email">The normalized address, when well formed.</param>
    /// <returns>Whether it is an e-mail address (one '@', a dotted domain, no spaces).</returns>
    public static bool TryNormalizeEmail(string? raw, [NotNullWhen(true)] out string? email)
    {
        email = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            return false;
        }

        var text = FieldValidator.NormalizeEmail(raw.Normalize(NormalizationForm.FormKC));
        if (!FieldValidator.IsEmail(text))
        {
            return false;
        }

        email = text;
        return true;
    }

    /// <summary>
    /// Normalizes an identity value of any kind: phones and e-mails as above; other identities trimmed.
    /// </summary>
    /// <param name="kind">The kind of identity.</param>
    /// <param name="raw">The value as written.</param>
    /// <param name="defaultRegion">The default phone region.</param>
    /// <param name="value">The normalized value.</param>
    /// <returns>Whether the value is valid for its kind.</returns>
    public static bool TryNormalize(IdentityKind kind, string? raw, string defaultRegion, [NotNullWhen(true)] out string? value)
    {
        switch (kind)
        {
            case IdentityKind.Phone:
                return TryNormalizePhone(raw, defaultRegion, out value);
            case IdentityKind.Email:
                return TryNormalizeEmail(raw, out value);
            default:
                value = string.IsNullOrWhiteSpace(raw) ? null : raw.Trim();
                return value is not null;
        }
    }
}

/// <summary>The names of identity kinds as error messages, flags and mappings use them.</summary>
internal static class IdentityNames
{
    public static string Of(IdentityKind kind) => kind switch
    {
        IdentityKind.Phone => "phone",
        IdentityKind.Email => "email",
        IdentityKind.WeChatOpenId => "wechat_openid",
        IdentityKind.WeChatUnionId => "wechat_unionid",
        IdentityKind.WeComExternalUserId => "wecom_external_user_id",
        IdentityKind.CrmId => "crm_id",
        _ => kind.ToString(),
    };

    public static string? Get(ContactIdentities identities, IdentityKind kind) => kind switch
    {
        IdentityKind.Phone => identities.Phone,
        IdentityKind.Email => identities.Email,
        IdentityKind.WeChatOpenId => identities.WeChatOpenId,
        IdentityKind.WeChatUnionId => identities.WeChatUnionId,
        IdentityKind.WeComExternalUserId => identities.WeComExternalUserId,
        IdentityKind.CrmId => identities.CrmId,
        _ => null,
    };

    public static ContactIdentities Set(ContactIdentities identities, IdentityKind kind, string? value) => kind switch
    {
        IdentityKind.Phone => identities with { Phone = value },
        IdentityKind.Email => identities with { Email = value },
        IdentityKind.WeChatOpenId => identities with { WeChatOpenId = value },
        IdentityKind.WeChatUnionId => identities with { WeChatUnionId = value },
        IdentityKind.WeComExternalUserId => identities with { WeComExternalUserId = value },
        IdentityKind.CrmId => identities with { CrmId = value },
        _ => identities,
    };

    /// <summary>Whether the identities hold the value under the kind, as primary or additional.</summary>
    public static bool Holds(ContactIdentities identities, IdentityKind kind, string value) => kind switch
    {
        IdentityKind.Phone => identities.Phone == value || identities.AdditionalPhones.Contains(value),
        IdentityKind.Email => identities.Email == value || identities.AdditionalEmails.Contains(value),
        _ => Get(identities, kind) == value,
    };

    public static readonly IdentityKind[] All =
        [IdentityKind.Phone, IdentityKind.Email, IdentityKind.CrmId, IdentityKind.WeChatUnionId, IdentityKind.WeChatOpenId, IdentityKind.WeComExternalUserId];
}
