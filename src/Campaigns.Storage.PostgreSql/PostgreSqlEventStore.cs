using System.Runtime.CompilerServices;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IEventStore"/> on PostgreSQL: one row per event id (<c>INSERT ... ON CONFLICT DO NOTHING</c>, so a
/// duplicate id changes nothing), indexed by (contact, occurred_at, event id) for the ordered per-contact reads.
/// Thread-safe.
/// </summary>
internal sealed class PostgreSqlEventStore(PostgreSqlDatabase db) : IEventStore, IEventLogReader
{
    public async ValueTask<bool> AppendAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        ArgumentException.ThrowIfNullOrWhiteSpace(behaviourEvent.EventId, nameof(behaviourEvent));
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"INSERT INTO {db.Schema}.events (event_id, contact_id, occurred_at, doc) VALUES (@id, @contact, @at, @doc) ON CONFLICT (event_id) DO NOTHING");
        command.Parameters.AddWithValue("id", behaviourEvent.EventId);
        command.Parameters.AddWithValue("contact", behaviourEvent.ContactId.Value);
        command.Parameters.AddWithValue("at", Pg.Ticks(behaviourEvent.OccurredAt));
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(behaviourEvent)));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async ValueTask<BehaviourEvent?> GetAsync(string eventId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventId);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text FROM {db.Schema}.events WHERE event_id = @id");
        command.Parameters.AddWithValue("id", eventId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string json ? Pg.FromJson<BehaviourEvent>(json) : null;
    }

    public async IAsyncEnumerable<BehaviourEvent> ListAsync(
        ContactId contactId,
        Instant? since = null,
        Instant? until = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Ticks are 100 ns; an instant between two ticks is bounded by the ticks around it and checked exactly below.
        var events = new List<BehaviourEvent>();
        using (var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false))
        using (var command = Pg.Command(connection, $"SELECT doc::text FROM {db.Schema}.events WHERE contact_id = @contact AND occurred_at >= @since AND occurred_at <= @until ORDER BY occurred_at, event_id"))
        {
            command.Parameters.AddWithValue("contact", contactId.Value);
            command.Parameters.AddWithValue("since", since is { } s ? Pg.Ticks(s) : long.MinValue);
            command.Parameters.AddWithValue("until", until is { } u ? Pg.Ticks(u) : long.MaxValue);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var e = Pg.FromJson<BehaviourEvent>(reader.GetString(0));
                if ((since is null || e.OccurredAt >= since) && (until is null || e.OccurredAt < until))
                {
                    events.Add(e);
                }
            }
        }

        // Rows with the same tick are ordered by id; sub-tick instants need the exact order.
        events.Sort(static (a, b) => a.OccurredAt != b.OccurredAt ? a.OccurredAt.CompareTo(b.OccurredAt) : string.CompareOrdinal(a.EventId, b.EventId));
        foreach (var e in events)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return e;
        }
    }

    /// <summary>Streams every event in one query (rows are read as they arrive; one connection for the whole stream).</summary>
    public async IAsyncEnumerable<BehaviourEvent> ReadAllAsync(Instant? since = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text FROM {db.Schema}.events WHERE occurred_at >= @since");
        command.Parameters.AddWithValue("since", since is { } s0 ? Pg.Ticks(s0) : long.MinValue);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var e = Pg.FromJson<BehaviourEvent>(reader.GetString(0));
            if (since is not { } s || e.OccurredAt >= s)
            {
                yield return e;
            }
        }
    }
}
