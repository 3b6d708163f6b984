using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;

namespace Campaigns.Tags;

/// <summary>
/// Holds the tag models → groups → tags (F-3.1) and so the tag rules. Every change is validated as a whole before it
/// replaces the catalog, so a bad definition changes nothing. Implementations are thread-safe.
/// </summary>
public interface ITagCatalog
{
    /// <summary>The models, in the order they were set.</summary>
    IReadOnlyList<TagModel> Models { get; }

    /// <summary>What conditions are validated against (the contact attribute schema and the event kinds).</summary>
    FilterContext Context { get; }

    /// <summary>Adds a model or replaces the one with the same id.</summary>
    /// <param name="model">The model.</param>
    /// <exception cref="RuleDefinitionException">A duplicate id, a blank name, a template with an unknown placeholder (one that is not a schema attribute, for rule tags) or an invalid condition; the field and value are named and nothing changed.</exception>
    void SetModel(TagModel model);

    /// <summary>Removes a model and its tags' rules; contacts lose its rule tags when they are next evaluated.</summary>
    /// <param name="modelId">The model's id.</param>
    /// <returns>Whether there was such a model.</returns>
    bool RemoveModel(string modelId);

    /// <summary>Finds a tag definition and its group by the definition's id, or null.</summary>
    /// <param name="tagId">The definition's id.</param>
    (TagDefinition Tag, TagGroupDefinition Group)? Find(string tagId);
}

/// <summary>A validated rule tag, ready to evaluate.</summary>
/// <summary>The tag rules that read one event kind, and every event kind those rules read (their history is needed to evaluate them).</summary>
internal sealed record KindRules(CompiledTagRule[] Rules, HashSet<string> Kinds)
{
    private RulePlan? _plan;

    /// <summary>How the tag engine evaluates these rules together (made on first use).</summary>
    public RulePlan Plan => _plan ??= RulePlan.Of(Rules);
}

internal sealed record CompiledTagRule(TagDefinition Tag, string GroupId, TagNameTemplate Template, FilterReads Reads)
{
    public string AssignedBy { get; } = TagCatalog.RulePrefix + Tag.Id;
}

/// <summary>The in-memory <see cref="ITagCatalog"/>. Thread-safe: readers see one consistent snapshot.</summary>
public sealed class TagCatalog : ITagCatalog
{
    internal const string RulePrefix = "tag-rule:";

    private readonly Lock _gate = new();
    private Snapshot _snapshot = new([], [], new Dictionary<string, KindRules>(StringComparer.Ordinal));

    /// <summary>Creates an empty catalog validating against <paramref name="context"/>.</summary>
    /// <param name="context">The attribute schema and event kinds conditions may use.</param>
    public TagCatalog(FilterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Context = context;
    }

    /// <inheritdoc />
    public FilterContext Context { get; }

    /// <inheritdoc />
    public IReadOnlyList<TagModel> Models => _snapshot.Models;

    internal IReadOnlyList<CompiledTagRule> Rules => _snapshot.Rules;

    /// <summary>The rules whose condition reads events of <paramref name="kind"/>, or null when none does.</summary>
    internal KindRules? RulesReading(string kind) => _snapshot.ByKind.GetValueOrDefault(kind);

