using System.Runtime.CompilerServices;
using Campaigns.Modeling;

namespace Campaigns.Storage;

/// <summary>
/// A thread-safe in-memory <see cref="IParticipantStore"/>: the default when no durable store is registered.
/// Contents are lost when the process ends. Every operation takes one lock, so reads and writes are atomic
/// with respect to each other.
/// </summary>
/// <remarks>
/// E-mail and phone are indexed per campaign. The keys are normalized with
/// <see cref="FieldValidator.NormalizeEmail"/> and <see cref="FieldValidator.NormalizePhone"/> (idempotent on the
/// already-normalized values a <see cref="Participant"/> holds), so <c>Ann@Example.com</c> and
/// <c>ann@example.com</c> are the same person.
/// </remarks>
public sealed class InMemoryParticipantStore : IParticipantStore
{
    private const string EntityKind = "participant";

    private readonly Lock _gate = new();
    private readonly Dictionary<ParticipantId, Participant> _participants = [];
    private readonly Dictionary<CampaignId, List<ParticipantId>> _byCampaign = [];
    private readonly Dictionary<(CampaignId Campaign, string Email), ParticipantId> _byEmail = [];
    private readonly Dictionary<(CampaignId Campaign, string Phone), ParticipantId> _byPhone = [];

    /// <inheritdoc />
    public Task<Participant?> GetAsync(ParticipantId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_participants.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc />
    /// <remarks>The e-mail is looked up first; when it matches nobody, the phone is.</remarks>
    public Task<Participant?> FindAsync(CampaignId campaignId, string? email, string? phone, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var emailKey = EmailKey(email);
        var phoneKey = PhoneKey(phone);
        lock (_gate)
        {
            if (emailKey is not null && _byEmail.TryGetValue((campaignId, emailKey), out var byEmail))
            {
                return Task.FromResult<Participant?>(_participants[byEmail]);
            }

            if (phoneKey is not null && _byPhone.TryGetValue((campaignId, phoneKey), out var byPhone))
            {
                return Task.FromResult<Participant?>(_participants[byPhone]);
            }

            return Task.FromResult<Participant?>(null);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The version is not 0.</exception>
    public Task<Participant> AddAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        cancellationToken.ThrowIfCancellationRequested();
        if (participant.Version != 0)
        {
            throw new ArgumentException($"A new participant must have version 0, not {participant.Version}.", nameof(participant));
        }

        var stored = participant with { Version = 1 };
        var emailKey = EmailKey(participant.Email);
        var phoneKey = PhoneKey(participant.Phone);
        lock (_gate)
        {
            if (_participants.ContainsKey(participant.Id))
            {
                throw new DuplicateEntityException(EntityKind, participant.Id.ToString());
            }

            ThrowIfTaken(participant.CampaignId, participant.Id, emailKey, phoneKey);
            _participants.Add(participant.Id, stored);
            if (!_byCampaign.TryGetValue(participant.CampaignId, out var order))
            {
                order = [];
                _byCampaign.Add(participant.CampaignId, order);
            }

            order.Add(participant.Id);
            Index(participant.CampaignId, participant.Id, emailKey, phoneKey);
        }

        return Task.FromResult(stored);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The participant was moved to another campaign.</exception>
    public Task<Participant> UpdateAsync(Participant participant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(participant);
        cancellationToken.ThrowIfCancellationRequested();
        var emailKey = EmailKey(participant.Email);
        var phoneKey = PhoneKey(participant.Phone);
        lock (_gate)
        {
            if (!_participants.TryGetValue(participant.Id, out var current) || current.Version != participant.Version)
            {
                throw new ConcurrencyException(EntityKind, participant.Id.ToString(), participant.Version, current?.Version);
            }

            if (current.CampaignId != participant.CampaignId)
            {
                throw new ArgumentException(
                    $"Participant {participant.Id} belongs to campaign {current.CampaignId}; it cannot move to campaign {participant.CampaignId}.",
                    nameof(participant));
            }

            ThrowIfTaken(participant.CampaignId, participant.Id, emailKey, phoneKey);
            Unindex(current.CampaignId, EmailKey(current.Email), PhoneKey(current.Phone));
            Index(participant.CampaignId, participant.Id, emailKey, phoneKey);
            var stored = participant with { Version = participant.Version + 1 };
            _participants[participant.Id] = stored;
            return Task.FromResult(stored);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Participant> ListAsync(CampaignId campaignId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Participant[] snapshot;
        lock (_gate)
        {
            snapshot = _byCampaign.TryGetValue(campaignId, out var order)
                ? [.. order.Select(id => _participants[id])]
                : [];
        }

        foreach (var participant in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return participant;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static string? EmailKey(string? email) =>
        string.IsNullOrWhiteSpace(email) ? null : FieldValidator.NormalizeEmail(email);

    private static string? PhoneKey(string? phone) =>
        string.IsNullOrWhiteSpace(phone) ? null : FieldValidator.NormalizePhone(phone);

    // Callers hold _gate.
    private void ThrowIfTaken(CampaignId campaignId, ParticipantId self, string? emailKey, string? phoneKey)
    {
        if (emailKey is not null && _byEmail.TryGetValue((campaignId, emailKey), out var emailOwner) && emailOwner != self)
        {
            throw new DuplicateEntityException(EntityKind, $"{campaignId}/email:{emailKey}");
        }

        if (phoneKey is not null && _byPhone.TryGetValue((campaignId, phoneKey), out var phoneOwner) && phoneOwner != self)
        {
            throw new DuplicateEntityException(EntityKind, $"{campaignId}/phone:{phoneKey}");
        }
    }

    // Callers hold _gate.
    private void Index(CampaignId campaignId, ParticipantId id, string? emailKey, string? phoneKey)
    {
        if (emailKey is not null)
        {
            _byEmail[(campaignId, emailKey)] = id;
        }

        if (phoneKey is not null)
        {
            _byPhone[(campaignId, phoneKey)] = id;
        }
    }

    // Callers hold _gate.
    private void Unindex(CampaignId campaignId, string? emailKey, string? phoneKey)
    {
        if (emailKey is not null)
        {
            _byEmail.Remove((campaignId, emailKey));
        }

        if (phoneKey is not null)
        {
            _byPhone.Remove((campaignId, phoneKey));
        }
    }
}
