using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Tests.Contacts;

/// <summary>The importer looks up a chunk's identities in one read when the store can, and falls back when it cannot.</summary>
public class ContactImporterBulkLookupTests
{
    private static readonly ContactImportMapping Mapping = new()
    {
        Source = "bulk.csv",
        Columns =
        [
            ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
            ColumnMapping.ToIdentity("email", IdentityKind.Email),
            ColumnMapping.ToName("name") with { Merge = MergePolicy.Overwrite },
        ],
    };

    [Theory]
    [InlineData(10, 1)]
    [InlineData(1_000, 1)]
    [InlineData(1_001, 2)]
    [InlineData(4_500, 5)]
    public async Task One_bulk_lookup_per_chunk_and_no_lookup_per_row(int rows, int chunks)
    {
        var store = new BulkCountingStore();
        var importer = ImporterOver(store);

        var report = await importer.ImportAsync(Rows(rows), Mapping);

        Assert.Equal((rows, rows), (report.RowsRead, report.Created));
        Assert.Equal(chunks, store.BulkLookups);
        Assert.Equal(0, store.SingleLookups);
        Assert.Equal(rows * 2, store.IdentitiesAsked);
    }

    [Fact]
    public async Task A_store_without_bulk_lookup_is_asked_once_per_distinct_identity()
    {
        var store = new CountingStore();
        var importer = ImporterOver(store);

        // The third row repeats the first one's phone: the chunk asks for it once and merges the row into the contact
        // the first row created.
        var report = await importer.ImportCsvTextAsync(new StringReader("phone,email,name\n+8613800000001,a@example.com,A\n+8613800000002,,B\n+8613800000001,,A again\n"), Mapping);

        Assert.Equal((3, 2, 1), (report.RowsRead, report.Created, report.Merged));
        Assert.Equal(3, store.SingleLookups);
        Assert.Equal("A again", (await store.FindAsync(IdentityKind.Email, "a@example.com"))?.Name);
    }

    [Fact]
    public async Task Rejected_rows_keep_their_place_among_the_issues()
    {
        var importer = ImporterOver(new BulkCountingStore());

        var report = await importer.ImportCsvTextAsync(new StringReader("phone,email,name\n,,nobody\n12345,,bad phone\n,,nobody again\n"), Mapping);

        Assert.Equal((3, 1, 2), (report.RowsRead, report.Flagged, report.Rejected));
        Assert.Equal([2L, 3L, 4L], report.Issues.Select(i => i.Row));
    }

    [Theory]
    [InlineData(false, null, 4_000)]
    [InlineData(true, null, 2_000)]
    [InlineData(false, 2_000, 2_000)]
    [InlineData(true, 3_000, 3_000)]
    [InlineData(true, 1_500, 2_000)]
    public async Task The_batch_commits_every_time_the_stores_preferred_writes_per_commit_are_reached(bool concurrent, int? preferred, int expected)
    {
        var store = new BatchingStore(concurrent, preferred);

        var report = await ImporterOver(store).ImportAsync(Rows(9_500), Mapping);

        // Whole chunks of 1,000 rows: each commit but the last holds the first multiple of 1,000 writes at or past the
        // store's preference (by default 4,000, or 1,000 when its commits overlap the next rows); the last one the rest.
        Assert.Equal(9_500, report.Created);
        Assert.Equal([.. Enumerable.Repeat(expected, 9_500 / expected), 9_500 % expected], store.Commits);
        Assert.Equal(9_500, await store.CountAsync());
    }