    /// <inheritdoc />
    public void SetModel(TagModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_gate)
        {
            _snapshot = Compile(WithModel(_snapshot.Models, model), Context);
        }
    }

    /// <summary>Throws what <see cref="SetModel"/> would throw for <paramref name="model"/>, changing nothing (validation before a durable write).</summary>
    internal void Validate(TagModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Compile(WithModel(_snapshot.Models, model), Context);
    }

    /// <summary>The models with <paramref name="model"/> replacing the one with its id, or added last.</summary>
    private static List<TagModel> WithModel(IEnumerable<TagModel> models, TagModel model)
    {
        var list = models.ToList();
        var index = list.FindIndex(m => m.Id == model.Id);
        if (index >= 0)
        {
            list[index] = model;
        }
        else
        {
            list.Add(model);
        }

        return list;
    }

    /// <inheritdoc />
    public bool RemoveModel(string modelId)
    {
        lock (_gate)
        {
            var models = _snapshot.Models.Where(m => m.Id != modelId).ToList();
            if (models.Count == _snapshot.Models.Count)
            {
                return false;
            }

            _snapshot = Compile(models, Context);
            return true;
        }
    }

    /// <inheritdoc />
    public (TagDefinition Tag, TagGroupDefinition Group)? Find(string tagId)
    {
        foreach (var model in _snapshot.Models)
        {
            foreach (var group in model.Groups)
            {
                foreach (var tag in group.Tags)
                {
                    if (tag.Id == tagId)
                    {
                        return (tag, group);
                    }
                }
            }
        }

        return null;
    }

    private static Snapshot Compile(List<TagModel> models, FilterContext context)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var groupIds = new HashSet<string>(StringComparer.Ordinal);
        var tagIds = new HashSet<string>(StringComparer.Ordinal);
        var rules = new List<CompiledTagRule>();
        var attributes = context.Schema.Attributes.Select(a => a.Name).ToArray();
        for (var m = 0; m < models.Count; m++)
        {
            var model = models[m];
            var mPath = $"models[{m.ToString(CultureInfo.InvariantCulture)}]";
            RequireId(model.Id, mPath + ".id", ids, "model");
            RequireText(model.Name, mPath + ".name");
            if (!Enum.IsDefined(model.Dimension))
            {
                throw new RuleDefinitionException(mPath + ".dimension", model.Dimension.ToString(), $"Field '{mPath}.dimension': '{model.Dimension}' is not a tag dimension.");
            }

            for (var g = 0; g < model.Groups.Count; g++)
            {
                var group = model.Groups[g];
                var gPath = $"{mPath}.groups[{g.ToString(CultureInfo.InvariantCulture)}]";
                RequireId(group?.Id, gPath + ".id", groupIds, "group");
                RequireText(group!.Name, gPath + ".name");
                for (var t = 0; t < group.Tags.Count; t++)
                {
                    var tag = group.Tags[t];
                    var tPath = $"{gPath}.tags[{t.ToString(CultureInfo.InvariantCulture)}]";
                    RequireId(tag?.Id, tPath + ".id", tagIds, "tag");
                    RequireText(tag!.Name, tPath + ".name");
                    if (tag.Validity is { } validity && validity <= NodaTime.Duration.Zero)
                    {
                        throw new RuleDefinitionException(tPath + ".validity", validity.ToString(), $"Field '{tPath}.validity': '{validity}' is not a positive duration.");
                    }

                    var known = tag.Condition is null ? null : attributes;
                    if (!TagNameTemplate.TryParse(tag.Name, known, out var template, out var error))
                    {
                        throw new RuleDefinitionException(tPath + ".name", error.Placeholder ?? tag.Name, $"Field '{tPath}.name': {error.Message}");
                    }

                    if (tag.Condition is not null)
                    {
                        RuleDefinitionException.ThrowIfInvalid(tag.Condition, context, tPath + ".condition");
                        rules.Add(new CompiledTagRule(tag, group.Id, template, FilterReads.Of(tag.Condition)));
                    }
                }
            }
        }

        return new Snapshot([.. models], [.. rules], IndexByKind(rules));
    }

    /// <summary>Per event kind: the rules that read it (in catalog order) and the union of the kinds those rules read.</summary>
    private static Dictionary<string, KindRules> IndexByKind(List<CompiledTagRule> rules)
    {
        var byKind = new Dictionary<string, List<CompiledTagRule>>(StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            foreach (var kind in rule.Reads.EventKinds)
            {
                if (!byKind.TryGetValue(kind, out var list))
                {
                    byKind[kind] = list = [];
                }

                list.Add(rule);
            }
        }

        var index = new Dictionary<string, KindRules>(StringComparer.Ordinal);
        foreach (var (kind, list) in byKind)
        {
            var kinds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var rule in list)
            {
                kinds.UnionWith(rule.Reads.EventKinds);
            }

            index[kind] = new KindRules([.. list], kinds);
        }

        return index;
    }

    private static void RequireId(string? id, string field, HashSet<string> seen, string what)
    {
        RequireText(id, field);
        if (!seen.Add(id!))
        {
            throw new RuleDefinitionException(field, id, $"Field '{field}': {what} id '{id}' is used twice.");
        }
    }

    private static void RequireText(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new RuleDefinitionException(field, text, $"Field '{field}': '{text}' is blank.");
        }
    }

    /// <summary>Renders a rule tag's name for a contact from its attributes, or null when a placeholder has no value.</summary>
    internal static string? RenderName(CompiledTagRule rule, Contact contact)
    {
        if (rule.Template.Placeholders.Count == 0)
        {
            return rule.Template.Text.Trim();
        }

        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var placeholder in rule.Template.Placeholders)
        {
            if (!contact.Attributes.TryGetValue(placeholder, out var value) || TextOf(value) is not { Length: > 0 } text)
            {
                return null;
            }

            values[placeholder] = text;
        }

        return rule.Template.Render(values);
    }

    private static string? TextOf(FieldValue value) => value switch
    {
        TextValue t => t.Value,
        ChoiceValue c => c.Value,
        ChoicesValue list => string.Join("、", list.Values),
        NumberValue n => n.Value.ToString(CultureInfo.InvariantCulture),
        DateValue d => d.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        BooleanValue b => b.Value ? "true" : "false",
        _ => null,
    };

    private sealed record Snapshot(IReadOnlyList<TagModel> Models, IReadOnlyList<CompiledTagRule> Rules, Dictionary<string, KindRules> ByKind);
}
