using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using Campaigns.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Tests.Contacts;

/// <summary>
/// The importer over a store whose batches may be open together (<see cref="IBulkContactStore.AllowsConcurrentBatches"/>):
/// up to two groups commit in the background, each flushed at once and committed after the one before it. The store here
/// isolates its batches as a database does (a batch sees only its own writes and what is committed), so a row merged into
/// a contact another batch has not committed would show as a wrong result or a failed commit.
/// </summary>
public class ContactImporterOverlapTests
{
    private static readonly ContactImportMapping Mapping = new()
    {
        Source = "overlap.csv",
        Columns =
        [
            ColumnMapping.ToIdentity("phone", IdentityKind.Phone),
            ColumnMapping.ToIdentity("email", IdentityKind.Email),
            ColumnMapping.ToName("name") with { Merge = MergePolicy.Overwrite },
        ],
    };

    [Theory]
    [InlineData(false, 1_000)]
    [InlineData(true, 1_000)]
    [InlineData(false, 2_000)] // PostgreSQL's group: two chunks, so only every other chunk's lookup goes out early
    [InlineData(true, 2_000)]
    public async Task Rows_sharing_identities_with_the_groups_still_committing_merge_as_in_a_sequential_import(bool pipelined, int group)
    {
        var mapping = Mapping with { Pipelined = pipelined };
        var store = new IsolatingStore { CommitDelay = TimeSpan.FromMilliseconds(20), Group = group };

        var report = await ImporterOver(store).ImportAsync(RowsAsync(8_000), mapping);
        var sequential = new InMemoryContactStore();
        var expected = await ImporterOver(sequential).ImportAsync(RowsAsync(8_000), mapping);

        Assert.Equal(
            (expected.RowsRead, expected.Created, expected.Merged, expected.Flagged, expected.ContactsCreated),
            (report.RowsRead, report.Created, report.Merged, report.Flagged, report.ContactsCreated));
        Assert.True(report.Merged >= 250 && report.Flagged >= 100, $"{report.Merged} merged, {report.Flagged} flagged: the rows after each boundary should merge into the groups before it");
        Assert.Equal(expected.Issues.Select(i => (i.Row, i.Code, i.Value)), report.Issues.Select(i => (i.Row, i.Code, i.Value)));
        Assert.Equal(await SignaturesAsync(sequential), await SignaturesAsync(store.Committed));
        Assert.InRange(store.MaxInFlight, 1, 2);

        // The first rows of a chunk found the contacts created by the rows just before the boundary (still committing).
        var merged = (await store.Committed.FindAsync(IdentityKind.Phone, Phone(1_951)))!;
        Assert.Equal(("again 2001", 2), (merged.Name, merged.Version));
        Assert.Contains("again2001@example.com", merged.Identities.AdditionalEmails);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stored_contact_a_committing_group_only_found_is_merged_by_later_rows_in_row_order_whichever_identity_they_use(bool pipelined)
    {
        // A stored contact X (phone P, e-mail E). The first group's row 1 finds X by P and changes nothing (X is not
        // written). In the second group, row 1001 (P, name A) waits for the first group's commit; row 1002 reaches X by E
        // (name B). Sequentially X ends as B; had row 1002 not waited too, it would be merged first and X would end as A.
        var store = new IsolatingStore { CommitDelay = TimeSpan.FromMilliseconds(300) };
        var seeded = new InMemoryContactStore();
        foreach (var target in (InMemoryContactStore[])[store.Committed, seeded])
        {
            await target.AddAsync(new Contact { Id = ContactId.New(), Name = "seed", CreatedAt = NodaTime.Instant.FromUtc(2026, 1, 1, 0, 0), Identities = new ContactIdentities { Phone = Phone(0), Email = "x@example.com" } });
            await target.AddAsync(new Contact { Id = ContactId.New(), Name = "other", CreatedAt = NodaTime.Instant.FromUtc(2026, 1, 1, 0, 0), Identities = new ContactIdentities { Phone = Phone(99_999_999), Email = "y@example.com" } });
        }

        var mapping = Mapping with { Pipelined = pipelined };
        var report = await ImporterOver(store).ImportAsync(Rows(), mapping);
        var expected = await ImporterOver(seeded).ImportAsync(Rows(), mapping);

        Assert.Equal((expected.Created, expected.Merged, expected.Flagged), (report.Created, report.Merged, report.Flagged));
        Assert.Equal(1, report.Flagged); // row 1: X's e-mail on Y's row, a conflict
        Assert.Equal("B", (await seeded.FindAsync(IdentityKind.Phone, Phone(0)))!.Name);
        Assert.Equal("B", (await store.Committed.FindAsync(IdentityKind.Phone, Phone(0)))!.Name);
        Assert.Equal(await SignaturesAsync(seeded), await SignaturesAsync(store.Committed));

        static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> Rows()
        {
            await Task.CompletedTask;
            for (var i = 1; i <= 3_000; i++)
            {
                yield return i switch
                {
                    1 => new Dictionary<string, string?> { ["phone"] = Phone(99_999_999), ["email"] = "x@example.com", ["name"] = "other" },
                    1_001 => new Dictionary<string, string?> { ["phone"] = null, ["email"] = "x@example.com", ["name"] = "A" },
                    1_002 => new Dictionary<string, string?> { ["phone"] = Phone(0), ["email"] = null, ["name"] = "B" },
                    _ => new Dictionary<string, string?> { ["phone"] = Phone(i), ["email"] = $"u{i}@example.com", ["name"] = $"first {i}" },
                };
            }
        }
    }

    [Fact]
    public async Task Two_groups_commit_at_once_their_commits_complete_in_order_a_third_waits_for_the_first_and_lookups_go_out_early()
    {
        var store = new IsolatingStore { HoldFirstCommit = true };

        var import = ImporterOver(store).ImportAsync(RowsAsync(5_000, distinct: true), Mapping);

        // The second group is flushed while the first one's commit is held; each chunk's lookup went out before the
        // chunk before it was merged (and flushed).
        await store.SecondFlush.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var early = store.Events;
        Assert.Equal(["lookup", "lookup"], early.Take(2));
        Assert.True(early.TakeWhile(e => e != "flush 2").Count(e => e == "lookup") >= 3, string.Join(", ", early));
        Assert.Contains("flush 1", early);
        Assert.DoesNotContain("commit 1", store.Events);
        store.ReleaseFirstCommit();
        var report = await import;

        Assert.Equal(5_000, report.Created);
        Assert.Equal(5_000, await store.Committed.CountAsync());
        var events = store.Events.Where(e => e != "lookup").ToList();
        Assert.Equal(["flush 1", "flush 2", "commit 1"], events.Take(3));
        Assert.True(events.IndexOf("flush 3") > events.IndexOf("commit 1"), string.Join(", ", events));
        Assert.Equal(["commit 1", "commit 2", "commit 3", "commit 4", "commit 5"], events.Where(e => e.StartsWith("commit", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_failed_commit_surfaces_with_its_rows_the_groups_before_stay_and_the_flushed_group_after_it_is_not_committed()
    {
        var store = new IsolatingStore { FailCommit = 2 };

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => ImporterOver(store).ImportAsync(RowsAsync(6_000, distinct: true), Mapping));

        Assert.Equal("commit 2 failed on purpose", ex.Message);
        Assert.Equal((1_001L, 2_000L, 1_000L), (ex.Data["Campaigns.Import.FirstRow"], ex.Data["Campaigns.Import.LastRow"], ex.Data["Campaigns.Import.CommittedRows"]));
        Assert.Contains("flush 3", store.Events);
        Assert.Equal(["commit 1"], store.Events.Where(e => e.StartsWith("commit", StringComparison.Ordinal)));
        Assert.Equal(1_000, await store.Committed.CountAsync());
        Assert.NotNull(await store.Committed.FindAsync(IdentityKind.Phone, Phone(1_000)));
        Assert.Null(await store.Committed.FindAsync(IdentityKind.Phone, Phone(1_001)));
        Assert.Null(await store.Committed.FindAsync(IdentityKind.Phone, Phone(2_001)));
    }

    [Fact]
    public async Task A_cancelled_import_keeps_a_prefix_of_its_rows_every_group_handed_to_a_commit_included()
    {
        var store = new IsolatingStore();
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ImporterOver(store).ImportAsync(RowsAsync(9_000, distinct: true, cancelAt: 7_500, cancel), Mapping, cancellationToken: cancel.Token));

        // Whole chunks, the first ones in row order: every group whose commit had started is committed.
        var count = await store.Committed.CountAsync();
        Assert.True(count is 6_000 or 7_000, $"{count} contacts stored");
        for (var i = 1; i <= count; i++)
        {
            Assert.NotNull(await store.Committed.FindAsync(IdentityKind.Phone, Phone(i)));
        }

        Assert.Null(await store.Committed.FindAsync(IdentityKind.Phone, Phone((int)count + 1)));
        Assert.True(store.Events.Count(e => e.StartsWith("commit", StringComparison.Ordinal)) >= 6);
    }

    private static IContactImporter ImporterOver(IContactStore store)
    {
        var services = new ServiceCollection();
        services.AddSingleton(store);
        services.AddCampaigns();
        return services.BuildServiceProvider().GetRequiredService<IContactImporter>();
    }

    private static string Phone(int i) => $"+86138{i:D8}";

    /// <summary>
    /// Rows 1…<paramref name="count"/> with their own phone and e-mail, except (unless <paramref name="distinct"/>) the
    /// first 60 rows of every chunk b…b+999 after the first: rows b…b+19 repeat the phone of the row 50 before (just
    /// before the boundary: the group committing last) with a new e-mail; rows b+20…b+39 (from the third chunk on) the
    /// e-mail of a row of the chunk before the previous one (the group committing first) with a new phone; rows
    /// b+40…b+59 the phone of a row of the previous chunk and the e-mail of another one of it (merged into the first, the
    /// e-mail flagged as a conflict).
    /// With <paramref name="cancelAt"/>, cancels <paramref name="cancel"/> when that row is asked for.
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> RowsAsync(int count, bool distinct = false, int cancelAt = 0, CancellationTokenSource? cancel = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 1; i <= count; i++)
        {
            if (i == cancelAt)
            {
                await cancel!.CancelAsync();
                cancellationToken.ThrowIfCancellationRequested();
            }

            var offset = (i - 1) % 1_000;
            string phone = Phone(i), email = $"u{i}@example.com", name = $"first {i}";
            if (!distinct && i > 1_000 && offset < 60)
            {
                name = $"again {i}";
                var b = i - offset;
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
    }

    /// <summary>Every contact as (name, identities, version, flags), ordered: equal for two stores holding the same contacts.</summary>
    private static async Task<List<string>> SignaturesAsync(InMemoryContactStore store)
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

    /// <summary>
    /// The in-memory store (<see cref="Committed"/>) with batches isolated as in a database: a batch sees its own writes
    /// and what is committed, and replays its writes into the store at its commit (a stale version or a taken identity
    /// then fails the commit). Records flushes and commits in order (<see cref="Events"/>).
    /// </summary>
    private sealed class IsolatingStore : IContactStore, IBulkContactStore, IBulkContactLookup
    {
        private readonly object _gate = new();
        private readonly List<string> _events = [];
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _flushes;
        private int _commits;
        private int _inFlight;

        public InMemoryContactStore Committed { get; } = new();

        /// <summary>Holds the first commit until <see cref="ReleaseFirstCommit"/>.</summary>
        public bool HoldFirstCommit { get; init; }

        /// <summary>How long each commit takes (so that the next groups run while it is in flight).</summary>
        public TimeSpan CommitDelay { get; init; }

        /// <summary>That commit (1-based) throws instead of committing.</summary>
        public int FailCommit { get; init; }

        public int MaxInFlight { get; private set; }

        public TaskCompletionSource SecondFlush { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Events
        {
            get
            {
                lock (_gate)
                {
                    return [.. _events];
                }
            }
        }

        public bool AllowsConcurrentBatches => true;

        /// <summary>The writes per group: by default one chunk (the tests count groups in chunks of 1,000 rows).</summary>
        public int Group { get; init; } = 1_000;

        public int PreferredWritesPerCommit => Group;

        public void ReleaseFirstCommit() => _release.TrySetResult();

        public ValueTask<IContactWriteBatch> BeginBatchAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<IContactWriteBatch>(new Batch(this));

        public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) => Committed.GetAsync(id, cancellationToken);

        public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default) => Committed.FindAsync(kind, value, cancellationToken);

        public Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default) => Committed.FindManyAsync(identities, cancellationToken);

        public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default) => Committed.AddAsync(contact, cancellationToken);

        public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default) => Committed.UpdateAsync(contact, cancellationToken);

        public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => Committed.ListAsync(cancellationToken);

        public Task<long> CountAsync(CancellationToken cancellationToken = default) => Committed.CountAsync(cancellationToken);

        private void Record(string what, int inFlight)
        {
            lock (_gate)
            {
                _events.Add(what);
                _inFlight += inFlight;
                MaxInFlight = Math.Max(MaxInFlight, _inFlight);
            }
        }

        private sealed class Batch(IsolatingStore owner) : IContactWriteBatch, IBulkContactLookup
        {
            // The writes in order (as given: replayed into the store at the commit), the contacts as the batch wrote them,
            // and their identities.
            private readonly List<(Contact Contact, bool Added)> _writes = [];
            private readonly Dictionary<ContactId, Contact> _written = [];
            private readonly Dictionary<(IdentityKind, string), ContactId> _identities = [];
            private bool _flushed;

            public int PendingWrites => _writes.Count;

            public async Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default) =>
                _written.TryGetValue(id, out var own) ? own : await owner.Committed.GetAsync(id, cancellationToken);

            public async Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
            {
                if (_identities.TryGetValue((kind, value), out var id))
                {
                    return _written[id];
                }

                var committed = await owner.Committed.FindAsync(kind, value, cancellationToken);
                return committed is not null && _written.TryGetValue(committed.Id, out var own) ? own : committed;
            }

            public async Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
            {
                owner.Record("lookup", 0);
                var found = new Dictionary<ContactIdentityKey, Contact>();
                foreach (var identity in identities)
                {
                    if (await FindAsync(identity.Kind, identity.Value, cancellationToken) is { } contact)
                    {
                        found[identity] = contact;
                    }
                }

                return found;
            }

            public async Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
            {
                foreach (var (kind, value) in PersonalDataFields.IdentityKeys(contact.Identities))
                {
                    if (await FindAsync(kind, value, cancellationToken) is not null)
                    {
                        throw new DuplicateEntityException("contact", $"{kind}:{value}");
                    }
                }

                return Write(contact, added: true);
            }

            public async Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
            {
                var current = await GetAsync(contact.Id, cancellationToken);
                if (current is null || current.Version != contact.Version)
                {
                    throw new ConcurrencyException("contact", contact.Id.ToString(), contact.Version, current?.Version);
                }

                foreach (var (kind, value) in PersonalDataFields.IdentityKeys(contact.Identities))
                {
                    if (await FindAsync(kind, value, cancellationToken) is { } holder && holder.Id != contact.Id)
                    {
                        throw new DuplicateEntityException("contact", $"{kind}:{value}");
                    }
                }

                return Write(contact, added: false);
            }

            public ValueTask FlushAsync(CancellationToken cancellationToken = default)
            {
                if (_writes.Count > 0 && !_flushed)
                {
                    _flushed = true;
                    var n = Interlocked.Increment(ref owner._flushes);
                    owner.Record($"flush {n}", 1);
                    if (n == 2)
                    {
                        owner.SecondFlush.TrySetResult();
                    }
                }

                return ValueTask.CompletedTask;
            }

            public async ValueTask CommitAsync(CancellationToken cancellationToken = default)
            {
                if (_writes.Count == 0)
                {
                    return;
                }

                var n = Interlocked.Increment(ref owner._commits);
                if (n == 1 && owner.HoldFirstCommit)
                {
                    await owner._release.Task;
                }

                if (owner.CommitDelay > TimeSpan.Zero)
                {
                    await Task.Delay(owner.CommitDelay, cancellationToken);
                }

                if (n == owner.FailCommit)
                {
                    throw new InvalidOperationException($"commit {n} failed on purpose");
                }

                foreach (var (contact, added) in _writes)
                {
                    _ = added ? await owner.Committed.AddAsync(contact, cancellationToken) : await owner.Committed.UpdateAsync(contact, cancellationToken);
                }

                owner.Record($"commit {n}", _flushed ? -1 : 0);
                _writes.Clear();
                _written.Clear();
                _identities.Clear();
                _flushed = false;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;

            public IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

            public Task<long> CountAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

            private Contact Write(Contact contact, bool added)
            {
                var stored = contact with { Version = contact.Version + 1 };
                _writes.Add((contact, added));
                _written[contact.Id] = stored;
                foreach (var key in PersonalDataFields.IdentityKeys(stored.Identities))
                {
                    _identities[key] = stored.Id;
                }

                return stored;
            }
        }
    }
}
