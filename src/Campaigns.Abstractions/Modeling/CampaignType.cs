namespace Campaigns.Modeling;

/// <summary>The categories of campaign types in the seed catalogue (F-1.1).</summary>
public enum CampaignCategory
{
    /// <summary>Hosted by the brand for internal staff (training, kick-offs, annual meeting).</summary>
    BrandHostedInternal = 0,

    /// <summary>Hosted by the brand for customers (offline seminar, live stream, large launch).</summary>
    BrandHostedExternal = 1,

    /// <summary>Co-hosted with others (industry exchange, expert seminar).</summary>
    CoHosted = 2,

    /// <summary>The brand takes part in someone else's event (exhibition, awards).</summary>
    Participated = 3,

    /// <summary>Pure online promotion (website, e-mail, SMS, content, brand).</summary>
    OnlinePromotion = 4,
}

/// <summary>How often a type of campaign runs.</summary>
public enum CampaignFrequency
{
    /// <summary>Runs often (monthly or more).</summary>
    High = 0,

    /// <summary>Runs rarely (a few times a year).</summary>
    Low = 1,
}

/// <summary>One step of a campaign type's standard process, e.g. "launch approval" or "venue preparation".</summary>
/// <param name="Key">A stable key, e.g. <c>approval</c>.</param>
/// <param name="Name">What people see.</param>
/// <param name="Description">Optional detail.</param>
public sealed record ProcessStep(string Key, string Name, string? Description = null);

/// <summary>
/// A campaign type of the catalogue (F-1.1): its category and sub-kind, traits, standard process,
/// the content its template brings and the template used to create campaigns of this type (F-1.2).
/// </summary>
public sealed record CampaignTypeDefinition
{
    /// <summary>A stable id, e.g. <c>offline-seminar</c>.</summary>
    public required string Id { get; init; }

    /// <summary>What people see, e.g. <c>线下会议</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The category.</summary>
    public required CampaignCategory Category { get; init; }

    /// <summary>The sub-kind, e.g. <c>training</c>, <c>annual-meeting</c>, <c>offline-seminar</c>, <c>live-stream</c>.</summary>
    public required string SubKind { get; init; }

    /// <summary>Examples of the type from the catalogue, e.g. customer exchange, expert seminar, salon.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];

    /// <summary>How often the type runs.</summary>
    public CampaignFrequency Frequency { get; init; }

    /// <summary>Who attends and why, e.g. "targeted invitation of customers".</summary>
    public IReadOnlyList<string> AudienceTraits { get; init; } = [];

    /// <summary>Names of the template content the type brings (approval flow, venue checklist, SOP template, ...).</summary>
    public IReadOnlyList<string> TemplateContent { get; init; } = [];

    /// <summary>What a campaign of this type is created with.</summary>
    public required CampaignTemplate Template { get; init; }
}
