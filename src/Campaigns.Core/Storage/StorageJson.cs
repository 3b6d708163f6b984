using System.Text.Json;
using System.Text.Json.Serialization;
using Campaigns.Channels;
using Campaigns.Serialization;
using NodaTime;

namespace Campaigns.Storage;

/// <summary>
/// The JSON settings durable stores (SQLite, PostgreSQL) use for the documents they keep: the
/// <see cref="CampaignsJson"/> settings, plus a converter for <see cref="DeliveryResult"/> (a value without setters),
/// lenient reading of unknown members (a document written by a newer version still reads; computed members such
/// as <c>isEnded</c> are ignored), and empty lists and maps left out when the member has a default. Thread-safe (frozen).
/// </summary>
public static class StorageJson
{
    /// <summary>Gets the frozen, shared options.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Serializes a document to UTF-8 JSON text.</summary>
    /// <typeparam name="T">The document type.</typeparam>
    /// <param name="value">The value.</param>
    /// <returns>The JSON text.</returns>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Reads a document written by <see cref="Serialize{T}"/>.</summary>
    /// <typeparam name="T">The document type.</typeparam>
    /// <param name="json">The JSON text.</param>
    /// <returns>The value.</returns>
    /// <exception cref="JsonException">The text is not a document of <typeparamref name="T"/>.</exception>
    public static T Deserialize<T>(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"The stored {typeof(T).Name} document is null.");
    }

    private static JsonSerializerOptions Create()
    {
        var options = CampaignsJson.CreateOptions();
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        options.Converters.Add(new DeliveryResultConverter());
        options.TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.WithAddedModifier(options.TypeInfoResolver ?? new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(), SkipEmptyCollections);
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Leaves out empty lists and maps that have a default (smaller documents; reading restores the empty default).</summary>
    private static void SkipEmptyCollections(System.Text.Json.Serialization.Metadata.JsonTypeInfo type)
    {
        if (type.Kind != System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in type.Properties)
        {
            if (property.AssociatedParameter is null && !property.IsRequired && property.PropertyType != typeof(string)
                && typeof(System.Collections.IEnumerable).IsAssignableFrom(property.PropertyType))
            {
                property.ShouldSerialize = static (_, value) => value is not System.Collections.ICollection { Count: 0 };
            }
        }
    }

    private sealed class DeliveryResultConverter : JsonConverter<DeliveryResult>
    {
        public override DeliveryResult Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var dto = JsonSerializer.Deserialize<ResultDto>(ref reader, options) ?? throw new JsonException("A delivery result is null.");
            return dto.Accepted
                ? DeliveryResult.Accepted(dto.ProviderMessageId)
                : DeliveryResult.Failed(dto.Reason, dto.Retryable, dto.Detail, dto.RetryAfter);
        }

        public override void Write(Utf8JsonWriter writer, DeliveryResult value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(
                writer,
                new ResultDto(value.IsAccepted, value.FailureReason, value.IsRetryable, value.ProviderMessageId, value.Detail, value.RetryAfter),
                options);
    }

    private sealed record ResultDto(bool Accepted, DeliveryFailureReason Reason, bool Retryable, string? ProviderMessageId = null, string? Detail = null, Duration? RetryAfter = null);
}
