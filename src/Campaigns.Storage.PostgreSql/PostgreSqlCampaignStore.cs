using System.Runtime.CompilerServices;
using Campaigns.Modeling;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>An <see cref="ICampaignStore"/> on PostgreSQL: jsonb documents, version compared in the UPDATE. Thread-safe.</summary>
internal sealed class PostgreSqlCampaignStore(PostgreSqlDatabase db) : ICampaignStore
{
    private const string EntityKind = "campaign";

    public async Task<Campaign?> GetAsync(CampaignId id, CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text, version FROM {db.Schema}.campaigns WHERE id = @id");
        command.Parameters.AddWithValue("id", id.Value);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async Task<Campaign> AddAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        if (campaign.Version != 0)
        {
            throw new ArgumentException($"A new campaign must have version 0, not {campaign.Version}.", nameof(campaign));
        }

        var stored = campaign with { Version = 1 };
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"INSERT INTO {db.Schema}.campaigns (id, state, created_at, version, doc) VALUES (@id, @state, @created, 1, @doc)");
        command.Parameters.AddWithValue("id", campaign.Id.Value);
        command.Parameters.AddWithValue("state", campaign.State.ToString());
        command.Parameters.AddWithValue("created", Pg.Ticks(campaign.CreatedAt));
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(stored)));
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw new DuplicateEntityException(EntityKind, campaign.Id.ToString());
        }

        return stored;
    }

    public async Task<Campaign> UpdateAsync(Campaign campaign, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var stored = campaign with { Version = campaign.Version + 1 };
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"WITH u AS (UPDATE {db.Schema}.campaigns SET version = version + 1, state = @state, created_at = @created, doc = @doc WHERE id = @id AND version = @version RETURNING 1) " +
            $"SELECT (SELECT count(*) FROM u), (SELECT version FROM {db.Schema}.campaigns WHERE id = @id)");
        command.Parameters.AddWithValue("id", campaign.Id.Value);
        command.Parameters.AddWithValue("version", campaign.Version);
        command.Parameters.AddWithValue("state", campaign.State.ToString());
        command.Parameters.AddWithValue("created", Pg.Ticks(campaign.CreatedAt));
        command.Parameters.Add(Pg.Jsonb("doc", Pg.ToJson(stored)));
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (reader.GetInt64(0) != 1)
        {
            throw new ConcurrencyException(EntityKind, campaign.Id.ToString(), campaign.Version, reader.IsDBNull(1) ? null : reader.GetInt64(1));
        }

        return stored;
    }

    public async IAsyncEnumerable<Campaign> ListAsync(IReadOnlyCollection<CampaignState>? states = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var filter = states is { Count: > 0 } ? states.Select(s => s.ToString()).ToArray() : null;
        var campaigns = new List<Campaign>();
        using (var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false))
        using (var command = Pg.Command(connection, $"SELECT doc::text, version FROM {db.Schema}.campaigns WHERE @all OR state = ANY(@states)"))
        {
            command.Parameters.AddWithValue("all", filter is null);
            command.Parameters.AddWithValue("states", filter ?? []);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                campaigns.Add(Read(reader));
            }
        }

        // Ordered as the in-memory store orders them (.NET's Guid order differs from PostgreSQL's uuid order).
        foreach (var campaign in campaigns.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id.Value))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return campaign;
        }
    }

    private static Campaign Read(NpgsqlDataReader reader) => Pg.FromJson<Campaign>(reader.GetString(0)) with { Version = reader.GetInt64(1) };
}
