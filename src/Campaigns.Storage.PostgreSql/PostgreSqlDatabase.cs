using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NodaTime;
using Npgsql;
using NpgsqlTypes;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// The PostgreSQL database the stores share: owns the <see cref="NpgsqlDataSource"/> (disposed with the container),
/// applies the embedded migrations once per process under a transaction-scoped advisory lock, and checks the
/// personal-data protector's scheme against the one recorded in the database. Thread-safe.
/// </summary>
public sealed class PostgreSqlDatabase : IAsyncDisposable, IDisposable
{
    /// <summary>The schema version this package's migrations reach.</summary>
    public static int LatestVersion => Migrations.Value[^1].Version;

    private static readonly Lazy<IReadOnlyList<Migration>> Migrations = new(LoadMigrations);

    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource? _deferredDataSource;
    private readonly IPersonalDataProtector _protector;
    private readonly PostgreSqlStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Task? _ready;

    /// <summary>Creates the database handle (usually resolved from DI); nothing is sent until first use.</summary>
    /// <param name="options">The validated options.</param>
    /// <param name="protector">The personal-data protector whose scheme is recorded and checked.</param>
    /// <param name="logger">A logger, or null.</param>
    public PostgreSqlDatabase(IOptions<PostgreSqlStorageOptions> options, IPersonalDataProtector protector, ILogger<PostgreSqlDatabase>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(protector);
        _options = options.Value;
        if (string.IsNullOrWhiteSpace(_options.ConnectionString))
        {
            throw new ArgumentException($"{_options.ConfigurationPath}:ConnectionString is required.", nameof(options));
        }

        if (!PostgreSqlStorageOptionsValidator.SchemaName().IsMatch(_options.Schema ?? string.Empty))
        {
            throw new ArgumentException($"{_options.ConfigurationPath}:Schema '{_options.Schema}' is not a valid schema name.", nameof(options));
        }

        _protector = protector;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var tuned = Tune(_options.ConnectionString);
        _dataSource = new NpgsqlDataSourceBuilder(tuned).Build();
        if (_options.DeferPostSendFlush)
        {
            // The bookkeeping writes after a send commit without waiting for their WAL flush; the step's next synchronous
            // commit (the version-guarded run update) flushes them with its own, since WAL is flushed in order.
            var deferred = new NpgsqlConnectionStringBuilder(tuned);
            deferred.Options = (deferred.Options is { Length: > 0 } given ? given + " " : string.Empty) + "-c synchronous_commit=off";
            _deferredDataSource = new NpgsqlDataSourceBuilder(deferred.ConnectionString).Build();
        }

        Schema = _options.Schema!;
        InstanceName = _options.InstanceName
            ?? string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}");
    }

    /// <summary>
    /// Defaults for a store that sends many short statements, unless the connection string says otherwise: automatic
    /// preparation of the hot statements (planned once per connection, not per call), no DISCARD ALL when a
    /// connection goes back to the pool (which would drop those prepared statements), and a 64 KB write buffer
    /// (<see cref="DefaultWriteBufferSize"/>; Npgsql's is 8 KB) so an import's binary COPY goes out in 64 KB socket writes.
    /// </summary>
    internal static string Tune(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var given = Given(connectionString);
        if (!given.Contains("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!given.Contains("AutoPrepareMinUsages"))
        {
            builder.AutoPrepareMinUsages = 2;
        }

        if (!given.Contains("NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        if (!given.Contains("WriteBufferSize"))
        {
            builder.WriteBufferSize = DefaultWriteBufferSize;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// The write buffer of every connection unless the connection string sets <c>Write Buffer Size</c>: a contact
    /// batch's binary COPY is sent in 64 KB socket writes instead of 8 KB ones (fewer send calls on the client, fewer
    /// wake-ups of the server's reads; 56 KB more memory per open connection).
    /// </summary>
    internal const int DefaultWriteBufferSize = 64 * 1024;

    /// <summary>The keys a connection string sets, without spaces (<c>Write Buffer Size</c> → <c>WriteBufferSize</c>).</summary>
    private static HashSet<string> Given(string connectionString) =>
        new(connectionString.Split(';').Select(p => p.Split('=')[0].Trim().Replace(" ", string.Empty, StringComparison.Ordinal)), StringComparer.OrdinalIgnoreCase);

    /// <summary>The schema the tables live in.</summary>
    public string Schema { get; }

    /// <summary>The name written into <c>claimed_by</c> of leased rows.</summary>
    public string InstanceName { get; }

    /// <summary>The personal-data protector.</summary>
    internal IPersonalDataProtector Protector => _protector;

    /// <summary>The data source (pooled connections).</summary>
    internal NpgsqlDataSource DataSource => _dataSource;

    /// <summary>
    /// Applies pending migrations (or, with <see cref="PostgreSqlStorageOptions.ApplyMigrations"/> off, checks the
    /// version) and checks the protector scheme, once per process; later calls return the same task. Safe to call from
    /// several instances at once: migrations run under <c>pg_advisory_xact_lock</c>.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting (the first call's work goes on).</param>
    /// <returns>Completes when the schema is ready.</returns>
    /// <exception cref="InvalidOperationException">The schema is newer than this package, not migrated (when migrations are off), or was written with another protector scheme.</exception>
    public Task EnsureReadyAsync(CancellationToken cancellationToken = default)
    {
        var ready = Volatile.Read(ref _ready);
        if (ready is null || ready.IsFaulted || ready.IsCanceled)
        {
            lock (_gate)
            {
                ready = _ready;
                if (ready is null || ready.IsFaulted || ready.IsCanceled)
                {
                    ready = Task.Run(() => MigrateAsync(CancellationToken.None), CancellationToken.None);
                    Volatile.Write(ref _ready, ready);
                }
            }
        }

        return ready.IsCompletedSuccessfully ? ready : ready.WaitAsync(cancellationToken);
    }

    /// <summary>Opens a pooled connection once the schema is ready.</summary>
    internal ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(_dataSource, cancellationToken);

    /// <summary>The logger the stores of this database report to.</summary>
    internal ILogger Logger => _logger;

    /// <summary>
    /// Opens a pooled connection for a write whose WAL flush may be deferred (<see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/>):
    /// its sessions commit with <c>synchronous_commit = off</c>. Without the option, the same as <see cref="OpenAsync(CancellationToken)"/>.
    /// </summary>
    internal ValueTask<NpgsqlConnection> OpenDeferredAsync(CancellationToken cancellationToken) => OpenAsync(_deferredDataSource ?? _dataSource, cancellationToken);

    /// <summary>Whether post-send bookkeeping commits without waiting for its WAL flush (<see cref="PostgreSqlStorageOptions.DeferPostSendFlush"/>).</summary>
    internal bool DefersPostSendFlush => _deferredDataSource is not null;

    private async ValueTask<NpgsqlConnection> OpenAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var ready = Volatile.Read(ref _ready);
        if (ready is not { IsCompletedSuccessfully: true })
        {
            await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        }

        return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The schema-qualified name of a table.</summary>
    internal string Table(string name) => Schema + "." + name;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync().ConfigureAwait(false);
        if (_deferredDataSource is not null)
        {
            await _deferredDataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _dataSource.Dispose();
        _deferredDataSource?.Dispose();
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var migrations = Migrations.Value;
        using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('campaigns.migrate.' || @schema, 0))", connection, tx))
        {
            lockCommand.Parameters.AddWithValue("schema", Schema);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var current = 0;
        using (var versionCommand = new NpgsqlCommand(
            "SELECT CASE WHEN to_regclass(@table) IS NULL THEN -1 ELSE 0 END", connection, tx))
        {
            versionCommand.Parameters.AddWithValue("table", Schema + ".schema_migrations");
            current = (int)(await versionCommand.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (current == 0)
        {
            using var max = new NpgsqlCommand($"SELECT coalesce(max(version), 0) FROM {Schema}.schema_migrations", connection, tx);
            current = (int)(await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        else
        {
            current = 0;
        }

        var latest = migrations[^1].Version;
        if (current > latest)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL schema '{Schema}' is at version {current}, newer than this Campaigns.Storage.PostgreSql knows ({latest}). " +
                $"Upgrade the package on this host, or set {_options.ConfigurationPath}:Schema to another schema.");
        }

        if (current < latest)
        {
            if (!_options.ApplyMigrations)
            {
                throw new InvalidOperationException(
                    $"The PostgreSQL schema '{Schema}' is at version {current} but this host needs version {latest}, and " +
                    $"{_options.ConfigurationPath}:ApplyMigrations is false. Apply the migrations (start one host with ApplyMigrations=true).");
            }

            await ExecuteAsync(
                $"CREATE SCHEMA IF NOT EXISTS {Schema}; CREATE TABLE IF NOT EXISTS {Schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());",
                connection,
                tx,
                cancellationToken).ConfigureAwait(false);
            foreach (var migration in migrations.Where(m => m.Version > current))
            {
                await ExecuteAsync(migration.Sql.Replace("{schema}", Schema, StringComparison.Ordinal), connection, tx, cancellationToken).ConfigureAwait(false);
                using var record = new NpgsqlCommand($"INSERT INTO {Schema}.schema_migrations (version, name) VALUES (@v, @n)", connection, tx);
                record.Parameters.AddWithValue("v", migration.Version);
                record.Parameters.AddWithValue("n", migration.Name);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                if (_logger.IsEnabled(LogLevel.Information))
                {
                    _logger.LogInformation("PostgreSQL schema {Schema}: applied migration {Version} ({Name}).", Schema, migration.Version, migration.Name);
                }
            }
        }

        using (var scheme = new NpgsqlCommand(
            $"INSERT INTO {Schema}.metadata (key, value) VALUES ('protector_scheme', @scheme) ON CONFLICT (key) DO NOTHING; SELECT value FROM {Schema}.metadata WHERE key = 'protector_scheme'",
            connection,
            tx))
        {
            scheme.Parameters.AddWithValue("scheme", _protector.Scheme);
            var recorded = (string?)await scheme.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (!string.Equals(recorded, _protector.Scheme, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"The PostgreSQL schema '{Schema}' holds contact data protected with the scheme '{recorded}', but this host's IPersonalDataProtector " +
                    $"is '{_protector.Scheme}'. Register the protector the data was written with (or re-protect the data) before starting.");
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(string sql, NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<Migration> LoadMigrations()
    {
        const string Prefix = "Campaigns.Storage.PostgreSql.Migrations.";
        var assembly = typeof(PostgreSqlDatabase).Assembly;
        var list = new List<Migration>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var file = name[Prefix.Length..];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(version, Path.GetFileNameWithoutExtension(file), reader.ReadToEnd()));
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
            {
                throw new InvalidOperationException($"The embedded migrations are not numbered 1..n: '{list[i].Name}' at position {i + 1}.");
            }
        }

        return list;
    }

    private sealed record Migration(int Version, string Name, string Sql);
}

/// <summary>Conversions the stores share.</summary>
internal static class Pg
{
    public static long Ticks(Instant instant) => instant.ToUnixTimeTicks();

    public static Instant Instant(long ticks) => NodaTime.Instant.FromUnixTimeTicks(ticks);

    /// <summary>The SDK's JSON options plus converters for value types that have no public constructor (DeliveryResult).</summary>
    public static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>The writer options <see cref="JsonSerializer.Serialize{TValue}(TValue, JsonSerializerOptions?)"/> uses with <see cref="Json"/>, for writing the same JSON as UTF-8.</summary>
    public static readonly JsonWriterOptions JsonWriterOptions = new()
    {
        Encoder = Json.Encoder,
        Indented = Json.WriteIndented,
        IndentCharacter = Json.IndentCharacter,
        IndentSize = Json.IndentSize,
        NewLine = Json.NewLine,
        MaxDepth = Json.MaxDepth,
        SkipValidation = true,
    };

    /// <summary>
    /// <see cref="Json"/> for contact documents (issue 8): a contact's <c>version</c> (a column already, read from there)
    /// and its empty collections (tags, consents, attributes, stage history, quality flags, additional phones and
    /// e-mails) are left out, so the json the server checks, stores and logs is smaller. Reading accepts both forms: a
    /// missing collection is empty (the properties' initializers), and documents written before carry them all.
    /// </summary>
    public static readonly JsonSerializerOptions ContactJson = CreateJson(compactContacts: true);

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static T FromJson<T>(string json) => FromJson<T>(json, Json);

    public static T FromJson<T>(string json, JsonSerializerOptions options) => JsonSerializer.Deserialize<T>(json, options)
        ?? throw new InvalidOperationException($"A stored {typeof(T).Name} document is null.");

    public static NpgsqlParameter Jsonb(string name, string json) => new(name, NpgsqlDbType.Jsonb) { Value = json };

    /// <summary>A <c>json</c> parameter (contact documents since schema version 4: stored as sent, not parsed into jsonb).</summary>
    public static NpgsqlParameter JsonText(string name, string json) => new(name, NpgsqlDbType.Json) { Value = json };

    public static bool IsUniqueViolation(PostgresException ex) => ex.SqlState == PostgresErrorCodes.UniqueViolation;

    private static JsonSerializerOptions CreateJson(bool compactContacts = false)
    {
        var options = CampaignsJson.CreateOptions();
        options.Converters.Add(new DeliveryResultJsonConverter());
        if (compactContacts)
        {
            options.TypeInfoResolver = (options.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(CompactContact);
        }

        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    public static NpgsqlCommand Command(NpgsqlConnection connection, string sql, NpgsqlTransaction? tx = null) => new(sql, connection, tx);

    /// <summary>Leaves a contact's version and its empty collections out of its document (see <see cref="ContactJson"/>).</summary>
    private static void CompactContact(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Type != typeof(Contact) && typeInfo.Type != typeof(ContactIdentities))
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (typeInfo.Type == typeof(Contact) && property.AttributeProvider is PropertyInfo { Name: nameof(Contact.Version) })
            {
                property.ShouldSerialize = static (_, _) => false;
            }
            else if (property.PropertyType != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(property.PropertyType))
            {
                property.ShouldSerialize = static (_, value) => value is not System.Collections.ICollection { Count: 0 };
            }
        }
    }
}

/// <summary>Writes a <see cref="DeliveryResult"/> as its fields and reads it back through its factories.</summary>
internal sealed class DeliveryResultJsonConverter : JsonConverter<DeliveryResult>
{
    public override DeliveryResult Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var dto = JsonSerializer.Deserialize<Dto>(ref reader, options) ?? throw new JsonException("A delivery result is null.");
        return dto.Accepted
            ? DeliveryResult.Accepted(dto.ProviderMessageId)
            : DeliveryResult.Failed(dto.Reason, dto.Retryable, dto.Detail, dto.RetryAfter);
    }

    public override void Write(Utf8JsonWriter writer, DeliveryResult value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, new Dto(value.IsAccepted, value.ProviderMessageId, value.FailureReason, value.IsRetryable, value.Detail, value.RetryAfter), options);

    private sealed record Dto(bool Accepted, string? ProviderMessageId = null, DeliveryFailureReason Reason = DeliveryFailureReason.Unknown, bool Retryable = false, string? Detail = null, Duration? RetryAfter = null);
}
