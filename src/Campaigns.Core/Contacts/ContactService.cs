using Campaigns.Modeling;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>What is needed to create a contact. Identities are normalized by the service; attributes are checked against the schema.</summary>
public sealed record ContactDraft
{
    /// <summary>The identities as written (phones in any common form, e-mails in any case); at least one is needed.</summary>
    public ContactIdentities Identities { get; init; } = new();

    /// <summary>The display name.</summary>
    public string? Name { get; init; }

    /// <summary>Attribute values by name; attributes left out get their defaults (e.g. industry → <c>unclassified</c>).</summary>
    public IReadOnlyDictionary<string, FieldValue> Attributes { get; init; } = new Dictionary<string, FieldValue>();

    /// <summary>The IANA time zone (tzdb), or null to use <see cref="CampaignsOptions.DefaultTimeZone"/>.</summary>
    public string? TimeZoneId { get; init; }

    /// <summary>The owner's user id, or null.</summary>
    public string? OwnerId { get; init; }
}

/// <summary>
/// Creates and changes contacts (F-2.1, F-2.4, F-3.3), persisted through <see cref="IContactStore"/>. Thread-safe: the
/// service keeps no state of its own. Each change reads the contact, applies the change, validates the result and
/// writes it back at the version read; when another writer got there first the change is re-applied to the fresh copy
/// (up to 8 attempts, then <see cref="ConcurrencyException"/>), so concurrent changes are never lost. Bad input throws
/// <see cref="FieldValidationException"/> naming every field and value at fault, and nothing is written. Instants come
/// from the injected NodaTime <see cref="IClock"/>. Every stored change is told to the registered
/// <see cref="IContactChangeListener"/>s.
/// </summary>
public interface IContactService
{
    /// <summary>Creates a contact at stage <see cref="LifecycleStage.New"/>, with the defaults of attributes not given.</summary>
    /// <param name="draft">The contact's data.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    /// <exception cref="FieldValidationException">No identity, a phone or e-mail that is not one, an unknown attribute, a value of the wrong type, or a time zone tzdb does not know.</exception>
    /// <exception cref="DuplicateEntityException">One of the identities belongs to another contact.</exception>
    Task<Contact> CreateAsync(ContactDraft draft, CancellationToken cancellationToken = default);

    /// <summary>Gets a contact.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    Task<Contact> GetAsync(ContactId id, CancellationToken cancellationToken = default);

    /// <summary>Finds a contact by an identity written in any common form (it is normalized first), or null.</summary>
    /// <param name="kind">The kind of identity.</param>
    /// <param name="value">The value as written.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default);

    /// <summary>Sets or removes attribute values (a null value removes the attribute; its default, if any, then applies again).</summary>
    /// <param name="id">The contact.</param>
    /// <param name="changes">The values by attribute name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    /// <exception cref="FieldValidationException">An unknown attribute or a value of the wrong type.</exception>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    Task<Contact> SetAttributesAsync(ContactId id, IReadOnlyDictionary<string, FieldValue?> changes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies any change to a contact (identities, name, ...). The result is normalized and validated like a new
    /// contact; <see cref="Contact.Id"/>, <see cref="Contact.CreatedAt"/> and <see cref="Contact.Version"/> cannot change.
    /// </summary>
    /// <param name="id">The contact.</param>
    /// <param name="change">The change; may be called more than once (on a fresh copy after a concurrent write), so it must not have side effects.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    /// <exception cref="FieldValidationException">The changed contact is invalid.</exception>
    /// <exception cref="DuplicateEntityException">A new identity belongs to another contact.</exception>
    /// <exception cref="EntityNotFoundException">No such contact.</exception>
    Task<Contact> UpdateAsync(ContactId id, Func<Contact, Contact> change, CancellationToken cancellationToken = default);

    /// <summary>Records consent for a channel (e.g. <c>email</c>, <c>sms</c>, <c>wechat</c>), with its source and the clock's instant.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="channel">The channel name; not blank.</param>
    /// <param name="source">Where the consent came from, e.g. <c>registration form</c>; not blank.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    Task<Contact> GrantConsentAsync(ContactId id, string channel, string source, CancellationToken cancellationToken = default);

