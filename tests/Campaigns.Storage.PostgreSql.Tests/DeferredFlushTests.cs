using Campaigns.Channels;
using Campaigns.Delivery;
using NodaTime;
using Npgsql;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// <see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/>: the bookkeeping writes after a send commit with
/// <c>synchronous_commit = off</c> (their flush rides on the step's next synchronous commit); everything else, and every
/// write when the option is off, commits synchronously.
/// </summary>
public sealed class DeferredFlushTests
{
    private static async Task<string> SynchronousCommitAsync(NpgsqlConnection connection)
    {
        using (connection)
        {
            await using var command = new NpgsqlCommand("SHOW synchronous_commit", connection);
            return (string)(await command.ExecuteScalarAsync())!;
        }
    }

    /// <summary>
    /// A database whose connection string asks for <c>synchronous_commit = on</c> in its startup options, so the tests do
    /// not depend on the server's own setting (the CI cluster runs with <c>synchronous_commit = off</c>).
    /// </summary>
    private static PostgreSqlDatabase SynchronousDatabase(PostgreSqlTestSchema schema, bool defer) =>
        new(
            Microsoft.Extensions.Options.Options.Create(new PostgreSqlStorageOptions
            {
                ConnectionString = schema.ConnectionString + ";Options=-c synchronous_commit=on",
                Schema = schema.Schema,
                DeferPostSendFlush = defer,
            }),
            PlainTextPersonalDataProtector.Instance);

    [SkippableFact]
    public async Task By_default_only_the_post_send_pool_commits_without_waiting_for_the_flush()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        Assert.True(new PostgreSqlStorageOptions().DeferPostSendFlush);
        await using var db = SynchronousDatabase(schema, defer: true);
        Assert.Equal("on", await SynchronousCommitAsync(await db.OpenAsync(default)));
        Assert.Equal("off", await SynchronousCommitAsync(await db.OpenDeferredAsync(default)));
    }

    [SkippableFact]
    public async Task When_turned_off_every_write_commits_synchronously()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        await using var db = SynchronousDatabase(schema, defer: false);
        Assert.Equal("on", await SynchronousCommitAsync(await db.OpenAsync(default)));
        Assert.Equal("on", await SynchronousCommitAsync(await db.OpenDeferredAsync(default)));
    }

    [SkippableFact]
    public async Task Options_given_in_the_connection_string_are_kept_on_the_post_send_pool()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var db = new PostgreSqlDatabase(
            Microsoft.Extensions.Options.Options.Create(new PostgreSqlStorageOptions { ConnectionString = schema.ConnectionString + ";Options=-c statement_timeout=12345", Schema = schema.Schema }),
            PlainTextPersonalDataProtector.Instance);
        await using (db)
        {
            using var connection = await db.OpenDeferredAsync(default);
            await using var command = new NpgsqlCommand("SELECT current_setting('statement_timeout') || ' ' || current_setting('synchronous_commit')", connection);
            Assert.Equal("12345ms off", await command.ExecuteScalarAsync());
        }
    }

    [SkippableFact]
    public async Task Completions_records_and_index_entries_written_through_the_deferred_pool_are_read_back_by_another_host()
    {
        await using var schema = await PostgreSqlTestSchema.CreateAsync();
        var writer = schema.NewDatabase();
        var reader = schema.NewDatabase(o => o.DeferPostSendFlush = false);
        var at = Instant.FromUtc(2026, 6, 17, 2, 0);
        var idempotency = schema.Idempotency(writer);
        Assert.Equal(IdempotencyClaimStatus.Claimed, (await idempotency.TryClaimAsync("k1", at, Duration.FromMinutes(5), default)).Status);
        var outcome = new DeliveryOutcome { IdempotencyKey = "k1", Status = DeliveryStatus.Sent, Channel = "email", At = at };
        await idempotency.CompleteAsync("k1", outcome, default);
        var records = schema.ExecutionRecords(writer);
        await records.RecordAsync("task", outcome, default);
        var index = new PostgreSqlProviderMessageIndex(writer, Duration.FromDays(30));
        await index.RecordAsync("pm-1", new ProviderMessage("c1", "email", "k1", at), default);

        var replay = await schema.Idempotency(reader).TryClaimAsync("k1", at, Duration.FromMinutes(5), default);
        Assert.Equal(IdempotencyClaimStatus.Completed, replay.Status);
        Assert.Equal(DeliveryStatus.Sent, replay.Outcome!.Status);
        Assert.Equal(1, (await schema.ExecutionRecords(reader).GetAsync("task", default))!.Sent);
        Assert.Equal("k1", (await new PostgreSqlProviderMessageIndex(reader, Duration.FromDays(30)).FindAsync("email", "pm-1", default))!.IdempotencyKey);
    }
}
