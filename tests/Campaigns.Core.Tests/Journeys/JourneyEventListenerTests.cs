using Campaigns.Contacts;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Journeys;

/// <summary>The journey listener resolves the runner once (on the first event), not from the provider on every event.</summary>
public sealed class JourneyEventListenerTests
{
    [Fact]
    public async Task The_runner_is_resolved_on_the_first_event_only_and_is_the_providers_singleton()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(new FakeClock(Instant.FromUtc(2026, 6, 17, 2, 0)));
        services.AddCampaigns();
        using var provider = services.BuildServiceProvider();
        var counting = new CountingProvider(provider);
        var listener = new JourneyEventListener(counting);
        Assert.Equal(0, counting.RunnerLookups); // lazily: not in the constructor (the runner depends on the contact services)

        for (var i = 0; i < 3; i++)
        {
            await listener.OnEventIngestedAsync(
                new BehaviourEvent { EventId = $"e{i}", ContactId = ContactId.New(), Kind = EventKinds.PageView, OccurredAt = Instant.FromUtc(2026, 6, 17, 1, 0) },
                CancellationToken.None);
        }

        Assert.Equal(1, counting.RunnerLookups);
        Assert.Same(provider.GetRequiredService<JourneyRunner>(), listener.Runner);
    }

    private sealed class CountingProvider(IServiceProvider inner) : IServiceProvider
    {
        public int RunnerLookups { get; private set; }

        public object? GetService(Type serviceType)
        {
            if (serviceType == typeof(JourneyRunner))
            {
                RunnerLookups++;
            }

            return inner.GetService(serviceType);
        }
    }
}
