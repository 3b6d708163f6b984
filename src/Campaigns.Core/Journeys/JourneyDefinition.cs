using System.Text.Json.Serialization;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>
/// A journey (automation flow, F-6.4) as data: a trigger, a graph of nodes starting at <see cref="StartNodeId"/>,
/// exit conditions and a re-entry policy. Immutable; serialized with <see cref="JourneyJson"/>. Validate it with
/// <see cref="JourneyValidator"/> before publishing.
/// </summary>
public sealed record JourneyDefinition
{
    /// <summary>The schema version this SDK writes and reads.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>The schema version of the document (<see cref="CurrentSchemaVersion"/>).</summary>
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>The journey's id (ordinal, stable: part of every step's idempotency key and of the A/B hash).</summary>
    public required string Id { get; init; }

    /// <summary>A display name.</summary>
    public string? Name { get; init; }

    /// <summary>The campaign the journey belongs to, when any (carried to its messages).</summary>
    public CampaignId? CampaignId { get; init; }

    /// <summary>What makes a contact enter.</summary>
    public required JourneyTrigger Trigger { get; init; }

    /// <summary>The first node.</summary>
    public required string StartNodeId { get; init; }

    /// <summary>The nodes; ids are unique within the journey.</summary>
    public required IReadOnlyList<JourneyNode> Nodes { get; init; }

    /// <summary>When a contact leaves early.</summary>
    public JourneyExitConditions Exit { get; init; } = new();

    /// <summary>Whether a contact may enter again.</summary>
    public ReEntryPolicy ReEntry { get; init; } = new();

    /// <summary>The IANA zone for local-time waits when the contact has none (else the SDK's default zone).</summary>
    public string? TimeZoneId { get; init; }

    /// <summary>The node with this id, or null.</summary>
    /// <param name="nodeId">The node id (ordinal).</param>
    public JourneyNode? FindNode(string nodeId)
    {
        // A plain loop: called several times per step, and LINQ allocated an enumerator, a delegate and a closure each time.
        var nodes = Nodes;
        for (var i = 0; i < nodes.Count; i++)
        {
            if (string.Equals(nodes[i].Id, nodeId, StringComparison.Ordinal))
            {
                return nodes[i];
            }
        }

        return null;
    }
}

/// <summary>What makes a contact enter a journey. JSON discriminator <c>type</c>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(EventTrigger), "event")]
[JsonDerivedType(typeof(SegmentEntryTrigger), "segmentEntry")]
[JsonDerivedType(typeof(ScheduleTrigger), "schedule")]
[JsonDerivedType(typeof(ApiTrigger), "api")]
public abstract record JourneyTrigger
{
    private protected JourneyTrigger()
    {
    }
}

/// <summary>A behaviour event of a kind enters the contact (e.g. <c>registration</c>), when the contact also matches <paramref name="Where"/>.</summary>
/// <param name="EventKind">The event kind (see <c>EventKinds</c>).</param>
/// <param name="Where">A condition on the contact at the event, or null for every contact.</param>
public sealed record EventTrigger(string EventKind, Filter? Where = null) : JourneyTrigger;

/// <summary>Entering a segment enters the contact; the segment engine (or host) calls <see cref="JourneyRunner.OnSegmentEnteredAsync"/>.</summary>
/// <param name="SegmentId">The segment's id.</param>
public sealed record SegmentEntryTrigger(string SegmentId) : JourneyTrigger;

/// <summary>
/// At each occurrence of a schedule (e.g. a cron <c>0 9 * * *</c>: every day 09:00), every contact matching
/// <paramref name="Audience"/> enters (e.g. yesterday's new leads: <c>created_at within 1d</c>).
/// </summary>
/// <param name="Schedule">When; absolute and cron schedules (relative ones need a campaign context and are refused).</param>
/// <param name="Audience">Who; null for every contact.</param>
public sealed record ScheduleTrigger(ScheduleSpec Schedule, Filter? Audience = null) : JourneyTrigger;

/// <summary>Contacts enter only when the host calls <see cref="JourneyRunner.EnterAsync"/>.</summary>
public sealed record ApiTrigger : JourneyTrigger;

/// <summary>When a contact leaves a journey early. Checked before every step and when events arrive.</summary>
public sealed record JourneyExitConditions
{
    /// <summary>A goal event kind (e.g. <c>purchase</c>): the run exits when the contact has such an event after entering.</summary>
    public string? GoalEventKind { get; init; }

