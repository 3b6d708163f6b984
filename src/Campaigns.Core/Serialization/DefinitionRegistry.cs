using System.Text.Json.Nodes;
using Campaigns.Modeling;

namespace Campaigns.Serialization;

/// <summary>
/// One kind of definition document: the CLR type, the <c>kind</c> string, the current schema version and the
/// migrations that bring older versions up to it. Immutable and thread-safe.
/// </summary>
internal sealed class DefinitionKind
{
    public DefinitionKind(Type type, string name, IReadOnlyList<Func<JsonObject, JsonObject>> migrations)
    {
        Type = type;
        Name = name;
        Migrations = migrations;
    }

    /// <summary>The definition's CLR type, e.g. <see cref="Campaign"/>.</summary>
    public Type Type { get; }

    /// <summary>The <c>kind</c> written in documents, e.g. <c>campaign</c>.</summary>
    public string Name { get; }

    /// <summary>
    /// The upgrade steps in order: <c>Migrations[i]</c> turns the <c>definition</c> object of a version
    /// <see cref="OldestVersion"/> + i document into that of version <see cref="OldestVersion"/> + i + 1.
    /// </summary>
    public IReadOnlyList<Func<JsonObject, JsonObject>> Migrations { get; }

    /// <summary>The oldest schema version that can still be read (1: every version since the first is kept readable).</summary>
    public int OldestVersion { get; } = 1;

    /// <summary>The version this library writes: one more than the number of migrations.</summary>
    public int CurrentVersion => OldestVersion + Migrations.Count;

    /// <summary>The readable versions for messages, e.g. <c>1</c> or <c>1, 2, 3</c>.</summary>
    public string SupportedVersions => string.Join(", ", Enumerable.Range(OldestVersion, CurrentVersion - OldestVersion + 1));

    /// <summary>Whether a document of <paramref name="version"/> can be read.</summary>
    public bool Supports(int version) => version >= OldestVersion && version <= CurrentVersion;
}

/// <summary>
/// Maps definition types to their <c>kind</c> strings, current schema versions and migrations. Immutable once built
/// and thread-safe.
/// </summary>
/// <remarks>
/// To change the wire form of a kind, add a migration with <see cref="Builder.Add{T}(string, Func{JsonObject, JsonObject}[])"/>:
/// each function takes the <c>definition</c> object of a version n document and returns the version n + 1 object
/// (it may change the object it is given and return it). The current version is one more than the number of migrations.
/// </remarks>
internal sealed class DefinitionRegistry
{
    private readonly Dictionary<Type, DefinitionKind> _byType;
    private readonly Dictionary<string, DefinitionKind> _byName;

    private DefinitionRegistry(IEnumerable<DefinitionKind> kinds)
    {
        _byType = [];
        _byName = new Dictionary<string, DefinitionKind>(StringComparer.Ordinal);
        foreach (var kind in kinds)
        {
            _byType.Add(kind.Type, kind);
            _byName.Add(kind.Name, kind);
        }
    }

    /// <summary>The kinds this library reads and writes, all at schema version 1.</summary>
    public static DefinitionRegistry Default { get; } = new Builder()
        .Add<Campaign>("campaign")
        .Add<CampaignTypeDefinition>("campaign-type")
        .Add<RegistrationFormTemplate>("form")
        .Add<Participant>("participant")
        .Build();

    /// <summary>Every registered kind.</summary>
    public IEnumerable<DefinitionKind> Kinds => _byType.Values;

    /// <summary>Gets the kind of <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">The type is not a registered definition type.</exception>
    public DefinitionKind Get(Type type) => _byType.TryGetValue(type, out var kind)
        ? kind
        : throw new NotSupportedException(
            $"{type.Name} is not a definition type with a versioned JSON document; supported: "
            + string.Join(", ", _byType.Values.Select(k => $"{k.Type.Name} ('{k.Name}')")) + ".");

    /// <summary>Finds a kind by its name, or null.</summary>
    public DefinitionKind? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Collects kinds; not thread-safe (build once, then share the registry).</summary>
    public sealed class Builder
    {
        private readonly List<DefinitionKind> _kinds = [];

        /// <summary>Registers <typeparamref name="T"/> under <paramref name="kind"/>, with the migrations from version 1 upwards.</summary>
        /// <param name="kind">The <c>kind</c> string; unique.</param>
        /// <param name="migrations">The upgrade steps: the first turns version 1 into 2, the next 2 into 3, and so on.</param>
        public Builder Add<T>(string kind, params Func<JsonObject, JsonObject>[] migrations)
            where T : class
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(kind);
            ArgumentNullException.ThrowIfNull(migrations);
            if (_kinds.Any(k => k.Type == typeof(T) || k.Name == kind))
            {
                throw new ArgumentException($"{typeof(T).Name} or kind '{kind}' is registered already.", nameof(kind));
            }

            _kinds.Add(new DefinitionKind(typeof(T), kind, [.. migrations]));
            return this;
        }

        /// <summary>Creates the immutable registry.</summary>
        public DefinitionRegistry Build() => new(_kinds);
    }
}
