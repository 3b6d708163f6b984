using System.Collections.Concurrent;
using Campaigns.Journeys;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>
/// The contract of <see cref="IJourneyRunStore"/>: runs guarded by their version, one timer per active run written
/// with it, claims earliest first with leases (a live lease is never claimed twice, an expired one is claimed again),
/// excluded journeys, the look-ahead read, and claims shared by two instances without overlap.
/// </summary>
public abstract class JourneyRunStoreContract : StoreContract<IJourneyRunStore>
{
    private static readonly IReadOnlySet<string> None = new HashSet<string>();
    private static readonly Duration Lease = Duration.FromSeconds(30);

    /// <summary>A new active run of a journey, due at <paramref name="dueAt"/>.</summary>
    /// <param name="journey">The journey's id.</param>
    /// <param name="dueAt">When its timer is due, or null for none.</param>
    /// <param name="runNumber">The run number.</param>
    /// <param name="contact">The contact, or null for a new one.</param>
    /// <returns>The run.</returns>
    protected static JourneyRun Run(string journey, Instant? dueAt, int runNumber = 1, ContactId? contact = null) => new()
    {
        JourneyId = journey,
        ContactId = contact ?? ContactId.New(),
        RunNumber = runNumber,
        Status = JourneyRunStatus.Active,
        NodeId = "send-welcome",
        EnteredAt = T0,
        NodeEnteredAt = T0,
        DueAt = dueAt,
    };

    /// <summary>Create stores at version 1; a second create while a run is active, or with a run number not above the last, fails.</summary>
    [SkippableFact]
    public async Task Create_refuses_a_second_active_run_and_old_run_numbers()
    {
        var store = await NewStoreAsync();
        var run = Run("j", T0);

        var created = await store.TryCreateAsync(run);
        Assert.Equal(1, created!.Version);
        AssertSameDocument(run with { Version = 1 }, await store.GetLatestAsync("j", run.ContactId));
        Assert.Null(await store.TryCreateAsync(run with { RunNumber = 2 }));

        var ended = await store.TryUpdateAsync(created with { Status = JourneyRunStatus.Completed, NodeId = null, DueAt = null, EndedAt = T0, EndReason = "completed" }, 1);
        Assert.Equal(2, ended!.Version);
        Assert.Null(await store.TryCreateAsync(run with { RunNumber = 1 }));
        var second = await store.TryCreateAsync(run with { RunNumber = 2 });
        Assert.Equal(1, second!.Version);
        Assert.Equal(2, (await store.GetLatestAsync("j", run.ContactId))!.RunNumber);
        Assert.Null(await store.GetLatestAsync("j", ContactId.New()));
        Assert.Null(await store.GetLatestAsync("other", run.ContactId));
    }

    /// <summary>An update needs the stored version (and run number); the loser writes nothing.</summary>
    [SkippableFact]
    public async Task Update_is_guarded_by_the_version()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var created = (await store.TryCreateAsync(Run("j", T0)))!;

