using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Storage.PostgreSql;
using NodaTime;

namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// The PostgreSQL contact document of one imported contact (issue 8, s44): the reflection serializer with
/// <c>Pg.ContactJson</c> (before) against <see cref="ContactDocumentWriter"/> (after), both writing UTF-8 into one reused
/// buffer as the COPY does; and a contact id from <see cref="Guid.CreateVersion7()"/> (one getrandom per id) against
/// <see cref="ContactId.New"/> (per-thread CSPRNG buffer). No database.
/// <c>--filter '*ContactDocumentBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
public class ContactDocumentBenchmarks
{
    private const int Batch = 1_000;

    private static readonly Instant At = Instant.FromUtc(2026, 11, 26, 2, 0, 0).PlusNanoseconds(123_456_700);

    // What import-stats' rows become: name, phone, e-mail, three attributes (one a list), created now.
    private readonly Contact _contact = new()
    {
        Id = ContactId.New(),
        Name = "张伟",
        Identities = new ContactIdentities { Phone = "+8613800138000", Email = "zhang.wei@example.com" },
        Attributes = new Dictionary<string, FieldValue>
        {
            ["industry"] = new TextValue("manufacturing"),
            ["region"] = new TextValue("华东"),
            ["interested_products"] = new ChoicesValue(["crm", "marketing-automation"]),
        },
        CreatedAt = At,
    };

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Serializer()
    {
        using var writer = new Utf8JsonWriter(_buffer, Pg.JsonWriterOptions); // one per 1,000 documents, as one per COPY
        var length = 0;
        for (var i = 0; i < Batch; i++)
        {
            _buffer.ResetWrittenCount();
            writer.Reset(_buffer);
            JsonSerializer.Serialize(writer, _contact, Pg.ContactJson);
            writer.Flush();
            length += _buffer.WrittenCount;
        }

        return length;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Writer()
    {
        using var writer = new Utf8JsonWriter(_buffer, Pg.JsonWriterOptions); // one per 1,000 documents, as one per COPY
        var length = 0;
        for (var i = 0; i < Batch; i++)
        {
            _buffer.ResetWrittenCount();
            writer.Reset(_buffer);
            ContactDocumentWriter.Write(writer, _contact);
            writer.Flush();
            length += _buffer.WrittenCount;
        }

        return length;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public Guid CreateVersion7()
    {
        var last = Guid.Empty;
        for (var i = 0; i < Batch; i++)
        {
            last = Guid.CreateVersion7();
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ContactId NewContactId()
    {
        var last = default(ContactId);
        for (var i = 0; i < Batch; i++)
        {
            last = ContactId.New();
        }

        return last;
    }
}
