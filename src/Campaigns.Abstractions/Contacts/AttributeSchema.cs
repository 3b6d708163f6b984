using System.Diagnostics.CodeAnalysis;

namespace Campaigns.Contacts;

/// <summary>The types a contact attribute can have (F-2.1). Values are carried as <see cref="Modeling.FieldValue"/>s.</summary>
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The names are the attribute types of the domain and of the JSON schema (string, integer, decimal).")]
public enum AttributeType
{
    /// <summary>Free text (<see cref="Modeling.TextValue"/>).</summary>
    String = 0,

    /// <summary>One of <see cref="AttributeDefinition.AllowedValues"/> (<see cref="Modeling.ChoiceValue"/>).</summary>
    Enum = 1,

    /// <summary>A whole number (<see cref="Modeling.NumberValue"/> without a fraction).</summary>
    Integer = 2,

    /// <summary>A decimal number (<see cref="Modeling.NumberValue"/>).</summary>
    Decimal = 3,

    /// <summary>A calendar date (<see cref="Modeling.DateValue"/>).</summary>
    Date = 4,

    /// <summary>Yes or no (<see cref="Modeling.BooleanValue"/>).</summary>
    Bool = 5,

    /// <summary>A list of strings (<see cref="Modeling.ChoicesValue"/>).</summary>
    StringList = 6,
}

/// <summary>The declaration of one contact attribute.</summary>
public sealed record AttributeDefinition
{
    /// <summary>The attribute's name, e.g. <c>industry</c>: lower-case letters, digits and '_', starting with a letter.</summary>
    public required string Name { get; init; }

    /// <summary>The type of its values.</summary>
    public required AttributeType Type { get; init; }

    /// <summary>For <see cref="AttributeType.Enum"/>: the allowed values.</summary>
    public IReadOnlyList<string> AllowedValues { get; init; } = [];

    /// <summary>The value given when a contact has none (e.g. industry → <c>unclassified</c>), or null.</summary>
    public Modeling.FieldValue? Default { get; init; }

    /// <summary>What the attribute means.</summary>
    public string? Description { get; init; }
}

/// <summary>The attribute schema of a contact base: every attribute contacts may carry, with its type.</summary>
public sealed record AttributeSchema
{
    /// <summary>The attributes.</summary>
    public IReadOnlyList<AttributeDefinition> Attributes { get; init; } = [];

    /// <summary>Finds an attribute by name (ordinal), or null.</summary>
    /// <param name="name">The attribute's name.</param>
    public AttributeDefinition? Find(string name) => Attributes.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));
}
