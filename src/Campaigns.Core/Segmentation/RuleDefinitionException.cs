using Campaigns.Contacts;

namespace Campaigns.Segmentation;

/// <summary>
/// A rule definition (tag rule, scoring rule, threshold) is invalid: an unknown event kind, attribute, placeholder or
/// reference, or a value out of range. Names the field (a JSON-like path such as <c>behaviourRules[2].eventKind</c>)
/// and the value at fault. Thrown before anything is stored, so nothing is half-applied.
/// </summary>
public sealed class RuleDefinitionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The field at fault, e.g. <c>behaviourRules[2].eventKind</c>.</param>
    /// <param name="value">The value at fault as text, or null when it is missing.</param>
    /// <param name="message">A sentence naming the field and the value.</param>
    /// <param name="filterErrors">The filter errors behind it, when the fault is in a condition.</param>
    public RuleDefinitionException(string field, string? value, string message, IReadOnlyList<FilterError>? filterErrors = null)
        : base(message)
    {
        Field = field;
        Value = value;
        FilterErrors = filterErrors ?? [];
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public RuleDefinitionException()
        : this("$", null, "The rule definition is invalid.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public RuleDefinitionException(string message)
        : this("$", null, message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RuleDefinitionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = "$";
        FilterErrors = [];
    }

    /// <summary>The field at fault, e.g. <c>behaviourRules[2].eventKind</c> or <c>models[0].groups[1].tags[0].condition.operands[0].field</c>.</summary>
    public string Field { get; }

    /// <summary>The value at fault, or null.</summary>
    public string? Value { get; }

    /// <summary>The filter errors behind the fault, when it is in a condition; empty otherwise.</summary>
    public IReadOnlyList<FilterError> FilterErrors { get; }

    /// <summary>Validates a condition and throws for its first error, with the field path prefixed by <paramref name="field"/>.</summary>
    internal static void ThrowIfInvalid(Filter? condition, FilterContext context, string field)
    {
        if (condition is null)
        {
            throw new RuleDefinitionException(field, null, $"Field '{field}': a condition is required.");
        }

        var errors = FilterValidator.Validate(condition, context);
        if (errors.Count > 0)
        {
            var first = errors[0];
            var path = field + first.Path.TrimStart('$');
            throw new RuleDefinitionException(path, first.Found, $"Field '{path}': {first.Message}", errors);
        }
    }

    /// <summary>Validates an event kind with property conditions (the shape of a <see cref="BehaviourFilter"/>).</summary>
    internal static void ThrowIfInvalidEvent(string? eventKind, IReadOnlyList<PropertyCondition>? where, FilterContext context, string field)
    {
        if (string.IsNullOrWhiteSpace(eventKind) || !context.EventKinds.Contains(eventKind))
        {
            throw new RuleDefinitionException(field + ".eventKind", eventKind, $"Field '{field}.eventKind': '{eventKind}' is not a known event kind; known kinds are {string.Join(", ", context.EventKinds)} (add custom kinds to the filter context).");
        }

        var probe = new BehaviourFilter(eventKind, where ?? [], CompareOperator.GreaterOrEqual, [1]);
        ThrowIfInvalid(probe, context, field);
    }

    /// <summary>The filter context of the contact options: their schema and the well-known event kinds.</summary>
    internal static FilterContext ContextOf(ContactsOptions options) => new(options.Schema ?? ContactsOptions.DefaultSchema);
}
