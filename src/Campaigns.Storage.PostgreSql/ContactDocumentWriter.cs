using System.Collections;
using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Storage.PostgreSql;

/// <summary>
/// Writes a contact's document (issue 8) straight onto a <see cref="Utf8JsonWriter"/>: byte for byte the JSON
/// <c>JsonSerializer.Serialize(contact, Pg.ContactJson)</c> writes (camelCase names in declaration order, nulls left out,
/// no <c>version</c>, empty collections left out, enums as camelCase strings, NodaTime values in their ISO patterns,
/// field values with their <c>type</c> discriminator first), without the reflection serializer's converters, property
/// getters and boxing. The writer must use <see cref="Pg.JsonWriterOptions"/> (the same encoder, so strings are escaped
/// the same way). Rare values the fast paths do not cover (an undefined enum value, an instant or date outside the
/// years 1–9998, a non-ISO calendar, an unknown field value type) are handed to the serializer itself, so they come out
/// (or fail) exactly as before. Lists are walked by index and <see cref="Dictionary{TKey, TValue}"/>s by their struct
/// enumerator, so writing a document allocates nothing. Stateless and thread-safe.
/// </summary>
internal static class ContactDocumentWriter
{
    private static readonly JsonEncodedText IdName = Name("id");
    private static readonly JsonEncodedText IdentitiesName = Name("identities");
    private static readonly JsonEncodedText NameName = Name("name");
    private static readonly JsonEncodedText AttributesName = Name("attributes");
    private static readonly JsonEncodedText ConsentsName = Name("consents");
    private static readonly JsonEncodedText TimeZoneIdName = Name("timeZoneId");
    private static readonly JsonEncodedText OwnerIdName = Name("ownerId");
    private static readonly JsonEncodedText StageName = Name("stage");
    private static readonly JsonEncodedText StageHistoryName = Name("stageHistory");
    private static readonly JsonEncodedText TagsName = Name("tags");
    private static readonly JsonEncodedText QualityFlagsName = Name("qualityFlags");
    private static readonly JsonEncodedText ScoresName = Name("scores");
    private static readonly JsonEncodedText CreatedAtName = Name("createdAt");

    private static readonly JsonEncodedText PhoneName = Name("phone");
    private static readonly JsonEncodedText EmailName = Name("email");
    private static readonly JsonEncodedText WeChatOpenIdName = Name("weChatOpenId");
    private static readonly JsonEncodedText WeChatUnionIdName = Name("weChatUnionId");
    private static readonly JsonEncodedText WeComExternalUserIdName = Name("weComExternalUserId");
    private static readonly JsonEncodedText CrmIdName = Name("crmId");
    private static readonly JsonEncodedText AdditionalPhonesName = Name("additionalPhones");
    private static readonly JsonEncodedText AdditionalEmailsName = Name("additionalEmails");

    private static readonly JsonEncodedText TypeName = Name("type");
    private static readonly JsonEncodedText ValueName = Name("value");
    private static readonly JsonEncodedText ValuesName = Name("values");
    private static readonly JsonEncodedText TextType = Name("text");
    private static readonly JsonEncodedText NumberType = Name("number");
    private static readonly JsonEncodedText DateType = Name("date");
    private static readonly JsonEncodedText ChoiceType = Name("choice");
    private static readonly JsonEncodedText ChoicesType = Name("choices");
    private static readonly JsonEncodedText BoolType = Name("bool");

    private static readonly JsonEncodedText GrantedName = Name("granted");
    private static readonly JsonEncodedText SourceName = Name("source");
    private static readonly JsonEncodedText AtName = Name("at");
    private static readonly JsonEncodedText FromName = Name("from");
    private static readonly JsonEncodedText ToName = Name("to");
    private static readonly JsonEncodedText ReasonName = Name("reason");
    private static readonly JsonEncodedText ActorIdName = Name("actorId");
    private static readonly JsonEncodedText TagName = Name("tag");
    private static readonly JsonEncodedText GroupName = Name("group");
    private static readonly JsonEncodedText AssignedByName = Name("assignedBy");
    private static readonly JsonEncodedText AssignedAtName = Name("assignedAt");
    private static readonly JsonEncodedText ExpiresAtName = Name("expiresAt");
    private static readonly JsonEncodedText CampaignIdName = Name("campaignId");
    private static readonly JsonEncodedText FieldName = Name("field");
    private static readonly JsonEncodedText CodeName = Name("code");
    private static readonly JsonEncodedText BehaviourName = Name("behaviour");
    private static readonly JsonEncodedText FitName = Name("fit");
    private static readonly JsonEncodedText GradeName = Name("grade");
    private static readonly JsonEncodedText AsOfName = Name("asOf");
    private static readonly JsonEncodedText TotalName = Name("total");

