namespace Campaigns;

/// <summary>
/// Thrown by a store when an update was made against a stale version: somebody else changed the
/// entity since it was read. Nothing was written; read the entity again, re-apply the change and retry.
/// </summary>
public sealed class ConcurrencyException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="entityKind">What kind of entity, e.g. "campaign".</param>
    /// <param name="entityId">The entity's id as text.</param>
    /// <param name="expectedVersion">The version the writer read.</param>
    /// <param name="actualVersion">The version the store holds, or null when the entity no longer exists.</param>
    public ConcurrencyException(string entityKind, string entityId, long expectedVersion, long? actualVersion)
        : base(actualVersion is null
            ? $"The {entityKind} '{entityId}' was updated at version {expectedVersion} but no longer exists."
            : $"The {entityKind} '{entityId}' was updated at version {expectedVersion} but the store holds version {actualVersion}; read it again and retry.")
    {
        EntityKind = entityKind;
        EntityId = entityId;
        ExpectedVersion = expectedVersion;
        ActualVersion = actualVersion;
    }

    /// <summary>What kind of entity, e.g. "campaign".</summary>
    public string EntityKind { get; }

    /// <summary>The entity's id as text.</summary>
    public string EntityId { get; }

    /// <summary>The version the writer read.</summary>
    public long ExpectedVersion { get; }

    /// <summary>The version the store holds, or null when the entity no longer exists.</summary>
    public long? ActualVersion { get; }
}

/// <summary>Thrown when an entity is added under an id (or unique key) that is already taken.</summary>
public sealed class DuplicateEntityException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="entityKind">What kind of entity, e.g. "campaign".</param>
    /// <param name="key">The id or unique key that is taken.</param>
    public DuplicateEntityException(string entityKind, string key)
        : base($"A {entityKind} with key '{key}' already exists.")
    {
        EntityKind = entityKind;
        Key = key;
    }

    /// <summary>What kind of entity.</summary>
    public string EntityKind { get; }

    /// <summary>The id or unique key that is taken.</summary>
    public string Key { get; }
}

/// <summary>Thrown when an operation names an entity that does not exist.</summary>
public sealed class EntityNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="entityKind">What kind of entity, e.g. "campaign type".</param>
    /// <param name="key">The id that was not found.</param>
    public EntityNotFoundException(string entityKind, string key)
        : base($"No {entityKind} with key '{key}' exists.")
    {
        EntityKind = entityKind;
        Key = key;
    }

    /// <summary>What kind of entity.</summary>
    public string EntityKind { get; }

    /// <summary>The id that was not found.</summary>
    public string Key { get; }
}
