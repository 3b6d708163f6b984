using System.Text.Json;
using Campaigns.Serialization;

namespace Campaigns.Segmentation;

/// <summary>
/// The JSON form of filters (F-5.1) with <see cref="CampaignsJson.Options"/>: every node is an object whose first
/// property is <c>kind</c> (<c>and</c>, <c>or</c>, <c>not</c>, <c>attribute</c>, <c>date</c>, <c>tags</c>,
/// <c>tagGroup</c>, <c>behaviour</c>, <c>score</c>, <c>grade</c>, <c>stage</c>, <c>consent</c>, <c>segment</c>).
/// Stateless and thread-safe.
/// </summary>
public static class FilterJson
{
    /// <summary>Serializes a filter.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="indented">Whether to indent the JSON.</param>
    public static string Serialize(Filter filter, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return indented
            ? JsonSerializer.Serialize(filter, IndentedOptions)
            : JsonSerializer.Serialize(filter, CampaignsJson.Options);
    }

    /// <summary>Reads a filter from JSON without validating it against a schema.</summary>
    /// <param name="json">The JSON.</param>
    /// <exception cref="FilterException">The JSON is malformed or is not a filter; the error carries the JSON path.</exception>
    public static Filter Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<Filter>(json, CampaignsJson.Options)
                ?? throw Invalid("$", "the JSON is null; expected a filter object", "null");
        }
        catch (JsonException e)
        {
            throw Invalid(e.Path ?? "$", e.Message, null);
        }
        catch (NotSupportedException e)
        {
            throw Invalid("$", e.Message, null);
        }
    }

    /// <summary>Reads a filter from JSON and validates it against <paramref name="context"/>.</summary>
    /// <param name="json">The JSON.</param>
    /// <param name="context">The schema, segments, event kinds and tags the filter may name.</param>
    /// <param name="segmentId">The id of the segment the filter defines, to reject cycles; or null.</param>
    /// <exception cref="FilterException">The JSON is not a filter, or the filter does not validate; errors carry JSON paths such as <c>$.operands[2].window</c>.</exception>
    public static Filter Parse(string json, FilterContext context, string? segmentId = null)
    {
        var filter = Deserialize(json);
        FilterValidator.ThrowIfInvalid(filter, context, segmentId);
        return filter;
    }

    private static readonly JsonSerializerOptions IndentedOptions = CreateIndented();

    private static JsonSerializerOptions CreateIndented()
    {
        var options = CampaignsJson.CreateOptions();
        var copy = new JsonSerializerOptions(options) { WriteIndented = true };
        copy.MakeReadOnly();
        return copy;
    }

    private static FilterException Invalid(string path, string message, string? found) =>
        new([new FilterError { Code = FilterErrorCodes.InvalidJson, Message = message, Path = path, Found = found, Expected = "a filter object with a 'kind'" }]);
}
