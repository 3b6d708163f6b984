using Campaigns.Contacts;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>
/// The runner's use of <see cref="IReadAheadJourneyRunStore"/>: at <see cref="JourneyOptions.MaxParallelism"/> 1 with no
/// observer, the update that ends a run's turn carries the read of the batch's next run, which the next step then uses
/// instead of reading; anywhere else (observers, parallel batches, a run due again at once) every step reads for itself.
/// </summary>
public sealed class JourneyReadAheadTests
{
    private static JourneyDefinition OneSend() => new()
    {
        Id = "one",
        Name = "One send",
        Trigger = new ApiTrigger(),
        StartNodeId = "welcome",
        Nodes = [new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome" }],
    };

    private static async Task<List<Contact>> EnterAsync(JourneyHarness h, int count)
    {
        var contacts = new List<Contact>();
        for (var i = 0; i < count; i++)
        {
            var c = await h.AddContactAsync("C" + i);
            await h.Runner.EnterAsync("one", c.Id);
            contacts.Add(c);
        }

        return contacts;
    }

    [Fact]
    public async Task Each_next_run_of_a_serial_batch_is_read_with_the_update_before_it_and_used_as_read()
    {
        var store = new ReadAheadStore();
        using var h = new JourneyHarness(wrapStore: store.Wrap, observe: false);
        h.Publish(OneSend());
        var contacts = await EnterAsync(h, 5);

        // What the read-ahead answers stands in for the step's own read: the third contact's message goes to the address it gave.
        store.AheadAddress[contacts[2].Id] = "read-ahead@example.com";
        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        Assert.Equal((1, 4, 1), (store.OwnReads, store.ReadAheads, store.PlainUpdates));
        Assert.Equal(5, h.State.Email.Messages.Count);
        Assert.Contains(h.State.Email.Messages, m => m.Recipient == "read-ahead@example.com");
        Assert.DoesNotContain(h.State.Email.Messages, m => m.Recipient == "c2@example.com");
        foreach (var c in contacts)
        {
            Assert.Equal(JourneyRunStatus.Completed, (await h.Store.GetLatestAsync("one", c.Id))!.Status);
        }
    }

    [Fact]
    public async Task With_an_observer_or_parallel_steps_every_step_reads_for_itself()
    {
        var observed = new ReadAheadStore();
        using (var h = new JourneyHarness(wrapStore: observed.Wrap))
        {
            h.Publish(OneSend());
            await EnterAsync(h, 4);
            await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));
            Assert.Equal(4, h.State.Email.Messages.Count);
        }

