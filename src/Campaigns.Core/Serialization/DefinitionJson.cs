using System.Text;
using System.Text.Json;
using Campaigns.Modeling;

namespace Campaigns.Serialization;

/// <summary>
/// Versioned JSON documents for definitions (F-1.10), so they can live in files and databases. A document is an envelope
/// <c>{"schemaVersion":1,"kind":"campaign","definition":{…}}</c> around the definition written with
/// <see cref="CampaignsJson.Options"/>.
/// </summary>
/// <remarks>
/// <para>
/// Kinds and their current schema versions: <see cref="Campaign"/> <c>campaign</c>, <see cref="CampaignTypeDefinition"/>
/// <c>campaign-type</c>, <see cref="RegistrationFormTemplate"/> <c>form</c>, <see cref="Participant"/> <c>participant</c>,
/// all at version 1. Reading checks the kind and the version before the definition; a document of an older, still
/// supported version is migrated to the current one first.
/// </para>
/// <para>
/// Every read fault is a <see cref="DefinitionJsonException"/> whose path starts at the document root
/// (<c>$.definition.schedule.startsAt</c>). A definition never holds null in a list, a map or a non-nullable member:
/// reading rejects such a document, writing rejects such a definition.
/// </para>
/// <para>Stateless and thread-safe. Documents are read whole into memory.</para>
/// </remarks>
public static class DefinitionJson
{
    private static DefinitionCodec Codec => DefinitionCodec.Default;

    /// <summary>The <c>kind</c> written for <typeparamref name="T"/>, e.g. <c>campaign</c>.</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static string GetKind<T>()
        where T : class => Codec.Registry.Get(typeof(T)).Name;

    /// <summary>The schema version this library writes for <typeparamref name="T"/> (and the newest it reads).</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static int GetSchemaVersion<T>()
        where T : class => Codec.Registry.Get(typeof(T)).CurrentVersion;

    /// <summary>Writes a definition document as a JSON string.</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <param name="definition">The definition.</param>
    /// <returns>The compact document, e.g. <c>{"schemaVersion":1,"kind":"campaign","definition":{…}}</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="definition"/> is null.</exception>
    /// <exception cref="ArgumentException">The definition holds a null in a list, a map or a non-nullable member; the message gives its path.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static string Serialize<T>(T definition)
        where T : class => Codec.Serialize(definition);

    /// <summary>Writes a definition document as UTF-8 bytes.</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <param name="definition">The definition.</param>
    /// <returns>The compact document in UTF-8, without a byte order mark.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="definition"/> is null.</exception>
    /// <exception cref="ArgumentException">The definition holds a forbidden null; the message gives its path.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static byte[] SerializeToUtf8Bytes<T>(T definition)
        where T : class => Codec.SerializeToUtf8Bytes(definition);

    /// <summary>Writes a definition document to a stream as UTF-8. The stream is left open.</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <param name="utf8Json">The stream to write to.</param>
    /// <param name="definition">The definition.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The definition holds a forbidden null; the message gives its path.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static void Serialize<T>(Stream utf8Json, T definition)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        JsonSerializer.Serialize(utf8Json, Codec.Wrap(definition), Codec.Options);
    }

    /// <summary>Writes a definition document to a stream as UTF-8, asynchronously. The stream is left open.</summary>
    /// <typeparam name="T">A definition type.</typeparam>
    /// <param name="utf8Json">The stream to write to.</param>
    /// <param name="definition">The definition.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The definition holds a forbidden null; the message gives its path.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static Task SerializeAsync<T>(Stream utf8Json, T definition, CancellationToken cancellationToken = default)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        return JsonSerializer.SerializeAsync(utf8Json, Codec.Wrap(definition), Codec.Options, cancellationToken);
    }

    /// <summary>Reads a definition document from a JSON string.</summary>
    /// <typeparam name="T">The definition type; the document's <c>kind</c> must be its kind.</typeparam>
    /// <param name="json">The document.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="DefinitionJsonException">The document is malformed, of another kind, of an unsupported schema version, or does not describe a valid <typeparamref name="T"/>. Line positions count UTF-8 bytes.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static T Deserialize<T>(string json)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(json);
        return Codec.Deserialize<T>(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Reads a definition document from UTF-8 bytes (a leading byte order mark is skipped).</summary>
    /// <typeparam name="T">The definition type; the document's <c>kind</c> must be its kind.</typeparam>
    /// <param name="utf8Json">The document.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="DefinitionJsonException">The document is malformed, of another kind, of an unsupported schema version, or does not describe a valid <typeparamref name="T"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static T Deserialize<T>(ReadOnlySpan<byte> utf8Json)
        where T : class => Codec.Deserialize<T>(utf8Json);

    /// <summary>Reads a definition document from a UTF-8 stream, to its end. The stream is left open.</summary>
    /// <typeparam name="T">The definition type; the document's <c>kind</c> must be its kind.</typeparam>
    /// <param name="utf8Json">The stream.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="utf8Json"/> is null.</exception>
    /// <exception cref="DefinitionJsonException">The document is malformed, of another kind, of an unsupported schema version, or does not describe a valid <typeparamref name="T"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static T Deserialize<T>(Stream utf8Json)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        using var buffer = new MemoryStream();
        utf8Json.CopyTo(buffer);
        return Codec.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Reads a definition document from a UTF-8 stream, to its end, asynchronously. The stream is left open.</summary>
    /// <typeparam name="T">The definition type; the document's <c>kind</c> must be its kind.</typeparam>
    /// <param name="utf8Json">The stream.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="utf8Json"/> is null.</exception>
    /// <exception cref="DefinitionJsonException">The document is malformed, of another kind, of an unsupported schema version, or does not describe a valid <typeparamref name="T"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a definition type.</exception>
    public static async ValueTask<T> DeserializeAsync<T>(Stream utf8Json, CancellationToken cancellationToken = default)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        using var buffer = new MemoryStream();
        await utf8Json.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Codec.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }
}
