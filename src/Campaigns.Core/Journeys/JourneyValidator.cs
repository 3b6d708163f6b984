using System.Collections.Concurrent;
using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Scheduling;
using Campaigns.Segmentation;

namespace Campaigns.Journeys;

/// <summary>Finds message templates by id for journeys (the host's template store). Implementations are thread-safe.</summary>
public interface IJourneyTemplateResolver
{
    /// <summary>The (approved) template with this id, or null when there is none.</summary>
    /// <param name="templateId">The template's id (ordinal).</param>
    MessageTemplate? FindTemplate(string templateId);
}

/// <summary>An in-memory <see cref="IJourneyTemplateResolver"/>. Thread-safe.</summary>
public sealed class InMemoryJourneyTemplates : IJourneyTemplateResolver
{
    private readonly ConcurrentDictionary<string, MessageTemplate> _templates = new(StringComparer.Ordinal);

    /// <summary>Adds or replaces a template.</summary>
    /// <param name="templateId">Its id.</param>
    /// <param name="template">The template.</param>
    /// <returns>This instance.</returns>
    public InMemoryJourneyTemplates Add(string templateId, MessageTemplate template)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(templateId);
        ArgumentNullException.ThrowIfNull(template);
        _templates[templateId] = template;
        return this;
    }

    /// <inheritdoc />
    public MessageTemplate? FindTemplate(string templateId) => _templates.GetValueOrDefault(templateId);
}

/// <summary>What a journey may name, for <see cref="JourneyValidator"/>. A null resolver skips its checks.</summary>
public sealed record JourneyValidationContext
{
    /// <summary>The registered channels (names and address kinds), or null not to check channels.</summary>
    public IChannelRegistry? Channels { get; init; }

    /// <summary>The templates, or null not to check templates and variables.</summary>
    public IJourneyTemplateResolver? Templates { get; init; }

    /// <summary>The segments (segment-entry triggers and <c>in_segment</c> conditions), or null not to check them.</summary>
    public ISegmentResolver? Segments { get; init; }

    /// <summary>The content rules used to check templates (missing variables, banned words, SMS length); null for the defaults.</summary>
    public ContentChecker? Content { get; init; }

    /// <summary>Variables every send has besides the node's own (the runner adds <c>name</c> and the contact's attributes).</summary>
    public IReadOnlyCollection<string> AvailableVariables { get; init; } = ["name"];
}

/// <summary>One problem of a journey definition.</summary>
/// <param name="NodeId">The node it concerns, or null for the journey as a whole (trigger, exit conditions).</param>
/// <param name="Code">A stable code: <c>unknownNode</c>, <c>duplicateNode</c>, <c>unreachable</c>, <c>missingTarget</c>, <c>loopWithoutWait</c>, <c>unknownChannel</c>, <c>unknownTemplate</c>, <c>unknownSegment</c>, <c>content</c>, <c>invalid</c>.</param>
/// <param name="Message">A sentence naming the node and the fix.</param>
public sealed record JourneyValidationError(string? NodeId, string Code, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>The outcome of validating a journey.</summary>
/// <param name="Errors">Every problem found, in node order.</param>
public sealed record JourneyValidationResult(IReadOnlyList<JourneyValidationError> Errors)
{
    /// <summary>Whether there is no error.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>Throws <see cref="JourneyValidationException"/> when there are errors.</summary>
    public void ThrowIfInvalid()
    {
        if (!IsValid)
        {
            throw new JourneyValidationException(this);
        }
    }

    /// <inheritdoc />
    public override string ToString() => IsValid ? "valid" : string.Join(Environment.NewLine, Errors);
}

/// <summary>Thrown when an invalid journey is published.</summary>
public sealed class JourneyValidationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="result">The validation result.</param>
    public JourneyValidationException(JourneyValidationResult result)
        : base($"The journey is not valid:{Environment.NewLine}{result}") => Result = result;

    /// <summary>The validation result.</summary>
    public JourneyValidationResult Result { get; }
}

/// <summary>Checks a journey before it is published (F-6.4). Stateless and thread-safe.</summary>
public static class JourneyValidator
{
    private static readonly ContentChecker DefaultChecker = new(new ContentRulesOptions());

