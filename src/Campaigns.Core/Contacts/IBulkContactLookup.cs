namespace Campaigns.Contacts;

/// <summary>One identity of a contact: its kind and its normalized value (phones in E.164, e-mails lower-case).</summary>
/// <param name="Kind">The kind of identity.</param>
/// <param name="Value">The normalized value, matched ordinally.</param>
public readonly record struct ContactIdentityKey(IdentityKind Kind, string Value);

/// <summary>
/// An optional capability of an <see cref="IContactStore"/> or an <see cref="IContactWriteBatch"/>: finding the contacts
/// of many identities in one read (one query per chunk instead of one per identity). The contact importer looks up
/// each chunk of rows with it; for a store that does not implement it,
/// <see cref="ContactStoreLookupExtensions.FindManyAsync"/> falls back to one <see cref="IContactStore.FindAsync"/> per
/// identity. Implementations are as thread-safe as the store or batch they belong to.
/// </summary>
public interface IBulkContactLookup
{
    /// <summary>
    /// Finds the contacts known by any of <paramref name="identities"/>. Same answers as one
    /// <see cref="IContactStore.FindAsync"/> per identity at the same moment (a batch sees its own writes).
    /// </summary>
    /// <param name="identities">The identities, normalized; duplicates are allowed.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Each identity that belongs to a contact, with that contact; identities nobody holds are absent.</returns>
    Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default);
}

/// <summary>The bulk identity lookup on any <see cref="IContactStore"/>, with a fallback for stores that do not offer it.</summary>
public static class ContactStoreLookupExtensions
{
    /// <summary>
    /// Finds the contacts known by any of <paramref name="identities"/>: in one read when the store implements
    /// <see cref="IBulkContactLookup"/>, else with one <see cref="IContactStore.FindAsync"/> per distinct identity.
    /// </summary>
    /// <param name="store">The store (or a batch of it).</param>
    /// <param name="identities">The identities, normalized; duplicates are allowed.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Each identity that belongs to a contact, with that contact; identities nobody holds are absent.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="identities"/> is null.</exception>
    /// <exception cref="ArgumentException">An identity has a null value.</exception>
    public static async Task<IReadOnlyDictionary<ContactIdentityKey, Contact>> FindManyAsync(
        this IContactStore store, IReadOnlyCollection<ContactIdentityKey> identities, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        CheckIdentities(identities);
        if (store is IBulkContactLookup bulk)
        {
            return await bulk.FindManyAsync(identities, cancellationToken).ConfigureAwait(false);
        }

        var found = new Dictionary<ContactIdentityKey, Contact>();
        foreach (var identity in identities)
        {
            if (!found.ContainsKey(identity) && await store.FindAsync(identity.Kind, identity.Value, cancellationToken).ConfigureAwait(false) is { } contact)
            {
                found[identity] = contact;
            }
        }

        return found;
    }

    /// <summary>Checks the argument of <see cref="IBulkContactLookup.FindManyAsync"/>; for implementations.</summary>
    /// <param name="identities">The identities.</param>
    /// <exception cref="ArgumentNullException"><paramref name="identities"/> is null.</exception>
    /// <exception cref="ArgumentException">An identity has a null value.</exception>
    public static void CheckIdentities(IReadOnlyCollection<ContactIdentityKey> identities)
    {
        ArgumentNullException.ThrowIfNull(identities);
        foreach (var identity in identities)
        {
            if (identity.Value is null)
            {
                throw new ArgumentException($"identities: the {identity.Kind} identity has a null value.", nameof(identities));
            }
        }
    }
}
