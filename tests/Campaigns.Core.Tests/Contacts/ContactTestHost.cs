using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Contacts;

/// <summary>A real service provider with a fake clock and a recording listener.</summary>
internal sealed class ContactTestHost : IDisposable
{
    public ContactTestHost(Action<CampaignsOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(Clock);
        services.AddSingleton<IContactChangeListener>(Listener);
        services.AddCampaigns(o => configure?.Invoke(o));
        Provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeClock Clock { get; } = new(Instant.FromUtc(2026, 5, 20, 2, 0));

    public RecordingListener Listener { get; } = new();

    public ServiceProvider Provider { get; }

    public IContactService Contacts => Provider.GetRequiredService<IContactService>();

    public IContactEvents Events => Provider.GetRequiredService<IContactEvents>();

    public IContactStore Store => Provider.GetRequiredService<IContactStore>();

    public IEventStore EventStore => Provider.GetRequiredService<IEventStore>();

    public IContactImporter Importer => Provider.GetRequiredService<IContactImporter>();

    public Task<Contact> CreateAsync(string phone = "13800138000", string? email = null) =>
        Contacts.CreateAsync(new ContactDraft { Identities = new ContactIdentities { Phone = phone, Email = email }, Name = "Ann" });

    public void Dispose() => Provider.Dispose();
}

internal sealed class RecordingListener : IContactChangeListener
{
    private readonly Lock _gate = new();

    public List<ContactChange> Changes { get; } = [];

    public List<BehaviourEvent> Events { get; } = [];

    public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Changes.Add(change);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Events.Add(behaviourEvent);
        }

        return ValueTask.CompletedTask;
    }
}
