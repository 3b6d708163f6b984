using Campaigns.Contacts;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>
/// The runner's use of <see cref="IContactReadingJourneyRunStore"/>: a due step takes its contact from the combined read
/// only when the store says it reads the registered contact store, and then asks the contact store nothing.
/// </summary>
public sealed class JourneyStoreCapabilityTests
{
    private static JourneyDefinition OneSend() => new()
    {
        Id = "one",
        Name = "One send",
        Trigger = new ApiTrigger(),
        StartNodeId = "welcome",
        Nodes = [new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome" }],
    };

    [Fact]
    public async Task A_covering_store_supplies_the_contact_of_a_due_step()
    {
        var store = new ContactReadingStore(covers: true);
        using var h = new JourneyHarness(wrapStore: inner => store.Wrap(inner));
        h.Publish(OneSend());
        var ann = await h.AddContactAsync("Ann");
        await h.Runner.EnterAsync("one", ann.Id);

        // What the combined read answers stands in for the contact store: the message goes to its address.
        store.Answer = ann with { Identities = ann.Identities with { Email = "from-the-combined-read@example.com" } };
        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        Assert.Equal(1, store.CombinedReads);
        Assert.Equal("from-the-combined-read@example.com", Assert.Single(h.State.Email.Messages).Recipient);
        Assert.Equal(JourneyRunStatus.Completed, (await h.Store.GetLatestAsync("one", ann.Id))!.Status);
    }

    [Fact]
    public async Task A_contact_the_combined_read_does_not_find_ends_the_run()
    {
        var store = new ContactReadingStore(covers: true);
        using var h = new JourneyHarness(wrapStore: inner => store.Wrap(inner));
        h.Publish(OneSend());
        var ann = await h.AddContactAsync("Ann");
        await h.Runner.EnterAsync("one", ann.Id);
        store.Answer = null; // deleted, as far as the store's database knows

        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        Assert.Empty(h.State.Email.Messages);
        var run = (await h.Store.GetLatestAsync("one", ann.Id))!;
        Assert.Equal((JourneyRunStatus.Exited, "the contact no longer exists"), (run.Status, run.EndReason));
    }

    [Fact]
    public async Task A_store_that_does_not_cover_the_contact_store_is_read_the_old_way()
    {
        var store = new ContactReadingStore(covers: false);
        using var h = new JourneyHarness(wrapStore: inner => store.Wrap(inner));
        h.Publish(OneSend());
        var ann = await h.AddContactAsync("Ann");
        await h.Runner.EnterAsync("one", ann.Id);
        store.Answer = ann with { Identities = ann.Identities with { Email = "from-the-combined-read@example.com" } };

        await h.DriveAsync(JourneyHarness.T0 + Duration.FromHours(1));

        Assert.Equal(0, store.CombinedReads);
        Assert.True(store.AskedWhichContactStore);
        Assert.Equal("ann@example.com", Assert.Single(h.State.Email.Messages).Recipient);
    }

    private sealed class ContactReadingStore(bool covers) : IContactReadingJourneyRunStore
    {
        private IJourneyRunStore _inner = null!;

        public Contact? Answer { get; set; }

        public int CombinedReads { get; private set; }

        public bool AskedWhichContactStore { get; private set; }

        public ContactReadingStore Wrap(IJourneyRunStore inner)
        {
            _inner = inner;
            return this;
        }

        public bool ReadsContactsOf(IContactStore contacts)
        {
            AskedWhichContactStore = contacts is InMemoryContactStore;
            return covers;
        }

        public async ValueTask<JourneyRunWithContact> GetLatestWithContactAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
        {
            CombinedReads++;
            var run = await _inner.GetLatestAsync(journeyId, contactId, cancellationToken);
            return new JourneyRunWithContact(run, run is null ? null : Answer);
        }

        public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) => _inner.GetLatestAsync(journeyId, contactId, cancellationToken);

        public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default) => _inner.TryCreateAsync(run, cancellationToken);

        public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default) => _inner.TryUpdateAsync(run, expectedVersion, cancellationToken);

        public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default) => _inner.ClaimDueAsync(now, batchSize, lease, excludedJourneys, cancellationToken);

        public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default) => _inner.GetNextDueAsync(cancellationToken);

        public IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, CancellationToken cancellationToken = default) => _inner.ListAsync(journeyId, cancellationToken);
    }
}
