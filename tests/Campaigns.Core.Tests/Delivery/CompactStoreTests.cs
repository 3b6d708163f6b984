using Campaigns.Channels;
using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Tests.Delivery;

/// <summary>The compact structures behind the in-memory idempotency store and provider message index.</summary>
public class CompactStoreTests
{
    private static readonly Instant T0 = Harness.T0;

    private static readonly GateDecision[] Decisions = [new GateDecision(GateCheck.Consent, true, "ok")];

    private static DeliveryOutcome Plain(string key, string providerId) => new()
    {
        IdempotencyKey = key,
        Status = DeliveryStatus.Sent,
        Channel = "email",
        At = T0,
        Decisions = Decisions,
        Result = DeliveryResult.Accepted(providerId),
    };

    [Fact]
    public void Keys_with_the_same_hash_stay_distinct()
    {
        var table = new CompletedSends();
        var a = Plain("a", "p-a");
        var b = Plain("b", "p-b") with { Status = DeliveryStatus.Suppressed, Result = null, SuppressedBy = GateCheck.Consent };
        table.Set("a", 42, a);
        table.Set("b", 42, b);
        Assert.False(table.TryGet("c", 42, out _));
        Assert.True(table.TryGet("a", 42, out var foundA));
        Assert.True(table.TryGet("b", 42, out var foundB));
        Assert.Equal((a, b), (foundA, foundB));
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public void The_keys_of_one_shard_spread_over_the_buckets()
    {
        // The idempotency store picks a shard from a hash's low four bits, so one shard's hashes all share them: buckets
        // taken from the low bits (hash % length) would use one in 16 and make chains about 16 long at 4,096 keys.
        var table = new CompletedSends();
        var random = new Random(7);
        for (var i = 0; i < 4_096; i++)
        {
            var hash = random.Next() & ~0xF; // the low four bits of every hash of shard 0
            var key = "journey/welcome/" + i;
            table.Set(key, hash, Plain(key, "p-" + i));
        }

        Assert.InRange(table.LongestChain(), 1, 12); // random spread: about 6; the low-bits buckets: 30 or more
    }

    [Fact]
    public void Thousands_of_keys_survive_growth_and_a_replaced_outcome_wins()
    {
        var table = new CompletedSends();
        for (var i = 0; i < 5_000; i++)
        {
            var key = "key/" + i;
            table.Set(key, i % 97, Plain(key, "provider-" + i)); // few distinct hashes: long chains
        }

        table.Set("key/7", 7, Plain("key/7", "p") with { FailedOver = true });
        Assert.Equal(5_000, table.Count);
        for (var i = 0; i < 5_000; i++)
        {
            var key = "key/" + i;
            Assert.True(table.TryGet(key, i % 97, out var outcome));
            Assert.Equal(i == 7 ? Plain(key, "p") with { FailedOver = true } : Plain(key, "provider-" + i), outcome);
        }

        Assert.False(table.TryGet("key/5000", 5_000 % 97, out _));
    }

    [Fact]
    public async Task The_store_gives_back_every_completed_outcome_after_growth()
    {
        var store = new InMemoryIdempotencyStore();
        var lease = Duration.FromMinutes(5);
        for (var i = 0; i < 3_000; i++)
        {
            var key = "k" + i;
            Assert.Equal(IdempotencyClaimStatus.Claimed, (await store.TryClaimAsync(key, T0, lease, CancellationToken.None)).Status);
            if (i % 3 != 2)
            {
                await store.CompleteAsync(key, Plain(key, "p" + i), CancellationToken.None);
            }
        }

        Assert.Equal(2_000, store.CompletedCount);
        for (var i = 0; i < 3_000; i++)
        {
            var key = "k" + i;
            var claim = await store.TryClaimAsync(key, T0, lease, CancellationToken.None);
            Assert.Equal(i % 3 != 2 ? (IdempotencyClaimStatus.Completed, Plain(key, "p" + i)) : (IdempotencyClaimStatus.InProgress, null), (claim.Status, claim.Outcome));
        }

        await store.ReleaseAsync("k0", CancellationToken.None); // a completed key: nothing changes
        Assert.Equal(IdempotencyClaimStatus.Completed, (await store.TryClaimAsync("k0", T0 + lease, lease, CancellationToken.None)).Status);
        Assert.Equal(IdempotencyClaimStatus.TakenOver, (await store.TryClaimAsync("k2", T0 + lease, lease, CancellationToken.None)).Status);
    }

    private static GateTrail Trail(int contact, string zone, bool warnings = false, GateDecision? refusal = null)
    {
        var trail = new GateTrail();
        trail.ConsentGranted("email", new Campaigns.Contacts.ConsentRecord(true, "form-" + contact, T0 - Duration.FromDays(contact)));
        trail.NotOnDoNotContactList();
        trail.InsideWindow("inside the send window in " + zone);
        if (refusal is { } r)
        {
            trail.Refuse(r);
        }
        else
        {
            trail.ContentPassed(warnings ? new ContentReport([new ContentIssue(ContentIssueCode.MissingVariable, ContentIssueSeverity.Warning, "text", "a warning")]) : null);
        }

        return trail;
    }

    [Fact]
    public void Plain_sends_share_their_trail_shape_and_come_back_equal_decision_by_decision()
    {
        var table = new CompletedSends();
        var sent = new List<DeliveryOutcome>();
        for (var i = 0; i < 400; i++)
        {
            // 40 zones: more shapes than the table shares (the rest keep their whole trail); every 7th has warnings.
            var outcome = Plain("k" + i, "p" + i) with { Decisions = Trail(i, "zone-" + (i % 40), warnings: i % 7 == 0) };
            sent.Add(outcome);
            table.Set(outcome.IdempotencyKey, i % 13, outcome);
        }

        for (var i = 0; i < sent.Count; i++)
        {
            Assert.True(table.TryGet("k" + i, i % 13, out var back));
            Assert.Equal(sent[i], back); // the record's equality: the rebuilt trail equals the completed one
            Assert.Equal([.. sent[i].Decisions], [.. back.Decisions]);
            Assert.Equal(((GateTrail)sent[i].Decisions).Consent, ((GateTrail)back.Decisions).Consent);
        }
    }

    [Fact]
    public void Gate_trails_are_equal_by_their_decisions_and_consent_only()
    {
        Assert.Equal(Trail(1, "UTC"), Trail(1, "UTC"));
        Assert.Equal(Trail(1, "UTC").GetHashCode(), Trail(1, "UTC").GetHashCode());
        Assert.NotEqual(Trail(1, "UTC"), Trail(2, "UTC")); // another consent record
        Assert.NotEqual(Trail(1, "UTC"), Trail(1, "Asia/Shanghai"));
        Assert.NotEqual(Trail(1, "UTC"), Trail(1, "UTC", refusal: new GateDecision(GateCheck.Address, false, "no address")));
        Assert.True(Trail(1, "UTC").SameShape(Trail(2, "UTC")));
        Assert.True(Trail(1, "UTC").IsPlain);
        Assert.False(Trail(1, "UTC", warnings: true).IsPlain);
        Assert.False(Trail(1, "UTC", refusal: new GateDecision(GateCheck.Address, false, "no address")).IsPlain);
        var shape = Trail(1, "UTC").WithoutConsent();
        Assert.Null(shape.Consent);
        Assert.Equal(Trail(3, "UTC"), shape.WithConsent(Trail(3, "UTC").Consent));
    }

    [Fact]
    public void A_replaced_plain_send_drops_its_shared_shape()
    {
        var table = new CompletedSends();
        table.Set("k", 1, Plain("k", "p1") with { Decisions = Trail(1, "UTC") });
        table.Set("k", 1, Plain("k", "p2")); // decisions as an array now
        Assert.True(table.TryGet("k", 1, out var back));
        Assert.Same(Decisions, back.Decisions);
        Assert.Equal(Plain("k", "p2"), back);
    }

    [Fact]
    public async Task Concurrent_claims_of_the_same_keys_give_each_key_to_one_caller()
    {
        var store = new InMemoryIdempotencyStore();
        var claimed = new int[500];
        await Parallel.ForAsync(0, 4_000, async (i, ct) =>
        {
            var k = i % 500;
            var claim = await store.TryClaimAsync("k" + k, T0, Duration.FromMinutes(5), ct);
            if (claim.Status == IdempotencyClaimStatus.Claimed)
            {
                Interlocked.Increment(ref claimed[k]);
                if (k % 2 == 0)
                {
                    await store.CompleteAsync("k" + k, Plain("k" + k, "p"), ct);
                }
            }
        });

        Assert.All(claimed, c => Assert.Equal(1, c));
        Assert.Equal(250, store.CompletedCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task The_provider_index_matches_a_model_of_its_ring(int capacity)
    {
        var index = new InMemoryProviderMessageIndex(Duration.FromDays(30), capacity);
        var records = new List<(string Id, string Key)>();
        var random = new Random(capacity);
        for (var i = 0; i < 600; i++)
        {
            var id = "m" + random.Next(0, 40);
            var key = "k" + i;
            records.Add((id, key));
            await index.RecordAsync(id, new ProviderMessage("c", i % 5 == 0 ? "sms" : "email", key, T0 + Duration.FromSeconds(i)), CancellationToken.None);

            // The model: the last `capacity` records are held; an id is found by its newest record if that one is among them.
            var window = records.Count - capacity;
            var expected = new Dictionary<(string Channel, string Id), string>();
            for (var r = 0; r < records.Count; r++)
            {
                var channel = r % 5 == 0 ? "sms" : "email";
                if (r >= window)
                {
                    expected[(channel, records[r].Id)] = records[r].Key;
                }
                else
                {
                    expected.Remove((channel, records[r].Id));
                }
            }

            if (i % 37 == 0 || i == 599)
            {
                Assert.Equal(expected.Count, index.Count);
                for (var m = 0; m < 40; m++)
                {
                    foreach (var channel in new[] { "email", "sms" })
                    {
                        var found = await index.FindAsync(channel, "m" + m, CancellationToken.None);
                        Assert.Equal(expected.GetValueOrDefault((channel, "m" + m)), found?.IdempotencyKey);
                    }
                }
            }
        }
    }
}
