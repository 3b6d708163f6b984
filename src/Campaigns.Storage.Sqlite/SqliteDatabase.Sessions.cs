namespace Campaigns.Storage.Sqlite;

public sealed partial class SqliteDatabase
{
    /// <summary>Runs a read in a session on its own connection.</summary>
    internal T ReadSession<T>(Func<SqliteSession, T> work, CancellationToken cancellationToken) =>
        Read(connection =>
        {
            using var session = new SqliteSession(connection, null, cacheCommands: false);
            return work(session);
        }, cancellationToken);

    /// <summary>Runs a write in a session inside one <c>BEGIN IMMEDIATE</c> transaction, blocking (for synchronous APIs).</summary>
    internal T WriteSession<T>(Func<SqliteSession, T> work)
    {
        Initialize();
        _writeGate.Wait();
        try
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction(deferred: false);
            using var session = new SqliteSession(connection, transaction, cacheCommands: false);
            var result = work(session);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Runs a write in a session inside one <c>BEGIN IMMEDIATE</c> transaction.</summary>
    internal ValueTask<T> WriteSessionAsync<T>(Func<SqliteSession, T> work, CancellationToken cancellationToken) =>
        WriteAsync((connection, transaction) =>
        {
            using var session = new SqliteSession(connection, transaction, cacheCommands: false);
            return work(session);
        }, cancellationToken);
}
