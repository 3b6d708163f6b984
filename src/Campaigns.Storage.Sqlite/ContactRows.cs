using Campaigns.Contacts;

namespace Campaigns.Storage.Sqlite;

/// <summary>The SQL of the contact store, shared by single writes and batches.</summary>
internal static class ContactRows
{
    private const string EntityKind = "contact";
    private const string Columns = "c.seq, c.version, c.doc";

    public static void CheckNew(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        if (contact.Version != 0)
        {
            throw new ArgumentException($"A new contact must have version 0, not {contact.Version}.", nameof(contact));
        }
    }

    public static Contact? Get(SqliteSession session, IPersonalDataProtector protector, ContactId id)
    {
        using var reader = session.Command($"SELECT {Columns} FROM contacts c WHERE c.id = $id;", ("$id", id.ToString())).ExecuteReader();
        return reader.Read() ? Read(reader, protector) : null;
    }

    public static Contact? Find(SqliteSession session, IPersonalDataProtector protector, IdentityKind kind, string value)
    {
        var key = protector.ComputeLookupKey(PersonalDataFields.PurposeOf(kind), value);
        using var reader = session.Command(
            $"SELECT {Columns} FROM contact_identities i JOIN contacts c ON c.seq = i.contact_seq WHERE i.kind = $k AND i.lookup_key = $key;",
            ("$k", (int)kind),
            ("$key", key)).ExecuteReader();
        return reader.Read() ? Read(reader, protector) : null;
    }

    public static List<(long Seq, Contact Contact)> Page(SqliteSession session, IPersonalDataProtector protector, long afterSeq, int size)
    {
        var list = new List<(long, Contact)>(size);
        using var reader = session.Command($"SELECT {Columns} FROM contacts c WHERE c.seq > $after ORDER BY c.seq LIMIT $n;", ("$after", afterSeq), ("$n", size)).ExecuteReader();
        while (reader.Read())
        {
            list.Add((reader.GetInt64(0), Read(reader, protector)));
        }

        return list;
    }

    public static Contact Add(SqliteSession session, IPersonalDataProtector protector, Contact contact)
    {
        CheckNew(contact);
        var id = contact.Id.ToString();
        if (session.Scalar("SELECT 1 FROM contacts WHERE id = $id;", ("$id", id)) is not null)
        {
            throw new DuplicateEntityException(EntityKind, id);
        }

        var keys = LookupKeys(contact, protector);
        ThrowIfTaken(session, keys, self: null);
        var stored = contact with { Version = 1 };
        var seq = (long)session.Scalar(
            "INSERT INTO contacts (id, version, doc) VALUES ($id, 1, $doc) RETURNING seq;",
            ("$id", id),
            ("$doc", StorageJson.Serialize(PersonalDataFields.Protect(stored, protector))))!;
        Index(session, keys, seq);
        return stored;
    }

    public static Contact Update(SqliteSession session, IPersonalDataProtector protector, Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var id = contact.Id.ToString();
        long seq;
        long? actual = null;
        using (var reader = session.Command("SELECT seq, version FROM contacts WHERE id = $id;", ("$id", id)).ExecuteReader())
        {
            if (reader.Read())
            {
                seq = reader.GetInt64(0);
                actual = reader.GetInt64(1);
            }
            else
            {
                seq = 0;
            }
        }

        if (actual != contact.Version)
        {
            throw new ConcurrencyException(EntityKind, id, contact.Version, actual);
        }

        var keys = LookupKeys(contact, protector);
        ThrowIfTaken(session, keys, seq);
        var stored = contact with { Version = contact.Version + 1 };
        session.Execute("DELETE FROM contact_identities WHERE contact_seq = $seq;", ("$seq", seq));
        Index(session, keys, seq);
        session.Execute(
            "UPDATE contacts SET version = $v, doc = $doc WHERE seq = $seq;",
            ("$v", stored.Version),
            ("$doc", StorageJson.Serialize(PersonalDataFields.Protect(stored, protector))),
            ("$seq", seq));
        return stored;
    }

    private static Contact Read(Microsoft.Data.Sqlite.SqliteDataReader reader, IPersonalDataProtector protector)
    {
        var contact = StorageJson.Deserialize<Contact>(reader.GetString(2));
        return PersonalDataFields.Unprotect(contact, protector) with { Version = reader.GetInt64(1) };
    }

    private static List<(IdentityKind Kind, string Value, string Key)> LookupKeys(Contact contact, IPersonalDataProtector protector)
    {
        var identities = PersonalDataFields.IdentityKeys(contact.Identities);
        var keys = new List<(IdentityKind, string, string)>(identities.Count);
        foreach (var (kind, value) in identities)
        {
            keys.Add((kind, value, protector.ComputeLookupKey(PersonalDataFields.PurposeOf(kind), value)));
        }

        return keys;
    }

    private static void ThrowIfTaken(SqliteSession session, List<(IdentityKind Kind, string Value, string Key)> keys, long? self)
    {
        foreach (var (kind, value, key) in keys)
        {
            if (session.Scalar("SELECT contact_seq FROM contact_identities WHERE kind = $k AND lookup_key = $key;", ("$k", (int)kind), ("$key", key)) is long owner
                && owner != self)
            {
                throw new DuplicateEntityException(EntityKind, PersonalDataFields.DuplicateKey(kind, value));
            }
        }
    }

    private static void Index(SqliteSession session, List<(IdentityKind Kind, string Value, string Key)> keys, long seq)
    {
        foreach (var (kind, _, key) in keys)
        {
            session.Execute(
                "INSERT OR REPLACE INTO contact_identities (kind, lookup_key, contact_seq) VALUES ($k, $key, $seq);",
                ("$k", (int)kind),
                ("$key", key),
                ("$seq", seq));
        }
    }
}
