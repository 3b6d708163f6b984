using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Journeys;

/// <summary>
/// The template variables of a send step as a read-only view over the contact (its attributes as text, then its name),
/// answering exactly like the dictionary <see cref="JourneyRunner.Variables"/> builds but without copying the contact's
/// attributes per send; enumeration builds that dictionary once. Used when the node has no variables of its own and
/// the contact's attributes are keyed ordinally (otherwise the dictionary is built). Read-only; safe to share.
/// </summary>
internal sealed class StepVariables : IReadOnlyDictionary<string, string>
{
    private readonly Contact _contact;
    private Dictionary<string, string>? _all;

    private StepVariables(Contact contact) => _contact = contact;

    /// <summary>The variables of <paramref name="node"/> for <paramref name="contact"/>: a view when exact, else the dictionary.</summary>
    public static IReadOnlyDictionary<string, string> For(Contact contact, JourneyMessageNode node) =>
        node.Variables.Count == 0 && (contact.Attributes.Count == 0 || contact.Attributes is Dictionary<string, FieldValue> d && IsOrdinal(d.Comparer))
            ? new StepVariables(contact)
            : JourneyRunner.Variables(contact, node);

    private static bool IsOrdinal(IEqualityComparer<string> comparer) =>
        ReferenceEquals(comparer, EqualityComparer<string>.Default) || ReferenceEquals(comparer, StringComparer.Ordinal);

    private Dictionary<string, string> All => _all ??= JourneyRunner.Variables(_contact, EmptyNode);

    private static readonly SendMessageNode EmptyNode = new() { Id = "-", Channel = "-", TemplateId = "-" };

    /// <inheritdoc />
    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The variable '{key}' has no value.");

    /// <inheritdoc />
    public IEnumerable<string> Keys => All.Keys;

    /// <inheritdoc />
    public IEnumerable<string> Values => All.Values;

    /// <inheritdoc />
    public int Count => All.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => TryGetValue(key, out _);

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_contact.Name is { } name && string.Equals(key, "name", StringComparison.Ordinal))
        {
            value = name;
            return true;
        }

        if (_contact.Attributes.TryGetValue(key, out var field))
        {
            value = field switch
            {
                TextValue t => t.Value,
                ChoiceValue c => c.Value,
                NumberValue n => n.Value.ToString(CultureInfo.InvariantCulture),
                DateValue d => d.Value.ToString("uuuu-MM-dd", CultureInfo.InvariantCulture),
                _ => null,
            };
            return value is not null;
        }

        value = null;
        return false;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => All.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