        var parallel = new ReadAheadStore();
        using (var h = new JourneyHarness(wrapStore: parallel.Wrap, journeys: o => o.MaxParallelism = 4, observe: false))
        {
            h.Publish(OneSend());
            await EnterAsync(h, 4);
            await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));
            Assert.Equal(4, h.State.Email.Messages.Count);
        }

        Assert.Equal((4, 0, 4), (observed.OwnReads, observed.ReadAheads, observed.PlainUpdates));
        Assert.Equal((4, 0, 4), (parallel.OwnReads, parallel.ReadAheads, parallel.PlainUpdates));
    }

    [Fact]
    public async Task A_run_due_again_at_once_updates_alone_and_reads_ahead_only_when_its_turn_ends()
    {
        var store = new ReadAheadStore();
        using var h = new JourneyHarness(wrapStore: store.Wrap, observe: false);
        h.Publish(OneSend() with
        {
            StartNodeId = "tag",
            Nodes = [new AddTagNode { Id = "tag", Tag = "welcomed", Next = "welcome" }, new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome" }],
        });
        await EnterAsync(h, 3);

        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        // Per run: the tag step's update (the run is due again at once) goes alone; the send's ends the turn and reads ahead, but the last run's.
        Assert.Equal((1, 2, 4), (store.OwnReads, store.ReadAheads, store.PlainUpdates));
        Assert.Equal(3, h.State.Email.Messages.Count);
    }

    [Fact]
    public async Task A_read_ahead_that_did_not_complete_or_an_update_that_failed_leaves_the_next_step_to_read_for_itself()
    {
        var store = new ReadAheadStore { DropReads = true };
        using var h = new JourneyHarness(wrapStore: store.Wrap, observe: false);
        h.Publish(OneSend());
        var contacts = await EnterAsync(h, 3);

        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        Assert.Equal((3, 2), (store.OwnReads, store.ReadAheads));
        Assert.Equal(3, h.State.Email.Messages.Count);

        // The update of the first run fails after its send: that step is retried after the lease (and not sent again,
        // its key completed); the next run reads for itself and is sent at once.
        var failing = new ReadAheadStore { FailFirstUpdate = true };
        using var h2 = new JourneyHarness(wrapStore: failing.Wrap, observe: false);
        h2.Publish(OneSend());
        var second = await EnterAsync(h2, 2);
        Assert.Equal(2, await h2.Runner.RunDueAsync(h2.Clock.GetCurrentInstant(), 10));
        Assert.Equal((2, 1), (failing.OwnReads, failing.ReadAheads));
        Assert.Equal(2, h2.State.Email.Messages.Count);
        Assert.Equal(JourneyRunStatus.Active, (await h2.Store.GetLatestAsync("one", second[0].Id))!.Status);
        Assert.Equal(JourneyRunStatus.Completed, (await h2.Store.GetLatestAsync("one", second[1].Id))!.Status);

        await h2.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));
        Assert.Equal(2, h2.State.Email.Messages.Count);
        Assert.Equal(JourneyRunStatus.Completed, (await h2.Store.GetLatestAsync("one", second[0].Id))!.Status);
        Assert.Equal(3, contacts.Count);
    }

    /// <summary>A read-ahead store over the harness's in-memory runs and contacts, counting which path each call took.</summary>
    private sealed class ReadAheadStore : IReadAheadJourneyRunStore
    {
        private IJourneyRunStore _inner = null!;
        private IContactStore? _contacts;

        public Dictionary<ContactId, string> AheadAddress { get; } = [];

        public bool DropReads { get; init; }

        public bool FailFirstUpdate { get; set; }

        public int OwnReads { get; private set; }

        public int ReadAheads { get; private set; }

        public int PlainUpdates { get; private set; }

        public ReadAheadStore Wrap(IJourneyRunStore inner)
        {
            _inner = inner;
            return this;
        }

        public bool ReadsContactsOf(IContactStore contacts)
        {
            _contacts = contacts;
            return true;
        }

        public async ValueTask<JourneyRunWithContact> GetLatestWithContactAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
        {
            OwnReads++;
            return await ReadAsync(journeyId, contactId, cancellationToken);
        }

        public async ValueTask<JourneyRunUpdateAndRead> TryUpdateAndReadNextAsync(JourneyRun run, long expectedVersion, string nextJourneyId, ContactId nextContactId, CancellationToken cancellationToken = default)
        {
            ReadAheads++;
            if (FailFirstUpdate)
            {
                FailFirstUpdate = false;
                throw new InvalidOperationException("the database went away");
            }

            var stored = await _inner.TryUpdateAsync(run, expectedVersion, cancellationToken);
            if (DropReads)
            {
                return new JourneyRunUpdateAndRead(stored, null);
            }

            var next = await ReadAsync(nextJourneyId, nextContactId, cancellationToken);
            if (next.Contact is { } c && AheadAddress.TryGetValue(c.Id, out var address))
            {
                next = next with { Contact = c with { Identities = c.Identities with { Email = address } } };
            }

            return new JourneyRunUpdateAndRead(stored, next);
        }

        private async ValueTask<JourneyRunWithContact> ReadAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken)
        {
            var run = await _inner.GetLatestAsync(journeyId, contactId, cancellationToken);
            return new JourneyRunWithContact(run, run is null ? null : await _contacts!.GetAsync(contactId, cancellationToken));
        }

        public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) => _inner.GetLatestAsync(journeyId, contactId, cancellationToken);

        public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default) => _inner.TryCreateAsync(run, cancellationToken);

        public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
        {
            PlainUpdates++;
            return _inner.TryUpdateAsync(run, expectedVersion, cancellationToken);
        }

        public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default) => _inner.ClaimDueAsync(now, batchSize, lease, excludedJourneys, cancellationToken);

        public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default) => _inner.GetNextDueAsync(cancellationToken);

        public IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, CancellationToken cancellationToken = default) => _inner.ListAsync(journeyId, cancellationToken);
    }
}
