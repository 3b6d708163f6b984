using NodaTime;

namespace Campaigns.Modeling;

/// <summary>
/// Invitations, registrations and participant activity of campaigns (F-1.7, F-1.8), persisted through
/// <see cref="IParticipantStore"/>. Thread-safe: the service keeps no state of its own. Each change reads a
/// participant, checks the rule, and writes it back at the version read; when another writer got there first the
/// change is re-applied to the fresh copy (up to 8 attempts, then <see cref="ConcurrencyException"/>), so
/// concurrent recordings of activities are never lost. Instants come from the injected NodaTime <see cref="IClock"/>.
/// </summary>
public interface IParticipantService
{
    /// <summary>
    /// Invites a chosen list of people (targeted invitation). Each new person becomes a participant with status
    /// <see cref="RegistrationStatus.Invited"/> and an <see cref="ParticipantActivityKind.Invited"/> activity; a person
    /// already present in the campaign (same normalized e-mail, else same phone) is not duplicated but returned as is.
    /// Allowed while the campaign is Approved, Scheduled or Running.
    /// </summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="invitees">The people, each with an e-mail or a phone.</param>
    /// <param name="actor">Who invites.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One participant per invitee, in the invitees' order.</returns>
    /// <exception cref="ArgumentException">An invitee has neither e-mail nor phone, or a malformed one; nothing was written.</exception>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    /// <exception cref="ParticipationClosedException">The campaign is not Approved, Scheduled or Running.</exception>
    Task<IReadOnlyList<Participant>> InviteAsync(CampaignId campaignId, IReadOnlyList<Invitee> invitees, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers a person from a raw form submission (field key → text) against the campaign's
    /// <see cref="Campaign.RegistrationForm"/>. The person is identified by the fields whose
    /// <see cref="FieldDefinition.MapsTo"/> is <c>email</c> or <c>phone</c>; <c>name</c> gives the display name.
    /// An invited person becomes registered (same participant). The status is
    /// <see cref="RegistrationStatus.PendingApproval"/> when the form requires approval, otherwise
    /// <see cref="RegistrationStatus.Registered"/>.
    /// </summary>
    /// <remarks>
    /// Invalid input is not an exception: the result is rejected with every <see cref="FieldError"/> and the submission
    /// handed back, and nothing is stored. A person who already registered (pending or registered) gets a rejected
    /// result with code <c>already-registered</c> — the existing registration is not returned, so a public form does
    /// not disclose it; one whose registration was rejected gets <c>registration-rejected</c>.
    /// </remarks>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="submission">The raw values by field key, as a web form posts them.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The accepted or rejected registration.</returns>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    /// <exception cref="ParticipationClosedException">The campaign is not Scheduled or Running.</exception>
    /// <exception cref="InvalidOperationException">The campaign has no registration form, or its form has no field mapped to <c>email</c> or <c>phone</c>.</exception>
    Task<RegistrationResult> RegisterAsync(CampaignId campaignId, IReadOnlyDictionary<string, string?> submission, CancellationToken cancellationToken = default);

    /// <summary>Approves a registration waiting for approval: PendingApproval → Registered, with an <see cref="ParticipantActivityKind.Approved"/> activity.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="actor">Who approves.</param>
    /// <param name="comment">An optional comment, kept as the activity's detail.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    /// <exception cref="ParticipantStateException">The participant is not PendingApproval.</exception>
    Task<Participant> ApproveRegistrationAsync(ParticipantId participantId, Actor actor, string? comment = null, CancellationToken cancellationToken = default);

    /// <summary>Rejects a registration waiting for approval: PendingApproval → Rejected, with a <see cref="ParticipantActivityKind.Rejected"/> activity carrying the reason.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="actor">Who rejects.</param>
    /// <param name="reason">Why; not blank.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="ArgumentException">The reason is blank.</exception>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    /// <exception cref="ParticipantStateException">The participant is not PendingApproval.</exception>
    Task<Participant> RejectRegistrationAsync(ParticipantId participantId, Actor actor, string reason, CancellationToken cancellationToken = default);

    /// <summary>Records a check-in at the venue; the participant must be <see cref="RegistrationStatus.Registered"/>. Checking in twice records two activities.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    /// <exception cref="ParticipantStateException">The participant is not Registered.</exception>
    Task<Participant> CheckInAsync(ParticipantId participantId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a stretch of live-stream viewing. Durations accumulate (see
    /// <see cref="ParticipantExtensions.TotalLiveViewDuration"/>). Recorded whatever the participant's status.
    /// </summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="duration">How long they watched; positive (NodaTime <see cref="Duration"/>, elapsed time).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="duration"/> is zero or negative.</exception>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    Task<Participant> RecordLiveViewAsync(ParticipantId participantId, Duration duration, CancellationToken cancellationToken = default);

    /// <summary>Records a download of material. Recorded whatever the participant's status.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="item">What was downloaded (a file name or asset id); not blank.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="ArgumentException"><paramref name="item"/> is blank.</exception>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    Task<Participant> RecordDownloadAsync(ParticipantId participantId, string item, CancellationToken cancellationToken = default);

    /// <summary>Records that the participant answered a survey. Recorded whatever the participant's status.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="surveyId">The survey's id; not blank.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored participant.</returns>
    /// <exception cref="ArgumentException"><paramref name="surveyId"/> is blank.</exception>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    Task<Participant> RecordSurveyAnswerAsync(ParticipantId participantId, string surveyId, CancellationToken cancellationToken = default);

    /// <summary>Gets a participant.</summary>
    /// <param name="participantId">The participant.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such participant.</exception>
    Task<Participant> GetAsync(ParticipantId participantId, CancellationToken cancellationToken = default);

    /// <summary>Lists a campaign's participants in the order they were added.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    Task<IReadOnlyList<Participant>> ListAsync(CampaignId campaignId, CancellationToken cancellationToken = default);

    /// <summary>Counts a campaign's participants per status and per activity kind, with the total live viewing time.</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    Task<ParticipantSummary> GetSummaryAsync(CampaignId campaignId, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IParticipantService"/>.</summary>
internal sealed class ParticipantService(ICampaignStore campaigns, IParticipantStore participants, IClock clock) : IParticipantService
{
    internal const int MaxAttempts = 8;

    private static readonly CampaignState[] InviteStates = [CampaignState.Approved, CampaignState.Scheduled, CampaignState.Running];
    private static readonly CampaignState[] RegisterStates = [CampaignState.Scheduled, CampaignState.Running];
    private static readonly RegistrationStatus[] PendingOnly = [RegistrationStatus.PendingApproval];
    private static readonly RegistrationStatus[] RegisteredOnly = [RegistrationStatus.Registered];

    public async Task<IReadOnlyList<Participant>> InviteAsync(CampaignId campaignId, IReadOnlyList<Invitee> invitees, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invitees);
        ArgumentNullException.ThrowIfNull(actor);
        var people = NormalizeInvitees(invitees);
        var campaign = await GetCampaignAsync(campaignId, cancellationToken).ConfigureAwait(false);
        EnsureState(campaign, "invite", InviteStates);

        var result = new List<Participant>(people.Count);
        foreach (var person in people)
        {
            result.Add(await InviteOneAsync(campaignId, person, actor, cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    public async Task<RegistrationResult> RegisterAsync(CampaignId campaignId, IReadOnlyDictionary<string, string?> submission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var campaign = await GetCampaignAsync(campaignId, cancellationToken).ConfigureAwait(false);
        EnsureState(campaign, "register", RegisterStates);
        var form = campaign.RegistrationForm
            ?? throw new InvalidOperationException($"Campaign {campaignId} has no registration form; give it a RegistrationForm before taking registrations.");
        var emailField = MappedField(form, "email");
        var phoneField = MappedField(form, "phone");
        if (emailField is null && phoneField is null)
        {
            throw new InvalidOperationException(
                $"The registration form '{form.Id}' of campaign {campaignId} has no field mapped to 'email' or 'phone' (FieldDefinition.MapsTo), so registrants cannot be identified.");
        }

        var parsed = FormSubmission.Parse(form, submission);
        if (!parsed.IsValid)
        {
            return RegistrationResult.Rejected(parsed.Errors, submission);
        }

        var email = TextOf(parsed.Values, emailField);
        var phone = TextOf(parsed.Values, phoneField);
        var identityField = (emailField ?? phoneField)!;
        if (email is null && phone is null)
        {
            var which = emailField is not null && phoneField is not null
                ? $"an e-mail ('{emailField.Key}') or a phone ('{phoneField.Key}')"
                : $"'{identityField.Key}' ({identityField.Label})";
            return RegistrationResult.Rejected(
                [new FieldError(identityField.Key, "required", $"Registration needs {which} to identify the registrant.")],
                submission);
        }

        var name = TextOf(parsed.Values, MappedField(form, "name"));
        var status = form.RequiresApproval ? RegistrationStatus.PendingApproval : RegistrationStatus.Registered;
        for (var attempt = 1; ; attempt++)
        {
            var byEmail = email is null ? null : await participants.FindAsync(campaignId, email, null, cancellationToken).ConfigureAwait(false);
            var byPhone = phone is null ? null : await participants.FindAsync(campaignId, null, phone, cancellationToken).ConfigureAwait(false);
            if (byEmail is not null && byPhone is not null && byEmail.Id != byPhone.Id)
            {
                var key = (phoneField ?? identityField).Key;
                return RegistrationResult.Rejected(
                    [new FieldError(key, "identity-conflict", $"Field '{key}': the e-mail and the phone given belong to two different participants.")],
                    submission);
            }

            var existing = byEmail ?? byPhone;
            if (existing is not null && existing.Status != RegistrationStatus.Invited)
            {
                var key = (byEmail is not null ? emailField : phoneField)!.Key;
                return RegistrationResult.Rejected([AlreadyRegistered(key, existing.Status)], submission);
            }

            var activity = new ParticipantActivity(ParticipantActivityKind.Registered, clock.GetCurrentInstant());
            try
            {
                Participant stored;
                if (existing is null)
                {
                    stored = await participants.AddAsync(
                        new Participant
                        {
                            Id = ParticipantId.New(),
                            CampaignId = campaignId,
                            Name = name,
                            Email = email,
                            Phone = phone,
                            Status = status,
                            LeadPool = form.LeadPool,
                            FormValues = parsed.Values,
                            Activities = [activity],
                        },
                        cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    stored = await participants.UpdateAsync(
                        existing with
                        {
                            Name = name ?? existing.Name,
                            Email = email ?? existing.Email,
                            Phone = phone ?? existing.Phone,
                            Status = status,
                            LeadPool = form.LeadPool,
                            FormValues = parsed.Values,
                            Activities = [.. existing.Activities, activity],
                        },
                        cancellationToken).ConfigureAwait(false);
                }

                return RegistrationResult.Accepted(stored, form.LeadPool, status == RegistrationStatus.PendingApproval, submission);
            }
            catch (Exception ex) when (ex is ConcurrencyException or DuplicateEntityException && attempt < MaxAttempts)
            {
                // Someone registered or changed the same person meanwhile: decide again on fresh data.
            }
        }
    }

    public Task<Participant> ApproveRegistrationAsync(ParticipantId participantId, Actor actor, string? comment = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return ChangeAsync(
            participantId,
            (p, at) =>
            {
                EnsureStatus(p, "approve the registration", PendingOnly);
                return p with
                {
                    Status = RegistrationStatus.Registered,
                    Activities = [.. p.Activities, new ParticipantActivity(ParticipantActivityKind.Approved, at, Detail: comment, ActorId: actor.Id)],
                };
            },
            cancellationToken);
    }

    public Task<Participant> RejectRegistrationAsync(ParticipantId participantId, Actor actor, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new ArgumentException("A rejected registration needs a reason saying why.", nameof(reason));
        }

        return ChangeAsync(
            participantId,
            (p, at) =>
            {
                EnsureStatus(p, "reject the registration", PendingOnly);
                return p with
                {
                    Status = RegistrationStatus.Rejected,
                    Activities = [.. p.Activities, new ParticipantActivity(ParticipantActivityKind.Rejected, at, Detail: reason, ActorId: actor.Id)],
                };
            },
            cancellationToken);
    }

    public Task<Participant> CheckInAsync(ParticipantId participantId, CancellationToken cancellationToken = default) =>
        ChangeAsync(
            participantId,
            (p, at) =>
            {
                EnsureStatus(p, "check in", RegisteredOnly);
                return Append(p, new ParticipantActivity(ParticipantActivityKind.CheckedIn, at));
            },
            cancellationToken);

    public Task<Participant> RecordLiveViewAsync(ParticipantId participantId, Duration duration, CancellationToken cancellationToken = default)
    {
        if (duration <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A live view must last longer than zero.");
        }

        return ChangeAsync(
            participantId,
            (p, at) => Append(p, new ParticipantActivity(ParticipantActivityKind.WatchedLive, at, Duration: duration)),
            cancellationToken);
    }

    public Task<Participant> RecordDownloadAsync(ParticipantId participantId, string item, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item);
        return ChangeAsync(
            participantId,
            (p, at) => Append(p, new ParticipantActivity(ParticipantActivityKind.Downloaded, at, Detail: item)),
            cancellationToken);
    }

    public Task<Participant> RecordSurveyAnswerAsync(ParticipantId participantId, string surveyId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(surveyId);
        return ChangeAsync(
            participantId,
            (p, at) => Append(p, new ParticipantActivity(ParticipantActivityKind.AnsweredSurvey, at, Detail: surveyId)),
            cancellationToken);
    }

    public async Task<Participant> GetAsync(ParticipantId participantId, CancellationToken cancellationToken = default) =>
        await participants.GetAsync(participantId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("participant", participantId.ToString());

    public async Task<IReadOnlyList<Participant>> ListAsync(CampaignId campaignId, CancellationToken cancellationToken = default)
    {
        await GetCampaignAsync(campaignId, cancellationToken).ConfigureAwait(false);
        var list = new List<Participant>();
        await foreach (var participant in participants.ListAsync(campaignId, cancellationToken).ConfigureAwait(false))
        {
            list.Add(participant);
        }

        return list;
    }

    public async Task<ParticipantSummary> GetSummaryAsync(CampaignId campaignId, CancellationToken cancellationToken = default)
    {
        var list = await ListAsync(campaignId, cancellationToken).ConfigureAwait(false);
        return ParticipantSummary.Compute(campaignId, list);
    }

    private static Participant Append(Participant participant, ParticipantActivity activity) =>
        participant with { Activities = [.. participant.Activities, activity] };

    private static void EnsureState(Campaign campaign, string operation, CampaignState[] allowed)
    {
        if (!allowed.Contains(campaign.State))
        {
            throw new ParticipationClosedException(campaign.Id, campaign.State, operation, allowed);
        }
    }

    private static void EnsureStatus(Participant participant, string operation, RegistrationStatus[] required)
    {
        if (!required.Contains(participant.Status))
        {
            throw new ParticipantStateException(participant.Id, participant.Status, operation, required);
        }
    }

    private static FieldDefinition? MappedField(RegistrationFormTemplate form, string attribute) =>
        form.Fields.FirstOrDefault(f => string.Equals(f.MapsTo, attribute, StringComparison.OrdinalIgnoreCase));

    private static string? TextOf(IReadOnlyDictionary<string, FieldValue> values, FieldDefinition? field) =>
        field is not null && values.TryGetValue(field.Key, out var value) && value is TextValue { Value: var text } && !string.IsNullOrWhiteSpace(text)
            ? text
            : null;

    private static FieldError AlreadyRegistered(string key, RegistrationStatus status) => status == RegistrationStatus.Rejected
        ? new FieldError(key, "registration-rejected", $"Field '{key}': this person's registration was rejected; contact the organizer.")
        : new FieldError(key, "already-registered", status == RegistrationStatus.PendingApproval
            ? $"Field '{key}': this person has already registered; the registration is waiting for approval."
            : $"Field '{key}': this person has already registered.");

    private static List<Invitee> NormalizeInvitees(IReadOnlyList<Invitee> invitees)
    {
        var problems = new List<string>();
        var people = new List<Invitee>(invitees.Count);
        for (var i = 0; i < invitees.Count; i++)
        {
            var invitee = invitees[i];
            if (invitee is null)
            {
                problems.Add($"invitees[{i}] is null");
                continue;
            }

            var email = string.IsNullOrWhiteSpace(invitee.Email) ? null : FieldValidator.NormalizeEmail(invitee.Email);
            var phone = string.IsNullOrWhiteSpace(invitee.Phone) ? null : FieldValidator.NormalizePhone(invitee.Phone);
            if (email is null && phone is null)
            {
                problems.Add($"invitees[{i}] has neither an e-mail nor a phone");
            }

            if (email is not null && !FieldValidator.IsEmail(email))
            {
                problems.Add($"invitees[{i}].Email: '{invitee.Email}' is not an e-mail address");
            }

            if (phone is not null && !FieldValidator.IsPhone(phone))
            {
                problems.Add($"invitees[{i}].Phone: '{invitee.Phone}' is not a phone number (expected 6–15 digits, optionally with a leading +)");
            }

            people.Add(invitee with
            {
                Name = string.IsNullOrWhiteSpace(invitee.Name) ? null : invitee.Name.Trim(),
                Email = email,
                Phone = phone,
            });
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"Cannot invite: {string.Join("; ", problems)}.", nameof(invitees));
        }

        return people;
    }

    private async Task<Participant> InviteOneAsync(CampaignId campaignId, Invitee person, Actor actor, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var existing = await participants.FindAsync(campaignId, person.Email, person.Phone, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                return existing;
            }

            try
            {
                return await participants.AddAsync(
                    new Participant
                    {
                        Id = ParticipantId.New(),
                        CampaignId = campaignId,
                        ContactId = person.ContactId,
                        Name = person.Name,
                        Email = person.Email,
                        Phone = person.Phone,
                        Status = RegistrationStatus.Invited,
                        Activities = [new ParticipantActivity(ParticipantActivityKind.Invited, clock.GetCurrentInstant(), ActorId: actor.Id)],
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (DuplicateEntityException) when (attempt < MaxAttempts)
            {
                // Added by someone else meanwhile: the next round finds and returns it.
            }
        }
    }

    private async Task<Campaign> GetCampaignAsync(CampaignId campaignId, CancellationToken cancellationToken) =>
        await campaigns.GetAsync(campaignId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("campaign", campaignId.ToString());

    private async Task<Participant> ChangeAsync(ParticipantId participantId, Func<Participant, Instant, Participant> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await GetAsync(participantId, cancellationToken).ConfigureAwait(false);
            var changed = change(current, clock.GetCurrentInstant());
            try
            {
                return await participants.UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
            }
            catch (ConcurrencyException) when (attempt < MaxAttempts)
            {
                // Another writer changed the participant meanwhile: re-apply the change to the fresh copy.
            }
        }
    }
}
