using System.Runtime.CompilerServices;
using Campaigns.Modeling;

namespace Campaigns.Storage.Sqlite;

/// <summary>
/// The SQLite <see cref="IParticipantStore"/>: one JSON document per participant (e-mail, phone and name protected),
/// with unique per-campaign indexes of the e-mail and phone lookup keys. Thread-safe.
/// </summary>
public sealed class SqliteParticipantStore : IParticipantStore
{
    private const string EntityKind = "participant";
    private readonly SqliteDatabase _database;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public SqliteParticipantStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    private IPersonalDataProtector Protector => _database.Protector;

    /// <inheritdoc />
    public Task<Participant?> GetAsync(ParticipantId id, CancellationToken cancellationToken = default) =>
        Task.FromResult(_database.ReadSession(s => ReadOne(s, "id = $id", ("$id", id.ToString())), cancellationToken));

    /// <inheritdoc />
    /// <remarks>The e-mail is looked up first; when it matches nobody, the phone is.</remarks>
    public Task<Participant?> FindAsync(CampaignId campaignId, string? email, string? phone, CancellationToken cancellationToken = default)
    {
        var emailKey = EmailKey(email);
        var phoneKey = PhoneKey(phone);
        return Task.FromResult(_database.ReadSession(
            s =>
            {
                var found = emailKey is null ? null : ReadOne(s, "campaign_id = $c AND email_key = $k", ("$c", campaignId.ToString()), ("$k", emailKey));
                return found ?? (phoneKey is null ? null : ReadOne(s, "campaign_id = $c AND phone_key = $k", ("$c", campaignId.ToString()), ("$k", phoneKey)));
            },
            cancellationToken));
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The version is not 0.</exception>
    public async Task<Participant> AddAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        if (participant.Version != 0)
        {
            throw new ArgumentException($"A new participant must have version 0, not {participant.Version}.", nameof(participant));
        }

        var stored = participant with { Version = 1 };
        var emailKey = EmailKey(participant.Email);
        var phoneKey = PhoneKey(participant.Phone);
        var doc = StorageJson.Serialize(PersonalDataFields.Protect(stored, Protector));
        return await _database.WriteSessionAsync(
            s =>
            {
                if (s.Scalar("SELECT 1 FROM participants WHERE id = $id;", ("$id", participant.Id.ToString())) is not null)
                {
                    throw new DuplicateEntityException(EntityKind, participant.Id.ToString());
                }

                ThrowIfTaken(s, participant, emailKey, phoneKey);
                s.Execute(
                    "INSERT INTO participants (id, campaign_id, email_key, phone_key, version, doc) VALUES ($id, $c, $e, $p, 1, $doc);",
                    ("$id", participant.Id.ToString()),
                    ("$c", participant.CampaignId.ToString()),
                    ("$e", emailKey),
                    ("$p", phoneKey),
                    ("$doc", doc));
                return stored;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The participant was moved to another campaign.</exception>
    public async Task<Participant> UpdateAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        var stored = participant with { Version = participant.Version + 1 };
        var emailKey = EmailKey(participant.Email);
        var phoneKey = PhoneKey(participant.Phone);
        var doc = StorageJson.Serialize(PersonalDataFields.Protect(stored, Protector));
        return await _database.WriteSessionAsync(
            s =>
            {
                long? actual = null;
                string? campaign = null;
                using (var reader = s.Command("SELECT version, campaign_id FROM participants WHERE id = $id;", ("$id", participant.Id.ToString())).ExecuteReader())
                {
                    if (reader.Read())
                    {
                        actual = reader.GetInt64(0);
                        campaign = reader.GetString(1);
                    }
                }

                if (actual != participant.Version)
                {
                    throw new ConcurrencyException(EntityKind, participant.Id.ToString(), participant.Version, actual);
                }

                if (!string.Equals(campaign, participant.CampaignId.ToString(), StringComparison.Ordinal))
                {
                    throw new ArgumentException(
                        $"Participant {participant.Id} belongs to campaign {campaign}; it cannot move to campaign {participant.CampaignId}.",
                        nameof(participant));
                }

                ThrowIfTaken(s, participant, emailKey, phoneKey);
                s.Execute(
                    "UPDATE participants SET email_key = $e, phone_key = $p, version = $v, doc = $doc WHERE id = $id;",
                    ("$e", emailKey),
                    ("$p", phoneKey),
                    ("$v", stored.Version),
                    ("$doc", doc),
                    ("$id", participant.Id.ToString()));
                return stored;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Participant> ListAsync(CampaignId campaignId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var rows = _database.ReadSession(
            s =>
            {
                var list = new List<Participant>();
                using var reader = s.Command("SELECT version, doc FROM participants WHERE campaign_id = $c ORDER BY seq;", ("$c", campaignId.ToString())).ExecuteReader();
                while (reader.Read())
                {
                    list.Add(Read(reader.GetInt64(0), reader.GetString(1)));
                }

                return list;
            },
            cancellationToken);
        foreach (var participant in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return participant;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private string? EmailKey(string? email) =>
        string.IsNullOrWhiteSpace(email) ? null : Protector.ComputeLookupKey("email", FieldValidator.NormalizeEmail(email));

    private string? PhoneKey(string? phone) =>
        string.IsNullOrWhiteSpace(phone) ? null : Protector.ComputeLookupKey("phone", FieldValidator.NormalizePhone(phone));

    private Participant Read(long version, string doc) =>
        PersonalDataFields.Unprotect(StorageJson.Deserialize<Participant>(doc), Protector) with { Version = version };

    private Participant? ReadOne(SqliteSession s, string where, params ReadOnlySpan<(string, object?)> parameters)
    {
        using var reader = s.Command($"SELECT version, doc FROM participants WHERE {where};", parameters).ExecuteReader();
        return reader.Read() ? Read(reader.GetInt64(0), reader.GetString(1)) : null;
    }

    private static void ThrowIfTaken(SqliteSession s, Participant participant, string? emailKey, string? phoneKey)
    {
        var campaign = participant.CampaignId.ToString();
        if (emailKey is not null
            && s.Scalar("SELECT id FROM participants WHERE campaign_id = $c AND email_key = $k;", ("$c", campaign), ("$k", emailKey)) is string owner
            && owner != participant.Id.ToString())
        {
            throw new DuplicateEntityException(EntityKind, $"{campaign}/email:{FieldValidator.NormalizeEmail(participant.Email!)}");
        }

        if (phoneKey is not null
            && s.Scalar("SELECT id FROM participants WHERE campaign_id = $c AND phone_key = $k;", ("$c", campaign), ("$k", phoneKey)) is string phoneOwner
            && phoneOwner != participant.Id.ToString())
        {
            throw new DuplicateEntityException(EntityKind, $"{campaign}/phone:{FieldValidator.NormalizePhone(participant.Phone!)}");
        }
    }
}
