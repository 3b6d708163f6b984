using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tags;

/// <summary>The four dimensions of a tag system (F-3.1, seed 002): 基础属性, 行为特征, 需求偏好, 价值层级.</summary>
public enum TagDimension
{
    /// <summary>Basic attributes (基础属性): industry, region, company size.</summary>
    BasicAttributes = 0,

    /// <summary>Behaviour (行为特征): recent visits, content viewed, interactions.</summary>
    Behaviour = 1,

    /// <summary>Needs and preferences (需求偏好): products of interest, budget range.</summary>
    NeedsPreferences = 2,

    /// <summary>Value tier (价值层级): customer value, lifecycle stage.</summary>
    ValueTier = 3,
}

/// <summary>
/// How often a tag is expected to be refreshed (F-3.4, seed 002: 实时, 每日凌晨, 每周, 每月). Rule-based tags are
/// re-evaluated on every relevant change and at the instants time changes their result, whatever this says; the
/// frequency documents the tag and sets how long a tag may go without being (re)assigned before the usage report
/// calls it stale.
/// </summary>
public enum TagUpdateFrequency
{
    /// <summary>Real time (实时).</summary>
    Realtime = 0,

    /// <summary>Daily (每日).</summary>
    Daily = 1,

    /// <summary>Weekly (每周).</summary>
    Weekly = 2,

    /// <summary>Monthly (每月).</summary>
    Monthly = 3,
}

/// <summary>
/// A tag of a group (F-3.1–F-3.4): a fixed name or a naming template, and either manual (no
/// <see cref="Condition"/>) or rule-based (a <see cref="Condition"/> in the one filter language).
/// </summary>
public sealed record TagDefinition
{
    /// <summary>A stable id, unique across the catalog, e.g. <c>product-interest</c>. Rule tags on contacts carry <c>tag-rule:{Id}</c> as <see cref="Contacts.ContactTag.AssignedBy"/>.</summary>
    public required string Id { get; init; }

    /// <summary>
    /// The tag's name, or a naming template such as <c>意向产品: {product}</c> (see <see cref="Contacts.TagNameTemplate"/>).
    /// For rule tags, each placeholder names a contact attribute of the schema and is filled with the contact's value
    /// (list values joined with <c>、</c>); a contact missing a value does not get the tag.
    /// </summary>
    public required string Name { get; init; }

    /// <summary>What the tag means, e.g. "consulted a product at least twice in 30 days".</summary>
    public string? Description { get; init; }

    /// <summary>The rule: the tag is on a contact exactly while the condition holds (evaluated with <see cref="FilterEvaluator"/>); null for a manual tag.</summary>
    public Filter? Condition { get; init; }

    /// <summary>How often the tag is expected to be refreshed.</summary>
    public TagUpdateFrequency UpdateFrequency { get; init; } = TagUpdateFrequency.Realtime;

    /// <summary>Who is responsible for the tag (a user id or role, e.g. <c>sales</c>, <c>system</c>).</summary>
    public string? Owner { get; init; }

    /// <summary>
    /// How long the tag lasts once put on (an exact duration), or null for as long as it applies. For a rule tag
    /// the contact's tag expires at the earlier of this and the instant the condition stops holding.
    /// </summary>
    public Duration? Validity { get; init; }

    /// <summary>Whether the rule is active; a disabled rule's tags are removed from contacts when they are next evaluated.</summary>
    public bool Enabled { get; init; } = true;
}

/// <summary>A group of tags (F-3.1), e.g. 所属行业 or 关注产品. Its id is written to <see cref="Contacts.ContactTag.Group"/>.</summary>
public sealed record TagGroupDefinition
{
    /// <summary>A stable id, unique across the catalog, e.g. <c>industry</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The display name.</summary>
    public required string Name { get; init; }

    /// <summary>The tags.</summary>
    public IReadOnlyList<TagDefinition> Tags { get; init; } = [];
}

/// <summary>A tag model (F-3.1): one dimension of the tag system with its groups.</summary>
public sealed record TagModel
{
    /// <summary>A stable id, e.g. <c>behaviour</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The display name, e.g. 行为特征.</summary>
    public required string Name { get; init; }

    /// <summary>The dimension.</summary>
    public TagDimension Dimension { get; init; }

    /// <summary>The groups.</summary>
    public IReadOnlyList<TagGroupDefinition> Groups { get; init; } = [];
}

/// <summary>One row of the tag usage report (F-3.4).</summary>
/// <param name="TagId">The definition's id.</param>
/// <param name="Name">The definition's name or template.</param>
/// <param name="GroupId">The group.</param>
/// <param name="Owner">The owner.</param>
/// <param name="Contacts">How many contacts carry a current tag of this definition.</param>
/// <param name="LastAssignedAt">When it was last put on any contact (current or not), or null when never.</param>
/// <param name="Unused">No contact carries it.</param>
/// <param name="Stale">It is carried, but nothing was (re)assigned for longer than its staleness limit.</param>
public sealed record TagUsage(string TagId, string Name, string GroupId, string? Owner, long Contacts, Instant? LastAssignedAt, bool Unused, bool Stale);

/// <summary>The tag usage report (F-3.4): every defined tag with its use, to review unused and stale tags.</summary>
/// <param name="AsOf">When it was made.</param>
/// <param name="Tags">One row per tag definition, in catalog order.</param>
public sealed record TagUsageReport(Instant AsOf, IReadOnlyList<TagUsage> Tags)
{
    /// <summary>The tags no contact carries.</summary>
    public IEnumerable<TagUsage> Unused => Tags.Where(t => t.Unused);

    /// <summary>The tags not refreshed for too long.</summary>
    public IEnumerable<TagUsage> Stale => Tags.Where(t => t.Stale);
}
