using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Scoring;

/// <summary>A real service provider (AddCampaigns) with a fake clock and a recording lead-event sink.</summary>
internal sealed class ScoringTestHost : IDisposable
{
    private int _events;

    public ScoringTestHost()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(Clock);
        services.AddSingleton<ILeadEventSink>(Sink);
        services.AddCampaigns();
        Provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeClock Clock { get; } = new(Instant.FromUtc(2026, 5, 20, 2, 0));

    public RecordingSink Sink { get; } = new();

    public ServiceProvider Provider { get; }

    public IContactService Contacts => Provider.GetRequiredService<IContactService>();

    public IContactEvents Events => Provider.GetRequiredService<IContactEvents>();

    public IScoringEngine Scoring => Provider.GetRequiredService<IScoringEngine>();

    public IScoringModelStore Models => Provider.GetRequiredService<IScoringModelStore>();

    public ITagCatalog Tags => Provider.GetRequiredService<ITagCatalog>();

    public ITagEngine TagEngine => Provider.GetRequiredService<ITagEngine>();

    public Task<Contact> CreateAsync(string phone = "13800138000", string? region = null, string? owner = null) =>
        Contacts.CreateAsync(new ContactDraft
        {
            Identities = new ContactIdentities { Phone = phone },
            Name = "Ann",
            OwnerId = owner,
            Attributes = region is null ? new Dictionary<string, Campaigns.Modeling.FieldValue>() : new Dictionary<string, Campaigns.Modeling.FieldValue> { ["region"] = new Campaigns.Modeling.TextValue(region) },
        });

    public async Task<IngestResult> IngestAsync(ContactId contact, string kind, Instant? at = null, params (string Key, string Value)[] properties)
    {
        var id = "e" + Interlocked.Increment(ref _events).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var result = await Events.IngestAsync(new BehaviourEvent
        {
            EventId = id,
            ContactId = contact,
            Kind = kind,
            OccurredAt = at ?? Clock.GetCurrentInstant(),
            Properties = properties.ToDictionary(p => p.Key, p => p.Value),
        });
        Assert.True(result.IsAccepted, result.Reason);
        return result;
    }

    public Task<IngestResult> ProductViewAsync(ContactId contact, Instant? at = null) =>
        IngestAsync(contact, EventKinds.PageView, at, ("page_kind", "product"));

    public async Task<Contact> GetAsync(ContactId id) => await Contacts.GetAsync(id);

    public void Dispose() => Provider.Dispose();
}

internal sealed class RecordingSink : ILeadEventSink
{
    private readonly Lock _gate = new();

    public List<LeadEvent> Events { get; } = [];

    public ValueTask HandleAsync(LeadEvent leadEvent, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Events.Add(leadEvent);
        }

        return ValueTask.CompletedTask;
    }
}
