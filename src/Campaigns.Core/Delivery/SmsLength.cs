using System.Buffers;

namespace Campaigns.Delivery;

/// <summary>The encoding an SMS is sent in.</summary>
public enum SmsEncoding
{
    /// <summary>The GSM 03.38 7-bit default alphabet (with its extension table): 160 septets in one segment, 153 per segment when concatenated.</summary>
    Gsm7 = 0,

    /// <summary>UCS-2 (UTF-16): 70 code units in one segment, 67 per segment when concatenated.</summary>
    Ucs2 = 1,
}

/// <summary>
/// The exact length of an SMS (3GPP TS 23.038 / 23.040): its encoding, its length in that encoding's units and the
/// number of segments. GSM-7 is used when every character is in the default alphabet or its extension table
/// (<c>^ { } \ [ ~ ] | €</c> and form feed count 2 septets); otherwise UCS-2, counting UTF-16 code units (an emoji
/// outside the BMP counts 2). Concatenated segments never split an extension pair or a surrogate pair.
/// </summary>
/// <param name="Encoding">The encoding.</param>
/// <param name="Units">Septets (GSM-7) or UTF-16 code units (UCS-2).</param>
/// <param name="Segments">The number of SMS segments; 0 for empty text.</param>
public readonly record struct SmsLength(SmsEncoding Encoding, int Units, int Segments)
{
    /// <summary>Septets in one GSM-7 segment (160).</summary>
    public const int Gsm7Single = 160;

    /// <summary>Septets per segment of a concatenated GSM-7 message (153; 7 go to the UDH).</summary>
    public const int Gsm7Multi = 153;

    /// <summary>Code units in one UCS-2 segment (70).</summary>
    public const int Ucs2Single = 70;

    /// <summary>Code units per segment of a concatenated UCS-2 message (67).</summary>
    public const int Ucs2Multi = 67;

    // The basic table of GSM 03.38 plus its extension table (escape 0x1B excluded: it is not a character of the text).
    private static readonly SearchValues<char> Extension = SearchValues.Create("\f^{}\\[~]|€");

    private static readonly SearchValues<char> Gsm = SearchValues.Create(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\f^{}\\[~]|€");

    /// <summary>Measures a text (the signature included, when the provider appends one: measure the full text).</summary>
    /// <param name="text">The full SMS text.</param>
    /// <returns>Its encoding, units and segments. Allocation-free.</returns>
    public static SmsLength Measure(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return new SmsLength(SmsEncoding.Gsm7, 0, 0);
        }

        return text.ContainsAnyExcept(Gsm) ? MeasureUcs2(text) : MeasureGsm7(text);
    }

    /// <summary>Whether a character is in the GSM 03.38 default alphabet or its extension table.</summary>
    /// <param name="c">The character.</param>
    /// <returns>True when it can be sent in GSM-7.</returns>
    public static bool IsGsm7(char c) => Gsm.Contains(c);

    /// <summary>Whether a character is in the GSM 03.38 extension table (counts 2 septets).</summary>
    /// <param name="c">The character.</param>
    /// <returns>True for <c>^ { } \ [ ~ ] | €</c> and form feed.</returns>
    public static bool IsGsm7Extension(char c) => Extension.Contains(c);

    private static SmsLength MeasureGsm7(ReadOnlySpan<char> text)
    {
        int units = 0, segments = 1, inSegment = 0;
        foreach (var c in text)
        {
            var w = Extension.Contains(c) ? 2 : 1;
            units += w;
            if (inSegment + w > Gsm7Multi)
            {
                segments++;
                inSegment = 0;
            }

            inSegment += w;
        }

        return new SmsLength(SmsEncoding.Gsm7, units, units <= Gsm7Single ? 1 : segments);
    }

    private static SmsLength MeasureUcs2(ReadOnlySpan<char> text)
    {
        int segments = 1, inSegment = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var w = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            if (inSegment + w > Ucs2Multi)
            {
                segments++;
                inSegment = 0;
            }

            inSegment += w;
            i += w - 1;
        }

        return new SmsLength(SmsEncoding.Ucs2, text.Length, text.Length <= Ucs2Single ? 1 : segments);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Units} {(Encoding == SmsEncoding.Gsm7 ? "septets (GSM-7)" : "code units (UCS-2)")}, {Segments} segment(s)";
}
