using Campaigns.Journeys;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>
/// The compact <see cref="InMemoryJourneyRunStore"/> against the previous record-per-run store (<see cref="ReferenceJourneyRunStore"/>):
/// random sequences of creates, versioned updates, claims with leases and paused journeys, look-ahead reads and lists
/// give the same answers, in the same order.
/// </summary>
public sealed class InMemoryJourneyRunStoreTests
{
    private static readonly Instant T = Instant.FromUtc(2026, 6, 17, 2, 0) + Duration.FromNanoseconds(123);
    private static readonly Instant FarFuture = Instant.FromUtc(9000, 1, 1, 0, 0); // beyond ±292 years of 1970: a full record
    private static readonly string[] Journeys = ["j1", "j2"];
    private static readonly ContactId[] Contacts = [.. Enumerable.Range(1, 4).Select(i => new ContactId(new Guid(i, 0, 0, new byte[8])))];

    private abstract record Op;

    private sealed record Write(bool Create, long ExpectedVersion, JourneyRun Run) : Op;

    private sealed record Claim(int NowMinutes, int Batch, int LeaseMinutes, string[] Excluded) : Op;

    private sealed record Read(string Journey, ContactId Contact) : Op;

    /// <summary>The runner's batch entry: <see cref="InMemoryJourneyRunStore.TryStart"/>, against creating the same run.</summary>
    private sealed record Start(string Journey, ContactId Contact, int RunNumber, string Node, string? Waiting, Instant Entered, Instant Due) : Op
    {
        public JourneyRun Run => new()
        {
            JourneyId = Journey,
            ContactId = Contact,
            RunNumber = RunNumber,
            NodeId = Node,
            WaitingForEvent = Waiting,
            EnteredAt = Entered,
            NodeEnteredAt = Entered,
            DueAt = Due,
            Version = 1,
        };
    }

