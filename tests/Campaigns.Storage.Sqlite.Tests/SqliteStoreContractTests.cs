using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Testing.Storage;

namespace Campaigns.Storage.Sqlite.Tests;

// The store contract suite against SQLite: a file in a temporary directory per test; the second instance is a new
// SqliteDatabase on the same file (its own connection pool and write gate, as another process would have).

public sealed class SqliteContactStoreContractTests : BulkContactStoreContract, IDisposable
{
    protected override IContactImporter? CreateImporter(IContactStore store) => ImporterOver.Store(store);

    private readonly TempDatabase _file = new();

    protected override ValueTask<IContactStore> CreateStoreAsync() => new(new SqliteContactStore(_file.Open()));

    protected override ValueTask<IContactStore> CreateSecondInstanceAsync(IContactStore first) => new(new SqliteContactStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

/// <summary>The contact contract again with personal data encrypted (AES-GCM): lookups go through HMAC lookup keys.</summary>
public sealed class SqliteEncryptedContactStoreContractTests : BulkContactStoreContract, IDisposable
{
    protected override IContactImporter? CreateImporter(IContactStore store) => ImporterOver.Store(store);

    private readonly TempDatabase _file = new();

    internal static AesGcmPersonalDataProtector Protector { get; } = new(new AesGcmProtectionOptions { Key = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)i).ToArray()) });

    protected override ValueTask<IContactStore> CreateStoreAsync() => new(new SqliteContactStore(_file.Open(Protector)));

    protected override ValueTask<IContactStore> CreateSecondInstanceAsync(IContactStore first) => new(new SqliteContactStore(_file.Open(Protector)));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteEventStoreContractTests : EventStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IEventStore> CreateStoreAsync() => new(new SqliteEventStore(_file.Open()));

    protected override ValueTask<IEventStore> CreateSecondInstanceAsync(IEventStore first) => new(new SqliteEventStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteCampaignStoreContractTests : CampaignStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<ICampaignStore> CreateStoreAsync() => new(new SqliteCampaignStore(_file.Open()));

    protected override ValueTask<ICampaignStore> CreateSecondInstanceAsync(ICampaignStore first) => new(new SqliteCampaignStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteParticipantStoreContractTests : ParticipantStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IParticipantStore> CreateStoreAsync() => new(new SqliteParticipantStore(_file.Open(SqliteEncryptedContactStoreContractTests.Protector)));

    protected override ValueTask<IParticipantStore> CreateSecondInstanceAsync(IParticipantStore first) => new(new SqliteParticipantStore(_file.Open(SqliteEncryptedContactStoreContractTests.Protector)));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteJourneyRunStoreContractTests : JourneyRunStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IJourneyRunStore> CreateStoreAsync() => new(new SqliteJourneyRunStore(_file.Open()));

    protected override ValueTask<IJourneyRunStore> CreateSecondInstanceAsync(IJourneyRunStore first) => new(new SqliteJourneyRunStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteIdempotencyStoreContractTests : IdempotencyStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IIdempotencyStore> CreateStoreAsync() => new(new SqliteIdempotencyStore(_file.Open()));

    protected override ValueTask<IIdempotencyStore> CreateSecondInstanceAsync(IIdempotencyStore first) => new(new SqliteIdempotencyStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteFrequencyCapStoreContractTests : FrequencyCapStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IFrequencyCapStore> CreateStoreAsync() => new(new SqliteFrequencyCapStore(_file.Open()));

    protected override ValueTask<IFrequencyCapStore> CreateSecondInstanceAsync(IFrequencyCapStore first) => new(new SqliteFrequencyCapStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteDoNotContactListContractTests : DoNotContactListContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IDoNotContactList> CreateStoreAsync() => new(new SqliteDoNotContactList(_file.Open()));

    protected override ValueTask<IDoNotContactList> CreateSecondInstanceAsync(IDoNotContactList first) => new(new SqliteDoNotContactList(_file.Open()));

    protected override ValueTask ListAsync(IDoNotContactList list, string contactId, string? channel) => ((SqliteDoNotContactList)list).AddAsync(contactId, channel);

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteExecutionRecordsContractTests : ExecutionRecordsContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IExecutionRecords> CreateStoreAsync() => new(new SqliteExecutionRecords(_file.Open()));

    protected override ValueTask<IExecutionRecords> CreateSecondInstanceAsync(IExecutionRecords first) => new(new SqliteExecutionRecords(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteScoreLedgerStoreContractTests : ScoreLedgerStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IScoreLedgerStore> CreateStoreAsync() => new(new SqliteScoreLedgerStore(_file.Open()));

    protected override ValueTask<IScoreLedgerStore> CreateSecondInstanceAsync(IScoreLedgerStore first) => new(new SqliteScoreLedgerStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteScoringModelStoreContractTests : ScoringModelStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IScoringModelStore> CreateStoreAsync() => new(new SqliteScoringModelStore(_file.Open(), Context));

    protected override ValueTask<IScoringModelStore> CreateSecondInstanceAsync(IScoringModelStore first) => new(new SqliteScoringModelStore(_file.Open(), Context));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteProviderMessageIndexContractTests : ProviderMessageIndexContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IProviderMessageIndex> CreateStoreAsync() => new(new SqliteProviderMessageIndex(_file.Open(), Retention));

    protected override ValueTask<IProviderMessageIndex> CreateSecondInstanceAsync(IProviderMessageIndex first) => new(new SqliteProviderMessageIndex(_file.Open(), Retention));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteDefinitionStoreContractTests : DefinitionStoreContract, IDisposable
{
    private readonly TempDatabase _file = new();

    protected override ValueTask<IDefinitionStore> CreateStoreAsync() => new(new SqliteDefinitionStore(_file.Open()));

    protected override ValueTask<IDefinitionStore> CreateSecondInstanceAsync(IDefinitionStore first) => new(new SqliteDefinitionStore(_file.Open()));

    public void Dispose() => _file.Dispose();
}
