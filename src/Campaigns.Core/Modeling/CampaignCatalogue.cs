using System.Reflection;
using System.Text.Json;
using Campaigns.Serialization;

namespace Campaigns.Modeling;

/// <summary>
/// The JSON document form of a catalogue (F-1.1): campaign types and registration form templates.
/// The built-in catalogue (seed 000) ships as an embedded resource; hosts add their own documents.
/// </summary>
public sealed record CatalogueDocument
{
    /// <summary>The schema version this library reads.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The document's schema version; must be <see cref="CurrentSchemaVersion"/>.</summary>
    public required int SchemaVersion { get; init; }

    /// <summary>The campaign types.</summary>
    public IReadOnlyList<CampaignTypeDefinition> Types { get; init; } = [];

    /// <summary>The registration form templates.</summary>
    public IReadOnlyList<RegistrationFormTemplate> Forms { get; init; } = [];
}

/// <summary>Thrown when a catalogue document is malformed or inconsistent. <see cref="Path"/> locates the fault.</summary>
public sealed class CatalogueException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The document's name (file path or "built-in").</param>
    /// <param name="path">The JSON path of the fault, e.g. <c>$.types[3].template.registrationFormId</c>.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public CatalogueException(string source, string path, string problem, Exception? inner = null)
        : base($"Catalogue '{source}' at {path}: {problem}", inner)
    {
        Source = source;
        Path = path;
        Problem = problem;
    }

    /// <summary>The document's name.</summary>
    public new string Source { get; }

    /// <summary>The JSON path of the fault.</summary>
    public string Path { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }
}

/// <summary>The campaign type catalogue a host works with: built-in types plus the host's own.</summary>
public interface ICampaignCatalogue
{
    /// <summary>Every campaign type, in document order (a later document's type replaces an earlier one with the same id in place).</summary>
    IReadOnlyList<CampaignTypeDefinition> Types { get; }

    /// <summary>Every registration form template.</summary>
    IReadOnlyList<RegistrationFormTemplate> Forms { get; }

    /// <summary>Gets a campaign type.</summary>
    /// <param name="typeId">The type id.</param>
    /// <exception cref="EntityNotFoundException">No such type.</exception>
    CampaignTypeDefinition GetCampaignType(string typeId);

    /// <summary>Gets a registration form template.</summary>
    /// <param name="formId">The form id.</param>
    /// <exception cref="EntityNotFoundException">No such form.</exception>
    RegistrationFormTemplate GetForm(string formId);
}

/// <summary>
/// An immutable catalogue merged from documents. Thread-safe. Later documents override earlier ones by id,
/// so a host can replace a built-in type or form, or add its own.
/// </summary>
public sealed class CampaignCatalogue : ICampaignCatalogue
{
    private const string BuiltInResource = "Campaigns.Modeling.Catalogue.builtin.json";
    private readonly Dictionary<string, CampaignTypeDefinition> _types;
    private readonly Dictionary<string, RegistrationFormTemplate> _forms;

    /// <summary>Merges documents into a catalogue and checks that every reference resolves.</summary>
    /// <param name="documents">The documents in order; later ones win on equal ids.</param>
    /// <exception cref="CatalogueException">A document is inconsistent: duplicate id within it, unknown form reference, bad field definitions.</exception>
    public CampaignCatalogue(IEnumerable<(string Source, CatalogueDocument Document)> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var types = new List<CampaignTypeDefinition>();
        var forms = new List<RegistrationFormTemplate>();
        var typeSource = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (source, document) in documents)
        {
            CatalogueValidator.ValidateDocument(source, document);
            foreach (var form in document.Forms)
            {
                ReplaceOrAdd(forms, form, f => f.Id);
            }

            foreach (var type in document.Types)
            {
                ReplaceOrAdd(types, type, t => t.Id);
                typeSource[type.Id] = source;
            }
        }

