using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Storage.Sqlite.Tests;

public sealed class SqliteProviderMessageIndexTests : IDisposable
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 5, 1, 0, 0);
    private static readonly Duration Retention = Duration.FromDays(7);
    private readonly TempDatabase _file = new();

    public void Dispose() => _file.Dispose();

    [Fact]
    public async Task Prune_deletes_the_rows_past_the_retention_from_the_newest_send()
    {
        var db = _file.Open();
        var index = new SqliteProviderMessageIndex(db, Retention);
        await index.RecordAsync("old", new ProviderMessage("c1", "email", "k1", T0), default);
        await index.RecordAsync("edge", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromDays(1)), default);
        await index.RecordAsync("new", new ProviderMessage("c3", "sms", "k3", T0 + Duration.FromDays(8)), default);
        Assert.Equal(3L, Rows(db));

        Assert.Equal(1, await index.PruneAsync());
        Assert.Equal(0, await index.PruneAsync());
        Assert.Equal(2L, Rows(db));
        Assert.NotNull(await index.FindAsync("email", "edge", default));
    }

    [Fact]
    public async Task The_first_record_of_an_instance_prunes()
    {
        await new SqliteProviderMessageIndex(_file.Open(), Retention).RecordAsync("old", new ProviderMessage("c1", "email", "k1", T0), default);
        var db = _file.Open();

        await new SqliteProviderMessageIndex(db, Retention).RecordAsync("new", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromDays(8)), default);

        Assert.Equal(1L, Rows(db));
    }

    [Fact]
    public void A_non_positive_retention_is_rejected_naming_it()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteProviderMessageIndex(_file.Open(), Duration.Zero));
        Assert.Equal("retention", ex.ParamName);
    }

    private static long Rows(SqliteDatabase db) => db.ReadSession(s => (long)s.Scalar("SELECT COUNT(*) FROM provider_messages;")!, default);
}