    [Fact]
    public async Task A_store_preferring_no_writes_per_commit_is_refused_with_the_member_named()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ImporterOver(new BatchingStore(false, 0)).ImportAsync(Rows(10), Mapping));

        Assert.Contains("BatchingStore.PreferredWritesPerCommit must be positive (is 0)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_row_that_loses_a_race_for_an_identity_is_looked_up_again_in_the_store_and_merged()
    {
        // Between the chunk's lookup and the row's write another writer takes the row's e-mail: the add fails as a
        // duplicate, the row forgets what the chunk's lookup said and finds that writer's contact in the store.
        var store = new RacingStore("+8613800000002", new Contact { Id = ContactId.New(), CreatedAt = NodaTime.Instant.FromUtc(2026, 1, 1, 0, 0), Name = "other writer", Identities = new ContactIdentities { Email = "b@example.com" } });

        var report = await ImporterOver(store).ImportCsvTextAsync(new StringReader("phone,email,name\n+8613800000001,a@example.com,A\n+8613800000002,b@example.com,B\n"), Mapping);

        Assert.Equal((2, 1, 1, 0), (report.RowsRead, report.Created, report.Merged, report.Flagged));
        var merged = (await store.FindAsync(IdentityKind.Email, "b@example.com"))!;
        Assert.Equal(("B", "+8613800000002", 2), (merged.Name, merged.Identities.Phone, merged.Version));
        Assert.Equal(2, await store.CountAsync());
    }

    private static IContactImporter ImporterOver(IContactStore store)
    {
        var services = new ServiceCollection();
        services.AddSingleton(store);
        services.AddCampaigns();
        return services.BuildServiceProvider().GetRequiredService<IContactImporter>();
    }

    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> Rows(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return new Dictionary<string, string?> { ["phone"] = $"+86138{i:D8}", ["email"] = $"u{i}@example.com", ["name"] = $"n{i}" };
        }

        await Task.CompletedTask;
    }

    /// <summary>The in-memory store, counting lookups; it has no bulk lookup, so the importer falls back to FindAsync.</summary>
    private class CountingStore : IContactStore
    {
        protected InMemoryContactStore Inner { get; } = new();

        public int SingleLookups { get; private set; }

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
        {
            SingleLookups++;
            return Inner.FindAsync(kind, value, cancellationToken);
        }

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => Inner.GetAsync(id, cancellationToken);

        public virtual Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) => Inner.AddAsync(contact, cancellationToken);

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => Inner.UpdateAsync(contact, cancellationToken);

        public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => Inner.ListAsync(cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => Inner.CountAsync(cancellationToken);
    }

    /// <summary>
    /// The in-memory store with batches that write through at once and count their writes: <see cref="Commits"/> are the
    /// writes of each commit that had any, in order. <paramref name="preferred"/> null keeps the interface's default.
    /// </summary>
    private sealed class BatchingStore(bool concurrent, int? preferred) : CountingStore, IBulkContactStore, IBulkContactLookup
    {
        private readonly List<int> _commits = [];

        public bool AllowsConcurrentBatches => concurrent;

        public int PreferredWritesPerCommit => preferred ?? ((IBulkContactStore)new DefaultBulkStore(concurrent)).PreferredWritesPerCommit;

        public IReadOnlyList<int> Commits
        {
            get
            {
                lock (_commits)
                {
                    return [.. _commits];
                }
            }
        }

        public ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<IContactWriteBatch>(new Batch(this));

        public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) =>
            Inner.FindManyAsync(identities, cancellationToken);

        private sealed class Batch(BatchingStore owner) : IContactWriteBatch, IBulkContactLookup
        {
            public int PendingWrites { get; private set; }

            public ValueTask CommitAsync(CancellationToken cancellationToken = default)
            {
                if (PendingWrites > 0)
                {
                    lock (owner._commits)
                    {
                        owner._commits.Add(PendingWrites);
                    }
                }

                PendingWrites = 0;
                return ValueTask.CompletedTask;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;

            public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => owner.Inner.GetAsync(id, cancellationToken);

            public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => owner.Inner.FindAsync(kind, value, cancellationToken);

            public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) =>
                owner.Inner.FindManyAsync(identities, cancellationToken);

            public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
            {
                PendingWrites++;
                return owner.Inner.AddAsync(contact, cancellationToken);
            }

            public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
            {
                PendingWrites++;
                return owner.Inner.UpdateAsync(contact, cancellationToken);
            }

            public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => owner.Inner.ListAsync(cancellationToken);

            public Task<long> CountAsync(CancellationToken cancellationToken = default) => owner.Inner.CountAsync(cancellationToken);
        }

        /// <summary>A bulk store that keeps the interface's default preference, to read it.</summary>
        private sealed class DefaultBulkStore(bool concurrent) : IBulkContactStore
        {
            public bool AllowsConcurrentBatches => concurrent;

            public ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
        }
    }

    /// <summary>The in-memory store where another writer adds <paramref name="rival"/> just before the first add of a contact with <paramref name="phone"/>.</summary>
    private sealed class RacingStore(string phone, Contact rival) : CountingStore
    {
        private bool _raced;

        public override async Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
        {
            if (!_raced && contact.Identities.Phone == phone)
            {
                _raced = true;
                await Inner.AddAsync(rival, cancellationToken);
            }

            return await Inner.AddAsync(contact, cancellationToken);
        }
    }

    /// <summary>The counting store with a bulk lookup (answered by the in-memory store through the fallback, uncounted).</summary>
    private sealed class BulkCountingStore : CountingStore, IBulkContactLookup
    {
        public int BulkLookups { get; private set; }

        public int IdentitiesAsked { get; private set; }

        public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
        {
            BulkLookups++;
            IdentitiesAsked += identities.Count;
            return Inner.FindManyAsync(identities, cancellationToken);
        }
    }
}
