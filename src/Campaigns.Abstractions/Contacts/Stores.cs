using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// Stores contacts. Implementations are thread-safe and storage-neutral (in-memory, SQLite, PostgreSQL).
/// Writes are optimistic: <see cref="UpdateAsync"/> succeeds only when the given contact's <see cref="Contact.Version"/>
/// equals the stored one. Every identity (phone, e-mail — primary and additional —, WeChat openid and unionid, WeCom
/// external user id, CRM id) identifies at most one contact; the store keeps these unique indexes right on every write.
/// </summary>
public interface IContactStore
{
    /// <summary>Gets a contact, or null when it does not exist.</summary>
    /// <param name="id">The contact id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Finds the contact known by an identity, or null. The value must be normalized as contacts hold it (phones in
    /// E.164, e-mails trimmed and lower-case); other identities are matched ordinally.
    /// </summary>
    /// <param name="kind">The kind of identity.</param>
    /// <param name="value">The normalized value.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default);

    /// <summary>Adds a new contact. Its <see cref="Contact.Version"/> must be 0; the stored copy (version 1) is returned.</summary>
    /// <param name="contact">The contact.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="DuplicateEntityException">The id, or one of the identities, is taken; nothing was written.</exception>
    /// <exception cref="ArgumentException">The version is not 0.</exception>
    Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default);

    /// <summary>Replaces a contact; the stored copy (version + 1) is returned.</summary>
    /// <param name="contact">The changed contact carrying the version it was read at.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ConcurrencyException">The stored version differs (or the contact is gone); nothing was written.</exception>
    /// <exception cref="DuplicateEntityException">A new identity is taken by another contact; nothing was written.</exception>
    Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams every contact in a stable order (the order they were added). The enumeration sees the contacts as they
    /// were when it started or later; it never fails because of concurrent writes.
    /// </summary>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<Contact> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Counts the contacts.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<long> CountAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Stores behaviour events (F-2.2). Thread-safe and storage-neutral. Idempotent on <see cref="BehaviourEvent.EventId"/>:
/// appending an event whose id is known changes nothing. Events are read back per contact in
/// <see cref="BehaviourEvent.OccurredAt"/> order whatever the order they arrived in.
/// </summary>
public interface IEventStore
{
    /// <summary>Appends an event unless one with the same <see cref="BehaviourEvent.EventId"/> is stored.</summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True when the event was new and stored; false when its id was already known (nothing changed).</returns>
    ValueTask<bool> AppendAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default);

    /// <summary>Gets an event by id, or null.</summary>
    /// <param name="eventId">The event id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<BehaviourEvent?> GetAsync(string eventId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the events of a contact ordered by <see cref="BehaviourEvent.OccurredAt"/>, then by event id (ordinal),
    /// optionally limited to the half-open range [<paramref name="since"/>, <paramref name="until"/>).
    /// </summary>
    /// <param name="contactId">The contact.</param>
    /// <param name="since">The inclusive start instant, or null for the beginning.</param>
    /// <param name="until">The exclusive end instant, or null for no end.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<BehaviourEvent> ListAsync(ContactId contactId, Instant? since = null, Instant? until = null, CancellationToken cancellationToken = default);
}

/// <summary>A change of a contact, as told to <see cref="IContactChangeListener"/>s.</summary>
/// <param name="Previous">The contact before the change, or null when it was created.</param>
/// <param name="Current">The contact as stored after the change.</param>
public sealed record ContactChange(Contact? Previous, Contact Current);

/// <summary>
/// Told about every stored contact change and every newly ingested behaviour event, so that engines that derive data
/// from contacts (segments, tag rules, scoring) can keep up without rescanning. Register any number in the service
/// collection. Listeners are called one after the other, after the change is stored, on the thread of the writer;
/// they must be thread-safe, as writers may call them concurrently.
/// </summary>
public interface IContactChangeListener
{
    /// <summary>A contact was created or changed.</summary>
    /// <param name="change">The contact before and after.</param>
    /// <param name="cancellationToken">The writer's cancellation token.</param>
    ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken);

    /// <summary>A new (not duplicate) behaviour event was stored. Events may arrive out of <see cref="BehaviourEvent.OccurredAt"/> order.</summary>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="cancellationToken">The writer's cancellation token.</param>
    ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken);
}