        var winner = await store.TryUpdateAsync(created with { NodeId = "wait", Step = 1 }, 1);
        Assert.Equal(2, winner!.Version);
        Assert.Null(await other.TryUpdateAsync(created with { NodeId = "loser" }, 1));
        Assert.Null(await other.TryUpdateAsync(winner with { RunNumber = 9 }, 2));
        Assert.Null(await other.TryUpdateAsync(Run("j", T0), 1));
        Assert.Equal("wait", (await other.GetLatestAsync("j", created.ContactId))!.NodeId);
    }

    /// <summary>Due timers are claimed earliest first, at most a batch; timers not due yet are not.</summary>
    [SkippableFact]
    public async Task Claim_returns_due_timers_earliest_first_up_to_the_batch()
    {
        var store = await NewStoreAsync();
        var runs = new List<JourneyRun>();
        foreach (var minutes in new[] { 5, 1, 3, 2, 60 })
        {
            runs.Add((await store.TryCreateAsync(Run("j", T0 + Duration.FromMinutes(minutes))))!);
        }

        var now = T0 + Duration.FromMinutes(10);
        var first = await store.ClaimDueAsync(now, 2, Lease, None);
        Assert.Equal([T0 + Duration.FromMinutes(1), T0 + Duration.FromMinutes(2)], first.Select(t => t.DueAt));
        var rest = await store.ClaimDueAsync(now, 10, Lease, None);
        Assert.Equal([T0 + Duration.FromMinutes(3), T0 + Duration.FromMinutes(5)], rest.Select(t => t.DueAt));
        Assert.Empty(await store.ClaimDueAsync(now, 10, Lease, None));

        var timer = first[0];
        var run = runs.Single(r => r.ContactId == timer.ContactId);
        Assert.Equal(new JourneyTimer("j", run.ContactId, 1, run.DueAt!.Value, 1), timer);
    }

    /// <summary>A live lease is not claimed again; once it expires (the host died) the timer is claimed again.</summary>
    [SkippableFact]
    public async Task An_expired_lease_is_claimed_again_a_live_one_is_not()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.TryCreateAsync(Run("j", T0));

        Assert.Single(await store.ClaimDueAsync(T0, 10, Lease, None));
        Assert.Empty(await other.ClaimDueAsync(T0 + Duration.FromSeconds(29), 10, Lease, None));
        var again = await other.ClaimDueAsync(T0 + Duration.FromSeconds(30), 10, Lease, None);
        Assert.Single(again);
        Assert.Equal(T0, again[0].DueAt);
        Assert.Empty(await store.ClaimDueAsync(T0 + Duration.FromSeconds(59), 10, Lease, None));
    }

    /// <summary>Writing the run replaces its timer (a fresh, unleased one), and an ended or paused run has none.</summary>
    [SkippableFact]
    public async Task Writing_the_run_replaces_or_removes_its_timer()
    {
        var store = await NewStoreAsync();
        var created = (await store.TryCreateAsync(Run("j", T0)))!;
        Assert.Single(await store.ClaimDueAsync(T0, 10, Lease, None));

        var advanced = (await store.TryUpdateAsync(created with { NodeId = "wait", DueAt = T0 + Duration.FromMinutes(1) }, 1))!;
        var claimed = Assert.Single(await store.ClaimDueAsync(T0 + Duration.FromMinutes(1), 10, Lease, None));
        Assert.Equal(new JourneyTimer("j", created.ContactId, 1, T0 + Duration.FromMinutes(1), 2), claimed);

        var paused = (await store.TryUpdateAsync(advanced with { Status = JourneyRunStatus.Paused }, 2))!;
        Assert.Empty(await store.ClaimDueAsync(T0 + Duration.FromDays(1), 10, Lease, None));
        Assert.Null(await store.GetNextDueAsync());

        await store.TryUpdateAsync(paused with { Status = JourneyRunStatus.Active }, 3);
        Assert.Equal(T0 + Duration.FromMinutes(1), await store.GetNextDueAsync());
        var active = (await store.GetLatestAsync("j", created.ContactId))!;
        await store.TryUpdateAsync(active with { Status = JourneyRunStatus.Exited, DueAt = null, EndedAt = T0, EndReason = "goal:purchase" }, 4);
        Assert.Null(await store.GetNextDueAsync());
        Assert.Empty(await store.ClaimDueAsync(T0 + Duration.FromDays(1), 10, Lease, None));
    }

    /// <summary>Timers of excluded journeys stay put; the others are claimed.</summary>
    [SkippableFact]
    public async Task Excluded_journeys_are_skipped()
    {
        var store = await NewStoreAsync();
        await store.TryCreateAsync(Run("paused", T0));
        await store.TryCreateAsync(Run("running", T0 + Duration.FromMinutes(1)));

        var claimed = await store.ClaimDueAsync(T0 + Duration.FromMinutes(5), 10, Lease, new HashSet<string> { "paused", "another" });
        Assert.Equal(["running"], claimed.Select(t => t.JourneyId));
        Assert.Equal(["paused"], (await store.ClaimDueAsync(T0 + Duration.FromMinutes(5), 10, Lease, None)).Select(t => t.JourneyId));
    }

    /// <summary>The look-ahead read gives the earliest pending instant, or null.</summary>
    [SkippableFact]
    public async Task Next_due_is_the_earliest_pending_timer()
    {
        var store = await NewStoreAsync();
        Assert.Null(await store.GetNextDueAsync());
        await store.TryCreateAsync(Run("j", T0 + Duration.FromHours(2)));
        await store.TryCreateAsync(Run("j", T0 + Duration.FromHours(1)));
        await store.TryCreateAsync(Run("j", null));
        Assert.Equal(T0 + Duration.FromHours(1), await store.GetNextDueAsync());

        await store.ClaimDueAsync(T0 + Duration.FromHours(1), 1, Duration.FromHours(5), None);
        Assert.Equal(T0 + Duration.FromHours(2), await store.GetNextDueAsync());
    }

    /// <summary>Listing gives the latest run of each contact of the journey.</summary>
    [SkippableFact]
    public async Task List_gives_the_latest_run_per_contact()
    {
        var store = await NewStoreAsync();
        var contacts = Enumerable.Range(0, 600).Select(_ => ContactId.New()).ToList();
        foreach (var contact in contacts)
        {
            await store.TryCreateAsync(Run("j", null, contact: contact));
        }

        await store.TryCreateAsync(Run("other", null, contact: contacts[0]));
        var first = (await store.GetLatestAsync("j", contacts[0]))!;
        await store.TryUpdateAsync(first with { Status = JourneyRunStatus.Cancelled, EndedAt = T0, EndReason = "cancelled" }, 1);
        await store.TryCreateAsync(Run("j", null, runNumber: 2, contact: contacts[0]));

        var listed = new List<JourneyRun>();
        await foreach (var run in store.ListAsync("j"))
        {
            listed.Add(run);
        }

        Assert.Equal(contacts.OrderBy(c => c.Value), listed.Select(r => r.ContactId).OrderBy(c => c.Value));
        Assert.Equal(2, listed.Single(r => r.ContactId == contacts[0]).RunNumber);
    }

    /// <summary>Two instances claiming concurrently share the due timers: each is claimed exactly once.</summary>
    [SkippableFact]
    public async Task Concurrent_claims_of_two_instances_never_overlap()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        const int Count = 300;
        for (var i = 0; i < Count; i++)
        {
            await store.TryCreateAsync(Run("j", T0 + Duration.FromSeconds(i % 7)));
        }

        var claimed = new ConcurrentBag<ContactId>();
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var instance = w % 2 == 0 ? store : other;
            while (true)
            {
                var batch = await instance.ClaimDueAsync(T0 + Duration.FromMinutes(1), 16, Duration.FromMinutes(5), None);
                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var timer in batch)
                {
                    claimed.Add(timer.ContactId);
                }
            }
        }));
        await Task.WhenAll(workers);

        Assert.Equal(Count, claimed.Count);
        Assert.Equal(Count, claimed.Distinct().Count());
    }

    /// <summary>Bad arguments are refused.</summary>
    [SkippableFact]
    public async Task Claim_refuses_a_batch_below_1()
    {
        var store = await NewStoreAsync();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.ClaimDueAsync(T0, 0, Lease, None));
    }
}
