using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// Opens and migrates the database when the host starts (unless <see cref="SqliteStorageOptions.InitializeOnStart"/>
/// is false), so a newer schema or a protection-scheme mismatch stops the host at once. Reads no application data:
/// the time to ready does not grow with the data (pending timers stay in the file until due).
/// </summary>
internal sealed class SqliteStorageInitializer(SqliteDatabase database, IOptions<SqliteStorageOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.InitializeOnStart)
        {
            database.Initialize();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
