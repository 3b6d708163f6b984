using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NodaTime;

namespace Campaigns.Segmentation;

/// <summary>
/// A time window of a filter, e.g. <c>7d</c>, <c>12h</c>, <c>30m</c>: a whole number of days, hours or minutes.
/// Days are 24-hour days (exact durations, not calendar days). Serializes as its text form.
/// </summary>
[JsonConverter(typeof(WindowJsonConverter))]
public readonly record struct Window
{
    private Window(int amount, char unit)
    {
        Amount = amount;
        Unit = unit;
    }

    /// <summary>The number of units; at least 1.</summary>
    public int Amount { get; }

    /// <summary>The unit: <c>d</c>, <c>h</c> or <c>m</c>.</summary>
    public char Unit { get; }

    /// <summary>The window as an exact duration.</summary>
    public Duration Duration => Unit switch
    {
        'd' => Duration.FromDays(Amount),
        'h' => Duration.FromHours(Amount),
        _ => Duration.FromMinutes(Amount),
    };

    /// <summary>A window of whole days.</summary>
    /// <param name="days">At least 1.</param>
    public static Window Days(int days) => Create(days, 'd');

    /// <summary>A window of whole hours.</summary>
    /// <param name="hours">At least 1.</param>
    public static Window Hours(int hours) => Create(hours, 'h');

    /// <summary>A window of whole minutes.</summary>
    /// <param name="minutes">At least 1.</param>
    public static Window Minutes(int minutes) => Create(minutes, 'm');

    /// <summary>Parses <c>7d</c>, <c>12h</c> or <c>30m</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="window">The window when the text is valid.</param>
    public static bool TryParse(string? text, out Window window)
    {
        window = default;
        if (text is not { Length: >= 2 } || text[^1] is not ('d' or 'h' or 'm')
            || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
            || amount < 1 || amount > 100_000)
        {
            return false;
        }

        window = new Window(amount, text[^1]);
        return true;
    }

    /// <summary>Parses <c>7d</c>, <c>12h</c> or <c>30m</c>.</summary>
    /// <param name="text">The text.</param>
    /// <exception cref="FormatException">Not a window; the message shows examples.</exception>
    public static Window Parse(string text) =>
        TryParse(text, out var window) ? window : throw new FormatException($"'{text}' is not a window; expected a whole number followed by d, h or m, e.g. 7d, 12h, 30m.");

    /// <inheritdoc />
    public override string ToString() => Amount.ToString(CultureInfo.InvariantCulture) + Unit;

    private static Window Create(int amount, char unit) =>
        amount is >= 1 and <= 100_000 ? new Window(amount, unit) : throw new ArgumentOutOfRangeException(nameof(amount), amount, "A window is 1 to 100000 units long.");
}

internal sealed class WindowJsonConverter : JsonConverter<Window>
{
    public override Window Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && Window.TryParse(reader.GetString(), out var window)
            ? window
            : throw new JsonException("Expected a window such as \"7d\", \"12h\" or \"30m\".");

    public override void Write(Utf8JsonWriter writer, Window value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
