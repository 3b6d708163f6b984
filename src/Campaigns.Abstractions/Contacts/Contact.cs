using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>The ways a contact is known (F-2.1). Every identity is optional; at least one is needed to find the contact again.</summary>
public sealed record ContactIdentities
{
    /// <summary>The phone number in E.164 form, e.g. <c>+8613800138000</c>.</summary>
    public string? Phone { get; init; }

    /// <summary>The e-mail address, normalized (trimmed, lower-case).</summary>
    public string? Email { get; init; }

    /// <summary>The WeChat official-account openid.</summary>
    public string? WeChatOpenId { get; init; }

    /// <summary>The WeChat unionid (stable across the company's WeChat apps).</summary>
    public string? WeChatUnionId { get; init; }

    /// <summary>The WeCom (enterprise WeChat) external user id.</summary>
    public string? WeComExternalUserId { get; init; }

    /// <summary>The id of the contact in the host's CRM.</summary>
    public string? CrmId { get; init; }

    /// <summary>
    /// Further phone numbers (E.164) the contact is known by, e.g. a second number met when two import rows were
    /// merged. Indexed like <see cref="Phone"/>: finding by any of them finds the contact.
    /// </summary>
    public IReadOnlyList<string> AdditionalPhones { get; init; } = [];

    /// <summary>Further e-mail addresses (normalized) the contact is known by; indexed like <see cref="Email"/>.</summary>
    public IReadOnlyList<string> AdditionalEmails { get; init; } = [];
}

/// <summary>The kinds of identity a contact can be found by (F-2.1).</summary>
public enum IdentityKind
{
    /// <summary>A phone number in E.164 form (<see cref="ContactIdentities.Phone"/> or one of <see cref="ContactIdentities.AdditionalPhones"/>).</summary>
    Phone = 0,

    /// <summary>A normalized e-mail address (<see cref="ContactIdentities.Email"/> or one of <see cref="ContactIdentities.AdditionalEmails"/>).</summary>
    Email = 1,

    /// <summary>A WeChat official-account openid.</summary>
    WeChatOpenId = 2,

    /// <summary>A WeChat unionid.</summary>
    WeChatUnionId = 3,

    /// <summary>A WeCom external user id.</summary>
    WeComExternalUserId = 4,

    /// <summary>A CRM id.</summary>
    CrmId = 5,
}

/// <summary>
/// A data-quality problem found on a contact (F-2.3): a value that was given but could not be used, kept here so that
/// it is never silently dropped (the seed's "invalid phone format marked red").
/// </summary>
/// <param name="Field">What the value was for: an identity (<c>phone</c>, <c>email</c>, ...) or <c>attributes.NAME</c>.</param>
/// <param name="Value">The value as given.</param>
/// <param name="Code">A stable code, e.g. <c>invalid-phone</c>, <c>invalid-email</c>, <c>invalid-attribute</c>, <c>identity-conflict</c>.</param>
/// <param name="Reason">A sentence saying what was wrong.</param>
/// <param name="At">When it was found.</param>
/// <param name="Source">Where the value came from, e.g. <c>import customers.csv row 17</c>; null when unknown.</param>
public sealed record DataQualityFlag(string Field, string Value, string Code, string Reason, Instant At, string? Source = null);

/// <summary>The lifecycle stages of a contact (F-2.4).</summary>
public enum LifecycleStage
{
    /// <summary>Newly known.</summary>
    New = 0,

    /// <summary>Marketing-qualified lead.</summary>
    Mql = 1,

    /// <summary>Sales-qualified lead.</summary>
    Sql = 2,

    /// <summary>An open opportunity.</summary>
    Opportunity = 3,

    /// <summary>A paying customer.</summary>
    Customer = 4,

    /// <summary>A customer who left.</summary>
    Churned = 5,
}

/// <summary>One change of lifecycle stage.</summary>
/// <param name="From">The stage before.</param>
/// <param name="To">The stage after.</param>
/// <param name="At">When.</param>
/// <param name="Reason">Why, e.g. "score reached 20" or "manual".</param>
/// <param name="ActorId">Who changed it, or null for the SDK's rules.</param>
public sealed record StageChange(LifecycleStage From, LifecycleStage To, Instant At, string? Reason = null, string? ActorId = null);

/// <summary>Consent for one channel (F-2.1, F-9.3): granted or withdrawn, where it came from and when.</summary>
/// <param name="Granted">Whether the contact may be messaged on the channel.</param>
/// <param name="Source">Where the consent came from, e.g. "registration form", "unsubscribe link".</param>
/// <param name="At">When it was given or withdrawn.</param>
public sealed record ConsentRecord(bool Granted, string Source, Instant At);

