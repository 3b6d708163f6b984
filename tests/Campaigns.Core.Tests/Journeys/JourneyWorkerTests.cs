using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>The hosted journey worker (AddJourneyWorker) on a fake time provider: start, due timers, sleep, stop.</summary>
public sealed class JourneyWorkerTests
{
    /// <summary>An <see cref="IClock"/> that reads the fake time provider, so the worker's clock and its sleeps agree.</summary>
    private sealed class ProviderClock(TimeProvider time) : IClock
    {
        public Instant GetCurrentInstant() => Instant.FromDateTimeOffset(time.GetUtcNow());
    }

    private sealed class Signal : IJourneyObserver, IDisposable
    {
        private readonly SemaphoreSlim _steps = new(0);

        public List<JourneyStep> Steps { get; } = [];

        public ValueTask OnStepAsync(JourneyStep journeyStep, CancellationToken cancellationToken)
        {
            lock (Steps)
            {
                Steps.Add(journeyStep);
            }

            _steps.Release();
            return ValueTask.CompletedTask;
        }

        /// <summary>Waits (liveness guard only, not a timing assertion) until a step of the kind is seen.</summary>
        public async Task<JourneyStep> WaitForAsync(JourneyStepKind kind, string nodeId)
        {
            for (var i = 0; i < 100; i++)
            {
                lock (Steps)
                {
                    if (Steps.FirstOrDefault(s => s.Kind == kind && s.NodeId == nodeId) is { } found)
                    {
                        return found;
                    }
                }

                Assert.True(await _steps.WaitAsync(TimeSpan.FromSeconds(30)), $"no {kind} step at '{nodeId}'");
            }

            throw new InvalidOperationException("too many steps");
        }

        public void Dispose() => _steps.Dispose();
    }

    [Fact]
    public async Task The_worker_processes_due_timers_sleeps_until_the_next_due_instant_and_stops_on_cancellation()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 17, 2, 0, 0, TimeSpan.Zero));
        var email = new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });
        using var signal = new Signal();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<IClock>(new ProviderClock(time));
        services.AddSingleton<IJourneyObserver>(signal);
        services.AddSingleton<IJourneyTemplateResolver>(new InMemoryJourneyTemplates()
            .Add("welcome", new MessageTemplate("{name}, welcome!", subject: "Welcome"))
            .Add("final", new MessageTemplate("{name}, last chance", subject: "Last chance")));
        services.AddLogging();
        services.AddCampaigns(o => o.Delivery.Channels["email"] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } })
            .AddChannel("email", (_, _) => email)
            .AddJourneyWorker(o => o.PollInterval = TimeSpan.FromDays(7)); // longer than the wait: the worker must wake at the due instant
        await using var sp = services.BuildServiceProvider();
        var runner = sp.GetRequiredService<JourneyRunner>();
        var now = sp.GetRequiredService<IClock>().GetCurrentInstant();
        runner.Catalog.Publish(
            new JourneyDefinition
            {
                Id = "two-mails",
                Name = "Two mails",
                Trigger = new ApiTrigger(),
                StartNodeId = "welcome",
                Nodes =
                [
                    new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait" },
                    new WaitNode { Id = "wait", Duration = Duration.FromDays(1), Next = "final" },
                    new SendMessageNode { Id = "final", Channel = "email", TemplateId = "final" },
                ],
            },
            new JourneyValidationContext { Channels = sp.GetRequiredService<IChannelRegistry>(), Templates = sp.GetRequiredService<IJourneyTemplateResolver>() },
            now);
        var contact = await sp.GetRequiredService<IContactStore>().AddAsync(new Contact
        {
            Id = ContactId.New(),
            Name = "Ann",
            CreatedAt = now,
            TimeZoneId = "Asia/Shanghai",
            Identities = new ContactIdentities { Email = "ann@example.com" },
            Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", now) },
        });
        await runner.EnterAsync("two-mails", contact.Id);

        var worker = Assert.Single(sp.GetServices<IHostedService>().OfType<JourneyWorker>());
        using var stop = new CancellationTokenSource();
        await worker.StartAsync(stop.Token);

        // Ready at once: the due step runs without any time passing.
        var sent = await signal.WaitForAsync(JourneyStepKind.Sent, "welcome");
        Assert.Equal(now, sent.At);
        var waiting = await signal.WaitForAsync(JourneyStepKind.Waiting, "wait");
        Assert.Equal(now + Duration.FromDays(1), waiting.DueAt);

        // The worker sleeps until the timer's instant (not the 7-day poll): advancing exactly one day wakes it.
        time.Advance(TimeSpan.FromDays(1));
        var final = await signal.WaitForAsync(JourneyStepKind.Sent, "final");
        Assert.Equal(now + Duration.FromDays(1), final.At);
        await signal.WaitForAsync(JourneyStepKind.Completed, "final");
        Assert.Equal(2, email.Accepted.Count);

        // Stops cleanly on cancellation, without an error.
        await stop.CancelAsync();
        await worker.StopAsync(CancellationToken.None);
        Assert.True(worker.ExecuteTask!.IsCompletedSuccessfully);
    }
}
