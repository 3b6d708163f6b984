using Campaigns.Scoring;
using Campaigns.Segmentation;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IScoringModelStore"/> on PostgreSQL: the model is one jsonb row. <see cref="Current"/> is served from
/// memory; it is loaded on first use and re-read when older than <see cref="RefreshAfter"/>, so a model replaced on one
/// host reaches the others within that time. <see cref="Replace"/> validates, writes through and updates the copy.
/// Thread-safe.
/// </summary>
internal sealed class PostgreSqlScoringModelStore(PostgreSqlDatabase db, FilterContext context, TimeProvider time) : IScoringModelStore
{
    private static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);
    private readonly Lock _gate = new();
    private ScoringModel? _current;
    private long _loadedAt;

    public ScoringModel Current
    {
        get
        {
            var current = Volatile.Read(ref _current);
            if (current is not null && time.GetElapsedTime(Volatile.Read(ref _loadedAt)) < RefreshAfter)
            {
                return current;
            }

            lock (_gate)
            {
                if (_current is null || time.GetElapsedTime(_loadedAt) >= RefreshAfter)
                {
                    // A synchronous property over a database: load off the caller's context (no deadlock on UI or ASP.NET contexts).
                    var loaded = Task.Run(LoadAsync).GetAwaiter().GetResult();
                    Volatile.Write(ref _current, loaded);
                    Volatile.Write(ref _loadedAt, time.GetTimestamp());
                }

                return _current!;
            }
        }
    }

    public void Replace(ScoringModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ScoringModelValidator.ThrowIfInvalid(model, context);
        lock (_gate)
        {
            Task.Run(() => SaveAsync(model)).GetAwaiter().GetResult();
            Volatile.Write(ref _current, model);
            Volatile.Write(ref _loadedAt, time.GetTimestamp());
        }
    }

    private async Task<ScoringModel> LoadAsync()
    {
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text FROM {db.Schema}.scoring_model WHERE id = 1");
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is string json ? Pg.FromJson<ScoringModel>(json) : new ScoringModel();
    }

    private async Task SaveAsync(ScoringModel model)
    {
        using var connection = await db.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"INSERT INTO {db.Schema}.scoring_model (id, version, doc) VALUES (1, 1, @doc) ON CONFLICT (id) DO UPDATE SET version = {db.Schema}.scoring_model.version + 1, doc = EXCLUDED.doc");
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(model)));
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}

/// <summary>An <see cref="IScoreLedgerStore"/> on PostgreSQL: one jsonb ledger per contact, replaced on save. Thread-safe.</summary>
internal sealed class PostgreSqlScoreLedgerStore(PostgreSqlDatabase db) : IScoreLedgerStore
{
    public async ValueTask<ScoreLedger?> GetAsync(ContactId contactId, CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text FROM {db.Schema}.score_ledgers WHERE contact_id = @contact");
        command.Parameters.AddWithValue("contact", contactId.Value);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string json ? Pg.FromJson<ScoreLedger>(json) : null;
    }

    public async ValueTask SaveAsync(ScoreLedger ledger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"INSERT INTO {db.Schema}.score_ledgers (contact_id, doc) VALUES (@contact, @doc) ON CONFLICT (contact_id) DO UPDATE SET doc = EXCLUDED.doc");
        command.Parameters.AddWithValue("contact", ledger.ContactId.Value);
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(ledger)));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
