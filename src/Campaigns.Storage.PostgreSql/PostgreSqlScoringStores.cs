using Campaigns.Scoring;
using Campaigns.Segmentation;
using Microsoft.Extensions.Logging;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IScoringModelStore"/> on PostgreSQL: the model is one jsonb row. <see cref="Current"/> is served from
/// memory (it is on the scoring hot path): loaded on first use (that one call waits for the database), then, once the
/// copy is older than <see cref="RefreshAfter"/>, re-read in the background while callers keep getting the copy — so a
/// model replaced on one host reaches the others within about that time, and no caller blocks a thread on the database
/// or fails because a refresh failed (a failed refresh is logged and tried again after <see cref="RetryAfter"/>).
/// <see cref="Replace"/> validates, writes through and updates the copy; a refresh that started before it cannot put
/// the older model back. Thread-safe.
/// </summary>
internal sealed class PostgreSqlScoringModelStore(PostgreSqlDatabase db, FilterContext context, TimeProvider time) : IScoringModelStore
{
    internal static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);
    private readonly Lock _gate = new();
    private ScoringModel? _current;
    private long _loadedAt;
    private long _generation;
    private Task _refresh = Task.CompletedTask;

    public ScoringModel Current
    {
        get
        {
            var current = Volatile.Read(ref _current);
            if (current is not null)
            {
                if (time.GetElapsedTime(Volatile.Read(ref _loadedAt)) >= RefreshAfter)
                {
                    StartRefresh();
                }

                return current;
            }

            lock (_gate)
            {
                if (_current is null)
                {
                    // The first use: a synchronous property over a database, loaded off the caller's context (no deadlock
                    // on UI or ASP.NET contexts). An error here propagates: there is no copy to serve yet.
                    var loaded = Task.Run(LoadAsync).GetAwaiter().GetResult();
                    Volatile.Write(ref _current, loaded);
                    Volatile.Write(ref _loadedAt, time.GetTimestamp());
                }

                return _current;
            }
        }
    }

    /// <summary>The background refresh last started (completed when none runs); for tests.</summary>
    internal Task Refresh => Volatile.Read(ref _refresh);

    /// <summary>What a background refresh reads in place of the database; for tests that order a refresh and a replace.</summary>
    internal Func<Task<ScoringModel>>? RefreshRead { get; init; }

    public void Replace(ScoringModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ScoringModelValidator.ThrowIfInvalid(model, context);
        lock (_gate)
        {
            Task.Run(() => SaveAsync(model)).GetAwaiter().GetResult();
            _generation++;
            Volatile.Write(ref _current, model);
            Volatile.Write(ref _loadedAt, time.GetTimestamp());
        }
    }

    private void StartRefresh()
    {
        // Never wait on the hot path: a busy gate means a Replace (or another caller starting the re-read) is at work.
        if (!_gate.TryEnter())
        {
            return;
        }

        try
        {
            if (!_refresh.IsCompleted || time.GetElapsedTime(_loadedAt) < RefreshAfter)
            {
                return;
            }

            var generation = _generation;
            Volatile.Write(ref _refresh, Task.Run(() => RefreshAsync(generation)));
        }
        finally
        {
            _gate.Exit();
        }
    }

    private async Task RefreshAsync(long generation)
    {
        ScoringModel? loaded = null;
        try
        {
            loaded = await (RefreshRead ?? LoadAsync)().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Any failure (the server away, a bad document): a background read has no caller to throw to.
            db.Logger.LogWarning(e, "PostgreSQL schema {Schema}: re-reading the scoring model failed; the copy loaded before stays in use and the read is tried again in {Retry}.", db.Schema, RetryAfter);
        }

        lock (_gate)
        {
            // When Replace ran meanwhile, its model (and its time) are newer than anything this read may have seen.
            if (generation == _generation)
            {
                if (loaded is null)
                {
                    // Try again RetryAfter from now: the copy counts as loaded RefreshAfter - RetryAfter ago.
                    Volatile.Write(ref _loadedAt, time.GetTimestamp() - (long)((RefreshAfter - RetryAfter).TotalSeconds * time.TimestampFrequency));
                }
                else
                {
                    Volatile.Write(ref _current, loaded);
                    Volatile.Write(ref _loadedAt, time.GetTimestamp());
                }
            }
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
