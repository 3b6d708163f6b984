using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
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
            Phone = phone ?? $"+86138{Interlocked.Increment(ref _n):D8}",
            Email = email ?? $"c{Interlocked.Increment(ref _n)}@example.com",
        },
        Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue("retail") },
        Consents = new Dictionary<string, ConsentRecord> { ["email"] = new(true, "form", T0) },
        Tags = [new ContactTag { Tag = "vip", AssignedAt = T0 }],
    };
}

public sealed class ContactStoreTests
{
    [SkippableFact]
    public async Task Add_get_find_update_round_trip_and_versions()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var added = await store.AddAsync(Make.Contact(phone: "+8613800000001", email: "ann@example.com") with { Identities = new ContactIdentities { Phone = "+8613800000001", Email = "ann@example.com", AdditionalPhones = ["+8613800000002"], CrmId = "crm-1" } });
        Assert.Equal(1, added.Version);

        var read = await store.GetAsync(added.Id);
        Assert.NotNull(read);
        Assert.Equal(added.Identities.Phone, read.Identities.Phone);
        Assert.Equal(["+8613800000002"], read.Identities.AdditionalPhones);
        Assert.Equal("retail", ((TextValue)read.Attributes["industry"]).Value);
        Assert.Equal("vip", Assert.Single(read.Tags).Tag);
        Assert.Equal(added.CreatedAt, read.CreatedAt);

        Assert.Equal(added.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000002"))?.Id);
        Assert.Equal(added.Id, (await store.FindAsync(IdentityKind.Email, "ann@example.com"))?.Id);
        Assert.Equal(added.Id, (await store.FindAsync(IdentityKind.CrmId, "crm-1"))?.Id);
        Assert.Null(await store.FindAsync(IdentityKind.Email, "nobody@example.com"));

        var updated = await store.UpdateAsync(read with { Name = "Ann B", Identities = read.Identities with { Email = "ann.b@example.com" } });
        Assert.Equal(2, updated.Version);
        Assert.Null(await store.FindAsync(IdentityKind.Email, "ann@example.com"));
        Assert.Equal("Ann B", (await store.FindAsync(IdentityKind.Email, "ann.b@example.com"))?.Name);
        Assert.Equal(1, await store.CountAsync());
    }

