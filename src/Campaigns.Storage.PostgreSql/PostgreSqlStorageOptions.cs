using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Settings of the PostgreSQL storage (configuration section <c>Campaigns:Storage:PostgreSql</c>). Validated when the
/// host starts; a message names the configuration key that is wrong. Plain data, not thread-safe while being set.
/// </summary>
public sealed class PostgreSqlStorageOptions
{
    /// <summary>The Npgsql connection string, e.g. <c>Host=db;Database=campaigns;Username=app;Password=...</c>. Required.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The schema holding the SDK's tables (created when missing), default <c>campaigns</c>. Lower-case letters, digits
    /// and underscores, starting with a letter or underscore, at most 63 characters. Several SDK deployments can share
    /// one database in different schemas.
    /// </summary>
    public string Schema { get; set; } = "campaigns";

    /// <summary>
    /// Whether pending migrations are applied at start (default true). When false, the host refuses to start unless
    /// the schema is exactly at the version this package expects (apply the migrations from a deployment job instead).
    /// </summary>
    public bool ApplyMigrations { get; set; } = true;

    /// <summary>
    /// The name this instance writes into <c>claimed_by</c> when it leases journey timers and idempotency keys; it
    /// helps operators see which host holds what. Default: machine name, process id and a random suffix.
    /// </summary>
    public string? InstanceName { get; set; }

    /// <summary>
    /// Whether the bookkeeping writes after a provider call — the idempotency key's completion, the execution record's
    /// counts and the provider-message index entry — commit without waiting for their own WAL flush (default true).
    /// They become durable with the next synchronous commit on the server (for a journey step, the version-guarded run
    /// update that follows at once, which waits for one flush covering all of them) or within PostgreSQL's
    /// <c>wal_writer_delay</c> (200 ms by default). This cuts a step's WAL flushes from 5 to 2 (idempotency claim,
    /// run update). What it changes: only if the database server itself crashes in that window are those writes lost;
    /// the send is then found in doubt at takeover (the key still claimed) and settled like a host killed between the
    /// provider's answer and the completion — by the channel's idempotency key, a status query, or its configured
    /// at-most-once / at-least-once choice. A crashed or killed host loses nothing (the server has the commits). The
    /// idempotency claim before a send and the run's version-guarded update are always synchronous. Set false to flush
    /// each write at its own commit. Uses a second connection pool of the same size for these writes.
    /// </summary>
    public bool DeferPostSendFlush { get; set; } = true;

    /// <summary>The configuration path messages name, set by the registration; default <c>Campaigns:Storage:PostgreSql</c>.</summary>
    internal string ConfigurationPath { get; set; } = "Campaigns:Storage:PostgreSql";
}

/// <summary>Validates <see cref="PostgreSqlStorageOptions"/> at start; messages name the configuration keys.</summary>
internal sealed partial class PostgreSqlStorageOptionsValidator : IValidateOptions<PostgreSqlStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = options.ConfigurationPath;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{path}:ConnectionString is required (e.g. 'Host=localhost;Database=campaigns;Username=app').");
        }
        else
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (string.IsNullOrWhiteSpace(builder.Host))
                {
                    failures.Add($"{path}:ConnectionString names no Host.");
                }
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{path}:ConnectionString is not a valid Npgsql connection string: {ex.Message}");
            }
        }

        if (options.Schema is null || !SchemaName().IsMatch(options.Schema))
        {
            failures.Add($"{path}:Schema '{options.Schema}' is not a valid schema name (lower-case letters, digits and '_', starting with a letter or '_', at most 63 characters).");
        }

        if (options.InstanceName is { } instance && (instance.Length == 0 || instance.Length > 200))
        {
            failures.Add($"{path}:InstanceName must be 1 to 200 characters when set.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    internal static partial Regex SchemaName();
}
