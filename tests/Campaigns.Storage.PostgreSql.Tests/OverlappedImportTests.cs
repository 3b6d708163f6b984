using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The importer over PostgreSQL commits one group of rows (here 4,000 writes: <see cref="IBulkContactStore.PreferredWritesPerCommit"/>) in the background while it merges the next
/// group in a second batch (<see cref="IBulkContactStore.AllowsConcurrentBatches"/>): the result must be that of a
/// sequential import, and a failed background commit must leave only the groups before it.
/// </summary>
public sealed class OverlappedImportTests
{
    private const int Rows = 12_000;

    [SkippableTheory]
    [InlineData(1_000)]
    [InlineData(3)]
    public async Task Rows_that_need_contacts_of_the_group_still_committing_merge_into_them_as_in_a_sequential_import(int maxIssues)
    {
        var mapping = Mapping with { MaxIssues = maxIssues };
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = new CountingStore(schema.Contacts());
        Assert.True(((IBulkContactStore)schema.Contacts()).AllowsConcurrentBatches);
        Assert.Equal(2_000, ((IBulkContactStore)schema.Contacts()).PreferredWritesPerCommit);
        var report = await ImporterOver.Store(store).ImportAsync(RowsAsync(), mapping);

        // The same rows into the in-memory store, one contact at a time.
        var services = new ServiceCollection();
        services.AddCampaigns();
        await using var provider = services.BuildServiceProvider();
        var expected = await provider.GetRequiredService<IContactImporter>().ImportAsync(RowsAsync(), mapping);

        Assert.True(store.Batches >= 2, $"the import used {store.Batches} batch(es), so nothing overlapped");
        Assert.Equal(
            (expected.RowsRead, expected.Created, expected.Merged, expected.Flagged, expected.Rejected, expected.ContactsCreated),
            (report.RowsRead, report.Created, report.Merged, report.Flagged, report.Rejected, report.ContactsCreated));
        Assert.Equal(Rows, report.Created + report.Merged + report.Flagged + report.Rejected);
        Assert.True(report.Merged >= 390 && report.Flagged >= 2, $"{report.Merged} merges, {report.Flagged} flagged: the rows after each group boundary should merge (a few with a conflict)");
        // Issues in row order, also where a row set aside for the background commit was applied after later ones.
        Assert.Equal(expected.Issues.Select(i => (i.Row, i.Code, i.Value)), report.Issues.Select(i => (i.Row, i.Code, i.Value)));
        Assert.Equal(expected.IssuesOmitted, report.IssuesOmitted);
        Assert.Equal(maxIssues == 3 ? 3 : report.Flagged, report.Issues.Count);
        Assert.Equal(await SignaturesAsync(provider.GetRequiredService<IContactStore>()), await SignaturesAsync(schema.Contacts()));
        Assert.Equal(expected.ContactsCreated, await schema.Contacts().CountAsync());

        // A row right after the first boundary found the contact of the row before it, committed in the background.
        var merged = (await schema.Contacts().FindAsync(IdentityKind.Email, "again4001@example.com"))!;
        Assert.Equal(merged.Id, (await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(3_901)))?.Id);
        Assert.Equal("again 4001", merged.Name);
        Assert.Equal(2, merged.Version);
    }

    [SkippableFact]
    public async Task A_failed_background_commit_surfaces_with_its_group_and_later_groups_are_rolled_back()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = new CountingStore(schema.Contacts()) { FailCommit = 2 };

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ImporterOver.Store(store).ImportAsync(RowsAsync(distinct: true), Mapping));

        Assert.Equal("commit failed on purpose", ex.Message);
        Assert.Equal((4_001L, 8_000L, 4_000L), (ex.Data["Campaigns.Import.FirstRow"], ex.Data["Campaigns.Import.LastRow"], ex.Data["Campaigns.Import.CommittedRows"]));

        // Only the first group stays: the failed one and the one after it (merged meanwhile in the other batch) are gone.
        Assert.Equal(4_000, await schema.Contacts().CountAsync());
        Assert.NotNull(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(4_000)));
        Assert.Null(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(4_001)));
        Assert.Null(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(8_001)));
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_the_stores_groups_of_1000_two_commits_in_flight_rows_needing_either_merge_as_in_a_sequential_import(bool pipelined)
    {
        var mapping = Mapping with { Pipelined = pipelined };
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = new CountingStore(schema.Contacts()) { GroupSize = 1_000 };
        var report = await ImporterOver.Store(store).ImportAsync(ShortGroupRowsAsync(), mapping);

        var services = new ServiceCollection();
        services.AddCampaigns();
        await using var provider = services.BuildServiceProvider();
        var expected = await provider.GetRequiredService<IContactImporter>().ImportAsync(ShortGroupRowsAsync(), mapping);

        Assert.True(store.Batches >= 2, $"the import used {store.Batches} batch(es), so nothing overlapped");
        Assert.Equal(
            (expected.RowsRead, expected.Created, expected.Merged, expected.Flagged, expected.ContactsCreated),
            (report.RowsRead, report.Created, report.Merged, report.Flagged, report.ContactsCreated));
        Assert.True(report.Merged >= 250 && report.Flagged >= 100, $"{report.Merged} merged, {report.Flagged} flagged");
        Assert.Equal(expected.Issues.Select(i => (i.Row, i.Code, i.Value)), report.Issues.Select(i => (i.Row, i.Code, i.Value)));
        Assert.Equal(await SignaturesAsync(provider.GetRequiredService<IContactStore>()), await SignaturesAsync(schema.Contacts()));
    }

    [SkippableFact]
    public async Task With_groups_of_1000_a_failed_commit_leaves_only_the_groups_before_it()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = new CountingStore(schema.Contacts()) { GroupSize = 1_000, FailCommit = 3 };

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ImporterOver.Store(store).ImportAsync(RowsAsync(distinct: true), Mapping));

        Assert.Equal("commit failed on purpose", ex.Message);
        Assert.Equal((2_001L, 3_000L, 2_000L), (ex.Data["Campaigns.Import.FirstRow"], ex.Data["Campaigns.Import.LastRow"], ex.Data["Campaigns.Import.CommittedRows"]));
        Assert.Equal(2_000, await schema.Contacts().CountAsync());
        Assert.NotNull(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(2_000)));
        Assert.Null(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(2_001)));
        Assert.Null(await schema.Contacts().FindAsync(IdentityKind.Phone, Phone(3_001)));
    }

    private static ContactImportMapping Mapping { get; } = new()
    {
        Source = "overlap",
        Columns =
        [
            ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
            ColumnMapping.ToIdentity("email", IdentityKind.Email),
            ColumnMapping.ToName("name") with { Merge = MergePolicy.Overwrite },
        ],
    };

    private static string Phone(int i) => $"+86138{i:D8}";

    /// <summary>
    /// Distinct rows, except right after each 4,000-row boundary: 100 rows repeat a phone of the 100 rows before the
    /// boundary (with a new e-mail), 100 an e-mail of the 100 before those (with a new phone), and every 50th of those
    /// carries the phone of yet another earlier contact instead (a conflict, flagged); the rows at offsets 300 and 301 of
    /// every 4,000 have an invalid phone (flagged, applied before the conflicts set aside for the background commit).
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> RowsAsync(bool distinct = false)
    {
        for (var i = 1; i <= Rows; i++)
        {
            var offset = (i - 1) % 4_000;
            string phone = offset is 300 or 301 ? "12345" : Phone(i), email = $"u{i}@example.com", name = $"first {i}";
            if (!distinct && i > 4_000 && offset < 200)
            {
                name = $"again {i}";
                if (offset < 100)
                {
                    (phone, email) = (Phone(i - 100), $"again{i}@example.com");
                }
                else
                {
                    email = $"u{i - 300}@example.com";
                    if (offset % 50 == 0)
                    {
                        // Also the phone of another earlier contact: merged into that one, the e-mail flagged.
                        phone = Phone(i - 150);
                    }
                }
            }

            yield return new Dictionary<string, string?> { ["phone"] = phone, ["email"] = email, ["name"] = name };
        }

        await Task.CompletedTask;
    }

    /// <summary>
    /// 8,000 rows, distinct except the first 60 of every chunk b…b+999 after the first: b…b+19 repeat the phone of the row
    /// 50 before (the group committing last), b+20…b+39 (from the third chunk on) an e-mail of the chunk before the
    /// previous one (the group committing first), b+40…b+59 a phone of the previous chunk with an e-mail of another of its
    /// contacts (a conflict, flagged).
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> ShortGroupRowsAsync()
    {
        for (var i = 1; i <= 8_000; i++)
        {
            var offset = (i - 1) % 1_000;
            var b = i - offset;
            string phone = Phone(i), email = $"u{i}@example.com", name = $"first {i}";
            if (i > 1_000 && offset < 60)
            {
                name = $"again {i}";
                if (offset < 20)
                {
                    (phone, email) = (Phone(i - 50), $"again{i}@example.com");
                }
                else if (offset < 40 && i > 2_000)
                {
                    (phone, email) = (Phone(100_000 + i), $"u{b - 2_000 + 300 + offset}@example.com");
                }
                else if (offset >= 40)
                {
                    (phone, email) = (Phone(b - 500 + offset), $"u{b - 300 + offset}@example.com");
                }
            }

            yield return new Dictionary<string, string?> { ["phone"] = phone, ["email"] = email, ["name"] = name };
        }

        await Task.CompletedTask;
    }

    /// <summary>Every contact as (name, identities, flags), ordered: equal for two stores holding the same contacts.</summary>
    private static async Task<List<string>> SignaturesAsync(IContactStore store)
    {
        var all = new List<string>();
        await foreach (var c in store.ListAsync())
        {
            var i = c.Identities;
            all.Add($"{c.Name}|{i.Phone}|{i.Email}|{string.Join(",", i.AdditionalPhones)}|{string.Join(",", i.AdditionalEmails)}|{c.Version}|{string.Join(",", c.QualityFlags.Select(f => f.Code + ":" + f.Value))}");
        }

        all.Sort(StringComparer.Ordinal);
        return all;
    }

    /// <summary>The PostgreSQL store, counting its batches; with <see cref="FailCommit"/>, that commit (1-based) throws instead of committing.</summary>
    private sealed class CountingStore(IContactStore inner) : IContactStore, IBulkContactStore, IBulkContactLookup
    {
        private int _commits;

        public int Batches { get; private set; }

        public int FailCommit { get; init; }

        /// <summary>The writes per commit: 4,000 by default, which <see cref="RowsAsync"/> is laid out for (the store itself prefers 1,000).</summary>
        public int GroupSize { get; init; } = 4_000;

        public bool AllowsConcurrentBatches => ((IBulkContactStore)inner).AllowsConcurrentBatches;

        public int PreferredWritesPerCommit => GroupSize;

        public async ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default)
        {
            Batches++;
            return new Batch(await ((IBulkContactStore)inner).BeginBatchAsync(cancellationToken), this);
        }

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => inner.FindAsync(kind, value, cancellationToken);

        public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) => inner.FindManyAsync(identities, cancellationToken);

        public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) => inner.AddAsync(contact, cancellationToken);

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => inner.UpdateAsync(contact, cancellationToken);

        public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);

        private sealed class Batch(IContactWriteBatch inner, CountingStore owner) : IContactWriteBatch, IBulkContactLookup
        {
            public int PendingWrites => inner.PendingWrites;

            public ValueTask CommitAsync(CancellationToken cancellationToken = default) =>
                Interlocked.Increment(ref owner._commits) == owner.FailCommit ? throw new InvalidOperationException("commit failed on purpose") : inner.CommitAsync(cancellationToken);

            public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();

            public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => inner.GetAsync(id, cancellationToken);

            public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => inner.FindAsync(kind, value, cancellationToken);

            public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) => inner.FindManyAsync(identities, cancellationToken);

            public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) => inner.AddAsync(contact, cancellationToken);

            public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => inner.UpdateAsync(contact, cancellationToken);

            public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
            {
                await foreach (var contact in inner.ListAsync(cancellationToken))
                {
                    yield return contact;
                }
            }

            public Task<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
        }
    }
}
