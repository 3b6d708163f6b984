using System.Collections.Concurrent;
using System.Diagnostics;
using Campaigns.Contacts;
using Campaigns.Journeys;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// The run and its contact read in one statement (<see cref="IContactReadingJourneyRunStore"/>): the answer is the one
/// the two separate reads give (the contact decoded by the contact store's protection), and the runner uses it instead
/// of a separate contact read.
/// </summary>
public sealed class RunWithContactReadTests
{
    private static JourneyRun Run(ContactId contact) => new()
    {
        JourneyId = "j",
        ContactId = contact,
        RunNumber = 1,
        NodeId = "send",
        EnteredAt = Make.T0,
        NodeEnteredAt = Make.T0,
        DueAt = Make.T0,
    };

    [SkippableFact]
    public async Task The_merged_read_answers_as_the_run_and_contact_stores_do_with_protection_on()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(TestProtectors.AesGcm);
        var runs = schema.JourneyRuns();
        var contacts = schema.Contacts();
        var contact = await contacts.AddAsync(Make.Contact(phone: "+8613800042042", email: "merged@example.com"));
        var run = await runs.TryCreateAsync(Run(contact.Id));

        var read = await runs.GetLatestWithContactAsync("j", contact.Id);

        Assert.Equal(await runs.GetLatestAsync("j", contact.Id), read.Run);
        Assert.Equal(run!.Version, read.Run!.Version);
        var expected = await contacts.GetAsync(contact.Id);
        Assert.Equal(expected!.Version, read.Contact!.Version);
        Assert.Equal("+8613800042042", read.Contact.Identities.Phone);
        Assert.Equal("merged@example.com", read.Contact.Identities.Email);
        Assert.Equal(expected.Name, read.Contact.Name);
        Assert.Equal(expected.Tags.Select(t => t.Tag), read.Contact.Tags.Select(t => t.Tag));

        // Protection is on: the stored document does not hold the phone in clear, yet the merged read decoded it.
        var stored = (string)(await schema.ScalarAsync($"SELECT doc::text FROM contacts WHERE id = '{contact.Id.Value}'"))!;
        Assert.DoesNotContain("8613800042042", stored, StringComparison.Ordinal);

        // The contact changed version: the merged read sees the new version and the new values.
        var changed = await contacts.UpdateAsync(expected with { Name = "Bea", Identities = expected.Identities with { Email = "bea@example.com" } });
        var again = await runs.GetLatestWithContactAsync("j", contact.Id);
        Assert.Equal(2, again.Contact!.Version);
        Assert.Equal(changed.Version, again.Contact.Version);
        Assert.Equal("Bea", again.Contact.Name);
        Assert.Equal("bea@example.com", again.Contact.Identities.Email);

        // The contact was deleted: the run is still read, the contact comes back null.
        await schema.ScalarAsync($"DELETE FROM contact_identities WHERE contact_id = '{contact.Id.Value}'; DELETE FROM contacts WHERE id = '{contact.Id.Value}'");
        var gone = await runs.GetLatestWithContactAsync("j", contact.Id);
        Assert.Equal(run.Version, gone.Run!.Version);
        Assert.Null(gone.Contact);

