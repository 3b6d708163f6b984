using Campaigns.Scoring;
using Campaigns.Segmentation;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IScoringModelStore"/>: the current model as one JSON document, read once and kept in memory
/// (<see cref="Current"/> is on the scoring hot path). A model replaced by another process on the same file is seen
/// after a restart. Thread-safe.
/// </summary>
public sealed class SqliteScoringModelStore : IScoringModelStore
{
    private readonly SqliteDatabase _database;
    private readonly Lock _gate = new();
    private ScoringModel? _current;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    /// <param name="context">What rules are validated against.</param>
    public SqliteScoringModelStore(SqliteDatabase database, FilterContext context)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        Context = context ?? throw new ArgumentNullException(nameof(context));
    }

    /// <summary>Gets what rules are validated against.</summary>
    public FilterContext Context { get; }

    /// <inheritdoc />
    public ScoringModel Current
    {
        get
        {
            var current = Volatile.Read(ref _current);
            if (current is not null)
            {
                return current;
            }

            lock (_gate)
            {
                _current ??= _database.ReadSession(
                    static s => s.Scalar("SELECT doc FROM scoring_model WHERE id = 1;") is string doc ? StorageJson.Deserialize<ScoringModel>(doc) : new ScoringModel(),
                    CancellationToken.None);
                return _current;
            }
        }
    }

    /// <inheritdoc />
    public void Replace(ScoringModel model)
    {
        ScoringModelValidator.ThrowIfInvalid(model, Context);
        var doc = StorageJson.Serialize(model);
        lock (_gate)
        {
            _database.WriteSession(s => s.Execute("INSERT OR REPLACE INTO scoring_model (id, doc) VALUES (1, $doc);", ("$doc", doc)));
            Volatile.Write(ref _current, model);
        }
    }
}

/// <summary>The SQLite <see cref="IScoreLedgerStore"/>: one JSON document per contact. Thread-safe.</summary>
public sealed class SqliteScoreLedgerStore : IScoreLedgerStore
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteScoreLedgerStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public ValueTask<ScoreLedger?> GetAsync(ContactId contactId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_database.ReadSession(
            s => s.Scalar("SELECT doc FROM score_ledgers WHERE contact_id = $c;", ("$c", contactId.ToString())) is string doc ? StorageJson.Deserialize<ScoreLedger>(doc) : null,
            cancellationToken));

    /// <inheritdoc />
    public async ValueTask SaveAsync(ScoreLedger ledger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        var doc = StorageJson.Serialize(ledger);
        await _database.WriteSessionAsync(
            s => s.Execute("INSERT OR REPLACE INTO score_ledgers (contact_id, doc) VALUES ($c, $doc);", ("$c", ledger.ContactId.ToString()), ("$doc", doc)),
            cancellationToken).ConfigureAwait(false);
    }
}
