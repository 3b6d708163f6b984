using Microsoft.Extensions.Hosting;

namespace Campaigns.Storage.PostgreSql;

/// <summary>Applies the migrations and checks the protector scheme when the host starts (a failure stops the start).</summary>
internal sealed class PostgreSqlStorageStartup(PostgreSqlDatabase db) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => db.EnsureReadyAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
