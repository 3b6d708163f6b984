using Microsoft.Data.Sqlite;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// A connection (and maybe a transaction) with prepared commands kept by SQL text, so that repeated statements of a
/// batch are prepared once. Not thread-safe.
/// </summary>
internal sealed class SqliteSession(SqliteConnection connection, SqliteTransaction? transaction, bool cacheCommands) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly List<SqliteCommand> _uncached = [];
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);

    public SqliteConnection Connection { get; } = connection;

    public SqliteTransaction? Transaction { get; set; } = transaction;

    /// <summary>A command for <paramref name="sql"/> with no parameters; disposed with the session.</summary>
    public SqliteCommand Command(string sql)
    {
        if (cacheCommands && _commands.TryGetValue(sql, out var cached))
        {
            cached.Parameters.Clear();
            cached.Transaction = Transaction;
            return cached;
        }

        var command = SqliteDatabase.Command(Connection, Transaction, sql);
        if (cacheCommands)
        {
            _commands[sql] = command;
        }
        else
        {
            _uncached.Add(command);
        }

        return command;
    }

    /// <summary>
    /// A command for <paramref name="sql"/> whose parameters (named <paramref name="names"/>, in that order) are created
    /// once and kept: the caller sets their values (<c>command.Parameters[i].Value</c>) before each execution, so a
    /// statement repeated for every row of a batch allocates no parameters. Disposed with the session.
    /// </summary>
    public SqliteCommand Prepared(string sql, ReadOnlySpan<string> names)
    {
        if (cacheCommands && _prepared.TryGetValue(sql, out var cached))
        {
            cached.Transaction = Transaction;
            return cached;
        }

        var command = SqliteDatabase.Command(Connection, Transaction, sql);
        foreach (var name in names)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        if (cacheCommands)
        {
            _prepared[sql] = command;
        }
        else
        {
            _uncached.Add(command);
        }

        return command;
    }

    public SqliteCommand Command(string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = Command(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public int Execute(string sql, params ReadOnlySpan<(string Name, object? Value)> parameters) => Command(sql, parameters).ExecuteNonQuery();

    public object? Scalar(string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var value = Command(sql, parameters).ExecuteScalar();
        return value is DBNull ? null : value;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        foreach (var command in _uncached)
        {
            command.Dispose();
        }

        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
        _commands.Clear();
        _uncached.Clear();
    }
}