    /// <summary>The run exits once this many messages were sent to the contact in it (e.g. 3), or null.</summary>
    public int? MaxTouches { get; init; }

    /// <summary>The run exits at the first step at or after this instant (the campaign's end date), or null.</summary>
    public Instant? EndsAt { get; init; }
}

/// <summary>Whether a contact may enter a journey again. A contact never has two active runs of one journey.</summary>
public sealed record ReEntryPolicy
{
    /// <summary>Whether a contact whose run ended may enter again.</summary>
    public bool Allowed { get; init; }

    /// <summary>With <see cref="Allowed"/>: the least time between the end of a run and the next entry, or null for none.</summary>
    public Duration? Cooldown { get; init; }
}

/// <summary>A node of a journey. JSON discriminator <c>type</c>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(SendMessageNode), "sendMessage")]
[JsonDerivedType(typeof(AddTagNode), "addTag")]
[JsonDerivedType(typeof(RemoveTagNode), "removeTag")]
[JsonDerivedType(typeof(ChangeScoreNode), "changeScore")]
[JsonDerivedType(typeof(AssignLeadNode), "assignLead")]
[JsonDerivedType(typeof(NotifySalesNode), "notifySales")]
[JsonDerivedType(typeof(CallWebhookNode), "callWebhook")]
[JsonDerivedType(typeof(UpdateAttributeNode), "updateAttribute")]
[JsonDerivedType(typeof(WaitNode), "wait")]
[JsonDerivedType(typeof(WaitUntilNode), "waitUntil")]
[JsonDerivedType(typeof(WaitForEventNode), "waitForEvent")]
[JsonDerivedType(typeof(ConditionNode), "condition")]
[JsonDerivedType(typeof(SplitNode), "split")]
[JsonDerivedType(typeof(ExitNode), "exit")]
public abstract record JourneyNode
{
    private protected JourneyNode()
    {
    }

    /// <summary>The node's id, unique within the journey (ordinal).</summary>
    public required string Id { get; init; }

    /// <summary>The nodes this one may lead to, in order (null entries are missing targets).</summary>
    [JsonIgnore]
    public abstract IReadOnlyList<string?> Targets { get; }
}

/// <summary>A node that does one thing and goes on to <see cref="Next"/> (the end of the journey when null).</summary>
public abstract record JourneyActionNode : JourneyNode
{
    private protected JourneyActionNode()
    {
    }

    /// <summary>The next node, or null to complete the journey after this one.</summary>
    public string? Next { get; init; }

    /// <inheritdoc />
    public override IReadOnlyList<string?> Targets => Next is null ? [] : [Next];
}

/// <summary>A node that sends a message through the delivery pipeline (consent, caps, windows, idempotency); counts as a touch.</summary>
public abstract record JourneyMessageNode : JourneyActionNode
{
    private protected JourneyMessageNode()
    {
    }

    /// <summary>The channel instance name (e.g. <c>sms</c>, <c>email</c>).</summary>
    public required string Channel { get; init; }

    /// <summary>The template's id, resolved through <see cref="IJourneyTemplateResolver"/>.</summary>
    public required string TemplateId { get; init; }

    /// <summary>
    /// Fixed variable values (e.g. <c>link</c>); the contact's <c>name</c> and text-like attributes are added as
    /// variables of the same names unless given here.
    /// </summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>Sends a message to the contact.</summary>
public sealed record SendMessageNode : JourneyMessageNode;

/// <summary>Notifies the contact's owner (sales) through a channel; not counted as a touch of the contact.</summary>
public sealed record NotifySalesNode : JourneyMessageNode
{
    /// <summary>The address to notify (e.g. a WeCom user id), or null for the contact's <c>OwnerId</c>.</summary>
    public string? Recipient { get; init; }
}

/// <summary>Calls a webhook through a webhook channel, with the contact as the payload; not counted as a touch.</summary>
public sealed record CallWebhookNode : JourneyMessageNode
{
    /// <summary>The URL to call.</summary>
    public required Uri Url { get; init; }
}

/// <summary>Tags the contact (tag source <c>Campaign</c>).</summary>
public sealed record AddTagNode : JourneyActionNode
{
    /// <summary>The tag.</summary>
    public required string Tag { get; init; }
}

/// <summary>Removes a tag from the contact.</summary>
public sealed record RemoveTagNode : JourneyActionNode
{
    /// <summary>The tag.</summary>
    public required string Tag { get; init; }
}

/// <summary>Adds to (or, negative, subtracts from) the contact's behaviour score.</summary>
public sealed record ChangeScoreNode : JourneyActionNode
{
    /// <summary>The change in points.</summary>
    public required decimal Delta { get; init; }
}

/// <summary>Assigns the contact (lead) to an owner.</summary>
public sealed record AssignLeadNode : JourneyActionNode
{
    /// <summary>The owner's user id.</summary>
    public required string OwnerId { get; init; }
}

/// <summary>Sets (or, with a null value, clears) an attribute of the contact.</summary>
public sealed record UpdateAttributeNode : JourneyActionNode
{
    /// <summary>The attribute's name.</summary>
    public required string Field { get; init; }

