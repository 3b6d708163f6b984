using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Storage.PostgreSql.Tests;

public sealed class JourneyRunStoreTests
{
    private static readonly IReadOnlySet<string> None = new HashSet<string>();

    private static JourneyRun Run(string journey, ContactId contact, Instant? due, int number = 1) => new()
    {
        JourneyId = journey,
        ContactId = contact,
        RunNumber = number,
        NodeId = "send",
        EnteredAt = Make.T0,
        NodeEnteredAt = Make.T0,
        DueAt = due,
    };

    [SkippableFact]
    public async Task Claims_are_leased_earliest_first_skip_excluded_journeys_and_come_back_after_the_lease()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.JourneyRuns();
        for (var i = 0; i < 5; i++)
        {
            await store.TryCreateAsync(Run("j", ContactId.New(), Make.T0 + Duration.FromMinutes(5 - i)));
        }

        await store.TryCreateAsync(Run("paused", ContactId.New(), Make.T0));
        var now = Make.T0 + Duration.FromMinutes(10);
        var lease = Duration.FromSeconds(30);
        var first = await store.ClaimDueAsync(now, 3, lease, new HashSet<string> { "paused" });
        Assert.Equal(3, first.Count);
        Assert.Equal(first.OrderBy(t => t.DueAt).Select(t => t.DueAt), first.Select(t => t.DueAt));
        Assert.Equal(Make.T0 + Duration.FromMinutes(1), first[0].DueAt);
        Assert.All(first, t => Assert.Equal("j", t.JourneyId));
        Assert.Equal(2, (await store.ClaimDueAsync(now, 10, lease, new HashSet<string> { "paused" })).Count);
        Assert.Empty(await store.ClaimDueAsync(now, 10, lease, new HashSet<string> { "paused" }));
        Assert.Equal(5L, await schema.ScalarAsync($"SELECT count(*) FROM journey_timers WHERE claimed_by = '{schema.Database.InstanceName}' AND journey_id = 'j' AND lease_until = {Pg.Ticks(now + lease)}"));
        Assert.Equal("paused", Assert.Single(await store.ClaimDueAsync(now, 10, lease, None)).JourneyId);

        // Nobody completed them: after the lease another instance claims all six again.
        var other = schema.JourneyRuns(schema.NewDatabase());
        Assert.Empty(await other.ClaimDueAsync(now + lease - Duration.FromTicks(1), 10, lease, None));
        Assert.Equal(now + lease, await other.GetNextDueAsync());
        Assert.Equal(6, (await other.ClaimDueAsync(now + lease, 10, lease, None)).Count);
    }

    [SkippableFact]
    public async Task Concurrent_claimers_never_get_the_same_timer()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var setup = schema.JourneyRuns();
        var contacts = Enumerable.Range(0, 2000).Select(_ => ContactId.New()).ToList();
        await Parallel.ForEachAsync(contacts, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, ct) => await setup.TryCreateAsync(Run("j", c, Make.T0), ct));
        var stores = Enumerable.Range(0, 4).Select(_ => schema.JourneyRuns(schema.NewDatabase())).ToList();
        var claimed = await Task.WhenAll(stores.Select(s => Task.Run(async () =>
        {
            var mine = new List<ContactId>();
            while (await s.ClaimDueAsync(Make.T0, 50, Duration.FromMinutes(1), None) is { Count: > 0 } batch)
            {
                mine.AddRange(batch.Select(t => t.ContactId));
            }

            return mine;
        })));
        var all = claimed.SelectMany(c => c).ToList();
        Assert.Equal(contacts.Count, all.Count);
        Assert.Equal(contacts.Count, all.Distinct().Count());
    }

    [SkippableFact]
    public async Task Racing_updates_on_one_run_have_one_winner()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => schema.JourneyRuns(schema.NewDatabase())).ToList();
        var contact = ContactId.New();
        var run = (await stores[0].TryCreateAsync(Run("j", contact, Make.T0)))!;
        for (var round = 0; round < 10; round++)
        {
            var current = run;
            var results = await Task.WhenAll(stores.Select((s, i) => Task.Run(async () => await s.TryUpdateAsync(current with { Step = current.Step + 1, NodeId = "n" + i }, current.Version))));
            run = Assert.Single(results, r => r is not null)!;
            Assert.Equal(run.NodeId, (await stores[0].GetLatestAsync("j", contact))!.NodeId);
        }

        Assert.Equal(11, run.Version);
    }

    // 1,500 runs: more than one page (1,000) of the keyset listing.
    [SkippableFact]
    public async Task List_returns_the_latest_run_of_each_contact_across_pages()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.JourneyRuns();
        var contacts = Enumerable.Range(0, 1500).Select(_ => ContactId.New()).ToList();
        foreach (var c in contacts)
        {
            await store.TryCreateAsync(Run("j", c, Make.T0));
        }

        await store.TryCreateAsync(Run("other", ContactId.New(), Make.T0));
        var listed = new List<ContactId>();
        await foreach (var r in store.ListAsync("j"))
        {
            listed.Add(r.ContactId);
        }

        Assert.Equal(contacts.OrderBy(c => c.Value).ToList(), listed.OrderBy(c => c.Value).ToList());
    }
}
