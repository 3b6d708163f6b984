using System.Text.Json.Serialization;
using NodaTime;

namespace Campaigns.Modeling;

/// <summary>The type of a custom field (F-1.6) or registration form field (F-1.7).</summary>
public enum FieldType
{
    /// <summary>Free text.</summary>
    Text = 0,

    /// <summary>A decimal number.</summary>
    Number = 1,

    /// <summary>A calendar date (ISO <c>yyyy-MM-dd</c>).</summary>
    Date = 2,

    /// <summary>Exactly one of <see cref="FieldDefinition.Options"/>.</summary>
    SingleChoice = 3,

    /// <summary>Any subset of <see cref="FieldDefinition.Options"/>.</summary>
    MultiChoice = 4,

    /// <summary>An e-mail address.</summary>
    Email = 5,

    /// <summary>A phone number (digits, optional leading +).</summary>
    Phone = 6,

    /// <summary>Yes or no.</summary>
    Boolean = 7,
}

/// <summary>A choice of a single/multi choice field.</summary>
/// <param name="Value">The stored value, e.g. <c>hosted</c>.</param>
/// <param name="Label">What people see, e.g. <c>我司主办</c>.</param>
public sealed record FieldOption(string Value, string Label);

/// <summary>
/// The definition of a typed field: a custom field on a campaign (F-1.6, e.g. organizer mode,
/// participant group) or a field of a registration form (F-1.7).
/// </summary>
public sealed record FieldDefinition
{
    /// <summary>The key values are stored under; letters, digits, '_' and '-'.</summary>
    public required string Key { get; init; }

    /// <summary>What people see.</summary>
    public required string Label { get; init; }

    /// <summary>The type of the value.</summary>
    public required FieldType Type { get; init; }

    /// <summary>Whether a value must be given.</summary>
    public bool Required { get; init; }

    /// <summary>The allowed choices of <see cref="FieldType.SingleChoice"/> and <see cref="FieldType.MultiChoice"/> fields.</summary>
    public IReadOnlyList<FieldOption> Options { get; init; } = [];

    /// <summary>Maximum length of a text value, in UTF-16 characters; null for no limit.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Inclusive minimum of a number value.</summary>
    public decimal? Min { get; init; }

    /// <summary>Inclusive maximum of a number value.</summary>
    public decimal? Max { get; init; }

    /// <summary>
    /// For form fields: the contact attribute the value maps to (e.g. <c>name</c>, <c>phone</c>,
    /// <c>email</c>, <c>company</c>, <c>industry</c>); null when it is kept only on the submission.
    /// </summary>
    public string? MapsTo { get; init; }
}

/// <summary>
/// A typed field value. Serialized with a <c>type</c> discriminator:
/// <c>text</c>, <c>number</c>, <c>date</c>, <c>choice</c>, <c>choices</c>, <c>bool</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(TextValue), "text")]
[JsonDerivedType(typeof(NumberValue), "number")]
[JsonDerivedType(typeof(DateValue), "date")]
[JsonDerivedType(typeof(ChoiceValue), "choice")]
[JsonDerivedType(typeof(ChoicesValue), "choices")]
[JsonDerivedType(typeof(BooleanValue), "bool")]
public abstract record FieldValue
{
    private protected FieldValue()
    {
    }
}

/// <summary>A text value (also used for e-mail addresses and phone numbers).</summary>
/// <param name="Value">The text.</param>
public sealed record TextValue(string Value) : FieldValue;

/// <summary>A number value.</summary>
/// <param name="Value">The number.</param>
public sealed record NumberValue(decimal Value) : FieldValue;

/// <summary>A date value.</summary>
/// <param name="Value">The date.</param>
public sealed record DateValue(LocalDate Value) : FieldValue;

/// <summary>One chosen option.</summary>
/// <param name="Value">The option's <see cref="FieldOption.Value"/>.</param>
public sealed record ChoiceValue(string Value) : FieldValue;

/// <summary>Several chosen options.</summary>
/// <param name="Values">The options' <see cref="FieldOption.Value"/>s.</param>
public sealed record ChoicesValue(IReadOnlyList<string> Values) : FieldValue;

/// <summary>A yes/no value.</summary>
/// <param name="Value">The flag.</param>
public sealed record BooleanValue(bool Value) : FieldValue;
