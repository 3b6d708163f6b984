using System.Runtime.CompilerServices;
using Campaigns.Modeling;
using Npgsql;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// An <see cref="IParticipantStore"/> on PostgreSQL. E-mail and phone are normalized as the in-memory store does,
/// indexed per campaign by their <see cref="IPersonalDataProtector.ComputeLookupKey"/> under unique partial indexes,
/// and protected in the document together with the name (Core's <see cref="PersonalDataFields"/>). Thread-safe.
/// </summary>
internal sealed class PostgreSqlParticipantStore(PostgreSqlDatabase db) : IParticipantStore
{
    private const string EntityKind = "participant";
    private readonly IPersonalDataProtector _protector = db.Protector;
    private readonly ContactProtection _protection = new(db.Protector);

    public async Task<Participant?> GetAsync(ParticipantId id, CancellationToken cancellationToken = default)
    {
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(connection, $"SELECT doc::text, version FROM {db.Schema}.participants WHERE id = @id");
        command.Parameters.AddWithValue("id", id.Value);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Participant?> FindAsync(CampaignId campaignId, string? email, string? phone, CancellationToken cancellationToken = default)
    {
        var emailKey = EmailKey(email);
        var phoneKey = PhoneKey(phone);
        if (emailKey is null && phoneKey is null)
        {
            return null;
        }

        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"SELECT doc::text, version FROM {db.Schema}.participants WHERE campaign_id = @campaign AND (email_key = @email OR phone_key = @phone) ORDER BY (email_key = @email) IS TRUE DESC LIMIT 1");
        command.Parameters.AddWithValue("campaign", campaignId.Value);
        command.Parameters.AddWithValue("email", (object?)emailKey ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("phone", (object?)phoneKey ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Participant> AddAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        if (participant.Version != 0)
        {
            throw new ArgumentException($"A new participant must have version 0, not {participant.Version}.", nameof(participant));
        }

        var stored = participant with { Version = 1 };
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"INSERT INTO {db.Schema}.participants (id, campaign_id, email_key, phone_key, version, doc) VALUES (@id, @campaign, @email, @phone, 1, @doc)");
        Fill(command, stored);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw Duplicate(ex, participant);
        }

        return stored;
    }

    public async Task<Participant> UpdateAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        var stored = participant with { Version = participant.Version + 1 };
        using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = Pg.Command(
            connection,
            $"WITH u AS (UPDATE {db.Schema}.participants SET email_key = @email, phone_key = @phone, version = version + 1, doc = @doc " +
            $"WHERE id = @id AND version = @version AND campaign_id = @campaign RETURNING 1) " +
            $"SELECT (SELECT count(*) FROM u), p.version, p.campaign_id FROM (SELECT 1) one LEFT JOIN {db.Schema}.participants p ON p.id = @id");
        Fill(command, stored);
        command.Parameters.AddWithValue("version", participant.Version);
        try
        {
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (reader.GetInt64(0) == 1)
            {
                return stored;
            }

            long? current = reader.IsDBNull(1) ? null : reader.GetInt64(1);
            if (current == participant.Version && !reader.IsDBNull(2) && reader.GetGuid(2) != participant.CampaignId.Value)
            {
                throw new ArgumentException(
                    $"Participant {participant.Id} belongs to campaign {reader.GetGuid(2)}; it cannot move to campaign {participant.CampaignId}.",
                    nameof(participant));
            }

            throw new ConcurrencyException(EntityKind, participant.Id.ToString(), participant.Version, current);
        }
        catch (PostgresException ex) when (Pg.IsUniqueViolation(ex))
        {
            throw Duplicate(ex, participant);
        }
    }

    public async IAsyncEnumerable<Participant> ListAsync(CampaignId campaignId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = new List<Participant>();
        using (var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false))
        using (var command = Pg.Command(connection, $"SELECT doc::text, version FROM {db.Schema}.participants WHERE campaign_id = @campaign ORDER BY seq"))
        {
            command.Parameters.AddWithValue("campaign", campaignId.Value);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(FromDocument(reader.GetString(0), reader.GetInt64(1)));
            }
        }

        foreach (var participant in list)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return participant;
        }
    }

    private void Fill(NpgsqlCommand command, Participant stored)
    {
        command.Parameters.AddWithValue("id", stored.Id.Value);
        command.Parameters.AddWithValue("campaign", stored.CampaignId.Value);
        command.Parameters.AddWithValue("email", (object?)EmailKey(stored.Email) ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("phone", (object?)PhoneKey(stored.Phone) ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.Add(Pg.Jsonb("doc", ToDocument(stored)));
    }

    private string? EmailKey(string? email) =>
        string.IsNullOrWhiteSpace(email) ? null : _protector.ComputeLookupKey(PersonalDataFields.PurposeOf(Contacts.IdentityKind.Email), FieldValidator.NormalizeEmail(email));

    private string? PhoneKey(string? phone) =>
        string.IsNullOrWhiteSpace(phone) ? null : _protector.ComputeLookupKey(PersonalDataFields.PurposeOf(Contacts.IdentityKind.Phone), FieldValidator.NormalizePhone(phone));

    private string ToDocument(Participant p) => _protection.ToDocument(p);

    private Participant FromDocument(string json, long version) => _protection.ParticipantFromDocument(json, version);

    private async Task<Participant?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? FromDocument(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    private static DuplicateEntityException Duplicate(PostgresException ex, Participant participant) => ex.ConstraintName switch
    {
        "participants_email" => new DuplicateEntityException(EntityKind, $"{participant.CampaignId}/email:{FieldValidator.NormalizeEmail(participant.Email!)}"),
        "participants_phone" => new DuplicateEntityException(EntityKind, $"{participant.CampaignId}/phone:{FieldValidator.NormalizePhone(participant.Phone!)}"),
        _ => new DuplicateEntityException(EntityKind, participant.Id.ToString()),
    };
}
