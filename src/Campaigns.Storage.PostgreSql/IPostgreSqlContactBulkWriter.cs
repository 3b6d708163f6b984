using Campaigns.Contacts;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Writes many new contacts at once with PostgreSQL binary COPY (the bulk path of a contact import). Resolve it from the
/// container when the PostgreSQL storage is registered; it is the same object as the <see cref="IContactStore"/>.
/// Thread-safe; each call is one transaction.
/// </summary>
public interface IPostgreSqlContactBulkWriter
{
    /// <summary>
    /// Writes new contacts (each with version 0; stored as version 1) and their identity index in one transaction. All
    /// or nothing: an id or identity that is taken — by a stored contact or by another contact of the same call —
    /// fails the whole call with <see cref="DuplicateEntityException"/> and nothing is written. Change listeners are
    /// not called (the segment index picks the contacts up when it is rebuilt from the store).
    /// </summary>
    /// <param name="contacts">The contacts, read once.</param>
    /// <param name="cancellationToken">Cancels; nothing is written.</param>
    /// <returns>How many contacts were written.</returns>
    /// <exception cref="DuplicateEntityException">An id or identity is taken; nothing was written.</exception>
    /// <exception cref="ArgumentException">A contact's version is not 0; nothing was written.</exception>
    Task<long> WriteNewAsync(IAsyncEnumerable<Contact> contacts, CancellationToken cancellationToken = default);
}