    private static readonly JsonEncodedText[] Stages = [Name("new"), Name("mql"), Name("sql"), Name("opportunity"), Name("customer"), Name("churned")];
    private static readonly JsonEncodedText[] TagSources = [Name("manual"), Name("rule"), Name("import"), Name("campaign")];

    // The instants and dates the fast path formats itself: years 1..9998 (4 digits, no sign), anything else goes
    // through NodaTime's own pattern via the serializer.
    private static readonly Instant FastInstantMin = Instant.FromUtc(1, 1, 1, 0, 0);
    private static readonly Instant FastInstantEnd = Instant.FromUtc(9999, 1, 1, 0, 0);

    /// <summary>Writes the document of <paramref name="contact"/> (already protected) as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, Contact contact)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(contact);
        writer.WriteStartObject();
        writer.WriteString(IdName, contact.Id.Value);
        if (contact.Identities is { } identities)
        {
            writer.WritePropertyName(IdentitiesName);
            WriteIdentities(writer, identities);
        }

        WriteIfNotNull(writer, NameName, contact.Name);
        if (IsWritten(contact.Attributes, AttributesName))
        {
            writer.WritePropertyName(AttributesName);
            WriteAttributes(writer, contact.Attributes);
        }

        if (IsWritten(contact.Consents, ConsentsName))
        {
            writer.WritePropertyName(ConsentsName);
            WriteConsents(writer, contact.Consents);
        }

        WriteIfNotNull(writer, TimeZoneIdName, contact.TimeZoneId);
        WriteIfNotNull(writer, OwnerIdName, contact.OwnerId);
        writer.WritePropertyName(StageName);
        WriteStage(writer, contact.Stage);
        if (IsWritten(contact.StageHistory, StageHistoryName))
        {
            writer.WritePropertyName(StageHistoryName);
            WriteList(writer, contact.StageHistory, WriteStageChange);
        }

        if (IsWritten(contact.Tags, TagsName))
        {
            writer.WritePropertyName(TagsName);
            WriteList(writer, contact.Tags, WriteTag);
        }

        if (IsWritten(contact.QualityFlags, QualityFlagsName))
        {
            writer.WritePropertyName(QualityFlagsName);
            WriteList(writer, contact.QualityFlags, WriteQualityFlag);
        }

        if (contact.Scores is { } scores)
        {
            writer.WritePropertyName(ScoresName);
            WriteScores(writer, scores);
        }