    /// <summary>Records the withdrawal of consent for a channel, with its source (e.g. <c>unsubscribe link</c>) and the clock's instant.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="channel">The channel name; not blank.</param>
    /// <param name="source">Where the withdrawal came from; not blank.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    Task<Contact> WithdrawConsentAsync(ContactId id, string channel, string source, CancellationToken cancellationToken = default);

    /// <summary>Moves a contact to a lifecycle stage (F-2.4), appending a <see cref="StageChange"/> to its history. Moving to the current stage changes nothing.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="stage">The new stage.</param>
    /// <param name="reason">Why, e.g. <c>score reached 20</c>.</param>
    /// <param name="actorId">Who, or null for the SDK's rules.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    Task<Contact> ChangeStageAsync(ContactId id, LifecycleStage stage, string? reason = null, string? actorId = null, CancellationToken cancellationToken = default);

    /// <summary>Sets the contact's IANA time zone, or clears it (null) so the default applies.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="timeZoneId">A tzdb id such as <c>Asia/Shanghai</c>, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    /// <exception cref="FieldValidationException">tzdb does not know the id.</exception>
    Task<Contact> SetTimeZoneAsync(ContactId id, string? timeZoneId, CancellationToken cancellationToken = default);

    /// <summary>Sets the owner (a salesperson's user id), or clears it.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="ownerId">The owner, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    Task<Contact> AssignOwnerAsync(ContactId id, string? ownerId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a tag on a contact by hand (F-3.3) — or by a campaign or import, per <paramref name="source"/> — recording
    /// who and when. A contact keeps one entry per tag and campaign, so attending many campaigns keeps every campaign's
    /// tag (F-3.5); tagging again with the same tag and campaign renews the entry (who, when, expiry).
    /// </summary>
    /// <param name="id">The contact.</param>
    /// <param name="tag">The tag, e.g. <c>意向产品: A产品</c>; not blank.</param>
    /// <param name="assignedBy">Who tags (a user id); not blank.</param>
    /// <param name="group">The tag group, or null.</param>
    /// <param name="expiresAt">When the tag stops applying, or null for never.</param>
    /// <param name="campaignId">The campaign the tag records, or null.</param>
    /// <param name="source">How the tag came (default <see cref="TagSource.Manual"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    /// <exception cref="ArgumentException">The tag or <paramref name="assignedBy"/> is blank, or the expiry is not after now.</exception>
    Task<Contact> AddTagAsync(
        ContactId id,
        string tag,
        string assignedBy,
        string? group = null,
        Instant? expiresAt = null,
        CampaignId? campaignId = null,
        TagSource source = TagSource.Manual,
        CancellationToken cancellationToken = default);

    /// <summary>Removes a tag (every campaign's entry of it, or only that of <paramref name="campaignId"/>). Removing a tag the contact does not have changes nothing.</summary>
    /// <param name="id">The contact.</param>
    /// <param name="tag">The tag.</param>
    /// <param name="campaignId">Only this campaign's entry, or null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored contact.</returns>
    Task<Contact> RemoveTagAsync(ContactId id, string tag, CampaignId? campaignId = null, CancellationToken cancellationToken = default);
}

/// <summary>Reading helpers of contacts.</summary>
public static class ContactExtensions
{
    /// <summary>The tags in force at <paramref name="now"/> (not expired).</summary>
    /// <param name="contact">The contact.</param>
    /// <param name="now">The instant, e.g. the clock's.</param>
    public static IEnumerable<ContactTag> ActiveTags(this Contact contact, Instant now)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return contact.Tags.Where(t => t.ExpiresAt is null || t.ExpiresAt > now);
    }

    /// <summary>Whether the contact has consent for the channel (an entry that is granted).</summary>
    /// <param name="contact">The contact.</param>
    /// <param name="channel">The channel name.</param>
    public static bool HasConsent(this Contact contact, string channel)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return contact.Consents.TryGetValue(channel, out var consent) && consent.Granted;
    }
}

/// <summary>The default <see cref="IContactService"/>.</summary>
internal sealed class ContactService : IContactService
{
    internal const int MaxAttempts = 8;

    private readonly IContactStore _store;
    private readonly IClock _clock;
    private readonly ContactChangeNotifier _notifier;
    private readonly ContactsOptions _options;
    private readonly Dictionary<string, FieldValue> _defaults;

