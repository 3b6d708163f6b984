using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Campaigns;

/// <summary>Identifies a campaign. A value type over a <see cref="Guid"/>; serializes as its "D" string form.</summary>
[JsonConverter(typeof(GuidIdJsonConverter<CampaignId>))]
public readonly record struct CampaignId : IParsable<CampaignId>
{
    /// <summary>Wraps an existing <see cref="Guid"/>.</summary>
    /// <param name="value">The identifier; must not be <see cref="Guid.Empty"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="value"/> is <see cref="Guid.Empty"/>.</exception>
    public CampaignId(Guid value)
    {
        if (value == Guid.Empty)
        {
            throw new ArgumentException("A campaign id cannot be the empty GUID.", nameof(value));
        }

        Value = value;
    }

    /// <summary>The underlying GUID.</summary>
    public Guid Value { get; }

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places.</summary>
    public static CampaignId New() => new(Guid.CreateVersion7());

    /// <inheritdoc />
    public static CampaignId Parse(string s, IFormatProvider? provider = null) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"'{s}' is not a campaign id (expected a non-empty GUID).");

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out CampaignId result)
    {
        if (Guid.TryParse(s, provider, out var guid) && guid != Guid.Empty)
        {
            result = new CampaignId(guid);
            return true;
        }

        result = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Value.ToString("D", CultureInfo.InvariantCulture);
}

/// <summary>Identifies one participant of one campaign. A value type over a <see cref="Guid"/>.</summary>
[JsonConverter(typeof(GuidIdJsonConverter<ParticipantId>))]
public readonly record struct ParticipantId : IParsable<ParticipantId>
{
    /// <summary>Wraps an existing <see cref="Guid"/>.</summary>
    /// <param name="value">The identifier; must not be <see cref="Guid.Empty"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="value"/> is <see cref="Guid.Empty"/>.</exception>
    public ParticipantId(Guid value)
    {
        if (value == Guid.Empty)
        {
            throw new ArgumentException("A participant id cannot be the empty GUID.", nameof(value));
        }

        Value = value;
    }

    /// <summary>The underlying GUID.</summary>
    public Guid Value { get; }

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places.</summary>
    public static ParticipantId New() => new(Guid.CreateVersion7());

    /// <inheritdoc />
    public static ParticipantId Parse(string s, IFormatProvider? provider = null) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"'{s}' is not a participant id (expected a non-empty GUID).");

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out ParticipantId result)
    {
        if (Guid.TryParse(s, provider, out var guid) && guid != Guid.Empty)
        {
            result = new ParticipantId(guid);
            return true;
        }

        result = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Value.ToString("D", CultureInfo.InvariantCulture);
}

/// <summary>Identifies a contact (a person in the host's contact base). A value type over a <see cref="Guid"/>.</summary>
[JsonConverter(typeof(GuidIdJsonConverter<ContactId>))]
public readonly record struct ContactId : IParsable<ContactId>
{
    /// <summary>Wraps an existing <see cref="Guid"/>.</summary>
    /// <param name="value">The identifier; must not be <see cref="Guid.Empty"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="value"/> is <see cref="Guid.Empty"/>.</exception>
    public ContactId(Guid value)
    {
        if (value == Guid.Empty)
        {
            throw new ArgumentException("A contact id cannot be the empty GUID.", nameof(value));
        }

        Value = value;
    }

    /// <summary>The underlying GUID.</summary>
    public Guid Value { get; }

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places.</summary>
    public static ContactId New() => new(Guid.CreateVersion7());

    /// <inheritdoc />
    public static ContactId Parse(string s, IFormatProvider? provider = null) =>
        TryParse(s, provider, out var id) ? id : throw new FormatException($"'{s}' is not a contact id (expected a non-empty GUID).");

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out ContactId result)
    {
        if (Guid.TryParse(s, provider, out var guid) && guid != Guid.Empty)
        {
            result = new ContactId(guid);
            return true;
        }

        result = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Value.ToString("D", CultureInfo.InvariantCulture);
}

/// <summary>Serializes a GUID-based identifier as its "D" string and parses it back.</summary>
/// <typeparam name="T">The identifier type.</typeparam>
internal sealed class GuidIdJsonConverter<T> : JsonConverter<T>
    where T : struct, IParsable<T>
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && T.TryParse(reader.GetString(), CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new JsonException($"Expected a {typeof(T).Name}: a non-empty GUID string.");

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
