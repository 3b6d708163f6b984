using Campaigns.Delivery;
using NodaTime;

namespace Campaigns.Storage.PostgreSql.Tests;

public sealed class ProviderMessageIndexTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 5, 1, 0, 0);
    private static readonly Duration Retention = Duration.FromDays(7);

    [SkippableFact]
    public async Task Prune_deletes_the_rows_past_the_retention_from_the_newest_send()
    {
        Skip.If(PostgreSqlTestServer.SkipReason is not null, PostgreSqlTestServer.SkipReason);
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var index = new PostgreSqlProviderMessageIndex(schema.Database, Retention);
        await index.RecordAsync("old", new ProviderMessage("c1", "email", "k1", T0), default);
        await index.RecordAsync("edge", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromDays(1)), default);
        await index.RecordAsync("new", new ProviderMessage("c3", "sms", "k3", T0 + Duration.FromDays(8)), default);
        Assert.Equal(3L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));

        Assert.Equal(1, await index.PruneAsync());
        Assert.Equal(0, await index.PruneAsync());
        Assert.Equal(2L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));
        Assert.NotNull(await index.FindAsync("email", "edge", default));
    }

    [SkippableFact]
    public async Task The_first_record_of_an_instance_prunes()
    {
        Skip.If(PostgreSqlTestServer.SkipReason is not null, PostgreSqlTestServer.SkipReason);
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await new PostgreSqlProviderMessageIndex(schema.Database, Retention).RecordAsync("old", new ProviderMessage("c1", "email", "k1", T0), default);

        await new PostgreSqlProviderMessageIndex(schema.NewDatabase(), Retention).RecordAsync("new", new ProviderMessage("c2", "email", "k2", T0 + Duration.FromDays(8)), default);

        Assert.Equal(1L, await schema.ScalarAsync("SELECT count(*) FROM provider_messages"));
    }
}
