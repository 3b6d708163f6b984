using System.Collections.Concurrent;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The update that ends a run's turn carries the next run's read (<see cref="IReadAheadJourneyRunStore"/>): the answer
/// is what the update and then the run-and-contact read give, the update commits at its error barrier whatever happens
/// to the read, and a runner advancing a batch one run at a time makes one round trip less per step.
/// </summary>
public sealed class ReadAheadTests
{
    private static JourneyRun Run(ContactId contact, Instant due) => new()
    {
        JourneyId = "j",
        ContactId = contact,
        RunNumber = 1,
        NodeId = "send",
        EnteredAt = Make.T0,
        NodeEnteredAt = Make.T0,
        DueAt = due,
    };

    [SkippableFact]
    public async Task The_update_commits_and_the_next_run_and_contact_are_read_as_the_separate_calls_answer()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(TestProtectors.AesGcm);
        var runs = schema.JourneyRuns();
        var contacts = schema.Contacts();
        var ann = await contacts.AddAsync(Make.Contact(phone: "+8613800043001", email: "ann@example.com"));
        var bea = await contacts.AddAsync(Make.Contact(phone: "+8613800043002", email: "bea@example.com"));
        var first = (await runs.TryCreateAsync(Run(ann.Id, Make.T0)))!;
        await runs.TryCreateAsync(Run(bea.Id, Make.T0));
        var later = Make.T0 + Duration.FromHours(2);

        var answer = await runs.TryUpdateAndReadNextAsync(first with { NodeId = "wait", DueAt = later }, first.Version, "j", bea.Id);

        // The update: stored at the next version, its timer moved, exactly as TryUpdateAsync would.
        Assert.Equal(2, answer.Stored!.Version);
        var stored = (await runs.GetLatestAsync("j", ann.Id))!;
        Assert.Equal((2L, "wait", (Instant?)later), (stored.Version, stored.NodeId, stored.DueAt));
        Assert.Equal(Pg.Ticks(later), await schema.ScalarAsync($"SELECT due_at FROM journey_timers WHERE contact_id = '{ann.Id.Value}'"));

        // The read: what the run-and-contact read answers (the contact decoded through the protection).
        var next = answer.Next!.Value;
        var separate = await runs.GetLatestWithContactAsync("j", bea.Id);
        Assert.Equal(separate.Run, next.Run);
        Assert.Equal((separate.Contact!.Id, separate.Contact.Version, separate.Contact.Name), (next.Contact!.Id, next.Contact.Version, next.Contact.Name));
        Assert.Equal(("+8613800043002", "bea@example.com"), (next.Contact.Identities.Phone, next.Contact.Identities.Email));

