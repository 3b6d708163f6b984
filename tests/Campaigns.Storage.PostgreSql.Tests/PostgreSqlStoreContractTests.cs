using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Testing.Storage;
using NodaTime.Testing;

namespace Campaigns.Storage.PostgreSql.Tests;

// The store contract suite against PostgreSQL: a fresh schema per test (PostgreSqlTestSchema, dropped at the end); the
// second instance is a store on a second PostgreSqlDatabase on the same schema (its own data source and pool, as
// another host would have). Skipped locally without CAMPAIGNS_POSTGRES_CONNECTION, failing in CI without it.

/// <summary>The per-test schema of a contract test class: created on the first store, dropped on dispose.</summary>
internal sealed class ContractSchema(IPersonalDataProtector? protector = null)
{
    private PostgreSqlTestSchema? _schema;

    public static string? SkipReason => PostgreSqlTestServer.SkipReason;

    public async ValueTask<PostgreSqlTestSchema> GetAsync() => _schema ??= await PostgreSqlTestSchema.CreateAsync(protector);

    /// <summary>A second host on the same schema.</summary>
    public PostgreSqlDatabase SecondDatabase() => (_schema ?? throw new InvalidOperationException("No store was created yet.")).NewDatabase();

    public async Task DisposeAsync()
    {
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
            _schema = null;
        }
    }
}

public sealed class PostgreSqlContactStoreContractTests : BulkContactStoreContract
{
    protected override IContactImporter? CreateImporter(IContactStore store) => ImporterOver.Store(store);

    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IContactStore> CreateStoreAsync() => (await _schema.GetAsync()).Contacts();