    [SkippableFact]
    public async Task Stale_update_throws_concurrency_and_writes_nothing()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var v1 = await store.AddAsync(Make.Contact());
        await store.UpdateAsync(v1 with { Name = "first" });
        var ex = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(v1 with { Name = "stale", Identities = v1.Identities with { Email = "stale@example.com" } }));
        Assert.Equal(2, ex.ActualVersion);
        Assert.Equal("first", (await store.GetAsync(v1.Id))!.Name);
        Assert.Null(await store.FindAsync(IdentityKind.Email, "stale@example.com"));
        Assert.Equal(v1.Id, (await store.FindAsync(IdentityKind.Email, v1.Identities.Email!))?.Id);
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(Make.Contact() with { Version = 1 }));

        // Stale and clashing: the version is checked first, as in the in-memory store.
        var other = await store.AddAsync(Make.Contact());
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(v1 with { Identities = v1.Identities with { Phone = other.Identities.Phone } }));
    }

    [SkippableFact]
    public async Task Duplicate_id_or_identity_throws_and_writes_nothing()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613800000011", email: "ann@example.com"));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(Make.Contact() with { Id = ann.Id }));
        var dup = await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(Make.Contact(phone: "+8613800000012", email: "ann@example.com")));
        Assert.Contains("email:ann@example.com", dup.Message, StringComparison.Ordinal);
        Assert.Null(await store.FindAsync(IdentityKind.Phone, "+8613800000012"));
        Assert.Equal(1, await store.CountAsync());

        var bob = await store.AddAsync(Make.Contact(phone: "+8613800000013", email: "bob@example.com"));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.UpdateAsync(bob with { Identities = bob.Identities with { Phone = "+8613800000011" } }));
        Assert.Equal(1, (await store.GetAsync(bob.Id))!.Version);
        Assert.Equal(bob.Id, (await store.FindAsync(IdentityKind.Phone, "+8613800000013"))?.Id);
    }

    [SkippableFact]
    public async Task List_streams_in_insertion_order_across_pages()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        var ids = new List<ContactId>();
        for (var i = 0; i < 1205; i++)
        {
            ids.Add((await store.AddAsync(Make.Contact())).Id);
        }

        var listed = new List<ContactId>();
        await foreach (var c in store.ListAsync())
        {
            listed.Add(c.Id);
        }

        Assert.Equal(ids, listed);
    }

    [SkippableFact]
    public async Task Sensitive_fields_are_protected_at_rest_and_found_by_lookup_key()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var ann = await store.AddAsync(Make.Contact(phone: "+8613812345678", email: "ann@example.com", name: "Ann Lee") with
        {
            Identities = new ContactIdentities { Phone = "+8613812345678", Email = "ann@example.com", WeChatOpenId = "openid-ann", AdditionalEmails = ["ann2@example.com"] },
        });

        var raw = (string)(await schema.ScalarAsync($"SELECT doc::text FROM contacts WHERE id = '{ann.Id}'"))!;
        Assert.DoesNotContain("+8613812345678", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("ann@example.com", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("ann2@example.com", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("openid-ann", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("Ann Lee", raw, StringComparison.Ordinal);
        Assert.Equal(0L, await schema.ScalarAsync("SELECT count(*) FROM contact_identities WHERE lookup_key LIKE '%ann@example.com%'"));

        var found = await store.FindAsync(IdentityKind.Email, "ann2@example.com");
        Assert.NotNull(found);
        Assert.Equal("Ann Lee", found.Name);
        Assert.Equal("+8613812345678", found.Identities.Phone);
        Assert.Equal("openid-ann", found.Identities.WeChatOpenId);
        Assert.Equal(ann.Id, (await store.FindAsync(IdentityKind.WeChatOpenId, "openid-ann"))?.Id);
    }

    [SkippableFact]
    public async Task Bulk_writer_copies_contacts_and_identities_all_or_nothing()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var writer = schema.BulkWriter();
        var store = schema.Contacts();
        var contacts = Enumerable.Range(0, 2000).Select(_ => Make.Contact()).ToList();
        Assert.Equal(2000, await writer.WriteNewAsync(contacts.ToAsyncEnumerable()));
        Assert.Equal(2000, await store.CountAsync());
        var some = contacts[1234];
        Assert.Equal(some.Id, (await store.FindAsync(IdentityKind.Email, some.Identities.Email!))?.Id);
        Assert.Equal(1, (await store.GetAsync(some.Id))!.Version);

        // A second call whose last contact reuses a stored phone writes none of its contacts.
        var more = Enumerable.Range(0, 10).Select(_ => Make.Contact()).Append(Make.Contact(phone: some.Identities.Phone)).ToList();
        await Assert.ThrowsAsync<DuplicateEntityException>(() => writer.WriteNewAsync(more.ToAsyncEnumerable()));
        Assert.Equal(2000, await store.CountAsync());
        Assert.Null(await store.GetAsync(more[0].Id));
    }
}

public sealed class EventStoreTests
{
    [SkippableFact]
    public async Task Append_is_idempotent_and_lists_per_contact_in_time_then_id_order_within_range()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Events();
        var contact = ContactId.New();
        BehaviourEvent E(string id, int minutes) => new() { EventId = id, ContactId = contact, Kind = EventKinds.PageView, OccurredAt = Make.T0 + Duration.FromMinutes(minutes), Properties = new Dictionary<string, string> { ["url"] = "/p/" + id } };
        Assert.True(await store.AppendAsync(E("b", 5)));
        Assert.True(await store.AppendAsync(E("a", 5)));
        Assert.True(await store.AppendAsync(E("c", 1)));
        Assert.True(await store.AppendAsync(E("d", 9)));
        Assert.False(await store.AppendAsync(E("a", 7)));
        Assert.True(await store.AppendAsync(new BehaviourEvent { EventId = "other", ContactId = ContactId.New(), Kind = "x", OccurredAt = Make.T0 }));

        Assert.Equal("/p/a", (await store.GetAsync("a"))!.Properties["url"]);
        Assert.Equal(Make.T0 + Duration.FromMinutes(5), (await store.GetAsync("a"))!.OccurredAt);
        Assert.Null(await store.GetAsync("zzz"));
        Assert.Equal(["c", "a", "b", "d"], await Ids(store.ListAsync(contact)));
        Assert.Equal(["a", "b"], await Ids(store.ListAsync(contact, Make.T0 + Duration.FromMinutes(5), Make.T0 + Duration.FromMinutes(9))));
        Assert.Equal(["a", "b", "d"], await Ids(store.ListAsync(contact, since: Make.T0 + Duration.FromMinutes(2))));
        Assert.Equal(["c"], await Ids(store.ListAsync(contact, until: Make.T0 + Duration.FromMinutes(5))));
    }

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
    private static DeliveryOutcome Outcome(string key, DeliveryStatus status, GateCheck? check = null, DeliveryFailureReason? reason = null) => new()
    {
        IdempotencyKey = key,
        Status = status,
        Channel = "email",
        At = Make.T0,
        SuppressedBy = check,
        Result = status == DeliveryStatus.Sent ? DeliveryResult.Accepted("p-1") : reason is { } r ? DeliveryResult.Failed(r, false, "no") : null,
        Decisions = [new GateDecision(GateCheck.Consent, true, "ok")],
    };

    [SkippableFact]
    public async Task Idempotency_claim_complete_release_and_lease_takeover()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var a = schema.Idempotency();
        var b = schema.Idempotency(schema.NewDatabase());
        var lease = Duration.FromSeconds(30);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await a.TryClaimAsync("k1", Make.T0, lease, default)).Status);
        Assert.Equal(IdempotencyClaimStatus.InProgress, (await b.TryClaimAsync("k1", Make.T0 + Duration.FromSeconds(29), lease, default)).Status);

        // The holder "died": after its lease another host takes the key over, told that the earlier attempt is in doubt.
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await b.TryClaimAsync("k1", Make.T0 + lease, lease, default)).Status);
        Assert.Equal("test-2", await schema.ScalarAsync("SELECT claimed_by FROM idempotency_keys WHERE key = 'k1'"));
        await b.CompleteAsync("k1", Outcome("k1", DeliveryStatus.Sent), default);
        var replay = await a.TryClaimAsync("k1", Make.T0 + Duration.FromDays(9), lease, default);
        Assert.Equal(IdempotencyClaimStatus.Completed, replay.Status);
        Assert.Equal(DeliveryStatus.Sent, replay.Outcome!.Status);
        Assert.Equal("p-1", replay.Outcome.Result!.Value.ProviderMessageId);

        Assert.Equal(IdempotencyClaimStatus.Claimed, (await a.TryClaimAsync("k2", Make.T0, lease, default)).Status);
        await a.ReleaseAsync("k2", default);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await b.TryClaimAsync("k2", Make.T0, lease, default)).Status);
        await a.ReleaseAsync("k1", default);
        Assert.Equal(IdempotencyClaimStatus.Completed, (await a.TryClaimAsync("k1", Make.T0, lease, default)).Status);
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
    public async Task Idempotency_claim_races_have_one_winner()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => schema.Idempotency(schema.NewDatabase())).ToList();
        for (var round = 0; round < 20; round++)
        {
            var key = "race-" + round;
            var claims = await Task.WhenAll(stores.Select(s => Task.Run(async () => await s.TryClaimAsync(key, Make.T0, Duration.FromMinutes(1), default))));
            Assert.Single(claims, c => c.Status == IdempotencyClaimStatus.Claimed);
        }
    }

    [SkippableFact]
    public async Task Frequency_caps_hold_under_concurrent_senders_and_release_forgets_one_send()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => schema.FrequencyCaps(schema.NewDatabase())).ToList();
        var windows = new[] { new CapWindow("sms", Make.T0 - Duration.FromDays(1), 5), new CapWindow(null, Make.T0 - Duration.FromDays(7), 8) };
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await stores[i % 4].TryAcquireAsync("c1", "sms", Make.T0 + Duration.FromSeconds(i), windows, default))));
        Assert.Equal(5, results.Count(r => r is null));
        Assert.All(results.Where(r => r is not null), r => Assert.Equal("sms", r!.Value.Channel));

        // The global window counts other channels too.
        var global = new[] { windows[1] };
        Assert.Null(await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        Assert.Null(await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        Assert.Null(await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        Assert.Equal(windows[1], await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        await stores[1].ReleaseAsync("c1", "email", Make.T0, default);
        Assert.Null(await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        Assert.Equal(windows[1], await stores[0].TryAcquireAsync("c1", "email", Make.T0, global, default));
        Assert.Null(await stores[0].TryAcquireAsync("c2", "sms", Make.T0, windows, default));
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

    [SkippableFact]
    public async Task Execution_records_count_like_the_in_memory_records()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var records = schema.ExecutionRecords();
        var start = await records.StartAsync("t1", 10, Make.T0, default);
        Assert.Equal(10, start.TargetCount);
        await records.RecordAsync("t1", Outcome("k1", DeliveryStatus.Deferred), default);
        await records.RecordAsync("t1", Outcome("k1", DeliveryStatus.Deferred), default);
        Assert.Equal(1, (await records.GetAsync("t1", default))!.Deferred);
        await records.RecordAsync("t1", Outcome("k1", DeliveryStatus.Sent), default);
        await records.RecordAsync("t1", Outcome("k2", DeliveryStatus.Sent) with { IsReplay = true }, default);
        await records.RecordAsync("t1", Outcome("k3", DeliveryStatus.Suppressed, GateCheck.FrequencyCap), default);
        await records.RecordAsync("t1", Outcome("k4", DeliveryStatus.Failed, reason: DeliveryFailureReason.Timeout), default);
        var r = await records.RecordAsync("t1", Outcome("k5", DeliveryStatus.Failed, reason: DeliveryFailureReason.Timeout), default);
        Assert.Equal(0, r.Deferred);
        Assert.Equal(1, r.Sent);
        Assert.Equal(1, r.SuppressedBy[GateCheck.FrequencyCap]);
        Assert.Equal(2, r.FailedBy[DeliveryFailureReason.Timeout]);

        Assert.True(await records.TryRaiseAlertAsync("t1", Make.T0, pause: true, default));
        Assert.False(await records.TryRaiseAlertAsync("t1", Make.T0, pause: true, default));
        Assert.True((await records.GetAsync("t1", default))!.IsPaused);
        await records.SetPausedAsync("t1", false, default);
        var resumed = (await records.GetAsync("t1", default))!;
        Assert.False(resumed.IsPaused);
        Assert.Null(resumed.AlertRaisedAt);

        // Recording on an unknown task creates it; starting again resets the counts.
        Assert.Equal(1, (await records.RecordAsync("t2", Outcome("x", DeliveryStatus.Sent), default)).Sent);
        Assert.Equal(0, (await records.StartAsync("t1", 3, Make.T0, default)).Sent);
        Assert.Null(await records.GetAsync("none", default));
    }

    [SkippableFact]
    public async Task Concurrent_records_from_several_hosts_add_up()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => schema.ExecutionRecords(schema.NewDatabase())).ToList();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
            await stores[i % 4].RecordAsync("t", Outcome("k" + i, DeliveryStatus.Sent), default))));
        Assert.Equal(200, (await stores[0].GetAsync("t", default))!.Sent);
    }
}

