using System.Collections.Concurrent;
using System.Diagnostics;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>Records the SQL a test sends (through Npgsql's activity source), so a test can count round trips or check a statement's shape.</summary>
internal static class NpgsqlStatements
{
    /// <summary>Collects the text of every Npgsql command of this schema (other tests' commands are left out).</summary>
    public static ActivityListener Listen(string schema, ConcurrentQueue<string> statements)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                var text = (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement"))?.ToString();
                if (text is not null && text.Contains(schema + ".", StringComparison.Ordinal))
                {
                    statements.Enqueue(string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Replace(schema + ".", string.Empty, StringComparison.Ordinal));
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
