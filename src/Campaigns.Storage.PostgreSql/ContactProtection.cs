using System.Buffers;
using System.Text;
using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Core's <see cref="PersonalDataFields"/> (which fields are personal data, and their purposes) applied to the
/// PostgreSQL documents: the SQLite and PostgreSQL stores protect exactly the same fields the same way. This type only
/// adds the JSON serialization and the lookup keys of the identity index. Thread-safe when the protector is.
/// </summary>
internal sealed class ContactProtection(IPersonalDataProtector protector)
{
    [ThreadStatic]
    private static DocumentBuffer? t_scratch;

    /// <summary>The lookup key of one identity value.</summary>
    public string LookupKey(IdentityKind kind, string value) => protector.ComputeLookupKey(PersonalDataFields.PurposeOf(kind), value);

    /// <summary>The identities of a contact (each once, blank ones left out) with their lookup keys.</summary>
    /// <remarks>
    /// The same identities in the same order as <see cref="PersonalDataFields.IdentityKeys"/> (phone, additional phones,
    /// e-mail, additional e-mails, WeChat openid and unionid, WeCom id, CRM id; blank values left out, a value of a kind
    /// once), walked here without its list and enumerator: this runs for every contact a batch writes.
    /// </remarks>
    public List<(IdentityKind Kind, string Value, string Key)> KeysOf(ContactIdentities identities)
    {
        ArgumentNullException.ThrowIfNull(identities);
        var keys = new List<(IdentityKind Kind, string Value, string Key)>(
            Count(identities.Phone) + Count(identities.Email) + identities.AdditionalPhones.Count + identities.AdditionalEmails.Count
            + Count(identities.WeChatOpenId) + Count(identities.WeChatUnionId) + Count(identities.WeComExternalUserId) + Count(identities.CrmId));
        Add(IdentityKind.Phone, identities.Phone);
        for (var i = 0; i < identities.AdditionalPhones.Count; i++)
        {
            Add(IdentityKind.Phone, identities.AdditionalPhones[i]);
        }

        Add(IdentityKind.Email, identities.Email);
        for (var i = 0; i < identities.AdditionalEmails.Count; i++)
        {
            Add(IdentityKind.Email, identities.AdditionalEmails[i]);
        }

        Add(IdentityKind.WeChatOpenId, identities.WeChatOpenId);
        Add(IdentityKind.WeChatUnionId, identities.WeChatUnionId);
        Add(IdentityKind.WeComExternalUserId, identities.WeComExternalUserId);
        Add(IdentityKind.CrmId, identities.CrmId);
        return keys;

        static int Count(string? value) => value is null ? 0 : 1;

        void Add(IdentityKind kind, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return;
            }

            foreach (var k in keys)
            {
                if (k.Kind == kind && string.Equals(k.Value, value, StringComparison.Ordinal))
                {
                    return;
                }
            }

            keys.Add((kind, value, LookupKey(kind, value)));
        }
    }

    /// <summary>The json document of a contact, its personal data protected (<see cref="Pg.ContactJson"/>: no version, no empty collections).</summary>
    /// <remarks>Written by <see cref="ContactDocumentWriter"/> (byte for byte what the serializer writes with <see cref="Pg.ContactJson"/>) through a per-thread buffer.</remarks>
    public string ToDocument(Contact contact)
    {
        var scratch = t_scratch ??= new DocumentBuffer();
        var json = Encoding.UTF8.GetString(WriteDocument(contact, scratch).Span);
        if (scratch.Buffer.Capacity > DocumentBuffer.KeptCapacity)
        {
            t_scratch = null; // do not keep one huge document's buffer alive on the thread
        }

        return json;
    }

    /// <summary>
    /// The json document of a contact, its personal data protected, as UTF-8 written into <paramref name="document"/>
    /// (cleared first; valid until its next use): the same JSON as <see cref="ToDocument(Contact)"/> without a UTF-16
    /// string in between, for COPY. The protector copies the contact only when it changes something (the plain protector
    /// does not).
    /// </summary>
    public ReadOnlyMemory<byte> WriteDocument(Contact contact, DocumentBuffer document)
    {
        document.Buffer.ResetWrittenCount();
        document.Writer.Reset(document.Buffer);
        ContactDocumentWriter.Write(document.Writer, PersonalDataFields.Protect(contact, protector));
        document.Writer.Flush();
        return document.Buffer.WrittenMemory;
    }

    /// <summary>A contact read back: its personal data unprotected and its version taken from the row.</summary>
    public Contact FromDocument(string json, long version) => PersonalDataFields.Unprotect(Pg.FromJson<Contact>(json, Pg.ContactJson), protector) with { Version = version };

    /// <summary>The jsonb document of a participant, its e-mail, phone and name protected.</summary>
    public string ToDocument(Participant participant) => Pg.ToJson(PersonalDataFields.Protect(participant, protector));

    /// <summary>A participant read back.</summary>
    public Participant ParticipantFromDocument(string json, long version) => PersonalDataFields.Unprotect(Pg.FromJson<Participant>(json), protector) with { Version = version };

    /// <summary>
    /// A reused UTF-8 buffer and its JSON writer (with <see cref="Pg.JsonWriterOptions"/>) for <see cref="WriteDocument"/>:
    /// one per COPY, and one per thread for <see cref="ToDocument(Contact)"/>. Not thread-safe.
    /// </summary>
    internal sealed class DocumentBuffer
    {
        /// <summary>The largest buffer <see cref="ToDocument(Contact)"/> keeps on its thread.</summary>
        public const int KeptCapacity = 64 * 1024;

        public DocumentBuffer()
        {
            Writer = new Utf8JsonWriter(Buffer, Pg.JsonWriterOptions);
        }

        public ArrayBufferWriter<byte> Buffer { get; } = new(1024);

        public Utf8JsonWriter Writer { get; }
    }
}
