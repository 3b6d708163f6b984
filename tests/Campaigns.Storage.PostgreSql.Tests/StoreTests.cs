using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Microsoft.Extensions.Time.Testing;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>A protector that visibly changes values (reversed, prefixed) so tests can see what reaches the database.</summary>
internal sealed class ReversingProtector(string scheme = "test-reverse") : IPersonalDataProtector
{
    public string Scheme => scheme;

    public string Protect(string purpose, string value) => "enc:" + purpose + ":" + new string(value.Reverse().ToArray());

    public string Unprotect(string purpose, string protectedValue)
    {
        var prefix = "enc:" + purpose + ":";
        if (!protectedValue.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new System.Security.Cryptography.CryptographicException($"'{protectedValue}' was not protected for '{purpose}'.");
        }

        return new string(protectedValue[prefix.Length..].Reverse().ToArray());
    }

    public string ComputeLookupKey(string purpose, string normalizedValue) => "key:" + purpose + ":" + normalizedValue.Length + ":" + new string(normalizedValue.Reverse().ToArray());
}

internal static class Make
{
    public static readonly Instant T0 = Instant.FromUtc(2026, 6, 17, 2, 0);

    private static int _n;

    public static Contact Contact(string? phone = null, string? email = null, string name = "Ann") => new()
    {
        Id = ContactId.New(),
        Name = name,
        CreatedAt = T0,
        Identities = new ContactIdentities
        {
            // Generated phones live in their own range (+86137…) so they never meet the +86138… numbers that
            // tests write by hand; the counter is shared by every test in the process.
            Phone = phone ?? $"+86137{Interlocked.Increment(ref _n):D8}",
            Email = email ?? $"c{Interlocked.Increment(ref _n)}@example.com",
        },
        Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue("retail") },
        Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0) },
        Tags = [new ContactTag { Tag = "vip", AssignedAt = T0 }],
    };
}

// The contract suite (PostgreSqlStoreContractTests.cs) checks the store semantics; these check what is PostgreSQL's own.

public sealed class ContactStoreTests
{
    [SkippableFact]
    public async Task Stale_and_clashing_reports_concurrency_and_a_duplicate_names_the_identity_not_its_lookup_key()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000011", email: "ann@example.com"));
        var dup = await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(Make.Contact(phone: "+8613800000012", email: "ann@example.com")));
        Assert.Contains("email:ann@example.com", dup.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key:", dup.Message, StringComparison.Ordinal);

        // Stale and clashing: the version is checked first, as in the in-memory store.
        var bob = await store.AddAsync(Make.Contact());
        await store.UpdateAsync(bob with { Name = "first" });
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(bob with { Identities = bob.Identities with { Phone = ann.Identities.Phone } }));
    }
}

public sealed class EventStoreTests
{
    [SkippableFact]
    public async Task Sub_tick_instants_are_bounded_exactly()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Events();
        var contact = ContactId.New();
        var at = Make.T0 + Duration.FromNanoseconds(50);
        await store.AppendAsync(new BehaviourEvent { EventId = "e", ContactId = contact, Kind = "k", OccurredAt = at });
        Assert.Empty(await Ids(store.ListAsync(contact, since: at + Duration.FromNanoseconds(1))));
        Assert.Empty(await Ids(store.ListAsync(contact, until: at)));
        Assert.Equal(["e"], await Ids(store.ListAsync(contact, since: at, until: at + Duration.FromNanoseconds(1))));
    }

    private static async Task<List<string>> Ids(IAsyncEnumerable<BehaviourEvent> events)
    {
        var ids = new List<string>();
        await foreach (var e in events)
        {
            ids.Add(e.EventId);
        }

        return ids;
    }
}