/// <summary>How a tag came to a contact.</summary>
public enum TagSource
{
    /// <summary>Put on by a person.</summary>
    Manual = 0,

    /// <summary>Put on by a tag rule.</summary>
    Rule = 1,

    /// <summary>Put on by an import.</summary>
    Import = 2,

    /// <summary>Put on by a campaign (registration, check-in, ...).</summary>
    Campaign = 3,
}

/// <summary>A tag on a contact (F-3.3): which tag, its group, who or what put it on, when, and until when.</summary>
public sealed record ContactTag
{
    /// <summary>The tag's name, e.g. <c>报名活动: 2026-05-20+上海+数字化工厂</c> or <c>high-intent</c>.</summary>
    public required string Tag { get; init; }

    /// <summary>The tag group, e.g. <c>campaign-registration</c>; null when ungrouped.</summary>
    public string? Group { get; init; }

    /// <summary>How it came.</summary>
    public TagSource Source { get; init; }

    /// <summary>Who put it on (a user id or a rule id).</summary>
    public string? AssignedBy { get; init; }

    /// <summary>When it was put on.</summary>
    public required Instant AssignedAt { get; init; }

    /// <summary>When it stops applying, or null for never.</summary>
    public Instant? ExpiresAt { get; init; }

    /// <summary>The campaign it records, when it came from one (F-3.5: a contact keeps every campaign's tag).</summary>
    public CampaignId? CampaignId { get; init; }
}

/// <summary>
/// A contact's scores as of an instant (F-4): behaviour points (decayed to <see cref="AsOf"/>), fit points and the grade.
/// Maintained by the scoring engine; read by segments and journeys.
/// </summary>
/// <param name="Behaviour">Behaviour score, decayed to <paramref name="AsOf"/>.</param>
/// <param name="Fit">Profile (fit) score.</param>
/// <param name="Grade">Fit grade, e.g. <c>A</c>..<c>D</c>, or null.</param>
/// <param name="AsOf">When the behaviour score was computed.</param>
public sealed record ContactScores(decimal Behaviour, decimal Fit, string? Grade, Instant AsOf)
{
    /// <summary>Behaviour plus fit.</summary>
    public decimal Total => Behaviour + Fit;
}

/// <summary>
/// A contact (F-2.1): identities, typed attributes (declared in an attribute schema), consent per channel,
/// time zone, owner, lifecycle stage with history, tags and scores. Immutable; stores keep it with an optimistic
/// <see cref="Version"/>.
/// </summary>
public sealed record Contact
{
    /// <summary>The id.</summary>
    public required ContactId Id { get; init; }

    /// <summary>The identities.</summary>
    public ContactIdentities Identities { get; init; } = new();

    /// <summary>The display name.</summary>
    public string? Name { get; init; }

    /// <summary>Attribute values by attribute name (industry, region, company size, budget, ...), typed as declared in the attribute schema.</summary>
    public IReadOnlyDictionary<string, FieldValue> Attributes { get; init; } = new Dictionary<string, FieldValue>();

    /// <summary>Consent by channel name (e.g. <c>email</c>, <c>sms</c>, <c>wechat</c>). No entry means no consent.</summary>
    public IReadOnlyDictionary<string, ConsentRecord> Consents { get; init; } = new Dictionary<string, ConsentRecord>();

    /// <summary>The contact's IANA time zone, or null to use the default of the options.</summary>
    public string? TimeZoneId { get; init; }

    /// <summary>The user id of the salesperson who owns the contact, or null.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The lifecycle stage.</summary>
    public LifecycleStage Stage { get; init; }

    /// <summary>Every stage change, oldest first.</summary>
    public IReadOnlyList<StageChange> StageHistory { get; init; } = [];

    /// <summary>The tags on the contact.</summary>
    public IReadOnlyList<ContactTag> Tags { get; init; } = [];

    /// <summary>Data-quality problems found on the contact's data (invalid phone or e-mail, unusable attribute values), oldest first.</summary>
    public IReadOnlyList<DataQualityFlag> QualityFlags { get; init; } = [];

    /// <summary>The scores, or null before any scoring.</summary>
    public ContactScores? Scores { get; init; }

    /// <summary>When the contact was created.</summary>
    public required Instant CreatedAt { get; init; }

    /// <summary>The optimistic concurrency version: 0 before it is first stored.</summary>
    public long Version { get; init; }
}
