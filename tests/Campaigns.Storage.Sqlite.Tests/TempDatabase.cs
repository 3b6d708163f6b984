using Campaigns.Storage;

namespace Campaigns.Storage.Sqlite.Tests;

/// <summary>A database file in a fresh temporary directory, deleted on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "campaigns-sqlite-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Path = System.IO.Path.Combine(Directory, "campaigns.db");
    }

    public string Directory { get; }

    public string Path { get; }

    /// <summary>Opens a new handle on the file (as another host process would).</summary>
    public SqliteDatabase Open(IPersonalDataProtector? protector = null) =>
        new(new SqliteStorageOptions { Path = Path }, protector ?? PlainTextPersonalDataProtector.Instance);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A handle still open elsewhere; the temp directory is cleaned by the OS.
        }
    }
}
