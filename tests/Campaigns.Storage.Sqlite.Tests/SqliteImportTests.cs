using System.Text;
using Campaigns.Contacts;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Storage.Sqlite.Tests;

public sealed class SqliteImportTests : IDisposable
{
    private readonly TempDatabase _file = new();

    public void Dispose() => _file.Dispose();

    [Fact]
    public async Task The_importer_writes_in_batches_and_tells_listeners_after_each_commit()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().UseSqliteStorage(_file.Path);
        var listener = new ReadingListener();
        services.AddSingleton<IContactChangeListener>(listener);
        await using var provider = services.BuildServiceProvider();
        listener.Store = provider.GetRequiredService<IContactStore>();
        var csv = new StringBuilder("name,phone,email\n");
        for (var i = 0; i < 4_500; i++)
        {
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"n{i},+86138{i % 4_400:D8},u{i}@example.com\n");
        }

        var report = await provider.GetRequiredService<IContactImporter>().ImportCsvTextAsync(
            new StringReader(csv.ToString()),
            new ContactImportMapping
            {
                Source = "t.csv",
                Columns = [ColumnMapping.ToName("name"), ColumnMapping.ToIdentity("phone", IdentityKind.Phone), ColumnMapping.ToIdentity("email", IdentityKind.Email)],
            });

        Assert.Equal(4_500, report.RowsRead);
        Assert.Equal(4_400, report.ContactsCreated);
        Assert.Equal(100, report.Merged);
        Assert.Equal(4_400, await provider.GetRequiredService<IContactStore>().CountAsync());
        Assert.Equal(4_500, listener.Changes);
        Assert.Equal(0, listener.NotYetStored); // every change was committed when the listener heard of it

        var merged = await provider.GetRequiredService<IContactStore>().FindAsync(IdentityKind.Email, "u4400@example.com");
        Assert.Equal(["u4400@example.com"], merged!.Identities.AdditionalEmails);
    }

    [Fact]
    public async Task A_cancelled_import_keeps_the_rows_already_imported()
    {
        var services = new ServiceCollection();
        services.AddCampaigns().UseSqliteStorage(_file.Path);
        await using var provider = services.BuildServiceProvider();
        using var cts = new CancellationTokenSource();
        var progress = new CancelAt(3_000, cts);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => provider.GetRequiredService<IContactImporter>().ImportAsync(
            Rows(10_000),
            new ContactImportMapping { Source = "rows", ProgressInterval = 1, Columns = [ColumnMapping.ToIdentity("phone", IdentityKind.Phone)] },
            progress,
            cts.Token));

        var count = await provider.GetRequiredService<IContactStore>().CountAsync();
        Assert.InRange(count, 3_000, 3_001);
    }

    private static async IAsyncEnumerable<IReadOnlyDictionary<string, string?>> Rows(int n)
    {
        for (var i = 0; i < n; i++)
        {
            yield return new Dictionary<string, string?> { ["phone"] = $"+86138{i:D8}" };
        }

        await Task.CompletedTask;
    }

    private sealed class CancelAt(long rows, CancellationTokenSource cts) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value)
        {
            if (value.RowsRead == rows)
            {
                cts.Cancel();
            }
        }
    }

    private sealed class ReadingListener : IContactChangeListener
    {
        public IContactStore? Store { get; set; }

        public int Changes { get; private set; }

        public int NotYetStored { get; private set; }

        public async ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
        {
            Changes++;
            var stored = await Store!.GetAsync(change.Current.Id, cancellationToken);
            if (stored is null || stored.Version < change.Current.Version)
            {
                NotYetStored++;
            }
        }

        public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
