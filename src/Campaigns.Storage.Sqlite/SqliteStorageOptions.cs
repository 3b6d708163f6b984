using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Campaigns.Storage.Sqlite;

/// <summary>How durable a commit is on SQLite (<c>PRAGMA synchronous</c> in WAL mode).</summary>
public enum SqliteDurability
{
    /// <summary>
    /// <c>NORMAL</c> (default): a commit survives a crash or kill of the process; a power loss or OS crash may roll back
    /// the last commits (the database stays consistent). Fast: no fsync per commit.
    /// </summary>
    Normal = 0,

    /// <summary><c>FULL</c>: a commit also survives a power loss; every commit waits for an fsync.</summary>
    Full = 1,
}

/// <summary>
/// Options of the SQLite storage, bound from <c>Campaigns:Storage:Sqlite</c>. Give either <see cref="Path"/> or
/// <see cref="ConnectionString"/>.
/// </summary>
public sealed class SqliteStorageOptions
{
    /// <summary>The configuration section: <c>Campaigns:Storage:Sqlite</c>.</summary>
    public const string SectionPath = "Campaigns:Storage:Sqlite";

    /// <summary>Gets or sets the database file (created when missing; relative paths are relative to the working directory).</summary>
    public string? Path { get; set; }

    /// <summary>Gets or sets a full Microsoft.Data.Sqlite connection string instead of <see cref="Path"/> (e.g. <c>Data Source=campaigns.db</c>).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets how long a write waits for another process's write lock before failing (<c>PRAGMA busy_timeout</c>). Default 30 s.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the commit durability. Default <see cref="SqliteDurability.Normal"/>.</summary>
    public SqliteDurability Durability { get; set; } = SqliteDurability.Normal;

    /// <summary>Gets or sets whether the database (migrations, protection scheme check) is opened when the host starts. Default true; when false, on first use.</summary>
    public bool InitializeOnStart { get; set; } = true;

    /// <summary>The connection string these options describe.</summary>
    /// <returns>The connection string.</returns>
    /// <exception cref="InvalidOperationException">Neither or both of <see cref="Path"/> and <see cref="ConnectionString"/> are set.</exception>
    public string BuildConnectionString()
    {
        var errors = SqliteStorageOptionsValidator.Check(this);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        var builder = ConnectionString is { Length: > 0 } cs ? new SqliteConnectionStringBuilder(cs) : new SqliteConnectionStringBuilder { DataSource = Path };
        builder.Mode = builder.Mode == SqliteOpenMode.Memory ? SqliteOpenMode.Memory : SqliteOpenMode.ReadWriteCreate;
        builder.Pooling = true;
        builder.DefaultTimeout = (int)Math.Ceiling(BusyTimeout.TotalSeconds);
        return builder.ToString();
    }
}

/// <summary>Validates <see cref="SqliteStorageOptions"/>; messages name <c>Campaigns:Storage:Sqlite:*</c>.</summary>
internal sealed class SqliteStorageOptionsValidator : IValidateOptions<SqliteStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, SqliteStorageOptions options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Check(SqliteStorageOptions options)
    {
        const string path = SqliteStorageOptions.SectionPath;
        var errors = new List<string>();
        var hasPath = !string.IsNullOrWhiteSpace(options.Path);
        var hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        if (hasPath == hasConnectionString)
        {
            errors.Add(hasPath
                ? $"{path}:Path and {path}:ConnectionString are both set; set one (Path is the database file, e.g. campaigns.db)."
                : $"{path}:Path: the database file is required (e.g. campaigns.db), or set {path}:ConnectionString.");
        }
        else if (hasPath && options.Path!.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
        {
            errors.Add($"{path}:Path: '{options.Path}' contains characters that are not allowed in a path.");
        }
        else if (hasConnectionString)
        {
            try
            {
                var builder = new SqliteConnectionStringBuilder(options.ConnectionString);
                if (string.IsNullOrWhiteSpace(builder.DataSource))
                {
                    errors.Add($"{path}:ConnectionString: it names no Data Source (e.g. 'Data Source=campaigns.db').");
                }
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}:ConnectionString: it is not a SQLite connection string: {ex.Message}");
            }
        }

        if (options.BusyTimeout < TimeSpan.Zero || options.BusyTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{path}:BusyTimeout: {options.BusyTimeout} is out of range; use 00:00:00 to 00:10:00.");
        }

        if (!Enum.IsDefined(options.Durability))
        {
            errors.Add($"{path}:Durability: '{options.Durability}' is not one of Normal, Full.");
        }

        return errors;
    }
}
