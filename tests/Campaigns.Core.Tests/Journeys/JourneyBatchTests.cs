using Campaigns.Contacts;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>The batch paths of the runner: segment entry of many contacts, and a claimed batch spread over workers.</summary>
public sealed class JourneyBatchTests
{
    private static readonly Instant T0 = JourneyHarness.T0;

    private static JourneyDefinition OnSegment(string id, string segment) => new()
    {
        Id = id,
        Name = id,
        Trigger = new SegmentEntryTrigger(segment),
        StartNodeId = "welcome",
        Nodes =
        [
            new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait" },
            new WaitNode { Id = "wait", Duration = Duration.FromDays(2), Next = "reminder" },
            new SendMessageNode { Id = "reminder", Channel = "email", TemplateId = "reminder" },
        ],
    };

    [Fact]
    public async Task Segment_entry_enters_every_active_journey_of_the_segment_once_per_contact()
    {
        using var h = new JourneyHarness();
        h.Publish(OnSegment("a", "hot"));
        h.Publish(OnSegment("b", "hot"));
        h.Publish(OnSegment("paused", "hot"));
        h.Publish(OnSegment("other", "cold"));
        h.Runner.PauseJourney("paused");
        var contacts = new List<ContactId>();
        for (var i = 0; i < 5; i++)
        {
            contacts.Add((await h.AddContactAsync($"C{i}")).Id);
        }

        var missing = ContactId.New(); // not in the contact store: enters nothing
        Assert.Equal(10, await h.Runner.OnSegmentEnteredAsync("hot", [.. contacts, missing]));
        foreach (var id in contacts)
        {
            Assert.Equal(1, (await h.Store.GetLatestAsync("a", id))!.RunNumber);
            Assert.Equal(1, (await h.Store.GetLatestAsync("b", id))!.RunNumber);
            Assert.Null(await h.Store.GetLatestAsync("paused", id));
            Assert.Null(await h.Store.GetLatestAsync("other", id));
        }

        Assert.Null(await h.Store.GetLatestAsync("a", missing));

        // A second entry while the runs are active starts nothing; a resumed journey takes the contacts.
        Assert.Equal(0, await h.Runner.OnSegmentEnteredAsync("hot", contacts));
        h.Runner.ResumeJourney("paused");
        Assert.Equal(5, await h.Runner.OnSegmentEnteredAsync("hot", contacts));
        Assert.Equal(15, h.State.Runs.PendingTimers);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public async Task A_claimed_batch_advances_each_run_once_whatever_the_workers(int parallelism)
    {
        using var h = new JourneyHarness(journeys: o => o.MaxParallelism = parallelism);
        h.Publish(OnSegment("a", "hot"));
        var contacts = new List<ContactId>();
        for (var i = 0; i < 3; i++)
        {
            contacts.Add((await h.AddContactAsync($"C{i}")).Id);
        }

        await h.Runner.OnSegmentEnteredAsync("hot", contacts);
        Assert.Equal(3, await h.Runner.RunDueAsync(T0, 100)); // fewer timers than workers when P = 8
        Assert.Equal(0, await h.Runner.RunDueAsync(T0, 100));
        Assert.Equal(3, h.State.Email.Accepted.Count);
        Assert.Equal(3, h.State.Email.Accepted.Select(m => m.IdempotencyKey).Distinct().Count());
        foreach (var id in contacts)
        {
            var run = (await h.Store.GetLatestAsync("a", id))!;
            Assert.Equal(("wait", 1L, T0 + Duration.FromDays(2)), (run.NodeId, run.Step, run.DueAt!.Value));
        }
    }

    [Fact]
    public async Task At_parallelism_1_a_batch_over_synchronous_stores_completes_without_a_task_switch()
    {
        // The serial loop (MaxParallelism 1) adds no hop of its own: a step costs the thread pool only the awaits its
        // stores really suspend on (PostgreSQL: 4.0 work items per step = its 4 round trips, s50). Every hop would wake
        // a pool worker that then spins between round trips, so a Task.Yield or Task.Run in the path would show here.
        using var h = new JourneyHarness();
        h.Publish(OnSegment("a", "hot"));
        var contacts = new List<ContactId>();
        for (var i = 0; i < 3; i++)
        {
            contacts.Add((await h.AddContactAsync($"C{i}")).Id);
        }

        await h.Runner.OnSegmentEnteredAsync("hot", contacts);
        var pending = h.Runner.RunDueAsync(T0, 100);
        Assert.True(pending.IsCompletedSuccessfully, "RunDueAsync suspended although every store and the provider completed synchronously");
        Assert.Equal(3, await pending);
        Assert.Equal(3, h.State.Email.Accepted.Count);
    }

    [Fact]
    public async Task A_parallel_batch_cancelled_before_its_steps_leaves_them_to_run_once_after_the_lease()
    {
        using var h = new JourneyHarness(journeys: o => o.MaxParallelism = 2);
        h.Publish(OnSegment("a", "hot"));
        var contacts = new List<ContactId>();
        for (var i = 0; i < 4; i++)
        {
            contacts.Add((await h.AddContactAsync($"C{i}")).Id);
        }

        await h.Runner.OnSegmentEnteredAsync("hot", contacts);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await h.Runner.RunDueAsync(T0, 100, cancelled.Token));
        Assert.Empty(h.State.Email.Accepted);
        Assert.Equal(0, await h.Runner.RunDueAsync(T0, 100)); // leased: not due again before the lease ends

        var later = T0 + Duration.FromMinutes(1);
        h.Clock.Reset(later);
        Assert.Equal(4, await h.Runner.RunDueAsync(later, 100));
        Assert.Equal(4, h.State.Email.Accepted.Count);
        Assert.Equal(0, await h.Runner.RunDueAsync(later, 100));
    }
}
