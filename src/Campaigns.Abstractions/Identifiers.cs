using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
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

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places. Thread-safe.</summary>
    public static CampaignId New() => new(Uuid7.New());

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

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places. Thread-safe.</summary>
    public static ParticipantId New() => new(Uuid7.New());

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

    /// <summary>Creates a new identifier: a time-ordered UUID version 7 (RFC 9562), so durable stores append to their id indexes instead of inserting at random places. Thread-safe.</summary>
    public static ContactId New() => new(Uuid7.New());

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

/// <summary>
/// Time-ordered UUIDs, version 7 (RFC 9562 §5.7), with the guarantees of <see cref="Guid.CreateVersion7()"/>: the
/// first 48 bits are the Unix time in milliseconds (big-endian, so ids sort by the millisecond they were made in; no
/// order within one millisecond), then the version (7), 12 random bits, the variant (binary 10) and 62 random bits.
/// The 74 random bits come from the operating system's CSPRNG (<see cref="RandomNumberGenerator"/>), like
/// <see cref="Guid.NewGuid()"/>'s, but fetched <see cref="BufferSize"/> bytes at a time into a per-thread buffer (one
/// system call per 409 ids instead of one per id; bulk imports create an id per row). Every buffered byte is used once.
/// Thread-safe: each thread has its own buffer.
/// </summary>
internal static class Uuid7
{
    /// <summary>The bytes fetched from the CSPRNG at a time: random parts for <see cref="BufferSize"/> / 10 ids.</summary>
    internal const int BufferSize = 4096;

    /// <summary>The random bytes one id takes (80 bits, of which 6 are overwritten by the version and the variant).</summary>
    internal const int RandomBytesPerId = 10;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_next;

    /// <summary>The number of refills of the calling thread's buffer so far (for tests of the refill boundary).</summary>
    [ThreadStatic]
    private static long t_refills;

    /// <summary>Gets how many times the calling thread's buffer was filled from the CSPRNG.</summary>
    internal static long Refills => t_refills;

    /// <summary>A new version 7 UUID for the current time.</summary>
    public static Guid New() => New(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>A new version 7 UUID for the given time, its random part taken from the calling thread's buffer.</summary>
    /// <param name="unixMilliseconds">Milliseconds since the Unix epoch; 0 to 2^48 − 1.</param>
    internal static Guid New(long unixMilliseconds)
    {
        var random = t_random;
        var next = t_next;
        if (random is null || next > BufferSize - RandomBytesPerId)
        {
            random ??= t_random = new byte[BufferSize];
            RandomNumberGenerator.Fill(random);
            t_refills++;
            next = 0;
        }

        t_next = next + RandomBytesPerId;
        return Create(unixMilliseconds, random.AsSpan(next, RandomBytesPerId));
    }

    /// <summary>The version 7 UUID of a timestamp and 10 random bytes (the version and variant bits replace 6 of their bits).</summary>
    /// <param name="unixMilliseconds">Milliseconds since the Unix epoch; 0 to 2^48 − 1.</param>
    /// <param name="random">10 random bytes.</param>
    internal static Guid Create(long unixMilliseconds, ReadOnlySpan<byte> random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(unixMilliseconds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(unixMilliseconds, 0xFFFF_FFFF_FFFFL);
        ArgumentOutOfRangeException.ThrowIfLessThan(random.Length, RandomBytesPerId, nameof(random));
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, unixMilliseconds << 16); // the 48-bit timestamp in bytes 0..5
        random[..RandomBytesPerId].CopyTo(bytes[6..]);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F)); // version 7
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // variant 10
        return new Guid(bytes, bigEndian: true);
    }
}
