using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Storage;
using Campaigns.Testing.Storage;

namespace Campaigns.Tests.Storage;

// The store contract suite against the in-memory stores (the second instance is the same store).

public sealed class InMemoryContactStoreContractTests : ContactStoreContract
{
    protected override IContactImporter? CreateImporter(IContactStore store) => ImporterOver.Store(store);

    protected override ValueTask<IContactStore> CreateStoreAsync() => new(new InMemoryContactStore());
}

public sealed class InMemoryEventStoreContractTests : EventStoreContract
{
    protected override ValueTask<IEventStore> CreateStoreAsync() => new(new InMemoryEventStore());
}

public sealed class InMemoryCampaignStoreContractTests : CampaignStoreContract
{
    protected override ValueTask<ICampaignStore> CreateStoreAsync() => new(new InMemoryCampaignStore());
}

public sealed class InMemoryParticipantStoreContractTests : ParticipantStoreContract
{
    protected override ValueTask<IParticipantStore> CreateStoreAsync() => new(new InMemoryParticipantStore());
}

public sealed class InMemoryJourneyRunStoreContractTests : JourneyRunStoreContract
{
    protected override ValueTask<IJourneyRunStore> CreateStoreAsync() => new(new InMemoryJourneyRunStore());
}

public sealed class InMemoryIdempotencyStoreContractTests : IdempotencyStoreContract
{
    protected override ValueTask<IIdempotencyStore> CreateStoreAsync() => new(new InMemoryIdempotencyStore());
}

public sealed class InMemoryFrequencyCapStoreContractTests : FrequencyCapStoreContract
{
    protected override ValueTask<IFrequencyCapStore> CreateStoreAsync() => new(new InMemoryFrequencyCapStore());
}

public sealed class InMemoryDoNotContactListContractTests : DoNotContactListContract
{
    protected override ValueTask<IDoNotContactList> CreateStoreAsync() => new(new InMemoryDoNotContactList());

    protected override ValueTask ListAsync(IDoNotContactList list, string contactId, string? channel)
    {
        ((InMemoryDoNotContactList)list).Add(contactId, channel);
        return ValueTask.CompletedTask;
    }
}

public sealed class InMemoryExecutionRecordsContractTests : ExecutionRecordsContract
{
    protected override ValueTask<IExecutionRecords> CreateStoreAsync() => new(new InMemoryExecutionRecords());
}

public sealed class InMemoryScoreLedgerStoreContractTests : ScoreLedgerStoreContract
{
    protected override ValueTask<IScoreLedgerStore> CreateStoreAsync() => new(new InMemoryScoreLedgerStore());
}

public sealed class InMemoryScoringModelStoreContractTests : ScoringModelStoreContract
{
    protected override ValueTask<IScoringModelStore> CreateStoreAsync() => new(new InMemoryScoringModelStore(Context));
}

public sealed class InMemoryProviderMessageIndexContractTests : ProviderMessageIndexContract
{
    protected override ValueTask<IProviderMessageIndex> CreateStoreAsync() => new(new InMemoryProviderMessageIndex(Retention));
}

public sealed class InMemoryDefinitionStoreContractTests : DefinitionStoreContract
{
    protected override ValueTask<IDefinitionStore> CreateStoreAsync() => new(new InMemoryDefinitionStore());
}
