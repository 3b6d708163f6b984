using System.Globalization;
using System.Reflection;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// One SQLite database file shared by every SQLite store of a host: opens pooled connections with the session
/// pragmas, applies the embedded migrations once, checks the personal-data protection scheme, and runs writes in
/// short <c>BEGIN IMMEDIATE</c> transactions, one at a time per process (other processes wait up to the busy timeout).
/// Thread-safe.
/// </summary>
public sealed partial class SqliteDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly string _pragmas;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Lock _initGate = new();
    private volatile bool _initialized;

    /// <summary>Creates the database handle; nothing is opened until first use or <see cref="Initialize"/>.</summary>
    /// <param name="options">The options (validated).</param>
    /// <param name="protector">The personal-data protector the stores use; its scheme is recorded in the file.</param>
    public SqliteDatabase(SqliteStorageOptions options, IPersonalDataProtector protector)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(protector);
        _connectionString = options.BuildConnectionString();
        DataSource = new SqliteConnectionStringBuilder(_connectionString).DataSource;
        Protector = protector;
        _pragmas = string.Create(
            CultureInfo.InvariantCulture,
            $"PRAGMA busy_timeout = {(long)options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = {(options.Durability == SqliteDurability.Full ? "FULL" : "NORMAL")};");
    }

    /// <summary>The newest schema version this code knows.</summary>
    public static int LatestSchemaVersion => Migrations.Value[^1].Version;

    /// <summary>Gets the database file (the connection string's data source).</summary>
    public string DataSource { get; }

    /// <summary>Gets the protector the stores use.</summary>
    public IPersonalDataProtector Protector { get; }

    private static Lazy<(int Version, string Name, string Sql)[]> Migrations { get; } = new(LoadMigrations);

    /// <summary>
    /// Opens the file, turns on WAL, applies pending migrations and checks the protection scheme, inside one
    /// <c>BEGIN IMMEDIATE</c> transaction (so two processes starting at once apply each migration once). Idempotent; cheap
    /// after the first call. Reads no application data, so it takes the same time whatever the amount of data.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file has a newer schema than this code knows, or was written with another protection scheme.</exception>
    public void Initialize()
    {
        if (_initialized)
        {
            return;
        }

        lock (_initGate)
        {
            if (_initialized)
            {
                return;
            }

            using var connection = Open();
            Execute(connection, null, "PRAGMA journal_mode = WAL;");
            using (var transaction = connection.BeginTransaction(deferred: false))
            {
                Migrate(connection, transaction);
                CheckScheme(connection, transaction);
                transaction.Commit();
            }

            _initialized = true;
        }
    }

    /// <summary>The schema version of the file (0 when no migration was applied).</summary>
    /// <returns>The version.</returns>
    public int GetSchemaVersion()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';";
        if (command.ExecuteScalar() is null)
        {
            return 0;
        }

        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public void Dispose() => _writeGate.Dispose();

    /// <summary>Opens a pooled connection with the session pragmas set.</summary>
    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            Execute(connection, null, _pragmas);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Runs a read on its own connection (a consistent snapshot for the duration of <paramref name="work"/>'s statements).</summary>
    internal T Read<T>(Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Initialize();
        using var connection = Open();
        return work(connection);
    }

    /// <summary>Runs <paramref name="work"/> in one <c>BEGIN IMMEDIATE</c> transaction, committed when it returns and rolled back when it throws.</summary>
    internal async ValueTask<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Initialize();
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction(deferred: false);
            var result = work(connection, transaction);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Takes the process's write turn (for a batch that keeps a transaction open across calls).</summary>
    internal Task AcquireWriteTurnAsync(CancellationToken cancellationToken) => _writeGate.WaitAsync(cancellationToken);

    /// <summary>Gives the write turn back.</summary>
    internal void ReleaseWriteTurn() => _writeGate.Release();

    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    internal static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        return command.ExecuteNonQuery();
    }

    internal static long Ticks(Instant instant) => instant.ToUnixTimeTicks();

    internal static Instant Instant(long ticks) => NodaTime.Instant.FromUnixTimeTicks(ticks);

    private static (int Version, string Name, string Sql)[] LoadMigrations()
    {
        const string prefix = "Campaigns.Storage.Sqlite.Migrations.";
        var assembly = typeof(SqliteDatabase).Assembly;
        var list = new List<(int, string, string)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var file = name[prefix.Length..^4];
            var version = int.Parse(file.AsSpan(0, file.IndexOf('_', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((version, file, reader.ReadToEnd()));
        }

        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Item1 != i + 1)
            {
                throw new InvalidOperationException($"The embedded SQLite migrations are not numbered 1, 2, 3, ...: '{list[i].Item2}' is number {i + 1}.");
            }
        }

        return [.. list];
    }

    private void Migrate(SqliteConnection connection, SqliteTransaction transaction)
    {
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);");
        using var read = Command(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version;");
        var current = Convert.ToInt32(read.ExecuteScalar(), CultureInfo.InvariantCulture);
        var migrations = Migrations.Value;
        if (current > migrations[^1].Version)
        {
            throw new InvalidOperationException(
                $"The SQLite database '{DataSource}' has schema version {current}, newer than this version of Campaigns.Storage.Sqlite knows " +
                $"({migrations[^1].Version}). It was upgraded by a newer version of the package: run that version, or restore a backup made before the upgrade.");
        }

        foreach (var (version, name, sql) in migrations.Where(m => m.Version > current))
        {
            Execute(connection, transaction, sql);
            using var insert = Command(connection, transaction, "INSERT INTO schema_version (version, name, applied_at) VALUES ($v, $n, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));");
            insert.Parameters.AddWithValue("$v", version);
            insert.Parameters.AddWithValue("$n", name);
            insert.ExecuteNonQuery();
        }
    }

    private void CheckScheme(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var read = Command(connection, transaction, "SELECT value FROM metadata WHERE key = 'protection_scheme';");
        var stored = read.ExecuteScalar() as string;
        if (stored is null)
        {
            using var insert = Command(connection, transaction, "INSERT INTO metadata (key, value) VALUES ('protection_scheme', $s);");
            insert.Parameters.AddWithValue("$s", Protector.Scheme);
            insert.ExecuteNonQuery();
        }
        else if (!string.Equals(stored, Protector.Scheme, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"The SQLite database '{DataSource}' was written with personal-data protection scheme '{stored}', but this host is configured with " +
                $"'{Protector.Scheme}' ({Protector.GetType().Name}). Reading it would fail or find nothing: configure the same protector and keys " +
                $"(Campaigns:Storage:Protection), or start from a new database file. See docs/storage.md, 'Personal data'.");
        }
    }
}