    protected override ValueTask<IContactStore> CreateSecondInstanceAsync(IContactStore first) => new(new PostgreSqlContactStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

/// <summary>The contact contract again with personal data encrypted (AES-GCM): lookups go through HMAC lookup keys.</summary>
public sealed class PostgreSqlEncryptedContactStoreContractTests : BulkContactStoreContract
{
    protected override IContactImporter? CreateImporter(IContactStore store) => ImporterOver.Store(store);

    private readonly ContractSchema _schema = new(TestProtectors.AesGcm);

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IContactStore> CreateStoreAsync() => (await _schema.GetAsync()).Contacts();

    protected override ValueTask<IContactStore> CreateSecondInstanceAsync(IContactStore first) => new(new PostgreSqlContactStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlEventStoreContractTests : EventStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IEventStore> CreateStoreAsync() => (await _schema.GetAsync()).Events();

    protected override ValueTask<IEventStore> CreateSecondInstanceAsync(IEventStore first) => new(new PostgreSqlEventStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlCampaignStoreContractTests : CampaignStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<ICampaignStore> CreateStoreAsync() => (await _schema.GetAsync()).Campaigns();

    protected override ValueTask<ICampaignStore> CreateSecondInstanceAsync(ICampaignStore first) => new(new PostgreSqlCampaignStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

/// <summary>Participants with personal data encrypted: uniqueness per campaign goes through lookup keys.</summary>
public sealed class PostgreSqlParticipantStoreContractTests : ParticipantStoreContract
{
    private readonly ContractSchema _schema = new(TestProtectors.AesGcm);

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IParticipantStore> CreateStoreAsync() => (await _schema.GetAsync()).Participants();

    protected override ValueTask<IParticipantStore> CreateSecondInstanceAsync(IParticipantStore first) => new(new PostgreSqlParticipantStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlJourneyRunStoreContractTests : JourneyRunStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IJourneyRunStore> CreateStoreAsync() => (await _schema.GetAsync()).JourneyRuns();

    protected override ValueTask<IJourneyRunStore> CreateSecondInstanceAsync(IJourneyRunStore first) => new(new PostgreSqlJourneyRunStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlIdempotencyStoreContractTests : IdempotencyStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IIdempotencyStore> CreateStoreAsync() => (await _schema.GetAsync()).Idempotency();

    protected override ValueTask<IIdempotencyStore> CreateSecondInstanceAsync(IIdempotencyStore first) => new(new PostgreSqlIdempotencyStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlFrequencyCapStoreContractTests : FrequencyCapStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IFrequencyCapStore> CreateStoreAsync() => (await _schema.GetAsync()).FrequencyCaps();

    protected override ValueTask<IFrequencyCapStore> CreateSecondInstanceAsync(IFrequencyCapStore first) => new(new PostgreSqlFrequencyCapStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlDoNotContactListContractTests : DoNotContactListContract
{
    private readonly ContractSchema _schema = new();
    private readonly FakeClock _clock = new(T0);

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IDoNotContactList> CreateStoreAsync() => (await _schema.GetAsync()).DoNotContact(_clock);

    protected override ValueTask<IDoNotContactList> CreateSecondInstanceAsync(IDoNotContactList first) => new(new PostgreSqlDoNotContactList(_schema.SecondDatabase(), _clock));

    protected override ValueTask ListAsync(IDoNotContactList list, string contactId, string? channel) => ((PostgreSqlDoNotContactList)list).AddAsync(contactId, channel);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlExecutionRecordsContractTests : ExecutionRecordsContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IExecutionRecords> CreateStoreAsync() => (await _schema.GetAsync()).ExecutionRecords();

    protected override ValueTask<IExecutionRecords> CreateSecondInstanceAsync(IExecutionRecords first) => new(new PostgreSqlExecutionRecords(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlScoreLedgerStoreContractTests : ScoreLedgerStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IScoreLedgerStore> CreateStoreAsync() => (await _schema.GetAsync()).ScoreLedgers();

    protected override ValueTask<IScoreLedgerStore> CreateSecondInstanceAsync(IScoreLedgerStore first) => new(new PostgreSqlScoreLedgerStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlScoringModelStoreContractTests : ScoringModelStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IScoringModelStore> CreateStoreAsync() =>
        new PostgreSqlScoringModelStore((await _schema.GetAsync()).Database, Context, new Microsoft.Extensions.Time.Testing.FakeTimeProvider());

    protected override ValueTask<IScoringModelStore> CreateSecondInstanceAsync(IScoringModelStore first) =>
        new(new PostgreSqlScoringModelStore(_schema.SecondDatabase(), Context, new Microsoft.Extensions.Time.Testing.FakeTimeProvider()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlProviderMessageIndexContractTests : ProviderMessageIndexContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IProviderMessageIndex> CreateStoreAsync() => new PostgreSqlProviderMessageIndex((await _schema.GetAsync()).Database, Retention);

    protected override ValueTask<IProviderMessageIndex> CreateSecondInstanceAsync(IProviderMessageIndex first) => new(new PostgreSqlProviderMessageIndex(_schema.SecondDatabase(), Retention));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

/// <summary>Protectors shared by the tests.</summary>
internal static class TestProtectors
{
    /// <summary>A fixed test key (bytes 0..31, base64).</summary>
    public static string Key { get; } = Convert.ToBase64String([.. Enumerable.Range(0, 32).Select(i => (byte)i)]);

    /// <summary>AES-GCM with <see cref="Key"/>.</summary>
    public static AesGcmPersonalDataProtector AesGcm { get; } = new(new AesGcmProtectionOptions { Key = Key });
}

public sealed class PostgreSqlDefinitionStoreContractTests : DefinitionStoreContract
{
    private readonly ContractSchema _schema = new();

    protected override string? SkipReason => ContractSchema.SkipReason;

    protected override async ValueTask<IDefinitionStore> CreateStoreAsync() => new PostgreSqlDefinitionStore((await _schema.GetAsync()).Database);

    protected override ValueTask<IDefinitionStore> CreateSecondInstanceAsync(IDefinitionStore first) => new(new PostgreSqlDefinitionStore(_schema.SecondDatabase()));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}