public sealed class DeliveryStoreTests
{
    [SkippableFact]
    public async Task A_taken_over_key_records_the_instance_that_holds_it()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var a = schema.Idempotency();
        var b = schema.Idempotency(schema.NewDatabase());
        var lease = Duration.FromSeconds(30);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await a.TryClaimAsync("k1", Make.T0, lease, default)).Status);
        Assert.Equal("test-1", await schema.ScalarAsync("SELECT claimed_by FROM idempotency_keys WHERE key = 'k1'"));

        // The holder "died": after its lease another host takes the key over (in doubt), and the row says who holds it now.
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await b.TryClaimAsync("k1", Make.T0 + lease, lease, default)).Status);
        Assert.Equal("test-2", await schema.ScalarAsync("SELECT claimed_by FROM idempotency_keys WHERE key = 'k1'"));
        Assert.Equal(Pg.Ticks(Make.T0 + lease + lease), await schema.ScalarAsync("SELECT lease_until FROM idempotency_keys WHERE key = 'k1'"));
    }

    [SkippableFact]
    public async Task Recorded_outcomes_come_back_whole()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Idempotency();
        var failed = new DeliveryOutcome
        {
            IdempotencyKey = "rich",
            Status = DeliveryStatus.Failed,
            Channel = "sms-backup",
            At = Make.T0 + Duration.FromNanoseconds(123),
            Decisions = [new GateDecision(GateCheck.Consent, true, "granted"), new GateDecision(GateCheck.SendWindow, false, "quiet hours")],
            Result = DeliveryResult.RateLimited(Duration.FromSeconds(90), "slow down"),
            DeferredUntil = Make.T0 + Duration.FromHours(8),
            SuppressedBy = GateCheck.FrequencyCap,
            FailedOver = true,
            Content = new ContentReport([new ContentIssue(ContentIssueCode.BannedWord, ContentIssueSeverity.Warning, "body", "banned word 'free'") { Position = 7 }]),
        };
        await store.TryClaimAsync("rich", Make.T0, Duration.FromMinutes(1), default);
        await store.CompleteAsync("rich", failed, default);
        var back = (await store.TryClaimAsync("rich", Make.T0, Duration.FromMinutes(1), default)).Outcome!;
        Assert.Equal(failed.At, back.At);
        Assert.Equal(failed.Decisions, back.Decisions);
        Assert.Equal(failed.Result, back.Result);
        Assert.Equal(DeliveryFailureReason.RateLimited, back.Result!.Value.FailureReason);
        Assert.Equal(Duration.FromSeconds(90), back.Result.Value.RetryAfter);
        Assert.Equal(failed.DeferredUntil, back.DeferredUntil);
        Assert.Equal(failed.SuppressedBy, back.SuppressedBy);
        Assert.True(back.FailedOver);
        var issue = Assert.Single(back.Content!.Issues);
        Assert.Equal(failed.Content.Issues[0], issue);
        Assert.Equal(failed with { Decisions = back.Decisions, Content = back.Content }, back);
    }

    [SkippableFact]
    public async Task Do_not_contact_list_per_channel_and_global()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var list = schema.DoNotContact(new FakeClock(Make.T0));
        await list.AddAsync("c1", "sms");
        await list.AddAsync("c2");
        Assert.True(await list.IsListedAsync("c1", "sms", default));
        Assert.False(await list.IsListedAsync("c1", "email", default));
        Assert.True(await list.IsListedAsync("c2", "email", default));
        Assert.True(await list.RemoveAsync("c2"));
        Assert.False(await list.IsListedAsync("c2", "email", default));
        await Assert.ThrowsAsync<ArgumentException>(async () => await list.AddAsync("c3", string.Empty));
    }
}

public sealed class ModelingAndScoringStoreTests
{
    [SkippableFact]
    public async Task A_scoring_model_replaced_on_one_host_reaches_the_others_within_30_seconds()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var time = new FakeTimeProvider();
        var a = schema.ScoringModels(time);
        var b = schema.ScoringModels(time, schema.NewDatabase());
        Assert.Empty(b.Current.BehaviourRules);
        var model = new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "view", EventKind = EventKinds.PageView, Points = 2 }], HalfLife = Duration.FromDays(7) };
        a.Replace(model);
        Assert.Single(a.Current.BehaviourRules);
        Assert.Empty(b.Current.BehaviourRules);
        time.Advance(TimeSpan.FromSeconds(31));

        // The stale copy is served at once while it is re-read in the background.
        Assert.Empty(b.Current.BehaviourRules);
        await ((PostgreSqlScoringModelStore)b).Refresh;
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        Assert.Equal(Duration.FromDays(7), b.Current.HalfLife);
        Assert.ThrowsAny<Exception>(() => a.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "bad", EventKind = EventKinds.PageView, Points = 0 }] }));
        Assert.Single(schema.ScoringModels(time, schema.NewDatabase()).Current.BehaviourRules);
    }

    [SkippableFact]
    public async Task A_failed_refresh_keeps_serving_the_copy_and_is_tried_again_after_five_seconds()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var time = new FakeTimeProvider();
        var a = schema.ScoringModels(time);
        var b = (PostgreSqlScoringModelStore)schema.ScoringModels(time, schema.NewDatabase());
        a.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "view", EventKind = EventKinds.PageView, Points = 2 }] });
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);

        // The table away: a refresh fails. The copy is served, nothing throws to the scoring caller.
        await schema.ScalarAsync("ALTER TABLE scoring_model RENAME TO scoring_model_away");
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        var failed = b.Refresh;
        await failed;
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        Assert.Same(failed, b.Refresh); // not read again at once

        await schema.ScalarAsync("ALTER TABLE scoring_model_away RENAME TO scoring_model");
        a.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "click", EventKind = EventKinds.EmailClick, Points = 3 }] });
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        Assert.Same(failed, b.Refresh);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        Assert.NotSame(failed, b.Refresh);
        await b.Refresh;
        Assert.Equal("click", Assert.Single(b.Current.BehaviourRules).Id);
    }

    [SkippableFact]
    public async Task A_refresh_that_read_before_a_replace_does_not_put_the_older_model_back()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var time = new FakeTimeProvider();
        var read = new TaskCompletionSource<ScoringModel>(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new PostgreSqlScoringModelStore(schema.Database, new FilterContext(ContactsOptions.DefaultSchema), time) { RefreshRead = () => read.Task };
        Assert.Empty(store.Current.BehaviourRules);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Empty(store.Current.BehaviourRules); // starts the refresh, which waits on `read`

        store.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "new", EventKind = EventKinds.PageView, Points = 1 }] });
        read.SetResult(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "old", EventKind = EventKinds.PageView, Points = 1 }] });
        await store.Refresh;
        Assert.Equal("new", Assert.Single(store.Current.BehaviourRules).Id);
    }
}
