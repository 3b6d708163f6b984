using System.Runtime.CompilerServices;

namespace Campaigns.Contacts;

/// <summary>
/// A thread-safe in-memory <see cref="IContactStore"/>: the default when no durable store is registered. Contents are
/// lost when the process ends. Every operation takes one lock, so reads and writes are atomic with respect to each
/// other; the identity indexes are updated in the same critical section as the contact, so they are never stale.
/// </summary>
/// <remarks>
/// Identity values are indexed as given: callers store normalized values (phones in E.164, e-mails trimmed and
/// lower-case), as <see cref="IContactService"/> and the importer do. Listing is in insertion order.
/// </remarks>
public sealed class InMemoryContactStore : IContactStore
{
    private const string EntityKind = "contact";

    private readonly Lock _gate = new();
    private readonly Dictionary<ContactId, Contact> _contacts = [];
    private readonly List<ContactId> _order = [];
    private readonly Dictionary<(IdentityKind Kind, string Value), ContactId> _identities = [];

    /// <inheritdoc />
    public Task<Contact?> GetAsync(ContactId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Get(id));
    }

    /// <summary>The contact, or null: <see cref="GetAsync"/> without the task, for the SDK's hot paths.</summary>
    internal Contact? Get(ContactId id)
    {
        lock (_gate)
        {
            return _contacts.GetValueOrDefault(id);
        }
    }

    /// <inheritdoc />
    public Task<Contact?> FindAsync(IdentityKind kind, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_identities.TryGetValue((kind, value), out var id) ? _contacts[id] : null);
        }
    }

    /// <inheritdoc />
    public Task<Contact> AddAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        cancellationToken.ThrowIfCancellationRequested();
        if (contact.Version != 0)
        {
            throw new ArgumentException($"A new contact must have version 0, not {contact.Version}.", nameof(contact));
        }

        var keys = KeysOf(contact.Identities);
        var stored = contact with { Version = 1 };
        lock (_gate)
        {
            if (_contacts.ContainsKey(contact.Id))
            {
                throw new DuplicateEntityException(EntityKind, contact.Id.ToString());
            }

            ThrowIfTaken(contact.Id, keys);
            _contacts.Add(contact.Id, stored);
            _order.Add(contact.Id);
            foreach (var key in keys)
            {
                _identities[key] = contact.Id;
            }
        }

        return Task.FromResult(stored);
    }

    /// <inheritdoc />
    public Task<Contact> UpdateAsync(Contact contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Update(contact));
    }

    /// <summary>
    /// Stores <paramref name="next"/> as is (no copy): a contact made from the stored one with its identities unchanged,
    /// already carrying the next version (the stored version + 1). For the SDK's ingest path.
    /// </summary>
    /// <param name="next">The contact to store.</param>
    /// <returns><paramref name="next"/>.</returns>
    /// <exception cref="ConcurrencyException">The stored version is not <c>next.Version − 1</c>.</exception>
    internal Contact Commit(Contact next)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_gate)
        {
            if (!_contacts.TryGetValue(next.Id, out var current) || current.Version != next.Version - 1 || !ReferenceEquals(current.Identities, next.Identities))
            {
                throw new ConcurrencyException(EntityKind, next.Id.ToString(), next.Version - 1, current?.Version);
            }

            _contacts[next.Id] = next;
            return next;
        }
    }

    /// <summary><see cref="UpdateAsync"/> without the task, for the SDK's hot paths.</summary>
    internal Contact Update(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        lock (_gate)
        {
            if (!_contacts.TryGetValue(contact.Id, out var current) || current.Version != contact.Version)
            {
                throw new ConcurrencyException(EntityKind, contact.Id.ToString(), contact.Version, current?.Version);
            }

            // Engines write scores and tags with the stored identities: the identity index then stays as it is.
            if (!ReferenceEquals(contact.Identities, current.Identities))
            {
                var keys = KeysOf(contact.Identities);
                ThrowIfTaken(contact.Id, keys);
                foreach (var old in KeysOf(current.Identities))
                {
                    _identities.Remove(old);
                }

                foreach (var key in keys)
                {
                    _identities[key] = contact.Id;
                }
            }

            var stored = contact with { Version = contact.Version + 1 };
            _contacts[contact.Id] = stored;
            return stored;
        }
    }

    /// <inheritdoc />
    /// <remarks>Takes a snapshot of the ids when the enumeration starts; each contact is read as it is when reached.</remarks>
    public async IAsyncEnumerable<Contact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ContactId[] ids;
        lock (_gate)
        {
            ids = [.. _order];
        }

        foreach (var id in ids)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Contact contact;
            lock (_gate)
            {
                contact = _contacts[id];
            }

            yield return contact;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult((long)_contacts.Count);
        }
    }

    /// <summary>The index keys of a set of identities (blank values are not indexed).</summary>
    internal static List<(IdentityKind Kind, string Value)> KeysOf(ContactIdentities identities)
    {
        var keys = new List<(IdentityKind, string)>(4);
        Add(IdentityKind.Phone, identities.Phone);
        foreach (var phone in identities.AdditionalPhones)
        {
            Add(IdentityKind.Phone, phone);
        }

        Add(IdentityKind.Email, identities.Email);
        foreach (var email in identities.AdditionalEmails)
        {
            Add(IdentityKind.Email, email);
        }

        Add(IdentityKind.WeChatOpenId, identities.WeChatOpenId);
        Add(IdentityKind.WeChatUnionId, identities.WeChatUnionId);
        Add(IdentityKind.WeComExternalUserId, identities.WeComExternalUserId);
        Add(IdentityKind.CrmId, identities.CrmId);
        return keys;

        void Add(IdentityKind kind, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value) && !keys.Contains((kind, value)))
            {
                keys.Add((kind, value));
            }
        }
    }

    // Callers hold _gate.
    private void ThrowIfTaken(ContactId self, List<(IdentityKind Kind, string Value)> keys)
    {
        foreach (var key in keys)
        {
            if (_identities.TryGetValue(key, out var owner) && owner != self)
            {
                throw new DuplicateEntityException(EntityKind, $"{IdentityNames.Of(key.Kind)}:{key.Value}");
            }
        }
    }
}

/// <summary>Reads of <see cref="IContactStore"/> for the SDK's hot paths.</summary>
internal static class ContactStoreReads
{
    /// <summary>
    /// <see cref="IContactStore.GetAsync"/>, synchronous and without a task when the store is the in-memory one (ingest
    /// reads the contact several times per event).
    /// </summary>
    public static ValueTask<Contact?> ReadAsync(this IContactStore store, ContactId id, CancellationToken cancellationToken)
    {
        if (store is InMemoryContactStore memory)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return new ValueTask<Contact?>(memory.Get(id));
        }

        return new ValueTask<Contact?>(store.GetAsync(id, cancellationToken));
    }
}