public sealed class ModelingAndScoringStoreTests
{
    [SkippableFact]
    public async Task Campaigns_add_update_stale_and_list_by_state_in_creation_order()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Campaigns();
        Campaign C(int minutes) => new() { Id = CampaignId.New(), Name = "c" + minutes, TypeId = "webinar", Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai" }, CreatedBy = "u1", CreatedAt = Make.T0 + Duration.FromMinutes(minutes) };
        var late = await store.AddAsync(C(5));
        var early = await store.AddAsync(C(1));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(C(2) with { Id = early.Id }));
        var updated = await store.UpdateAsync(early with { State = CampaignState.Approved });
        Assert.Equal(2, updated.Version);
        var stale = await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(early));
        Assert.Equal(2, stale.ActualVersion);
        Assert.Equal(CampaignState.Approved, (await store.GetAsync(early.Id))!.State);

        var all = new List<CampaignId>();
        await foreach (var c in store.ListAsync())
        {
            all.Add(c.Id);
        }

        Assert.Equal([early.Id, late.Id], all);
        var approved = new List<CampaignId>();
        await foreach (var c in store.ListAsync([CampaignState.Approved]))
        {
            approved.Add(c.Id);
        }

        Assert.Equal([early.Id], approved);
    }

    [SkippableFact]
    public async Task Participants_unique_per_campaign_by_normalized_email_and_phone_and_protected()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Participants();
        var campaign = CampaignId.New();
        Participant P(string? email, string? phone, CampaignId? c = null) => new() { Id = ParticipantId.New(), CampaignId = c ?? campaign, Email = email, Phone = phone, Name = "Pat" };
        var pat = await store.AddAsync(P("pat@example.com", "+8613800000001"));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(P("PAT@example.com", null)));
        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.AddAsync(P(null, "+8613800000001")));
        await store.AddAsync(P("pat@example.com", null, CampaignId.New()));
        var other = await store.AddAsync(P("other@example.com", "+8613800000002"));

        Assert.Equal(pat.Id, (await store.FindAsync(campaign, "pat@example.com", null))?.Id);
        Assert.Equal(other.Id, (await store.FindAsync(campaign, "nobody@example.com", "+8613800000002"))?.Id);
        Assert.Equal(pat.Id, (await store.FindAsync(campaign, "pat@example.com", "+8613800000002"))?.Id);
        Assert.Null(await store.FindAsync(campaign, null, null));

        await Assert.ThrowsAsync<DuplicateEntityException>(() => store.UpdateAsync(other with { Email = "pat@example.com" }));
        var moved = await store.UpdateAsync(other with { Email = "new@example.com" });
        Assert.Equal(2, moved.Version);
        await Assert.ThrowsAsync<ConcurrencyException>(() => store.UpdateAsync(other));
        await Assert.ThrowsAsync<ArgumentException>(() => store.UpdateAsync(moved with { CampaignId = CampaignId.New() }));
        Assert.Equal("Pat", (await store.GetAsync(pat.Id))!.Name);
        var raw = (string)(await schema.ScalarAsync($"SELECT doc::text FROM participants WHERE id = '{pat.Id}'"))!;
        Assert.DoesNotContain("pat@example.com", raw, StringComparison.Ordinal);

        var listed = new List<ParticipantId>();
        await foreach (var p in store.ListAsync(campaign))
        {
            listed.Add(p.Id);
        }

        Assert.Equal([pat.Id, other.Id], listed);
    }

    [SkippableFact]
    public async Task Scoring_model_is_shared_between_hosts_and_ledgers_round_trip()
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
        Assert.Equal("view", Assert.Single(b.Current.BehaviourRules).Id);
        Assert.Equal(Duration.FromDays(7), b.Current.HalfLife);
        Assert.ThrowsAny<Exception>(() => a.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "bad", EventKind = EventKinds.PageView, Points = 0 }] }));
        Assert.Single(schema.ScoringModels(time, schema.NewDatabase()).Current.BehaviourRules);

        var ledgers = schema.ScoreLedgers();
        var contact = ContactId.New();
        Assert.Null(await ledgers.GetAsync(contact));
        await ledgers.SaveAsync(new ScoreLedger { ContactId = contact, Entries = [new ScoreLedgerEntry("view", "e1", Make.T0, 2.5m)], ThresholdsEntered = ["hot"] });
        await ledgers.SaveAsync(new ScoreLedger { ContactId = contact, Entries = [new ScoreLedgerEntry("view", "e1", Make.T0, 2.5m), new ScoreLedgerEntry("view", "e2", Make.T0, 2)], ThresholdsEntered = ["hot"] });
        var ledger = await ledgers.GetAsync(contact);
        Assert.Equal(2, ledger!.Entries.Count);
        Assert.Equal(2.5m, ledger.Entries[0].Points);
        Assert.Equal(["hot"], ledger.ThresholdsEntered);
    }
}