        writer.WritePropertyName(CreatedAtName);
        WriteInstant(writer, contact.CreatedAt);
        writer.WriteEndObject();
    }

    /// <summary>
    /// <see cref="Pg.ContactJson"/>'s rule for a collection of a contact or its identities: an empty
    /// <see cref="ICollection"/> is left out, and null is refused (the serializer checks the nullability annotations
    /// after the rule, and these collections are not nullable).
    /// </summary>
    private static bool IsWritten(object? collection, JsonEncodedText name) => collection is null
        ? throw new JsonException($"The contact document's '{name}' is null; it must be a collection (empty when there is none).")
        : collection is not ICollection { Count: 0 };

    private static void WriteIdentities(Utf8JsonWriter writer, ContactIdentities identities)
    {
        writer.WriteStartObject();
        WriteIfNotNull(writer, PhoneName, identities.Phone);
        WriteIfNotNull(writer, EmailName, identities.Email);
        WriteIfNotNull(writer, WeChatOpenIdName, identities.WeChatOpenId);
        WriteIfNotNull(writer, WeChatUnionIdName, identities.WeChatUnionId);
        WriteIfNotNull(writer, WeComExternalUserIdName, identities.WeComExternalUserId);
        WriteIfNotNull(writer, CrmIdName, identities.CrmId);
        if (IsWritten(identities.AdditionalPhones, AdditionalPhonesName))
        {
            writer.WritePropertyName(AdditionalPhonesName);
            WriteStrings(writer, identities.AdditionalPhones);
        }

        if (IsWritten(identities.AdditionalEmails, AdditionalEmailsName))
        {
            writer.WritePropertyName(AdditionalEmailsName);
            WriteStrings(writer, identities.AdditionalEmails);
        }

        writer.WriteEndObject();
    }

    private static void WriteAttributes(Utf8JsonWriter writer, IReadOnlyDictionary<string, FieldValue> attributes)
    {
        writer.WriteStartObject();
        if (attributes is Dictionary<string, FieldValue> dictionary)
        {
            foreach (var (name, value) in dictionary)
            {
                writer.WritePropertyName(name);
                WriteFieldValue(writer, value);
            }
        }
        else
        {
            foreach (var (name, value) in attributes)
            {
                writer.WritePropertyName(name);
                WriteFieldValue(writer, value);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteConsents(Utf8JsonWriter writer, IReadOnlyDictionary<string, ConsentRecord> consents)
    {
        writer.WriteStartObject();
        if (consents is Dictionary<string, ConsentRecord> dictionary)
        {
            foreach (var (channel, consent) in dictionary)
            {
                WriteConsent(writer, channel, consent);
            }
        }
        else
        {
            foreach (var (channel, consent) in consents)
            {
                WriteConsent(writer, channel, consent);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteConsent(Utf8JsonWriter writer, string channel, ConsentRecord? consent)
    {
        writer.WritePropertyName(channel);
        if (consent is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartObject();
        writer.WriteBoolean(GrantedName, consent.Granted);
        WriteIfNotNull(writer, SourceName, consent.Source);
        writer.WritePropertyName(AtName);
        WriteInstant(writer, consent.At);
        writer.WriteEndObject();
    }

    private static void WriteFieldValue(Utf8JsonWriter writer, FieldValue? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case TextValue text:
                writer.WriteStartObject();
                writer.WriteString(TypeName, TextType);
                WriteIfNotNull(writer, ValueName, text.Value);
                writer.WriteEndObject();
                break;
            case ChoiceValue choice:
                writer.WriteStartObject();
                writer.WriteString(TypeName, ChoiceType);
                WriteIfNotNull(writer, ValueName, choice.Value);
                writer.WriteEndObject();
                break;
            case NumberValue number:
                writer.WriteStartObject();
                writer.WriteString(TypeName, NumberType);
                writer.WriteNumber(ValueName, number.Value);
                writer.WriteEndObject();
                break;
            case BooleanValue boolean:
                writer.WriteStartObject();
                writer.WriteString(TypeName, BoolType);
                writer.WriteBoolean(ValueName, boolean.Value);
                writer.WriteEndObject();
                break;
            case ChoicesValue choices:
                writer.WriteStartObject();
                writer.WriteString(TypeName, ChoicesType);
                if (choices.Values is not null)
                {
                    writer.WritePropertyName(ValuesName);
                    WriteStrings(writer, choices.Values);
                }

                writer.WriteEndObject();
                break;
            case DateValue date:
                writer.WriteStartObject();
                writer.WriteString(TypeName, DateType);
                writer.WritePropertyName(ValueName);
                WriteDate(writer, date.Value);
                writer.WriteEndObject();
                break;
            default:
                JsonSerializer.Serialize(writer, value, Pg.ContactJson);
                break;
        }
    }

    private static void WriteStageChange(Utf8JsonWriter writer, StageChange change)
    {
        writer.WriteStartObject();
        writer.WritePropertyName(FromName);
        WriteStage(writer, change.From);
        writer.WritePropertyName(ToName);
        WriteStage(writer, change.To);
        writer.WritePropertyName(AtName);
        WriteInstant(writer, change.At);
        WriteIfNotNull(writer, ReasonName, change.Reason);
        WriteIfNotNull(writer, ActorIdName, change.ActorId);
        writer.WriteEndObject();
    }

    private static void WriteTag(Utf8JsonWriter writer, ContactTag tag)
    {
        writer.WriteStartObject();
        WriteIfNotNull(writer, TagName, tag.Tag);
        WriteIfNotNull(writer, GroupName, tag.Group);
        writer.WritePropertyName(SourceName);
        if ((uint)tag.Source < (uint)TagSources.Length)
        {
            writer.WriteStringValue(TagSources[(int)tag.Source]);
        }
        else
        {
            JsonSerializer.Serialize(writer, tag.Source, Pg.ContactJson);
        }

        WriteIfNotNull(writer, AssignedByName, tag.AssignedBy);
        writer.WritePropertyName(AssignedAtName);
        WriteInstant(writer, tag.AssignedAt);
        if (tag.ExpiresAt is { } expiresAt)
        {
            writer.WritePropertyName(ExpiresAtName);
            WriteInstant(writer, expiresAt);
        }

        if (tag.CampaignId is { } campaignId)
        {
            writer.WriteString(CampaignIdName, campaignId.Value);
        }

        writer.WriteEndObject();
    }

    private static void WriteQualityFlag(Utf8JsonWriter writer, DataQualityFlag flag)
    {
        writer.WriteStartObject();
        WriteIfNotNull(writer, FieldName, flag.Field);
        WriteIfNotNull(writer, ValueName, flag.Value);
        WriteIfNotNull(writer, CodeName, flag.Code);
        WriteIfNotNull(writer, ReasonName, flag.Reason);
        writer.WritePropertyName(AtName);
        WriteInstant(writer, flag.At);
        WriteIfNotNull(writer, SourceName, flag.Source);
        writer.WriteEndObject();
    }

    private static void WriteScores(Utf8JsonWriter writer, ContactScores scores)
    {
        writer.WriteStartObject();
        writer.WriteNumber(BehaviourName, scores.Behaviour);
        writer.WriteNumber(FitName, scores.Fit);
        WriteIfNotNull(writer, GradeName, scores.Grade);
        writer.WritePropertyName(AsOfName);
        WriteInstant(writer, scores.AsOf);
        writer.WriteNumber(TotalName, scores.Total);
        writer.WriteEndObject();
    }

    private static void WriteList<T>(Utf8JsonWriter writer, IReadOnlyList<T> items, Action<Utf8JsonWriter, T> write)
        where T : class
    {
        writer.WriteStartArray();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                write(writer, item);
            }
        }

        writer.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter writer, IReadOnlyList<string> values)
    {
        writer.WriteStartArray();
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteStringValue(value);
            }
        }

        writer.WriteEndArray();
    }

    private static void WriteIfNotNull(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteStage(Utf8JsonWriter writer, LifecycleStage stage)
    {
        if ((uint)stage < (uint)Stages.Length)
        {
            writer.WriteStringValue(Stages[(int)stage]);
        }
        else
        {
            JsonSerializer.Serialize(writer, stage, Pg.ContactJson);
        }
    }

    /// <summary>An instant as NodaTime's extended ISO pattern writes it: <c>uuuu-MM-ddTHH:mm:ss</c>, the fraction without trailing zeros (none when zero), <c>Z</c>.</summary>
    private static void WriteInstant(Utf8JsonWriter writer, Instant instant)
    {
        if (instant < FastInstantMin || instant >= FastInstantEnd)
        {
            JsonSerializer.Serialize(writer, instant, Pg.ContactJson);
            return;
        }

        var local = instant.InUtc().LocalDateTime;
        Span<byte> text = stackalloc byte[30];
        WriteDateDigits(text, local.Year, local.Month, local.Day);
        text[10] = (byte)'T';
        Two(text[11..], local.Hour);
        text[13] = (byte)':';
        Two(text[14..], local.Minute);
        text[16] = (byte)':';
        Two(text[17..], local.Second);
        var length = 19;
        var nanoseconds = local.NanosecondOfSecond;
        if (nanoseconds != 0)
        {
            text[length++] = (byte)'.';
            var digits = 9;
            while (nanoseconds % 10 == 0)
            {
                nanoseconds /= 10;
                digits--;
            }

            for (var i = digits - 1; i >= 0; i--)
            {
                text[length + i] = (byte)('0' + (nanoseconds % 10));
                nanoseconds /= 10;
            }

            length += digits;
        }

        text[length++] = (byte)'Z';
        writer.WriteStringValue(text[..length]);
    }

    /// <summary>A date as NodaTime's ISO pattern writes it (<c>uuuu-MM-dd</c>); other calendars and years go to the serializer (which refuses non-ISO calendars).</summary>
    private static void WriteDate(Utf8JsonWriter writer, LocalDate date)
    {
        if (date.Calendar != CalendarSystem.Iso || date.Year is < 1 or > 9998)
        {
            JsonSerializer.Serialize(writer, date, Pg.ContactJson);
            return;
        }

        Span<byte> text = stackalloc byte[10];
        WriteDateDigits(text, date.Year, date.Month, date.Day);
        writer.WriteStringValue(text);
    }

    private static void WriteDateDigits(Span<byte> text, int year, int month, int day)
    {
        Two(text, year / 100);
        Two(text[2..], year % 100);
        text[4] = (byte)'-';
        Two(text[5..], month);
        text[7] = (byte)'-';
        Two(text[8..], day);
    }

    private static void Two(Span<byte> text, int value)
    {
        text[0] = (byte)('0' + (value / 10));
        text[1] = (byte)('0' + (value % 10));
    }

    private static JsonEncodedText Name(string name) => JsonEncodedText.Encode(name, Pg.Json.Encoder);
}