        _forms = forms.ToDictionary(f => f.Id, StringComparer.Ordinal);
        for (var i = 0; i < types.Count; i++)
        {
            var type = types[i];
            var typePath = $"$.types[?(@.id=='{type.Id}')].template";
            RequireForm(typeSource[type.Id], typePath + ".registrationFormId", type.Template.RegistrationFormId);
            for (var p = 0; p < type.Template.MicroPages.Count; p++)
            {
                RequireForm(typeSource[type.Id], $"{typePath}.microPages[{p}].formId", type.Template.MicroPages[p].FormId);
            }
        }

        _types = types.ToDictionary(t => t.Id, StringComparer.Ordinal);
        Types = types;
        Forms = forms;
    }

    /// <inheritdoc />
    public IReadOnlyList<CampaignTypeDefinition> Types { get; }

    /// <inheritdoc />
    public IReadOnlyList<RegistrationFormTemplate> Forms { get; }

    /// <summary>Reads the built-in catalogue of seed 000 shipped inside this assembly.</summary>
    public static CatalogueDocument ReadBuiltIn()
    {
        using var stream = typeof(CampaignCatalogue).Assembly.GetManifestResourceStream(BuiltInResource)
            ?? throw new InvalidOperationException($"The embedded resource '{BuiltInResource}' is missing from {typeof(CampaignCatalogue).Assembly.GetName().Name}.");
        return ReadDocument(stream, "built-in");
    }

    /// <summary>Reads a catalogue document from UTF-8 JSON.</summary>
    /// <param name="utf8Json">The JSON.</param>
    /// <param name="source">A name for messages, e.g. the file path.</param>
    /// <exception cref="CatalogueException">Malformed JSON, a wrong value type, an unknown member or an unsupported schema version; the message carries the JSON path.</exception>
    public static CatalogueDocument ReadDocument(Stream utf8Json, string source)
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        ArgumentNullException.ThrowIfNull(source);
        CatalogueDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<CatalogueDocument>(utf8Json, CampaignsJson.Options);
        }
        catch (JsonException ex)
        {
            throw new CatalogueException(source, ex.Path ?? "$", ex.Message, ex);
        }

        if (document is null)
        {
            throw new CatalogueException(source, "$", "the document is null.");
        }

        if (document.SchemaVersion != CatalogueDocument.CurrentSchemaVersion)
        {
            throw new CatalogueException(source, "$.schemaVersion", $"schema version {document.SchemaVersion} is not supported; this library reads version {CatalogueDocument.CurrentSchemaVersion}.");
        }

        return document;
    }

    /// <summary>Reads a catalogue document from a file.</summary>
    /// <param name="path">The file path.</param>
    /// <exception cref="CatalogueException">See <see cref="ReadDocument(Stream, string)"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static CatalogueDocument ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var stream = File.OpenRead(path);
        return ReadDocument(stream, path);
    }

    /// <inheritdoc />
    public CampaignTypeDefinition GetCampaignType(string typeId)
    {
        ArgumentNullException.ThrowIfNull(typeId);
        return _types.TryGetValue(typeId, out var type) ? type : throw new EntityNotFoundException("campaign type", typeId);
    }

    /// <inheritdoc />
    public RegistrationFormTemplate GetForm(string formId)
    {
        ArgumentNullException.ThrowIfNull(formId);
        return _forms.TryGetValue(formId, out var form) ? form : throw new EntityNotFoundException("registration form", formId);
    }

    private void RequireForm(string source, string path, string? formId)
    {
        if (formId is not null && !_forms.ContainsKey(formId))
        {
            throw new CatalogueException(source, path, $"form '{formId}' is not in any catalogue document.");
        }
    }

    private static void ReplaceOrAdd<T>(List<T> list, T item, Func<T, string> id)
    {
        var index = list.FindIndex(x => id(x) == id(item));
        if (index >= 0)
        {
            list[index] = item;
        }
        else
        {
            list.Add(item);
        }
    }
}
