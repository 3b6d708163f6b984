using System.Buffers;
using System.Collections.ObjectModel;
using System.Text;
using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Modeling;
using FsCheck.Xunit;
using NodaTime;

namespace Campaigns.Storage.PostgreSql.Tests;

/// <summary>
/// <see cref="ContactDocumentWriter"/> against its reference, the reflection serializer with <see cref="Pg.ContactJson"/>
/// (what every stored document was written with before): the same bytes for any contact, and documents that read back
/// equal to the contact. No database needed.
/// </summary>
public sealed class ContactDocumentWriterTests
{
    private static readonly AesGcmPersonalDataProtector Aes = new(new AesGcmProtectionOptions
    {
        Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()),
    });

    /// <summary>Pieces random strings are made of: ASCII, what the encoder escapes (HTML-sensitive, quotes, controls, U+2028), non-ASCII, surrogate pairs.</summary>
    private static readonly string[] Pieces =
    [
        "a", "Z", "7", " ", "+", "<", ">", "&", "'", "\"", "\\", "/", "`", "=", "@", ".", "-",
        "\0", "\u0001", "\b", "\t", "\n", "\r", "\u001f", "\u007f", "\u0085", "\u00a0", "\u00ad", "é", "ß", "Ω", "中", "文",
        "报名活动", "\u2028", "\u2029", "\u200b", "\ufeff", "\uffff", "😀", "𠀀", "👍🏽", "+8613800138000", "a@example.com",
    ];

    private static readonly IPersonalDataProtector[] Protectors = [PlainTextPersonalDataProtector.Instance, Aes];

    [Property(MaxTest = 400)]
    public void The_writer_writes_the_serializers_bytes_for_any_contact_with_either_protector(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var contact = new RandomContacts(random, strict: false).Next();
        foreach (var protector in Protectors)
        {
            Contact protectedContact;
            try
            {
                protectedContact = PersonalDataFields.Protect(contact, protector);
            }
            catch (NullReferenceException) when (protector == Aes)
            {
                continue; // a null in a protected list: AES-GCM cannot protect it, neither path gets here
            }
            catch (ArgumentNullException) when (protector == Aes)
            {
                continue;
            }

            AssertSameBytes(protectedContact);
        }
    }

    /// <summary>
    /// A tripwire for new members: the byte-equality property only notices a member the writer does not know when the
    /// random contacts set it. The serializer's members of every type the writer writes by hand, in order, must be these;
    /// a new member fails here until <see cref="ContactDocumentWriter"/> writes it (and this list names it).
    /// </summary>
    [Theory]
    [InlineData(typeof(Contact), "id,identities,name,attributes,consents,timeZoneId,ownerId,stage,stageHistory,tags,qualityFlags,scores,createdAt")]
    [InlineData(typeof(ContactIdentities), "phone,email,weChatOpenId,weChatUnionId,weComExternalUserId,crmId,additionalPhones,additionalEmails")]
    [InlineData(typeof(ConsentRecord), "granted,source,at")]
    [InlineData(typeof(StageChange), "from,to,at,reason,actorId")]
    [InlineData(typeof(ContactTag), "tag,group,source,assignedBy,assignedAt,expiresAt,campaignId")]
    [InlineData(typeof(DataQualityFlag), "field,value,code,reason,at,source")]
    [InlineData(typeof(ContactScores), "behaviour,fit,grade,asOf,total")]
    public void The_writer_knows_every_member_the_serializer_writes(Type type, string members)
    {
        var written = Pg.ContactJson.GetTypeInfo(type).Properties
            .Where(p => p.Get is not null && !(type == typeof(Contact) && p.Name == "version"))
            .Select(p => p.Name);

        Assert.Equal(members, string.Join(',', written));
    }

    [Property(MaxTest = 200)]
    public void A_document_written_through_the_protection_reads_back_equal_to_the_contact(Guid seed)
    {
        var random = new Random(seed.GetHashCode());
        var contact = new RandomContacts(random, strict: true).Next() with { Version = 3 };
        foreach (var protector in Protectors)
        {
            var protection = new ContactProtection(protector);
            var utf8 = Encoding.UTF8.GetString(protection.WriteDocument(contact, new ContactProtection.DocumentBuffer()).Span);
            var text = protection.ToDocument(contact);
            if (protector is PlainTextPersonalDataProtector)
            {
                Assert.Equal(JsonSerializer.Serialize(contact, Pg.ContactJson), utf8);
                Assert.Equal(utf8, text);
            }

            foreach (var document in new[] { utf8, text })
            {
                var back = protection.FromDocument(document, 3);
                Assert.Equal(Canonical(contact), Canonical(back));
            }
        }
    }

    [Fact]
    public void The_plain_protector_writes_the_contact_itself_and_aes_gcm_writes_no_plain_personal_data()
    {
        var contact = new Contact
        {
            Id = ContactId.New(),
            Name = "张三",
            Identities = new ContactIdentities { Phone = "+8613800138000", Email = "zhang@example.com", AdditionalEmails = ["second@example.com"] },
            QualityFlags = [new DataQualityFlag("phone", "138-bad", "invalid-phone", "Not E.164.", Instant.FromUtc(2026, 11, 26, 2, 0))],
            CreatedAt = Instant.FromUtc(2026, 11, 26, 2, 0),
        };
        Assert.Same(contact, PersonalDataFields.Protect(contact, PlainTextPersonalDataProtector.Instance));

        var document = new ContactProtection(Aes).ToDocument(contact);
        foreach (var plain in new[] { "张三", "+8613800138000", "zhang@example.com", "second@example.com", "138-bad" })
        {
            Assert.DoesNotContain(plain, document, StringComparison.Ordinal);
        }

        Assert.Equal(Canonical(contact), Canonical(new ContactProtection(Aes).FromDocument(document, contact.Version)));
    }

    [Fact]
    public void A_contact_scored_by_a_model_without_grades_reads_back()
    {
        var at = Instant.FromUtc(2026, 11, 26, 2, 0);
        var contact = new Contact { Id = ContactId.New(), CreatedAt = at, Scores = new ContactScores(12.5m, 3m, null, at), Version = 1 };
        var protection = new ContactProtection(PlainTextPersonalDataProtector.Instance);
        var document = protection.ToDocument(contact);
        Assert.DoesNotContain("grade", document, StringComparison.Ordinal);

        var back = protection.FromDocument(document, 1);

        Assert.Equal(contact.Scores, back.Scores);
    }

    [Fact]
    public void Values_outside_the_fast_paths_come_out_or_fail_as_the_serializer_has_them()
    {
        var at = Instant.FromUtc(2026, 11, 26, 2, 0);
        var contacts = new[]
        {
            new Contact { Id = ContactId.New(), CreatedAt = Instant.MinValue },
            new Contact { Id = ContactId.New(), CreatedAt = Instant.MaxValue },
            new Contact { Id = ContactId.New(), CreatedAt = Instant.FromUtc(9999, 12, 31, 23, 59, 59).PlusNanoseconds(1) },
            new Contact { Id = ContactId.New(), CreatedAt = Instant.FromUtc(1, 1, 1, 0, 0).PlusNanoseconds(-1) },
            new Contact { Id = ContactId.New(), CreatedAt = at, Attributes = new Dictionary<string, FieldValue> { ["d"] = new DateValue(new LocalDate(-3, 2, 1)) } },
            new Contact { Id = ContactId.New(), CreatedAt = at, Attributes = new Dictionary<string, FieldValue> { ["d"] = new DateValue(new LocalDate(2026, 2, 1, CalendarSystem.Julian)) } },
            new Contact { Id = ContactId.New(), CreatedAt = at, Stage = (LifecycleStage)17 },
            new Contact { Id = ContactId.New(), CreatedAt = at, Tags = [new ContactTag { Tag = "t", AssignedAt = at, Source = (TagSource)(-1) }] },
            new Contact { Id = default, CreatedAt = default, Identities = null!, Attributes = null!, Consents = null!, StageHistory = null!, Tags = null!, QualityFlags = null! },
        };
        foreach (var contact in contacts)
        {
            AssertSameBytes(contact);
        }
    }

    /// <summary>The writer's bytes equal the serializer's, or both throw the same exception type.</summary>
    private static void AssertSameBytes(Contact contact)
    {
        string? expected = null;
        Exception? expectedError = null;
        try
        {
            expected = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(contact, Pg.ContactJson));
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            expectedError = ex;
        }

        var buffer = new ArrayBufferWriter<byte>(16);
        using var writer = new Utf8JsonWriter(buffer, Pg.JsonWriterOptions);
        if (expectedError is not null)
        {
            var actual = Record.Exception(() => ContactDocumentWriter.Write(writer, contact));
            Assert.True(actual is not null, $"The serializer threw ({expectedError.GetType().Name}: {expectedError.Message}), the writer did not.");
            Assert.IsType(expectedError.GetType(), actual, exactMatch: false);
            return;
        }

        ContactDocumentWriter.Write(writer, contact);
        writer.Flush();
        Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(contact, Pg.ContactJson), buffer.WrittenSpan.ToArray());
    }

    /// <summary>A contact compared by value: its full serialization (records compare their dictionaries and lists by reference).</summary>
    private static string Canonical(Contact contact) => JsonSerializer.Serialize(contact, Pg.Json);

    /// <summary>
    /// Random contacts: every field value kind, identities, consents, tags, scores, stage history, quality flags; empty,
    /// null and non-<see cref="List{T}"/> collections; strings from <see cref="Pieces"/>; instants with nanoseconds
    /// across NodaTime's range; decimals of every scale. <c>strict</c> leaves out what cannot be read back (nulls where
    /// the model does not allow them, undefined enum values, dates and instants the reader refuses).
    /// </summary>
    private sealed class RandomContacts(Random random, bool strict)
    {
        public Contact Next() => new()
        {
            Id = random.Next(20) == 0 && !strict ? default : ContactId.New(),
            Identities = Maybe(Identities, allowNull: !strict)!,
            Name = Text(),
            Attributes = Dictionary(() => FieldValue(), allowNullValues: !strict)!,
            Consents = Dictionary(() => new ConsentRecord(random.Next(2) == 0, RequiredText(), Instant()), allowNullValues: !strict)!,
            TimeZoneId = Text(),
            OwnerId = Text(),
            Stage = Enum<LifecycleStage>(6),
            StageHistory = List(() => new StageChange(Enum<LifecycleStage>(6), Enum<LifecycleStage>(6), Instant(), Text(), Text()))!,
            Tags = List(() => new ContactTag
            {
                Tag = RequiredText(),
                Group = Text(),
                Source = Enum<TagSource>(4),
                AssignedBy = Text(),
                AssignedAt = Instant(),
                ExpiresAt = random.Next(2) == 0 ? null : Instant(),
                CampaignId = random.Next(2) == 0 ? null : CampaignId.New(),
            })!,
            QualityFlags = List(() => new DataQualityFlag(RequiredText(), RequiredText(), RequiredText(), RequiredText(), Instant(), Text()))!,
            Scores = random.Next(3) == 0 ? null : new ContactScores(Decimal(small: true), Decimal(small: true), Text(), Instant()),
            CreatedAt = Instant(),
            Version = random.Next(3),
        };

        private ContactIdentities Identities() => new()
        {
            Phone = Text(),
            Email = Text(),
            WeChatOpenId = Text(),
            WeChatUnionId = Text(),
            WeComExternalUserId = Text(),
            CrmId = Text(),
            AdditionalPhones = List(RequiredText)!,
            AdditionalEmails = List(RequiredText)!,
        };

        private FieldValue FieldValue() => random.Next(6) switch
        {
            0 => new TextValue(RequiredText()),
            1 => new NumberValue(Decimal(small: false)),
            2 => new DateValue(Date()),
            3 => new ChoiceValue(RequiredText()),
            4 => new ChoicesValue(List(RequiredText) ?? []),
            _ => new BooleanValue(random.Next(2) == 0),
        };

        private T? Maybe<T>(Func<T> make, bool allowNull)
            where T : class => allowNull && random.Next(10) == 0 ? null : make();

        private string? Text() => random.Next(3) == 0 ? null : RequiredText();

        private string RequiredText()
        {
            if (!strict && random.Next(40) == 0)
            {
                return null!;
            }

            var builder = new StringBuilder();
            for (int i = 0, n = random.Next(6); i < n; i++)
            {
                builder.Append(Pieces[random.Next(Pieces.Length)]);
            }

            return builder.ToString();
        }

        private TEnum Enum<TEnum>(int defined)
            where TEnum : struct, Enum =>
            (TEnum)(object)(!strict && random.Next(50) == 0 ? random.Next(defined, 100) : random.Next(defined));

        private Instant Instant() => random.Next(8) switch
        {
            0 => NodaTime.Instant.FromUnixTimeTicks(random.NextInt64(NodaTime.Instant.MinValue.ToUnixTimeTicks(), NodaTime.Instant.MaxValue.ToUnixTimeTicks())),
            1 => NodaTime.Instant.FromUnixTimeSeconds(random.NextInt64(0, 4_000_000_000)),
            2 => NodaTime.Instant.FromUnixTimeMilliseconds(random.NextInt64(-62_135_596_800_000, 253_402_300_799_000)),
            3 => NodaTime.Instant.FromUtc(random.Next(1, 10_000), random.Next(1, 13), random.Next(1, 29), random.Next(24), random.Next(60), random.Next(60)),
            _ => NodaTime.Instant.FromUnixTimeTicks(random.NextInt64(0, 40_000_000_000_000_000)).PlusNanoseconds(random.Next(0, 100) * (random.Next(2) == 0 ? 1 : 10)),
        };

        private LocalDate Date() => random.Next(4) == 0 && !strict
            ? new LocalDate(random.Next(-9998, 10_000), random.Next(1, 13), random.Next(1, 29))
            : new LocalDate(random.Next(1, 10_000), random.Next(1, 13), random.Next(1, 29));

        private decimal Decimal(bool small)
        {
            var value = new decimal(random.Next(), small ? 0 : random.Next(), small ? 0 : random.Next(), random.Next(2) == 0, (byte)random.Next(small ? 8 : 29));
            return random.Next(10) == 0 ? new decimal(0, 0, 0, random.Next(2) == 0, (byte)random.Next(29)) : value;
        }

        private IReadOnlyList<T>? List<T>(Func<T> make)
            where T : class
        {
            switch (random.Next(strict ? 5 : 7))
            {
                case 0:
                    return [];
                case 1:
                    return Array.Empty<T>();
                case 5:
                    return null;
                case 6:
                    return new List<T> { make(), null!, make() };
                default:
                    var items = Enumerable.Range(0, random.Next(1, 4)).Select(_ => make()).ToList();
                    return random.Next(3) switch
                    {
                        0 => items.ToArray(),
                        1 => new ReadOnlyCollection<T>(items),
                        _ => items,
                    };
            }
        }

        private IReadOnlyDictionary<string, T>? Dictionary<T>(Func<T> make, bool allowNullValues)
            where T : class
        {
            var n = random.Next(4);
            var items = new Dictionary<string, T>();
            for (var i = 0; i < n; i++)
            {
                items[RequiredText() ?? "k" + i] = allowNullValues && random.Next(8) == 0 ? null! : make();
            }

            return random.Next(strict ? 4 : 5) switch
            {
                0 => new SortedDictionary<string, T>(items, StringComparer.Ordinal),
                1 => new ReadOnlyDictionary<string, T>(items),
                4 => null,
                _ => items,
            };
        }
    }
}
