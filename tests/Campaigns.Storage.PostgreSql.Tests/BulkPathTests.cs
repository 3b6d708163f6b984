using Campaigns.Contacts;
using Campaigns.Modeling;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The import path's tuning (session 9, s47): the identity COPY sends a group's rows in the primary key's order, and
/// contact batches use their own pool whose connections have a larger write buffer unless the host set one. Neither may
/// change what is found or written; the chunk lookup is checked with keys whose order differs from the values'.
/// </summary>
public sealed class BulkPathTests
{
    [Fact]
    public void Identity_rows_are_put_in_primary_key_order_unless_each_kinds_rows_are_in_order_already()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();

        // Each kind in order, kinds interleaved (a file sorted by phone with plain keys): left as it is.
        PostgreSqlContactStore.IdentityRow[] ordered = [new(0, "+8613800000001", a), new(1, "a@x", a), new(0, "+8613800000002", b), new(1, "b@x", b)];
        var copy = ordered.ToArray();
        PostgreSqlContactStore.OrderForIndex(copy);
        Assert.Equal(ordered, copy);

        // One kind out of order (HMAC keys are random): the whole span in (kind, ordinal key) order.
        PostgreSqlContactStore.IdentityRow[] random = [new(1, "b@x", a), new(0, "Zz", a), new(1, "B@x", b), new(0, "a", b), new(3, "k", b), new(0, "Z", a)];
        PostgreSqlContactStore.OrderForIndex(random);
        Assert.Equal(["Z", "Zz", "a", "B@x", "b@x", "k"], random.Select(r => r.Key));
        Assert.Equal(new short[] { 0, 0, 0, 1, 1, 3 }, random.Select(r => r.Kind));
        Assert.Equal(b, random[2].Contact);
    }

    [Fact]
    public void A_contacts_lookup_keys_are_its_identities_as_PersonalDataFields_lists_them()
    {
        // ContactProtection walks the identities itself (no list per contact): same identities, same order, blanks left
        // out, a value of a kind once, each with its kind's lookup key.
        var protector = new ReversingProtector();
        var protection = new ContactProtection(protector);
        ContactIdentities[] cases =
        [
            new(),
            new() { Phone = "+8613800000001" },
            new() { Email = "a@x", Phone = "+8613800000001" },
            new() { Phone = "+8613800000001", AdditionalPhones = ["+8613800000002", "+8613800000001", " ", "+8613800000003"], Email = "", AdditionalEmails = ["b@x", "a@x", "b@x"] },
            new() { Phone = " ", Email = "a@x", AdditionalEmails = ["a@x"], WeChatOpenId = "o1", WeChatUnionId = "u1", WeComExternalUserId = "w1", CrmId = "c1" },
            new() { WeChatOpenId = "same", WeChatUnionId = "same", WeComExternalUserId = "\t", CrmId = "same" },
        ];
        foreach (var identities in cases)
        {
            var expected = PersonalDataFields.IdentityKeys(identities)
                .Select(k => (k.Kind, k.Value, protector.ComputeLookupKey(PersonalDataFields.PurposeOf(k.Kind), k.Value)))
                .ToList();
            Assert.Equal(expected, protection.KeysOf(identities));
        }
    }

    [Theory]
    [InlineData(0)] // in order but for rows repeating earlier keys (below the rows before them)
    [InlineData(1)] // in order but for rows with later keys (above the rows after them)
    [InlineData(2)] // both, and runs of them
    [InlineData(3)] // random keys (HMACs)
    [InlineData(4)] // in order but for one row far above the rest at the start
    public void Rows_almost_in_order_end_in_the_same_order_as_a_full_sort(int shape)
    {
        // The nearly-ordered path (a chunk of a file in phone order with repeated rows) sorts only the rows out of place
        // and merges them back: the result must be exactly the full sort's, for every amount of disorder.
        var random = new Random(8 + shape);
        foreach (var size in new[] { 10, 63, 64, 65, 200, 2_000, 4_001 })
        {
            foreach (var share in new[] { 0.0, 0.01, 0.03, 0.1, 0.2, 0.5 })
            {
                var rows = new PostgreSqlContactStore.IdentityRow[size];
                for (var i = 0; i < size; i++)
                {
                    var n = 1_000 + (i * 3);
                    if (random.NextDouble() < share)
                    {
                        n = shape switch
                        {
                            0 => random.Next(1_000, n),
                            1 => n + random.Next(1, 5_000),
                            2 => random.Next(2) == 0 ? random.Next(0, 20_000) : n - 1,
                            _ => n,
                        };
                    }

                    if (shape == 4 && i == 0)
                    {
                        n = 999_999;
                    }

                    var key = shape == 3 ? Guid.NewGuid().ToString("N") : n.ToString("D8", System.Globalization.CultureInfo.InvariantCulture);

                    // Phones and e-mails interleaved, a third kind now and then; unique keys (the primary key's).
                    var kind = (short)(i % 2 == 0 ? 0 : i % 7 == 0 ? 4 : 1);
                    rows[i] = new PostgreSqlContactStore.IdentityRow(kind, key + ":" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), Guid.NewGuid());
                }

                var expected = rows.ToArray();
                Array.Sort(expected, PostgreSqlContactStore.IdentityRow.Compare);
                var actual = rows.ToArray();
                PostgreSqlContactStore.OrderForIndex(actual);

                var leftAsIs = rows.GroupBy(r => r.Kind).All(g => g.Select(r => r.Key).SequenceEqual(g.Select(r => r.Key).Order(StringComparer.Ordinal)));
                Assert.Equal(leftAsIs ? rows : expected, actual);
            }
        }
    }

    [SkippableFact]
    public async Task A_chunks_lookup_finds_every_stored_identity_of_several_kinds_in_any_order_and_a_contact_once()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var stored = new List<Contact>();
        for (var i = 0; i < 40; i++)
        {
            // Phones and e-mails whose lookup keys (reversed values) sort in another order than the values.
            stored.Add(await store.AddAsync(Make.Contact(phone: $"+86138{(7919 * i) % 100_000:D5}{i:D3}", email: $"{(char)('z' - (i % 26))}{i}@example.com")));
        }

        // Asked in a shuffled order, with absent identities between them, and both identities of some contacts.
        var asked = new List<ContactIdentityKey>();
        for (var i = 39; i >= 0; i--)
        {
            asked.Add(new ContactIdentityKey(IdentityKind.Email, stored[i].Identities.Email!));
            asked.Add(new ContactIdentityKey(IdentityKind.Phone, $"+86139{i:D8}"));
            if (i % 3 == 0)
            {
                asked.Add(new ContactIdentityKey(IdentityKind.Phone, stored[i].Identities.Phone!));
            }
        }

        var found = await ((IBulkContactLookup)store).FindManyAsync(asked);

        Assert.Equal(40 + 14, found.Count);
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(stored[i].Id, found[new ContactIdentityKey(IdentityKind.Email, stored[i].Identities.Email!)].Id);
            Assert.False(found.ContainsKey(new ContactIdentityKey(IdentityKind.Phone, $"+86139{i:D8}")));
            if (i % 3 == 0)
            {
                var byPhone = found[new ContactIdentityKey(IdentityKind.Phone, stored[i].Identities.Phone!)];
                Assert.Same(found[new ContactIdentityKey(IdentityKind.Email, stored[i].Identities.Email!)], byPhone);
                Assert.Equal(stored[i].Version, byPhone.Version);
            }
        }
    }

    [SkippableFact]
    public async Task A_batch_copies_a_groups_identity_rows_in_key_order_and_every_one_is_found_afterwards()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(new ReversingProtector());
        var store = schema.Contacts();
        var added = new List<Contact>();
        await using (var batch = await ((IBulkContactStore)store).BeginBatchAsync())
        {
            for (var i = 0; i < 300; i++)
            {
                var contact = Make.Contact(phone: $"+86138{(7919 * i) % 100_000:D5}{i % 1000:D3}", email: $"{(char)('a' + (i % 26))}{i}@example.com");
                if (i % 7 == 0)
                {
                    contact = contact with { Identities = contact.Identities with { AdditionalPhones = [$"+86137{i:D8}"] } };
                }

                added.Add(await batch.AddAsync(contact));
            }

            await batch.CommitAsync();
        }

        Assert.Equal(300L + 300 + 43, Convert.ToInt64(await schema.ScalarAsync("SELECT count(*) FROM contact_identities"), System.Globalization.CultureInfo.InvariantCulture));
        var keys = added.SelectMany(c => c.Identities.AdditionalPhones.Select(p => new ContactIdentityKey(IdentityKind.Phone, p))
            .Append(new ContactIdentityKey(IdentityKind.Phone, c.Identities.Phone!))
            .Append(new ContactIdentityKey(IdentityKind.Email, c.Identities.Email!))).ToList();
        var found = await ((IBulkContactLookup)store).FindManyAsync(keys);
        Assert.Equal(keys.Count, found.Count);
        foreach (var contact in added)
        {
            Assert.Equal(contact.Id, found[new ContactIdentityKey(IdentityKind.Email, contact.Identities.Email!)].Id);
            Assert.All(contact.Identities.AdditionalPhones, p => Assert.Equal(contact.Id, found[new ContactIdentityKey(IdentityKind.Phone, p)].Id));
        }

        // Insertion order is the batch's, not the identities' (ListAsync pages by seq).
        var listed = new List<ContactId>();
        await foreach (var contact in store.ListAsync())
        {
            listed.Add(contact.Id);
        }

        Assert.Equal(added.Select(c => c.Id), listed);
    }

    [Fact]
    public void Connections_get_a_larger_write_buffer_unless_the_host_set_one()
    {
        const string Plain = "Host=127.0.0.1;Username=postgres";
        Assert.Equal(PostgreSqlDatabase.DefaultWriteBufferSize, new NpgsqlConnectionStringBuilder(PostgreSqlDatabase.Tune(Plain)).WriteBufferSize);
        Assert.True(PostgreSqlDatabase.DefaultWriteBufferSize > new NpgsqlConnectionStringBuilder(Plain).WriteBufferSize);

        foreach (var given in new[] { Plain + ";Write Buffer Size=16384", Plain + ";WriteBufferSize=16384", Plain + "; write buffer size = 16384" })
        {
            Assert.Equal(16384, new NpgsqlConnectionStringBuilder(PostgreSqlDatabase.Tune(given)).WriteBufferSize);
        }
    }

    [SkippableFact]
    public async Task A_batch_runs_with_the_larger_write_buffer_and_a_host_set_buffer_size_is_kept()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var store = schema.Contacts();
        await using (var batch = (PostgreSqlContactWriteBatch)await ((IBulkContactStore)store).BeginBatchAsync())
        {
            await batch.AddAsync(Make.Contact());
            Assert.Null(await batch.GetAsync(ContactId.New()));
            Assert.Equal(PostgreSqlDatabase.DefaultWriteBufferSize, new NpgsqlConnectionStringBuilder(batch.Connection!.ConnectionString).WriteBufferSize);
            await batch.CommitAsync();
        }

        Assert.Equal(1L, await store.CountAsync());

        var hostSet = schema.NewDatabase(o => o.ConnectionString += ";Write Buffer Size=16384");
        Assert.Equal(16384, new NpgsqlConnectionStringBuilder(hostSet.DataSource.ConnectionString).WriteBufferSize);
    }
}
