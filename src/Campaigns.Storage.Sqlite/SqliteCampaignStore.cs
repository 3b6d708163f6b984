using System.Runtime.CompilerServices;
using Campaigns.Modeling;

namespace Campaigns.Storage.Sqlite;

/// <summary>The SQLite <see cref="ICampaignStore"/>: one JSON document per campaign, optimistic on its version. Thread-safe.</summary>
public sealed class SqliteCampaignStore : ICampaignStore
{
    private const string EntityKind = "campaign";
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteCampaignStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public Task<Campaign?> GetAsync(CampaignId id, CancellationToken cancellationToken = default) =>
        Task.FromResult(_database.ReadSession(
            s =>
            {
                using var reader = s.Command("SELECT version, doc FROM campaigns WHERE id = $id;", ("$id", id.ToString())).ExecuteReader();
                return reader.Read() ? Read(reader.GetInt64(0), reader.GetString(1)) : null;
            },
            cancellationToken));

    /// <inheritdoc />
    public async Task<Campaign> AddAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        if (campaign.Version != 0)
        {
            throw new ArgumentException($"A new campaign must have version 0, not {campaign.Version}.", nameof(campaign));
        }

        var stored = campaign with { Version = 1 };
        var doc = StorageJson.Serialize(stored);
        return await _database.WriteSessionAsync(
            s =>
            {
                var inserted = s.Execute(
                    "INSERT OR IGNORE INTO campaigns (id, state, created_at, version, doc) VALUES ($id, $state, $at, 1, $doc);",
                    ("$id", campaign.Id.ToString()),
                    ("$state", campaign.State.ToString()),
                    ("$at", SqliteDatabase.Ticks(campaign.CreatedAt)),
                    ("$doc", doc));
                return inserted == 1 ? stored : throw new DuplicateEntityException(EntityKind, campaign.Id.ToString());
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<Campaign> UpdateAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var stored = campaign with { Version = campaign.Version + 1 };
        var doc = StorageJson.Serialize(stored);
        return await _database.WriteSessionAsync(
            s =>
            {
                var updated = s.Execute(
                    "UPDATE campaigns SET state = $state, version = $v, doc = $doc WHERE id = $id AND version = $expected;",
                    ("$state", campaign.State.ToString()),
                    ("$v", stored.Version),
                    ("$doc", doc),
                    ("$id", campaign.Id.ToString()),
                    ("$expected", campaign.Version));
                if (updated == 1)
                {
                    return stored;
                }

                var actual = s.Scalar("SELECT version FROM campaigns WHERE id = $id;", ("$id", campaign.Id.ToString())) as long?;
                throw new ConcurrencyException(EntityKind, campaign.Id.ToString(), campaign.Version, actual);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Campaign> ListAsync(IReadOnlyCollection<CampaignState>? states = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var filter = states is null || states.Count == 0 ? null : StorageJson.Serialize(states.Select(s => s.ToString()).ToArray());
        var rows = _database.ReadSession(
            s =>
            {
                var list = new List<Campaign>();
                using var reader = s.Command(
                    "SELECT version, doc FROM campaigns WHERE $states IS NULL OR state IN (SELECT value FROM json_each($states)) ORDER BY created_at, id;",
                    ("$states", filter)).ExecuteReader();
                while (reader.Read())
                {
                    list.Add(Read(reader.GetInt64(0), reader.GetString(1)));
                }

                return list;
            },
            cancellationToken);
        foreach (var campaign in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return campaign;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static Campaign Read(long version, string doc) => StorageJson.Deserialize<Campaign>(doc) with { Version = version };
}