    /// <summary>The value, or null to clear.</summary>
    public FieldValue? Value { get; init; }
}

/// <summary>Waits a fixed elapsed time (e.g. 2 days = 48 hours), then goes on.</summary>
public sealed record WaitNode : JourneyActionNode
{
    /// <summary>How long (elapsed time, not calendar days; positive).</summary>
    public required Duration Duration { get; init; }
}

/// <summary>
/// Waits until the next local time <see cref="At"/> in the contact's zone (strictly after the node is reached), on one
/// of <see cref="Days"/> when given; DST gaps and overlaps resolve by the SDK's one policy.
/// </summary>
public sealed record WaitUntilNode : JourneyActionNode
{
    /// <summary>The local time of day (e.g. 08:00).</summary>
    public required LocalTime At { get; init; }

    /// <summary>The allowed days of the week; empty for every day.</summary>
    public IReadOnlyList<IsoDayOfWeek> Days { get; init; } = [];
}

/// <summary>Waits for an event of a kind (e.g. <c>email_open</c>) for at most <see cref="Timeout"/>.</summary>
public sealed record WaitForEventNode : JourneyNode
{
    /// <summary>The event kind.</summary>
    public required string EventKind { get; init; }

    /// <summary>How long to wait (elapsed time; positive).</summary>
    public required Duration Timeout { get; init; }

    /// <summary>The node when the event arrives in time.</summary>
    public string? OnEvent { get; init; }

    /// <summary>The node when the timeout passes first.</summary>
    public string? OnTimeout { get; init; }

    /// <inheritdoc />
    public override IReadOnlyList<string?> Targets => [OnEvent, OnTimeout];
}

/// <summary>Branches on a condition in the shared filter language, evaluated on the contact and its events when reached.</summary>
public sealed record ConditionNode : JourneyNode
{
    /// <summary>The condition.</summary>
    public required Filter Condition { get; init; }

    /// <summary>The node when it matches.</summary>
    public string? Then { get; init; }

    /// <summary>The node when it does not.</summary>
    public string? Else { get; init; }

    /// <inheritdoc />
    public override IReadOnlyList<string?> Targets => [Then, Else];
}

/// <summary>
/// Splits contacts by weight (A/B test, holdout) by a deterministic hash of journey id, node id and contact id: a
/// contact always lands in the same arm, across restarts and hosts.
/// </summary>
public sealed record SplitNode : JourneyNode
{
    /// <summary>The arms (two or more), in order.</summary>
    public required IReadOnlyList<SplitArm> Arms { get; init; }

    /// <inheritdoc />
    public override IReadOnlyList<string?> Targets => [.. Arms.Where(a => !a.Holdout).Select(a => a.Next)];
}

/// <summary>One arm of a split.</summary>
/// <param name="Name">The arm's name (e.g. <c>A</c>, <c>B</c>, <c>holdout</c>).</param>
/// <param name="Weight">Its relative weight (positive; e.g. 45, 45, 10).</param>
/// <param name="Next">The node for its contacts; null only for a holdout.</param>
/// <param name="Holdout">Whether its contacts exit the journey here (a control group; exit reason <c>holdout</c>).</param>
public sealed record SplitArm(string Name, int Weight, string? Next = null, bool Holdout = false);

/// <summary>Ends the run here (status exited, reason given).</summary>
public sealed record ExitNode : JourneyNode
{
    /// <summary>The exit reason recorded on the run.</summary>
    public string Reason { get; init; } = "exit node";

    /// <inheritdoc />
    public override IReadOnlyList<string?> Targets => [];
}
