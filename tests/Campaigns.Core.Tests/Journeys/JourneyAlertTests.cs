using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>A delivery failure-rate alert on a journey's send step pauses the journey; resuming continues it.</summary>
public sealed class JourneyAlertTests
{
    private static JourneyDefinition TwoMails() => new()
    {
        Id = "onboarding",
        Name = "Onboarding",
        Trigger = new ApiTrigger(),
        StartNodeId = "welcome",
        Nodes =
        [
            new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait" },
            new WaitNode { Id = "wait", Duration = Duration.FromDays(1), Next = "final" },
            new SendMessageNode { Id = "final", Channel = "email", TemplateId = "final" },
        ],
    };

    private static JourneyHarness Harness(bool pauseJourney = true) => new(
        delivery: d => d.Alert = new DeliveryAlertOptions { FailureRateThreshold = 0.2, MinimumSamples = 5, PauseTask = true },
        journeys: o => o.PauseOnDeliveryAlert = pauseJourney);

    [Fact]
    public async Task An_alert_on_a_send_step_pauses_the_journey_until_it_is_resumed()
    {
        using var h = Harness();
        h.Publish(TwoMails());
        var contacts = new List<Campaigns.Contacts.Contact>();
        for (var i = 0; i < 10; i++)
        {
            contacts.Add(await h.AddContactAsync($"C{i}"));
            await h.Runner.EnterAsync("onboarding", contacts[^1].Id);
        }

        h.State.Email.FailNext(5, DeliveryFailureReason.ProviderError, retryable: false);
        await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 50);

        // Five failures of five samples (100 % > 20 %): the alert paused the journey before the other five were sent.
        Assert.Equal(JourneyState.Paused, h.Runner.Catalog.GetState("onboarding"));
        Assert.Equal(5, h.State.Email.Sends.Count);
        var change = Assert.Single(h.Log.StateChanges);
        Assert.Equal(("onboarding", JourneyState.Paused), (change.JourneyId, change.State));
        Assert.Equal("journey/onboarding/welcome", change.Alert!.TaskId);
        Assert.Contains("failure rate 100.0 % above 20.0 %", change.Reason, StringComparison.Ordinal);

        // Paused: nothing advances, however long we wait, and no one enters.
        h.Clock.Advance(Duration.FromMinutes(5));
        Assert.Equal(0, await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 50));
        Assert.Null(await h.Runner.EnterAsync("onboarding", (await h.AddContactAsync("Late")).Id));
        Assert.Equal(5, h.State.Email.Sends.Count);

        // Resumed (the task too): the five that waited get their welcome, once each.
        await h.Runner.ResumeJourneyAsync("onboarding", "provider fixed");
        await h.DriveAsync(h.Clock.GetCurrentInstant() + Duration.FromHours(1));
        Assert.Equal(10, h.State.Email.Sends.Count);
        Assert.Equal(5, h.State.Email.Accepted.Count);
        Assert.Equal(JourneyState.Active, h.Log.StateChanges.Last().State);
        var record = await h.Get<IExecutionRecords>().GetAsync("journey/onboarding/welcome", default);
        Assert.False(record!.IsPaused);
        Assert.Equal(5, record.Sent);
    }

    [Fact]
    public async Task With_the_option_off_only_the_sending_task_pauses()
    {
        using var h = Harness(pauseJourney: false);
        h.Publish(TwoMails());
        for (var i = 0; i < 10; i++)
        {
            await h.Runner.EnterAsync("onboarding", (await h.AddContactAsync($"D{i}")).Id);
        }

        h.State.Email.FailNext(5, DeliveryFailureReason.ProviderError, retryable: false);
        await h.Runner.RunDueAsync(h.Clock.GetCurrentInstant(), 50);

        Assert.Equal(JourneyState.Active, h.Runner.Catalog.GetState("onboarding"));
        Assert.Empty(h.Log.StateChanges);
        Assert.Equal(5, h.Log.Steps.Count(s => s.Kind == JourneyStepKind.Deferred && s.Detail == "the sending task is paused"));
    }
}
