using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>The contract of <see cref="IScoreLedgerStore"/>: none until saved, saved ledgers read back whole, a save replaces.</summary>
public abstract class ScoreLedgerStoreContract : StoreContract<IScoreLedgerStore>
{
    /// <summary>Save, read back (from a second instance), replace.</summary>
    [SkippableFact]
    public async Task Ledgers_are_saved_and_replaced()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var contact = ContactId.New();
        Assert.Null(await store.GetAsync(contact));

        var ledger = new ScoreLedger
        {
            ContactId = contact,
            Entries = [new("product-page-view", "e1", T0, 5m), new("form-submit", "e2", T0 + Duration.FromHours(1), 10.5m)],
            ThresholdsEntered = ["high-intent"],
        };
        await store.SaveAsync(ledger);
        AssertSameDocument(ledger, await other.GetAsync(contact));

        var replaced = ledger with { Entries = [ledger.Entries[0]], ThresholdsEntered = [] };
        await other.SaveAsync(replaced);
        AssertSameDocument(replaced, await store.GetAsync(contact));
        Assert.Null(await store.GetAsync(ContactId.New()));
    }

    /// <summary>A cancelled token cancels a save; nothing is written.</summary>
    [SkippableFact]
    public async Task A_cancelled_save_writes_nothing()
    {
        var store = await NewStoreAsync();
        var contact = ContactId.New();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.SaveAsync(new ScoreLedger { ContactId = contact }, Cancelled()));
        Assert.Null(await store.GetAsync(contact));
    }
}

/// <summary>
/// The contract of <see cref="IScoringModelStore"/>: an empty model until one is set, validated replacement (an invalid
/// model keeps the current one), and the model kept by the store (a second instance on the same data reads it).
/// Derive and create the store with <see cref="Context"/>.
/// </summary>
public abstract class ScoringModelStoreContract : StoreContract<IScoringModelStore>
{
    /// <summary>Gets the context the store under test validates against: the default contact attribute schema.</summary>
    protected static FilterContext Context { get; } = new(ContactsOptions.DefaultSchema);

    /// <summary>Replace keeps a valid model; an invalid one is refused and the current one kept.</summary>
    [SkippableFact]
    public async Task Replace_validates_and_keeps_the_model()
    {
        var store = await NewStoreAsync();
        Assert.Empty(store.Current.BehaviourRules);

        var model = new ScoringModel
        {
            BehaviourRules = [new BehaviourRule { Id = "form-submit", EventKind = EventKinds.FormSubmit, Points = 10 }],
            HalfLife = Duration.FromDays(30),
            Thresholds = [new ScoreThreshold { Id = "high-intent", Enter = 20 }],
        };
        store.Replace(model);
        AssertSameDocument(model, store.Current);
        AssertSameDocument(model, (await SecondInstanceAsync(store)).Current);

        Assert.Throws<RuleDefinitionException>(() => store.Replace(new ScoringModel { BehaviourRules = [new BehaviourRule { Id = "x", EventKind = "no_such_event", Points = 1 }] }));
        AssertSameDocument(model, store.Current);
    }
}
