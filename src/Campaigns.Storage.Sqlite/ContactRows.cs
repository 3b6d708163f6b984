using Campaigns.Contacts;
using Microsoft.Data.Sqlite;

namespace Campaigns.Storage.Sqlite;

/// <summary>The SQL of the contact store, shared by single writes and batches.</summary>
internal static class ContactRows
{
    private const string EntityKind = "contact";
    private const string Columns = "c.seq, c.version, c.doc";
    private const int ConstraintViolation = 19; // SQLITE_CONSTRAINT

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

    /// <summary>
    /// The contacts of many identities: one query per identity kind present, the lookup keys passed as one JSON array
    /// (<c>json_each</c>) and probed in the identity index; each contact's document is read once.
    /// </summary>
    public static Dictionary<ContactIdentityKey, Contact> FindMany(SqliteSession session, IPersonalDataProtector protector, IReadOnlyCollection<ContactIdentityKey> identities)
    {
        var found = new Dictionary<ContactIdentityKey, Contact>();
        if (identities.Count == 0)
        {
            return found;
        }

        var byKind = new Dictionary<IdentityKind, Dictionary<string, ContactIdentityKey>>();
        foreach (var identity in identities)
        {
            if (!byKind.TryGetValue(identity.Kind, out var keys))
            {
                byKind[identity.Kind] = keys = new Dictionary<string, ContactIdentityKey>(StringComparer.Ordinal);
            }

            keys.TryAdd(protector.ComputeLookupKey(PersonalDataFields.PurposeOf(identity.Kind), identity.Value), identity);
        }

        var contacts = new Dictionary<long, Contact>();
        foreach (var (kind, keys) in byKind)
        {
            using var reader = session.Command(
                $"SELECT {Columns}, i.lookup_key FROM contact_identities i JOIN contacts c ON c.seq = i.contact_seq WHERE i.kind = $k AND i.lookup_key IN (SELECT value FROM json_each($keys));",
                ("$k", (int)kind),
                ("$keys", StorageJson.Serialize(keys.Keys.ToArray()))).ExecuteReader();
            while (reader.Read())
            {
                var seq = reader.GetInt64(0);
                if (!contacts.TryGetValue(seq, out var contact))
                {
                    contacts[seq] = contact = Read(reader, protector);
                }

                found[keys[reader.GetString(3)]] = contact;
            }
        }

        return found;
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
        var keys = LookupKeys(contact, protector);
        var stored = contact with { Version = 1 };
        long seq;
        try
        {
            // The unique indexes decide: a taken id or identity fails its insert, and the caller's transaction (or the
            // batch's savepoint) rolls the contact back.
            var insert = session.Prepared("INSERT INTO contacts (id, version, doc) VALUES ($id, 1, $doc) RETURNING seq;", InsertContactNames);
            insert.Parameters[0].Value = id;
            insert.Parameters[1].Value = StorageJson.Serialize(PersonalDataFields.Protect(stored, protector));
            seq = (long)insert.ExecuteScalar()!;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == ConstraintViolation)
        {
            throw new DuplicateEntityException(EntityKind, id);
        }

        try
        {
            Index(session, keys, seq);
        }
        catch (DuplicateEntityException)
        {
            // Undo this add only (a batch goes on with its other writes).
            session.Execute("DELETE FROM contact_identities WHERE contact_seq = $seq;", ("$seq", seq));
            session.Execute("DELETE FROM contacts WHERE seq = $seq;", ("$seq", seq));
            throw;
        }

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

    private static Contact Read(SqliteDataReader reader, IPersonalDataProtector protector)
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

    private static void Index(SqliteSession session, List<(IdentityKind Kind, string Value, string Key)> keys, long seq)
    {
        if (keys.Count == 0)
        {
            return;
        }

        // One statement for all the identities; when one is taken, find which (the rare path).
        var sql = keys.Count < InsertIdentitiesSql.Length ? InsertIdentitiesSql[keys.Count] : BuildInsertIdentities(keys.Count);
        var command = session.Prepared(sql, keys.Count < IdentityParameterNames.Length ? IdentityParameterNames[keys.Count] : BuildIdentityParameterNames(keys.Count));
        command.Parameters[0].Value = seq;
        for (var i = 0; i < keys.Count; i++)
        {
            command.Parameters[1 + (2 * i)].Value = (int)keys[i].Kind;
            command.Parameters[2 + (2 * i)].Value = keys[i].Key;
        }

        try
        {
            command.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == ConstraintViolation)
        {
            foreach (var (kind, value, key) in keys)
            {
                if (session.Scalar("SELECT 1 FROM contact_identities WHERE kind = $k AND lookup_key = $key;", ("$k", (int)kind), ("$key", key)) is not null)
                {
                    throw new DuplicateEntityException(EntityKind, PersonalDataFields.DuplicateKey(kind, value));
                }
            }

            throw;
        }
    }

    private static readonly string[] InsertContactNames = ["$id", "$doc"];
    private static readonly string[] InsertIdentitiesSql = [.. Enumerable.Range(0, 16).Select(BuildInsertIdentities)];
    private static readonly string[][] IdentityParameterNames = [.. Enumerable.Range(0, 16).Select(BuildIdentityParameterNames)];

    /// <summary>The parameters of <see cref="BuildInsertIdentities"/>'s statement, in order: <c>$seq</c>, then <c>$kI</c> and <c>$keyI</c> for each identity.</summary>
    private static string[] BuildIdentityParameterNames(int count)
    {
        var names = new string[1 + (2 * count)];
        names[0] = "$seq";
        for (var i = 0; i < count; i++)
        {
            names[1 + (2 * i)] = "$k" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            names[2 + (2 * i)] = "$key" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return names;
    }

    private static string BuildInsertIdentities(int count) =>
        "INSERT INTO contact_identities (kind, lookup_key, contact_seq) VALUES " +
        string.Join(", ", Enumerable.Range(0, count).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"($k{i}, $key{i}, $seq)"))) + ";";
}