    /// <summary>
    /// Finds: duplicate and unknown node ids, nodes unreachable from the start, branches and waits without targets,
    /// loops in which no wait node lies (a contact would cycle without pause), unknown channels, templates and segments,
    /// template variables without a value (through the delivery content checker), and bad numbers (weights, durations).
    /// </summary>
    /// <param name="definition">The journey.</param>
    /// <param name="context">What it may name; <c>new()</c> checks structure only.</param>
    public static JourneyValidationResult Validate(JourneyDefinition definition, JourneyValidationContext context)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(context);
        var errors = new List<JourneyValidationError>();
        void Add(string? node, string code, string message) => errors.Add(new JourneyValidationError(node, code, message));

        var nodes = new Dictionary<string, JourneyNode>(StringComparer.Ordinal);
        foreach (var node in definition.Nodes)
        {
            if (string.IsNullOrWhiteSpace(node.Id))
            {
                Add(null, "invalid", "A node has no id; give every node a unique id.");
            }
            else if (!nodes.TryAdd(node.Id, node))
            {
                Add(node.Id, "duplicateNode", $"Node '{node.Id}': the id is used by more than one node.");
            }
        }

        if (!nodes.ContainsKey(definition.StartNodeId))
        {
            Add(null, "unknownNode", $"The start node '{definition.StartNodeId}' does not exist.");
        }

        ValidateTrigger(definition, context, Add);
        if (definition.Exit.MaxTouches is < 1)
        {
            Add(null, "invalid", $"Exit: max touches {definition.Exit.MaxTouches} must be 1 or more.");
        }

        foreach (var node in nodes.Values)
        {
            ValidateNode(node, nodes, context, Add);
        }

        // Reachability from the start.
        var reached = new HashSet<string>(StringComparer.Ordinal);
        if (nodes.ContainsKey(definition.StartNodeId))
        {
            var stack = new Stack<string>([definition.StartNodeId]);
            while (stack.TryPop(out var id))
            {
                if (nodes.TryGetValue(id, out var node) && reached.Add(id))
                {
                    foreach (var target in node.Targets.OfType<string>())
                    {
                        stack.Push(target);
                    }
                }
            }
        }

        foreach (var node in nodes.Values.Where(n => !reached.Contains(n.Id)))
        {
            Add(node.Id, "unreachable", $"Node '{node.Id}' cannot be reached from the start node '{definition.StartNodeId}'; connect it or remove it.");
        }