    private static Gen<JourneyRun> Runs() =>
        from journey in Gen.Elements(Journeys)
        from contact in Gen.Elements(Contacts)
        from runNumber in Gen.Choose(1, 3)
        from status in Gen.Elements(Enum.GetValues<JourneyRunStatus>())
        from node in Gen.Elements<string?>(null, "a", "b", "wait")
        from waiting in Gen.Elements<string?>(null, null, "email.open")
        from dueMinutes in Gen.Choose(-1, 10)
        from far in Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true)))
        from step in Gen.Choose(0, 5)
        from touches in Gen.Choose(0, 3)
        from attempts in Gen.Choose(0, 2)
        from version in Gen.Choose(0, 5) // the version the caller set: sometimes the one the store gives (kept as is), mostly not
        let ended = status is JourneyRunStatus.Completed or JourneyRunStatus.Exited or JourneyRunStatus.Cancelled
        select new JourneyRun
        {
            JourneyId = journey,
            ContactId = contact,
            RunNumber = runNumber,
            Status = status,
            NodeId = node,
            WaitingForEvent = waiting,
            Step = step,
            Touches = touches,
            Attempts = attempts,
            EnteredAt = far ? FarFuture : T,
            NodeEnteredAt = T + Duration.FromMinutes(step),
            DueAt = dueMinutes < 0 ? null : far ? FarFuture : T + Duration.FromMinutes(dueMinutes),
            EndedAt = ended ? T + Duration.FromMinutes(20) : null,
            EndReason = ended ? "completed" : null,
            Version = version,
        };

    private static Gen<Op> Ops() => Gen.OneOf(
        from create in Gen.Elements(true, false)
        from version in Gen.Choose(0, 4)
        from run in Runs()
        select (Op)new Write(create, version, run),
        from now in Gen.Choose(0, 14)
        from batch in Gen.Choose(1, 3)
        from lease in Gen.Choose(1, 5)
        from excluded in Gen.SubListOf(Journeys)
        select (Op)new Claim(now, batch, lease, [.. excluded]),
        from journey in Gen.Elements(Journeys)
        from contact in Gen.Elements(Contacts)
        select (Op)new Read(journey, contact),
        from journey in Gen.Elements(Journeys)
        from contact in Gen.Elements(Contacts)
        from runNumber in Gen.Choose(1, 4)
        from node in Gen.Elements("a", "wait")
        from waiting in Gen.Elements<string?>(null, "email.open")
        from dueMinutes in Gen.Choose(0, 10)
        from far in Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true))) // beyond the compact form: the record path
        select (Op)new Start(journey, contact, runNumber, node, waiting, T, far ? FarFuture : T + Duration.FromMinutes(dueMinutes)));

    private static T Now<T>(ValueTask<T> task) => task.IsCompleted ? task.Result : throw new InvalidOperationException("The in-memory store completes synchronously.");

    private static List<JourneyRun> List(IJourneyRunStore store, string journey) =>
        [.. Task.Run(async () => await store.ListAsync(journey).ToListAsync()).GetAwaiter().GetResult().OrderBy(r => r.ContactId.Value)];

    private static bool Same(Op[] ops)
    {
        var compact = new InMemoryJourneyRunStore();
        var reference = new ReferenceJourneyRunStore();
        foreach (var op in ops)
        {
            switch (op)
            {
                case Write { Create: true } w:
                    Assert.Equal(Now(reference.TryCreateAsync(w.Run)), Now(compact.TryCreateAsync(w.Run)));
                    break;
                case Write w:
                    Assert.Equal(Now(reference.TryUpdateAsync(w.Run, w.ExpectedVersion)), Now(compact.TryUpdateAsync(w.Run, w.ExpectedVersion)));
                    break;
                case Claim c:
                    var excluded = new HashSet<string>(c.Excluded, StringComparer.Ordinal);
                    var now = T + Duration.FromMinutes(c.NowMinutes);
                    Assert.Equal(Now(reference.ClaimDueAsync(now, c.Batch, Duration.FromMinutes(c.LeaseMinutes), excluded)), Now(compact.ClaimDueAsync(now, c.Batch, Duration.FromMinutes(c.LeaseMinutes), excluded)));
                    break;
                case Read r:
                    Assert.Equal(Now(reference.GetLatestAsync(r.Journey, r.Contact)), Now(compact.GetLatestAsync(r.Journey, r.Contact)));
                    break;
                case Start st:
                    Assert.Equal(Now(reference.TryCreateAsync(st.Run)) is not null, compact.TryStart(st.Journey, st.Contact, st.RunNumber, st.Node, st.Entered, st.Due, st.Waiting));
                    Assert.Equal(Now(reference.GetLatestAsync(st.Journey, st.Contact)), Now(compact.GetLatestAsync(st.Journey, st.Contact)));
                    break;
            }

            Assert.Equal(Now(reference.GetNextDueAsync()), Now(compact.GetNextDueAsync()));
            Assert.Equal(reference.PendingTimers, compact.PendingTimers);
        }

        foreach (var journey in Journeys)
        {
            Assert.Equal(List(reference, journey), List(compact, journey));
        }

        return true;
    }

    [Fact]
    public void Property_the_compact_store_answers_like_the_record_store()
    {
        Prop.ForAll(Gen.ArrayOf(Ops(), 60).ToArbitrary(), Same).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public async Task A_run_written_at_the_version_the_store_gives_it_is_kept_without_a_copy_and_any_other_is_copied_at_that_version()
    {
        var store = new InMemoryJourneyRunStore();
        var none = new HashSet<string>(StringComparer.Ordinal);
        var contact = ContactId.New();
        var atOne = new JourneyRun { JourneyId = "j", ContactId = contact, RunNumber = 1, NodeId = "a", EnteredAt = T, NodeEnteredAt = T, DueAt = T, Version = 1 };
        Assert.Same(atOne, await store.TryCreateAsync(atOne));

        var other = ContactId.New();
        var atZero = atOne with { ContactId = other, Version = 0 };
        var created = await store.TryCreateAsync(atZero);
        Assert.NotSame(atZero, created);
        Assert.Equal(atZero with { Version = 1 }, created);

        var next = atOne with { NodeId = "b", Step = 1, DueAt = T + Duration.FromDays(2), Version = 2 };
        Assert.Same(next, await store.TryUpdateAsync(next, 1));
        var wrong = next with { NodeId = "c", Step = 2, Version = 7 };
        var updated = await store.TryUpdateAsync(wrong, 2);
        Assert.Equal(wrong with { Version = 3 }, updated);
        Assert.Equal(updated, await store.GetLatestAsync("j", contact));
        Assert.Null(await store.TryUpdateAsync(wrong with { Version = 3 }, 2)); // a stale writer still loses

        // An ended run (kept as a record) at the right version is stored as that instance.
        var ended = updated! with { Status = JourneyRunStatus.Completed, EndedAt = T, EndReason = "completed", DueAt = null, Version = 4 };
        Assert.Same(ended, await store.TryUpdateAsync(ended, 3));
        Assert.Same(ended, await store.GetLatestAsync("j", contact));

        // The timer of a claim is read from the compact slot: the run's key, due instant and version.
        var timer = Assert.Single(await store.ClaimDueAsync(T, 10, Duration.FromMinutes(1), none));
        Assert.Equal(new JourneyTimer("j", other, 1, T, 1), timer);
    }

    [Fact]
    public async Task Many_timers_come_due_in_instant_order_with_ties_in_write_order()
    {
        var store = new InMemoryJourneyRunStore();
        var random = new Random(7);
        var contacts = Enumerable.Range(0, 5000).Select(_ => ContactId.New()).ToList();
        foreach (var (contact, k) in contacts.Select((c, k) => (c, k)))
        {
            Assert.NotNull(await store.TryCreateAsync(new JourneyRun { JourneyId = k % 3 == 0 ? "a" : "b", ContactId = contact, RunNumber = 1, NodeId = "wait", EnteredAt = T, NodeEnteredAt = T, DueAt = T + Duration.FromMinutes(random.Next(0, 100)) }));
        }

        Assert.Equal(5000, store.PendingTimers);
        var claimed = await store.ClaimDueAsync(T + Duration.FromDays(1), 10_000, Duration.FromMinutes(5), new HashSet<string>(StringComparer.Ordinal));
        Assert.Equal(5000, claimed.Count);
        Assert.Equal(claimed.OrderBy(t => t.DueAt).Select(t => t.ContactId), claimed.Select(t => t.ContactId)); // stable: ties keep write order
        Assert.Equal(T + Duration.FromDays(1) + Duration.FromMinutes(5), await store.GetNextDueAsync()); // all leased
        Assert.Equal(contacts.Count(c => contacts.IndexOf(c) % 3 == 0), await store.ListAsync("a").CountAsync());
    }

    [Fact]
    public async Task When_the_write_order_counter_overflows_the_timers_are_renumbered_and_keep_their_order()
    {
        var store = new InMemoryJourneyRunStore();
        var contacts = Enumerable.Range(0, 40).Select(_ => ContactId.New()).ToList();
        for (var k = 0; k < 20; k++)
        {
            await store.TryCreateAsync(new JourneyRun { JourneyId = "j", ContactId = contacts[k], RunNumber = 1, NodeId = "wait", EnteredAt = T, NodeEnteredAt = T, DueAt = T + Duration.FromMinutes(k % 4) });
        }

        store.SetSequence(int.MaxValue - 5); // the next writes reach the end of the counter: renumbered 1..n, then on
        for (var k = 20; k < 40; k++)
        {
            await store.TryCreateAsync(new JourneyRun { JourneyId = "j", ContactId = contacts[k], RunNumber = 1, NodeId = "wait", EnteredAt = T, NodeEnteredAt = T, DueAt = T + Duration.FromMinutes(k % 4) });
        }

        var claimed = await store.ClaimDueAsync(T + Duration.FromDays(1), 100, Duration.FromMinutes(5), new HashSet<string>(StringComparer.Ordinal));
        var expected = contacts.Select((c, k) => (c, k)).OrderBy(x => x.k % 4).ThenBy(x => x.k).Select(x => x.c); // by instant, ties in write order
        Assert.Equal(expected, claimed.Select(t => t.ContactId));
    }

    [Fact]
    public async Task A_timer_skipped_for_a_paused_journey_keeps_its_place_among_equal_instants()
    {
        var store = new InMemoryJourneyRunStore();
        var (a1, p, a2) = (ContactId.New(), ContactId.New(), ContactId.New());
        foreach (var (journey, contact) in new[] { ("paused", p), ("a", a1), ("a", a2) })
        {
            await store.TryCreateAsync(new JourneyRun { JourneyId = journey, ContactId = contact, RunNumber = 1, NodeId = "wait", EnteredAt = T, NodeEnteredAt = T, DueAt = T });
        }

        var first = await store.ClaimDueAsync(T, 1, Duration.FromMinutes(5), new HashSet<string>(["paused"], StringComparer.Ordinal));
        Assert.Equal(a1, Assert.Single(first).ContactId);
        var rest = await store.ClaimDueAsync(T, 10, Duration.FromMinutes(5), new HashSet<string>(StringComparer.Ordinal));
        Assert.Equal([p, a2], rest.Select(t => t.ContactId)); // the skipped timer was written before a2: still before it
    }
}