    public ContactService(IContactStore store, IClock clock, ContactChangeNotifier notifier, IOptions<CampaignsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _clock = clock;
        _notifier = notifier;
        _options = options.Value.Contacts;
        _defaults = ContactAttributes.ResolveDefaults(_options);
    }

    public async Task<Contact> CreateAsync(ContactDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var contact = Normalize(new Contact
        {
            Id = ContactId.New(),
            Identities = draft.Identities ?? new ContactIdentities(),
            Name = string.IsNullOrWhiteSpace(draft.Name) ? null : draft.Name.Trim(),
            Attributes = draft.Attributes ?? new Dictionary<string, FieldValue>(),
            TimeZoneId = draft.TimeZoneId,
            OwnerId = string.IsNullOrWhiteSpace(draft.OwnerId) ? null : draft.OwnerId.Trim(),
            CreatedAt = _clock.GetCurrentInstant(),
        });
        var stored = await _store.AddAsync(contact, cancellationToken).ConfigureAwait(false);
        await _notifier.ChangedAsync(null, stored, cancellationToken).ConfigureAwait(false);
        return stored;
    }

    public async Task<Contact> GetAsync(ContactId id, CancellationToken cancellationToken = default) =>
        await _store.GetAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("contact", id.ToString());

    public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return ContactIdentityNormalizer.TryNormalize(kind, value, _options.DefaultPhoneRegion, out var normalized)
            ? _store.FindAsync(kind, normalized, cancellationToken)
            : Task.FromResult<Contact?>(null);
    }

    public Task<Contact> SetAttributesAsync(ContactId id, IReadOnlyDictionary<string, FieldValue?> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return UpdateAsync(
            id,
            c =>
            {
                var attributes = new Dictionary<string, FieldValue>(c.Attributes, StringComparer.Ordinal);
                foreach (var (name, value) in changes)
                {
                    if (value is null)
                    {
                        attributes.Remove(name);
                    }
                    else
                    {
                        attributes[name] = value;
                    }
                }

                return c with { Attributes = attributes };
            },
            cancellationToken);
    }

    public Task<Contact> UpdateAsync(ContactId id, Func<Contact, Contact> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return UpdateCoreAsync(id, change, null, cancellationToken).AsTask();
    }

    /// <summary>
    /// Writes an ingested event's pending update (as <see cref="UpdateAsync(ContactId, Func{Contact, Contact}, CancellationToken)"/>,
    /// without a delegate, and without a task when the in-memory store completes it synchronously).
    /// </summary>
    internal ValueTask<Contact> UpdateAsync(ContactId id, PendingContactUpdate update, CancellationToken cancellationToken) =>
        UpdateCoreAsync(id, null, update, cancellationToken);

    private async ValueTask<Contact> UpdateCoreAsync(ContactId id, Func<Contact, Contact>? change, PendingContactUpdate? update, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false)
                ?? throw new EntityNotFoundException("contact", id.ToString());
            Contact changed;
            var versioned = false;
            if (update is not null && _store is InMemoryContactStore && update.TryApply(current, out var edited) && Enum.IsDefined(edited.Stage))
            {
                // Only tags, scores, stage and owner changed, in one copy that already carries the next version.
                changed = edited;
                versioned = true;
            }
            else
            {
                changed = (change is not null ? change(current) : update!.Apply(current)) ?? throw new InvalidOperationException("The change returned no contact.");
                // A contact the importer kept without a usable identity (flagged) may still be updated (scores, tags, stage).
                // Identities, attributes and time zone the change left as stored were normalized when stored: only the stage is checked then.
                if (changed.Id != current.Id || changed.CreatedAt != current.CreatedAt || changed.Version != current.Version)
                {
                    changed = changed with { Id = current.Id, CreatedAt = current.CreatedAt, Version = current.Version };
                }

                if (!ReferenceEquals(changed.Identities, current.Identities) || !ReferenceEquals(changed.Attributes, current.Attributes)
                    || !string.Equals(changed.TimeZoneId, current.TimeZoneId, StringComparison.Ordinal) || !Enum.IsDefined(changed.Stage))
                {
                    changed = Normalize(changed, requireIdentity: InMemoryContactStore.KeysOf(current.Identities).Count > 0);
                }
            }

            try
            {
                Contact stored;
                if (_store is InMemoryContactStore memory)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    stored = versioned ? memory.Commit(changed) : memory.Update(changed);
                }
                else
                {
                    stored = await _store.UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
                }

                await _notifier.ChangedAsync(current, stored, cancellationToken).ConfigureAwait(false);
                return stored;
            }
            catch (ConcurrencyException) when (attempt < MaxAttempts)
            {
                // Another writer changed the contact meanwhile: re-apply the change to the fresh copy.
            }
        }
    }

    public Task<Contact> GrantConsentAsync(ContactId id, string channel, string source, CancellationToken cancellationToken = default) =>
        SetConsentAsync(id, channel, source, granted: true, cancellationToken);

    public Task<Contact> WithdrawConsentAsync(ContactId id, string channel, string source, CancellationToken cancellationToken = default) =>
        SetConsentAsync(id, channel, source, granted: false, cancellationToken);

    public Task<Contact> ChangeStageAsync(ContactId id, LifecycleStage stage, string? reason = null, string? actorId = null, CancellationToken cancellationToken = default)
    {
        if (!Enum.IsDefined(stage))
        {
            throw new ArgumentOutOfRangeException(nameof(stage), stage, $"'{stage}' is not a lifecycle stage.");
        }

        return UpdateAsync(
            id,
            c => c.Stage == stage
                ? c
                : c with
                {
                    Stage = stage,
                    StageHistory = [.. c.StageHistory, new StageChange(c.Stage, stage, _clock.GetCurrentInstant(), reason, actorId)],
                },
            cancellationToken);
    }

    public Task<Contact> SetTimeZoneAsync(ContactId id, string? timeZoneId, CancellationToken cancellationToken = default)
    {
        ThrowIfBadTimeZone(timeZoneId);
        return UpdateAsync(id, c => c with { TimeZoneId = timeZoneId }, cancellationToken);
    }

    public Task<Contact> AssignOwnerAsync(ContactId id, string? ownerId, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, c => c with { OwnerId = string.IsNullOrWhiteSpace(ownerId) ? null : ownerId.Trim() }, cancellationToken);

    public Task<Contact> AddTagAsync(
        ContactId id,
        string tag,
        string assignedBy,
        string? group = null,
        Instant? expiresAt = null,
        CampaignId? campaignId = null,
        TagSource source = TagSource.Manual,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tag);
        ArgumentException.ThrowIfNullOrWhiteSpace(assignedBy);
        var now = _clock.GetCurrentInstant();
        if (expiresAt is { } expiry && expiry <= now)
        {
            throw new ArgumentException($"The tag '{tag}' would expire at {expiry}, which is not after now ({now}).", nameof(expiresAt));
        }

        var name = tag.Trim();
        return UpdateAsync(
            id,
            c =>
            {
                var entry = new ContactTag
                {
                    Tag = name,
                    Group = group,
                    Source = source,
                    AssignedBy = assignedBy,
                    AssignedAt = _clock.GetCurrentInstant(),
                    ExpiresAt = expiresAt,
                    CampaignId = campaignId,
                };
                return c with { Tags = [.. c.Tags.Where(t => !(t.Tag == name && t.CampaignId == campaignId)), entry] };
            },
            cancellationToken);
    }

    public Task<Contact> RemoveTagAsync(ContactId id, string tag, CampaignId? campaignId = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tag);
        var name = tag.Trim();
        return UpdateAsync(
            id,
            c => c.Tags.Any(t => Matches(t))
                ? c with { Tags = [.. c.Tags.Where(t => !Matches(t))] }
                : c,
            cancellationToken);

        bool Matches(ContactTag t) => t.Tag == name && (campaignId is null || t.CampaignId == campaignId);
    }

    private static void ThrowIfBadTimeZone(string? timeZoneId)
    {
        if (timeZoneId is not null && DateTimeZoneProviders.Tzdb.GetZoneOrNull(timeZoneId) is null)
        {
            throw new FieldValidationException([TimeZoneError(timeZoneId)]);
        }
    }

    private static FieldError TimeZoneError(string timeZoneId) =>
        new("timeZoneId", "time-zone", $"Field 'timeZoneId': '{timeZoneId}' is not an IANA time zone id known to tzdb (e.g. Asia/Shanghai, Europe/London).");

    private async Task<Contact> SetConsentAsync(ContactId id, string channel, string source, bool granted, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(channel);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        var key = channel.Trim();
        return await UpdateAsync(
            id,
            c => c with
            {
                Consents = new Dictionary<string, ConsentRecord>(c.Consents, StringComparer.Ordinal)
                {
                    [key] = new ConsentRecord(granted, source.Trim(), _clock.GetCurrentInstant()),
                },
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Normalizes identities, applies attribute defaults and validates; throws with every error found.</summary>
    private Contact Normalize(Contact contact, bool requireIdentity = true)
    {
        var errors = new List<FieldError>();
        var identities = NormalizeIdentities(contact.Identities ?? new ContactIdentities(), errors, requireIdentity);
        var attributes = new Dictionary<string, FieldValue>(contact.Attributes ?? new Dictionary<string, FieldValue>(), StringComparer.Ordinal);
        errors.AddRange(ContactAttributes.Validate(_options.Schema, attributes));
        foreach (var (name, value) in _defaults)
        {
            if (!attributes.TryGetValue(name, out var existing) || ContactAttributes.IsEmpty(existing))
            {
                attributes[name] = value;
            }
        }

        if (contact.TimeZoneId is { } zone && DateTimeZoneProviders.Tzdb.GetZoneOrNull(zone) is null)
        {
            errors.Add(TimeZoneError(zone));
        }

        if (!Enum.IsDefined(contact.Stage))
        {
            errors.Add(new FieldError("stage", "option", $"Field 'stage': '{contact.Stage}' is not a lifecycle stage."));
        }

        if (errors.Count > 0)
        {
            throw new FieldValidationException(errors);
        }

        return contact with { Identities = identities, Attributes = attributes };
    }

    private ContactIdentities NormalizeIdentities(ContactIdentities identities, List<FieldError> errors, bool requireIdentity)
    {
        var region = _options.DefaultPhoneRegion;
        var phone = One("identities.phone", identities.Phone, IdentityKind.Phone);
        var email = One("identities.email", identities.Email, IdentityKind.Email);
        var phones = Many("identities.additionalPhones", identities.AdditionalPhones, IdentityKind.Phone, phone);
        var emails = Many("identities.additionalEmails", identities.AdditionalEmails, IdentityKind.Email, email);
        var result = new ContactIdentities
        {
            Phone = phone,
            Email = email,
            AdditionalPhones = phones,
            AdditionalEmails = emails,
            WeChatOpenId = Trim(identities.WeChatOpenId),
            WeChatUnionId = Trim(identities.WeChatUnionId),
            WeComExternalUserId = Trim(identities.WeComExternalUserId),
            CrmId = Trim(identities.CrmId),
        };
        if (requireIdentity && InMemoryContactStore.KeysOf(result).Count == 0 && errors.Count == 0)
        {
            errors.Add(new FieldError("identities", "required", "Field 'identities': a contact needs at least one identity (phone, e-mail, WeChat openid or unionid, WeCom external user id or CRM id)."));
        }

        return result;

        string? One(string field, string? raw, IdentityKind kind)
        {
            if (string.IsNullOrWhiteSpace(raw))
            {
                return null;
            }

            if (ContactIdentityNormalizer.TryNormalize(kind, raw, region, out var value))
            {
                return value;
            }

            errors.Add(kind == IdentityKind.Phone
                ? new FieldError(field, "format", $"Field '{field}': '{raw}' is not a valid phone number (default region {region}).")
                : new FieldError(field, "format", $"Field '{field}': '{raw}' is not an e-mail address."));
            return null;
        }

        string[] Many(string field, IReadOnlyList<string>? raws, IdentityKind kind, string? primary)
        {
            var list = new List<string>();
            for (var i = 0; i < (raws?.Count ?? 0); i++)
            {
                if (One($"{field}[{i}]", raws![i], kind) is { } value && value != primary && !list.Contains(value))
                {
                    list.Add(value);
                }
            }

            return [.. list];
        }

        static string? Trim(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
