using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Storage.Sqlite;

/// <summary>The SQLite <see cref="IEventStore"/>: one row per event id (idempotent appends), indexed by contact and time. Thread-safe.</summary>
public sealed class SqliteEventStore : IEventStore, IEventLogReader
{
    private const int PageSize = 500;
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteEventStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public async ValueTask<bool> AppendAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ArgumentException.ThrowIfNullOrWhiteSpace(behaviourEvent.EventId, nameof(behaviourEvent));
        var doc = StorageJson.Serialize(behaviourEvent);
        return await _database.WriteSessionAsync(
            s => s.Execute(
                "INSERT OR IGNORE INTO events (event_id, contact_id, occurred_at, doc) VALUES ($id, $c, $at, $doc);",
                ("$id", behaviourEvent.EventId),
                ("$c", behaviourEvent.ContactId.ToString()),
                ("$at", SqliteDatabase.Ticks(behaviourEvent.OccurredAt)),
                ("$doc", doc)) == 1,
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<BehaviourEvent?> GetAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        var doc = _database.ReadSession(s => s.Scalar("SELECT doc FROM events WHERE event_id = $id;", ("$id", eventId)) as string, cancellationToken);
        return ValueTask.FromResult(doc is null ? null : StorageJson.Deserialize<BehaviourEvent>(doc));
    }

    /// <inheritdoc />
    /// <remarks>Event ids are compared as UTF-8 bytes, which is ordinal order for every id without characters outside the Basic Multilingual Plane.</remarks>
    public async IAsyncEnumerable<BehaviourEvent> ListAsync(
        ContactId contactId,
        Instant? since = null,
        Instant? until = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var contact = contactId.ToString();
        long afterAt = since is { } s0 ? SqliteDatabase.Ticks(s0) : long.MinValue;
        string? afterId = null;
        var end = until is { } u ? SqliteDatabase.Ticks(u) : long.MaxValue;
        while (true)
        {
            var page = _database.ReadSession(
                s =>
                {
                    var list = new List<(long At, string Id, string Doc)>(PageSize);
                    using var reader = s.Command(
                        "SELECT occurred_at, event_id, doc FROM events WHERE contact_id = $c AND occurred_at < $end AND " +
                        "(occurred_at > $at OR (occurred_at = $at AND ($id IS NULL OR event_id > $id))) ORDER BY occurred_at, event_id LIMIT $n;",
                        ("$c", contact),
                        ("$end", end),
                        ("$at", afterAt),
                        ("$id", afterId),
                        ("$n", PageSize)).ExecuteReader();
                    while (reader.Read())
                    {
                        list.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
                    }

                    return list;
                },
                cancellationToken);
            foreach (var (at, id, doc) in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                afterAt = at;
                afterId = id;
                yield return StorageJson.Deserialize<BehaviourEvent>(doc);
            }

            if (page.Count < PageSize)
            {
                break;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Pages through the events table in event-id order (keyset pagination, one short read per page).</remarks>
    public async IAsyncEnumerable<BehaviourEvent> ReadAllAsync(Instant? since = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        const int page = 2_000;
        var from = since is { } s0 ? SqliteDatabase.Ticks(s0) : long.MinValue;
        var afterId = "";
        while (true)
        {
            var rows = _database.ReadSession(
                s =>
                {
                    var list = new List<(string Id, string Doc)>(page);
                    using var reader = s.Command(
                        "SELECT event_id, doc FROM events WHERE event_id > $id AND occurred_at >= $from ORDER BY event_id LIMIT $n;",
                        ("$id", afterId),
                        ("$from", from),
                        ("$n", page)).ExecuteReader();
                    while (reader.Read())
                    {
                        list.Add((reader.GetString(0), reader.GetString(1)));
                    }

                    return list;
                },
                cancellationToken);
            foreach (var (id, doc) in rows)
            {
                cancellationToken.ThrowIfCancellationRequested();
                afterId = id;
                var e = StorageJson.Deserialize<BehaviourEvent>(doc);
                if (since is not { } s || e.OccurredAt >= s)
                {
                    yield return e;
                }
            }

            if (rows.Count < page)
            {
                break;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