        FindLoopsWithoutWait(nodes, Add);
        return new JourneyValidationResult(errors);
    }

    private static void ValidateTrigger(JourneyDefinition definition, JourneyValidationContext context, Action<string?, string, string> add)
    {
        switch (definition.Trigger)
        {
            case EventTrigger e when string.IsNullOrWhiteSpace(e.EventKind):
                add(null, "invalid", "Trigger: the event kind is empty.");
                break;
            case EventTrigger { Where: { } where }:
                CheckSegments(null, where, context, add);
                break;
            case SegmentEntryTrigger s when context.Segments is { } segments && segments.Find(s.SegmentId) is null:
                add(null, "unknownSegment", $"Trigger: the segment '{s.SegmentId}' does not exist.");
                break;
            case ScheduleTrigger { Schedule: RelativeSchedule }:
                add(null, "invalid", "Trigger: a schedule trigger takes an absolute or cron schedule; relative schedules need a campaign's moments.");
                break;
            case ScheduleTrigger { Audience: { } audience }:
                CheckSegments(null, audience, context, add);
                break;
        }
    }

    private static void ValidateNode(JourneyNode node, Dictionary<string, JourneyNode> nodes, JourneyValidationContext context, Action<string?, string, string> add)
    {
        var id = node.Id;
        void Target(string? target, string what)
        {
            if (target is null)
            {
                add(id, "missingTarget", $"Node '{id}': the {what} has no target node.");
            }
            else if (!nodes.ContainsKey(target))
            {
                add(id, "unknownNode", $"Node '{id}': the {what} leads to '{target}', which does not exist.");
            }
        }

        switch (node)
        {
            case JourneyActionNode { Next: { } next } when !nodes.ContainsKey(next):
                add(id, "unknownNode", $"Node '{id}': the next node '{next}' does not exist.");
                break;
            case ConditionNode c:
                Target(c.Then, "'then' branch");
                Target(c.Else, "'else' branch");
                CheckSegments(id, c.Condition, context, add);
                break;
            case WaitForEventNode w:
                Target(w.OnEvent, "'on event' branch");
                Target(w.OnTimeout, "'on timeout' branch");
                break;
            case SplitNode s:
                if (s.Arms.Count < 2)
                {
                    add(id, "invalid", $"Node '{id}': a split needs two or more arms.");
                }

                foreach (var arm in s.Arms)
                {
                    if (arm.Weight <= 0)
                    {
                        add(id, "invalid", $"Node '{id}': arm '{arm.Name}' has weight {arm.Weight}; weights are positive.");
                    }

                    if (!arm.Holdout)
                    {
                        Target(arm.Next, $"arm '{arm.Name}'");
                    }
                }

                break;
        }

        switch (node)
        {
            case WaitNode w when w.Duration <= NodaTime.Duration.Zero:
                add(id, "invalid", $"Node '{id}': the wait of {w.Duration} is not positive.");
                break;
            case WaitForEventNode w when w.Timeout <= NodaTime.Duration.Zero:
                add(id, "invalid", $"Node '{id}': the timeout of {w.Timeout} is not positive.");
                break;
            case JourneyMessageNode m:
                ValidateMessage(m, context, add);
                break;
        }
    }

    private static void ValidateMessage(JourneyMessageNode node, JourneyValidationContext context, Action<string?, string, string> add)
    {
        var kind = MessageKind.Text;
        if (context.Channels is { } channels)
        {
            if (!channels.TryGetChannel(node.Channel, out var channel))
            {
                add(node.Id, "unknownChannel", $"Node '{node.Id}': the channel '{node.Channel}' is not registered (registered: {string.Join(", ", channels.Names)}).");
            }
            else
            {
                kind = channel.Capabilities.AddressKind switch
                {
                    ChannelAddressKind.Phone => MessageKind.Sms,
                    ChannelAddressKind.Email => MessageKind.Email,
                    _ => MessageKind.Text,
                };
            }
        }

        if (context.Templates is not { } templates)
        {
            return;
        }

        if (templates.FindTemplate(node.TemplateId) is not { } template)
        {
            add(node.Id, "unknownTemplate", $"Node '{node.Id}': the template '{node.TemplateId}' does not exist.");
            return;
        }

        var samples = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in context.AvailableVariables)
        {
            samples[name] = "x";
        }

        foreach (var (name, value) in node.Variables)
        {
            samples[name] = value;
        }

        foreach (var issue in (context.Content ?? DefaultChecker).CheckTemplate(template, kind, samples).Errors)
        {
            add(node.Id, "content", $"Node '{node.Id}': template '{node.TemplateId}': {issue.Message}");
        }
    }

    private static void CheckSegments(string? nodeId, Filter filter, JourneyValidationContext context, Action<string?, string, string> add)
    {
        if (context.Segments is not { } segments)
        {
            return;
        }

        foreach (var id in SegmentIds(filter).Distinct(StringComparer.Ordinal).Where(id => segments.Find(id) is null))
        {
            add(nodeId, "unknownSegment", nodeId is null ? $"Trigger: the segment '{id}' does not exist." : $"Node '{nodeId}': the condition names the segment '{id}', which does not exist.");
        }
    }

    private static IEnumerable<string> SegmentIds(Filter filter) => filter switch
    {
        SegmentFilter s => [s.SegmentId],
        AndFilter a => a.Operands.SelectMany(SegmentIds),
        OrFilter o => o.Operands.SelectMany(SegmentIds),
        NotFilter n => SegmentIds(n.Operand),
        _ => [],
    };

    private static void FindLoopsWithoutWait(Dictionary<string, JourneyNode> nodes, Action<string?, string, string> add)
    {
        // A cycle is harmless only if a wait node lies on it: drop the edges leaving wait nodes and look for cycles.
        static bool IsWait(JourneyNode n) => n is WaitNode or WaitUntilNode or WaitForEventNode;
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on the path, 2 = done
        var path = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);

        void Visit(string id)
        {
            state[id] = 1;
            path.Add(id);
            var node = nodes[id];
            if (!IsWait(node))
            {
                foreach (var target in node.Targets.OfType<string>().Where(nodes.ContainsKey))
                {
                    if (state.GetValueOrDefault(target) == 1)
                    {
                        var cycle = path[path.IndexOf(target)..];
                        if (reported.Add(target))
                        {
                            add(target, "loopWithoutWait", $"Node '{target}': the loop {string.Join(" → ", cycle.Append(target))} has no wait node; add a wait so a contact cannot cycle without pause.");
                        }
                    }
                    else if (state.GetValueOrDefault(target) == 0)
                    {
                        Visit(target);
                    }
                }
            }

            path.RemoveAt(path.Count - 1);
            state[id] = 2;
        }

        foreach (var id in nodes.Keys.Where(id => state.GetValueOrDefault(id) == 0).ToList())
        {
            Visit(id);
        }
    }
}