        // Neither went through the one-call paths.
        Assert.Equal((0L, 0L), runs.UpdateStats);
        Assert.Equal(1L, runs.ReadAheadRoundTrips);
    }

    [SkippableFact]
    public async Task The_read_sees_the_update_before_it_and_a_stale_update_changes_nothing_but_still_reads()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var runs = schema.JourneyRuns();
        var ann = await schema.Contacts().AddAsync(Make.Contact(phone: "+8613800043003", email: "ann3@example.com"));
        var run = (await runs.TryCreateAsync(Run(ann.Id, Make.T0)))!;

        // Reading the same run after its update: the read comes after the commit, so it sees version 2.
        var own = await runs.TryUpdateAndReadNextAsync(run with { NodeId = "second" }, run.Version, "j", ann.Id);
        Assert.Equal(2, own.Next!.Value.Run!.Version);
        Assert.Equal("second", own.Next.Value.Run.NodeId);

        // Another host advanced it first: the stale update is refused and changes nothing; the read still answers.
        var stale = await runs.TryUpdateAndReadNextAsync(run with { NodeId = "third" }, run.Version, "j", ann.Id);
        Assert.Null(stale.Stored);
        Assert.Equal((2L, "second"), (stale.Next!.Value.Run!.Version, stale.Next.Value.Run.NodeId));

        // No run to read: the default answer, as GetLatestWithContactAsync gives.
        var none = await runs.TryUpdateAndReadNextAsync(own.Stored! with { NodeId = "fourth" }, 2, "other", ann.Id);
        Assert.Equal(3, none.Stored!.Version);
        Assert.Equal(default(JourneyRunWithContact), none.Next);
    }

    [SkippableFact]
    public async Task A_read_that_does_not_complete_leaves_the_committed_update_and_returns_no_read()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var runs = schema.JourneyRuns();
        var ann = await schema.Contacts().AddAsync(Make.Contact(phone: "+8613800043004", email: "ann4@example.com"));
        var run = (await runs.TryCreateAsync(Run(ann.Id, Make.T0)))!;

        // Another session holds the contacts table: the update (runs and timers only) goes through, the read waits.
        await using var locker = new NpgsqlConnection(schema.ConnectionString);
        await locker.OpenAsync();
        await using var tx = await locker.BeginTransactionAsync();
        await using (var lockCommand = new NpgsqlCommand($"LOCK TABLE {schema.Schema}.contacts IN ACCESS EXCLUSIVE MODE", locker, tx))
        {
            await lockCommand.ExecuteNonQueryAsync();
        }

        using var cts = new CancellationTokenSource();
        var call = runs.TryUpdateAndReadNextAsync(run with { NodeId = "after" }, run.Version, "j", ann.Id, cts.Token).AsTask();

        // Cancel once the read waits on the lock, i.e. after the update committed at its barrier.
        for (var i = 0; i < 2000 && !call.IsCompleted; i++)
        {
            if ((long)(await schema.ScalarAsync($"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%{schema.Schema}.contacts%'"))! > 0)
            {
                break;
            }

            await Task.Delay(10);
        }

        Assert.False(call.IsCompleted);
        cts.Cancel();
        var answer = await call;
        await tx.RollbackAsync();

        Assert.Equal(2, answer.Stored!.Version);
        Assert.Null(answer.Next);
        Assert.Equal("after", (await runs.GetLatestAsync("j", ann.Id))!.NodeId);
    }

    [SkippableFact]
    public async Task A_runner_at_parallelism_1_writes_each_send_bookkeeping_and_update_and_reads_the_next_run_in_one_round_trip()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 1);
        var ids = await fleet.SeedDueStepsAsync(5);
        var provider = fleet.Providers[0];
        var contacts = provider.GetRequiredService<IContactStore>();
        var changed = (await contacts.GetAsync(ids[3]))!;
        await contacts.UpdateAsync(changed with { Identities = changed.Identities with { Email = "changed-ahead@example.com" } });
        var runs = (PostgreSqlJourneyRunStore)provider.GetRequiredService<IJourneyRunStore>();

        var statements = new ConcurrentQueue<string>();
        using (NpgsqlStatements.Listen(schema.Schema, statements))
        {
            Assert.Equal(5, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));
        }

        // Every step sent once, the changed contact (read ahead) at its new address; every run completed.
        Assert.Equal(5, fleet.Channel.Sends.Count);
        Assert.Contains(fleet.Channel.Sends, s => s.Message.Recipient == "changed-ahead@example.com");
        foreach (var id in ids)
        {
            Assert.Equal(JourneyRunStatus.Completed, (await runs.GetLatestAsync("fleet", id))!.Status);
        }

        // The first run read on its own; each send's bookkeeping, its run's update and (but for the last) the next run's
        // read in one round trip: no separate bookkeeping write, update or read.
        var keys = (PostgreSqlIdempotencyStore)provider.GetRequiredService<Delivery.IIdempotencyStore>();
        Assert.Equal((1L, 5L, 0L, 0L, 0L), (runs.ReadWithContactStats.Items, runs.BookkeepingRoundTrips, runs.ReadAheadRoundTrips, runs.UpdateStats.Items, keys.SendStats.Items));
        Assert.Equal(5L, await schema.ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL"));
        Assert.Equal(5L, await schema.ScalarAsync("SELECT sent FROM execution_records WHERE task_id = 'journey/fleet/hello'"));
        Assert.DoesNotContain(statements, s => s.Contains("FROM contacts WHERE", StringComparison.Ordinal));
    }
}
