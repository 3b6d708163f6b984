using System.Runtime.CompilerServices;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IJourneyRunStore"/>: the latest run per (journey, contact) as a JSON document, and at most
/// one timer row per run, written in the same transaction as the run and guarded by its version. Claims lease timers
/// (a claimed timer's wake-up moves to its lease expiry), so a crashed host's claims are taken again once the lease
/// expires; several processes on one file share the work. Nothing is loaded at start: the database is the timer.
/// Thread-safe.
/// </summary>
public sealed class SqliteJourneyRunStore : IJourneyRunStore
{
    private const int PageSize = 500;
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteJourneyRunStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        return ValueTask.FromResult(_database.ReadSession(
            s =>
            {
                using var reader = s.Command(
                    "SELECT version, doc FROM journey_runs WHERE journey_id = $j AND contact_id = $c;",
                    ("$j", journeyId),
                    ("$c", contactId.ToString())).ExecuteReader();
                return reader.Read() ? Read(reader.GetInt64(0), reader.GetString(1)) : null;
            },
            cancellationToken));
    }

    /// <inheritdoc />
    public async ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var stored = run with { Version = 1 };
        var doc = StorageJson.Serialize(stored);
        return await _database.WriteSessionAsync(
            s =>
            {
                using (var reader = s.Command(
                    "SELECT run_number, status FROM journey_runs WHERE journey_id = $j AND contact_id = $c;",
                    ("$j", run.JourneyId),
                    ("$c", run.ContactId.ToString())).ExecuteReader())
                {
                    if (reader.Read())
                    {
                        var existing = new JourneyRun
                        {
                            JourneyId = run.JourneyId,
                            ContactId = run.ContactId,
                            RunNumber = reader.GetInt32(0),
                            Status = (JourneyRunStatus)reader.GetInt32(1),
                            EnteredAt = default,
                        };
                        if (!existing.IsEnded || existing.RunNumber >= run.RunNumber)
                        {
                            return null;
                        }
                    }
                }

                s.Execute(
                    "INSERT OR REPLACE INTO journey_runs (journey_id, contact_id, run_number, status, version, doc) VALUES ($j, $c, $r, $s, 1, $doc);",
                    ("$j", run.JourneyId),
                    ("$c", run.ContactId.ToString()),
                    ("$r", run.RunNumber),
                    ("$s", (int)run.Status),
                    ("$doc", doc));
                SetTimer(s, stored);
                return stored;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var stored = run with { Version = expectedVersion + 1 };
        var doc = StorageJson.Serialize(stored);
        return await _database.WriteSessionAsync(
            s =>
            {
                var updated = s.Execute(
                    "UPDATE journey_runs SET status = $s, version = $v, doc = $doc WHERE journey_id = $j AND contact_id = $c AND version = $expected AND run_number = $r;",
                    ("$s", (int)run.Status),
                    ("$v", stored.Version),
                    ("$doc", doc),
                    ("$j", run.JourneyId),
                    ("$c", run.ContactId.ToString()),
                    ("$expected", expectedVersion),
                    ("$r", run.RunNumber));
                if (updated != 1)
                {
                    return null;
                }

                SetTimer(s, stored);
                return stored;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(excludedJourneys);
        var excluded = excludedJourneys.Count == 0 ? null : StorageJson.Serialize(excludedJourneys.ToArray());
        var nowTicks = SqliteDatabase.Ticks(now);
        var until = SqliteDatabase.Ticks(now + lease);
        return await _database.WriteSessionAsync<IReadOnlyList<JourneyTimer>>(
            s =>
            {
                var claimed = new List<(long RowId, JourneyTimer Timer)>(Math.Min(batchSize, 256));
                using (var reader = s.Command(
                    "SELECT rowid, journey_id, contact_id, run_number, due_at, run_version FROM journey_timers " +
                    "WHERE wake_at <= $now AND ($excluded IS NULL OR journey_id NOT IN (SELECT value FROM json_each($excluded))) " +
                    "ORDER BY wake_at, rowid LIMIT $n;",
                    ("$now", nowTicks),
                    ("$excluded", excluded),
                    ("$n", batchSize)).ExecuteReader())
                {
                    while (reader.Read())
                    {
                        claimed.Add((reader.GetInt64(0), new JourneyTimer(
                            reader.GetString(1),
                            ContactId.Parse(reader.GetString(2), System.Globalization.CultureInfo.InvariantCulture),
                            reader.GetInt32(3),
                            SqliteDatabase.Instant(reader.GetInt64(4)),
                            reader.GetInt64(5))));
                    }
                }

                foreach (var (rowId, _) in claimed)
                {
                    s.Execute("UPDATE journey_timers SET lease_until = $until, wake_at = $until WHERE rowid = $id;", ("$until", until), ("$id", rowId));
                }

                return [.. claimed.Select(c => c.Timer)];
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>A claimed timer counts at its lease expiry (when it can be claimed again), like the in-memory store.</remarks>
    public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_database.ReadSession(
            static s => s.Scalar("SELECT MIN(wake_at) FROM journey_timers;") is long ticks ? SqliteDatabase.Instant(ticks) : (Instant?)null,
            cancellationToken));

    /// <inheritdoc />
    public async IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        var after = string.Empty;
        while (true)
        {
            var page = _database.ReadSession(
                s =>
                {
                    var list = new List<(string Contact, JourneyRun Run)>(PageSize);
                    using var reader = s.Command(
                        "SELECT contact_id, version, doc FROM journey_runs WHERE journey_id = $j AND contact_id > $after ORDER BY contact_id LIMIT $n;",
                        ("$j", journeyId),
                        ("$after", after),
                        ("$n", PageSize)).ExecuteReader();
                    while (reader.Read())
                    {
                        list.Add((reader.GetString(0), Read(reader.GetInt64(1), reader.GetString(2))));
                    }

                    return list;
                },
                cancellationToken);
            foreach (var (contact, run) in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                after = contact;
                yield return run;
            }

            if (page.Count < PageSize)
            {
                break;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static JourneyRun Read(long version, string doc) => StorageJson.Deserialize<JourneyRun>(doc) with { Version = version };

    private static void SetTimer(SqliteSession s, JourneyRun run)
    {
        s.Execute("DELETE FROM journey_timers WHERE journey_id = $j AND contact_id = $c;", ("$j", run.JourneyId), ("$c", run.ContactId.ToString()));
        if (run.Status == JourneyRunStatus.Active && run.DueAt is { } due)
        {
            var ticks = SqliteDatabase.Ticks(due);
            s.Execute(
                "INSERT INTO journey_timers (journey_id, contact_id, run_number, due_at, run_version, lease_until, wake_at) VALUES ($j, $c, $r, $due, $v, NULL, $due);",
                ("$j", run.JourneyId),
                ("$c", run.ContactId.ToString()),
                ("$r", run.RunNumber),
                ("$due", ticks),
                ("$v", run.Version));
        }
    }
}
