using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Campaigns;

/// <summary>Identifies a campaign. A value type over a <see cref="Guid"/>; serializes as its "D" string form.</summary>
[JsonConverter(typeof(CampaignIdJsonConverter))]
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

    /// <summary>Creates a new random identifier.</summary>
    public static CampaignId New() => new(Guid.NewGuid());

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
[JsonConverter(typeof(ParticipantIdJsonConverter))]
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

    /// <summary>Creates a new random identifier.</summary>
    public static ParticipantId New() => new(Guid.NewGuid());

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

internal sealed class CampaignIdJsonConverter : JsonConverter<CampaignId>
{
    public override CampaignId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        CampaignId.TryParse(reader.GetString(), CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new JsonException("Expected a campaign id: a non-empty GUID string.");

    public override void Write(Utf8JsonWriter writer, CampaignId value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}

internal sealed class ParticipantIdJsonConverter : JsonConverter<ParticipantId>
{
    public override ParticipantId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        ParticipantId.TryParse(reader.GetString(), CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new JsonException("Expected a participant id: a non-empty GUID string.");

    public override void Write(Utf8JsonWriter writer, ParticipantId value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
