namespace Campaigns;

/// <summary>
/// Who performed an action (submitted, approved, registered someone, ...): a user id from the host's
/// identity system and the role that user acted in (for example <c>operator</c>, <c>marketing-manager</c>, <c>admin</c>).
/// </summary>
public sealed record Actor
{
    /// <summary>Creates an actor.</summary>
    /// <param name="id">The host's user id; not blank.</param>
    /// <param name="role">The role the user acts in; not blank. Compared case-insensitively with approval levels.</param>
    /// <exception cref="ArgumentException">A value is null or blank.</exception>
    public Actor(string id, string role)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        Id = id;
        Role = role;
    }

    /// <summary>The host's user id.</summary>
    public string Id { get; }

    /// <summary>The role the user acted in.</summary>
    public string Role { get; }

    /// <summary>The actor used for work the SDK does on its own (timers, rules).</summary>
    public static Actor System { get; } = new("system", "system");

    /// <inheritdoc />
    public override string ToString() => $"{Id} ({Role})";
}