        // No run: nothing, contact or not.
        Assert.Equal(default, await runs.GetLatestWithContactAsync("other-journey", contact.Id));
    }

    [SkippableFact]
    public async Task Merged_reads_answer_each_item_as_the_one_row_read_does()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync(TestProtectors.AesGcm);
        var runs = schema.JourneyRuns();
        var contacts = schema.Contacts();
        var kept = await contacts.AddAsync(Make.Contact());
        var deleted = await contacts.AddAsync(Make.Contact());
        var updated = await contacts.AddAsync(Make.Contact());
        await contacts.UpdateAsync(updated with { Name = "Cy" });
        foreach (var c in new[] { kept, deleted, updated })
        {
            await runs.TryCreateAsync(Run(c.Id));
        }

        await schema.ScalarAsync($"DELETE FROM contact_identities WHERE contact_id = '{deleted.Id.Value}'; DELETE FROM contacts WHERE id = '{deleted.Id.Value}'");
        var never = ContactId.New();

        var many = await runs.GetLatestWithContactManyAsync([("j", updated.Id), ("j", never), ("j", deleted.Id), ("j", kept.Id)]);

        Assert.Equal(4, many.Count);
        Assert.Equal(updated.Id, many[0].Run!.ContactId);
        Assert.Equal((2L, "Cy"), (many[0].Contact!.Version, many[0].Contact!.Name));
        Assert.Equal(default, many[1]);
        Assert.NotNull(many[2].Run);
        Assert.Null(many[2].Contact);
        Assert.Equal(kept.Identities.Phone, many[3].Contact!.Identities.Phone);
        foreach (var (item, i) in new[] { updated.Id, never, deleted.Id, kept.Id }.Select((c, i) => (c, i)))
        {
            var one = await runs.GetLatestWithContactAsync("j", item);
            Assert.Equal(one.Run, many[i].Run);
            Assert.Equal(one.Contact?.Version, many[i].Contact?.Version);
        }
    }

    [SkippableFact]
    public async Task The_store_reads_only_the_contacts_of_its_own_database()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var runs = schema.JourneyRuns();
        Assert.True(runs.ReadsContactsOf(schema.Contacts()));
        Assert.False(runs.ReadsContactsOf(schema.Contacts(schema.NewDatabase())));
        Assert.False(runs.ReadsContactsOf(new InMemoryContactStore()));
    }

    [SkippableFact]
    public async Task Journey_steps_read_run_and_contact_in_one_statement_and_see_changed_and_deleted_contacts()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var fleet = await JourneyFleet.StartAsync(schema.ConnectionString, schema.Schema, instances: 1);
        var ids = await fleet.SeedDueStepsAsync(4);
        var provider = fleet.Providers[0];
        var contacts = provider.GetRequiredService<IContactStore>();
        var changed = (await contacts.GetAsync(ids[1]))!;
        await contacts.UpdateAsync(changed with { Identities = changed.Identities with { Email = "changed@example.com" } });
        await schema.ScalarAsync($"DELETE FROM contact_identities WHERE contact_id = '{ids[2].Value}'; DELETE FROM contacts WHERE id = '{ids[2].Value}'");
        var runs = (PostgreSqlJourneyRunStore)provider.GetRequiredService<IJourneyRunStore>();
        Assert.True(runs.ReadsContactsOf(contacts));

        var statements = new ConcurrentQueue<string>();
        using (NpgsqlStatements.Listen(schema.Schema, statements))
        {
            Assert.Equal(4, await fleet.Runners[0].RunDueAsync(fleet.Clock.GetCurrentInstant(), 10));
        }

        // Three sent, the changed contact to its new address; the deleted contact's run exited.
        Assert.Equal(3, fleet.Channel.Sends.Count);
        Assert.Contains(fleet.Channel.Sends, s => s.Message.Recipient == "changed@example.com");
        Assert.DoesNotContain(fleet.Channel.Sends, s => s.Message.Recipient == "c1@example.com");
        var exited = await runs.GetLatestAsync("fleet", ids[2]);
        Assert.Equal(JourneyRunStatus.Exited, exited!.Status);
        Assert.Equal("the contact no longer exists", exited.EndReason);
        Assert.Equal(JourneyRunStatus.Completed, (await runs.GetLatestAsync("fleet", ids[0]))!.Status);

        // Each step read its run and contact together (the first on its own, the others with the update before them,
        // see ReadAheadTests: the three sends' updates carried their bookkeeping too); no statement read a contact on its own.
        Assert.Equal((1L, 3L, 4L), (runs.ReadWithContactStats.Items, runs.BookkeepingRoundTrips, runs.ReadAheadRoundTrips + runs.BookkeepingRoundTrips));
        Assert.DoesNotContain(statements, s => s.Contains("FROM contacts WHERE", StringComparison.Ordinal));
        Assert.DoesNotContain(statements, s => s.Contains("SELECT doc::text, version FROM journey_runs WHERE", StringComparison.Ordinal));
        Assert.All(
            statements.Where(s => s.Contains("FROM journey_runs r", StringComparison.Ordinal)),
            s => Assert.Contains("FROM journey_runs r LEFT JOIN contacts", s, StringComparison.Ordinal));
    }
}
