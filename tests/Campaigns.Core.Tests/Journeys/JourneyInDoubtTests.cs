using Campaigns.Channels;
using Campaigns.Delivery;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>A journey step whose send is in doubt (its host died between the provider's accept and the record).</summary>
public sealed class JourneyInDoubtTests
{
    private static readonly Instant T0 = JourneyHarness.T0;

    [Fact]
    public async Task An_unknown_send_on_an_at_most_once_channel_is_a_touch_and_the_journey_goes_on()
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004());
        var ann = await h.AddContactAsync("Ann");
        var run = await h.Runner.EnterAsync("welcome-flow", ann.Id);

        // The dead host: it claimed the welcome step's key and the provider accepted the message; then it was killed.
        var key = $"journey/welcome-flow/{ann.Id}/{run!.RunNumber}/welcome/{run.Step}";
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await h.State.Idempotency.TryClaimAsync(key, T0, Duration.FromMinutes(5), default)).Status);
        await h.State.Email.SendAsync(new ChannelMessage(key, "ann@example.com", "Ann, welcome!"), default);
        h.Clock.Advance(Duration.FromMinutes(6));

        await h.DriveAsync(T0 + Duration.FromDays(1));

        var step = Assert.Single(h.Log.Steps, s => s.NodeId == "welcome");
        Assert.Equal(JourneyStepKind.Unknown, step.Kind);
        Assert.Contains("neither honours idempotency keys nor can be asked", step.Detail, StringComparison.Ordinal);
        Assert.Single(h.State.Email.Sends);                                       // not sent again
        var after = await h.Store.GetLatestAsync("welcome-flow", ann.Id);
        Assert.Equal((1, "wait-2d"), (after!.Touches, after.NodeId));             // counted as a touch; the flow went on
    }

    [Fact]
    public async Task A_step_whose_send_times_out_waits_for_the_keys_lease_and_is_then_resolved_not_resent()
    {
        using var h = new JourneyHarness();
        h.Publish(JourneyHarness.Seed004());
        var ann = await h.AddContactAsync("Ann");
        await h.Runner.EnterAsync("welcome-flow", ann.Id);
        h.State.Email.FailNext(1, DeliveryFailureReason.Timeout); // the provider may have accepted it

        await h.DriveAsync(T0 + Duration.FromDays(1));

        var deferred = h.Log.Steps.Where(s => s.NodeId == "welcome" && s.Kind == JourneyStepKind.Deferred).ToList();
        Assert.NotEmpty(deferred);                                                // looked at again until the key's lease expired
        Assert.Contains("in doubt", deferred[0].Detail, StringComparison.Ordinal);
        var resolved = Assert.Single(h.Log.Steps, s => s.NodeId == "welcome" && s.Kind != JourneyStepKind.Deferred);
        Assert.Equal(JourneyStepKind.Unknown, resolved.Kind);                     // at most once: recorded unknown
        Assert.True(resolved.At - T0 >= Duration.FromMinutes(5));                 // not before the idempotency lease (5 min)
        Assert.Single(h.State.Email.Sends);                                       // never called again
    }

    [Fact]
    public async Task With_at_least_once_the_step_is_sent_again()
    {
        using var h = new JourneyHarness(delivery: d => d.Channels["email"].InDoubtPolicy = InDoubtPolicy.AtLeastOnce);
        h.Publish(JourneyHarness.Seed004());
        var ann = await h.AddContactAsync("Ann");
        var run = await h.Runner.EnterAsync("welcome-flow", ann.Id);
        var key = $"journey/welcome-flow/{ann.Id}/{run!.RunNumber}/welcome/{run.Step}";
        await h.State.Idempotency.TryClaimAsync(key, T0, Duration.FromMinutes(5), default);
        h.Clock.Advance(Duration.FromMinutes(6));

        await h.DriveAsync(T0 + Duration.FromDays(1));

        Assert.Equal(JourneyStepKind.Sent, Assert.Single(h.Log.Steps, s => s.NodeId == "welcome").Kind);
        Assert.Single(h.State.Email.Sends);
    }
}
