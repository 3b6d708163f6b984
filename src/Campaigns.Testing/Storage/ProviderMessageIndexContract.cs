using Campaigns.Delivery;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>
/// The contract of <see cref="IProviderMessageIndex"/>: a recorded send is found (also by a second instance), unknown ids
/// and other channels are not, recording again replaces, sends older than the retention (measured from the newest send
/// recorded) are not found, and cancelled calls throw and store nothing. Create the index with <see cref="Retention"/>.
/// </summary>
public abstract class ProviderMessageIndexContract : StoreContract<IProviderMessageIndex>
{
    /// <summary>Gets the retention the index under test must be created with (7 days).</summary>
    protected static Duration Retention { get; } = Duration.FromDays(7);

    /// <summary>A contact id in the SDK's GUID form.</summary>
    private static readonly string Contact = new ContactId(Guid.Parse("0193a1b2-0000-7000-8000-000000000042")).ToString();

    /// <summary>A recorded send is found with every field, by this instance and by a second one.</summary>
    [SkippableFact]
    public async Task A_recorded_send_is_found_by_its_channel_and_provider_id()
    {
        var index = await NewStoreAsync();
        var sent = new ProviderMessage(Contact, "email", "campaign-1:contact-42:welcome", T0);
        await index.RecordAsync("ses-0001", sent, default);
        await index.RecordAsync("ses-0002", new ProviderMessage("crm-7", "email", "k2", T0 + Duration.FromSeconds(1)), default);

        var other = await SecondInstanceAsync(index);
        Assert.Equal(sent, await other.FindAsync("email", "ses-0001", default));
        Assert.Equal(sent, await index.FindAsync("email", "ses-0001", default));
        Assert.Equal(new ProviderMessage("crm-7", "email", "k2", T0 + Duration.FromSeconds(1)), await other.FindAsync("email", "ses-0002", default));
    }

    /// <summary>An id never recorded is not found (also on an empty index).</summary>
    [SkippableFact]
    public async Task An_unknown_provider_id_is_not_found()
    {
        var index = await NewStoreAsync();
        Assert.Null(await index.FindAsync("email", "nothing", default));
        await index.RecordAsync("ses-0001", new ProviderMessage(Contact, "email", "k", T0), default);
        Assert.Null(await index.FindAsync("email", "ses-0002", default));
        Assert.Null(await index.FindAsync("email", "SES-0001", default)); // ids are compared exactly
    }

    /// <summary>The same provider id on two channels is two different sends.</summary>
    [SkippableFact]
    public async Task The_same_id_on_two_channels_is_two_sends()
    {
        var index = await NewStoreAsync();
        var email = new ProviderMessage(Contact, "email", "k-email", T0);
        var sms = new ProviderMessage("crm-9", "sms", "k-sms", T0 + Duration.FromMinutes(1));
        await index.RecordAsync("42", email, default);
        await index.RecordAsync("42", sms, default);

        var other = await SecondInstanceAsync(index);
        Assert.Equal(email, await other.FindAsync("email", "42", default));
        Assert.Equal(sms, await other.FindAsync("sms", "42", default));
        Assert.Null(await other.FindAsync("wechat", "42", default));
    }

    /// <summary>Recording the same channel and id again replaces the earlier send.</summary>
    [SkippableFact]
    public async Task Recording_the_same_id_again_replaces_the_send()
    {
        var index = await NewStoreAsync();
        await index.RecordAsync("ses-1", new ProviderMessage("crm-1", "email", "first", T0), default);
        var second = new ProviderMessage(Contact, "email", "second", T0 + Duration.FromHours(1));
        var other = await SecondInstanceAsync(index);
        await other.RecordAsync("ses-1", second, default);

        Assert.Equal(second, await index.FindAsync("email", "ses-1", default));
    }

    /// <summary>
    /// A send is found while it is no older than the retention measured from the newest send recorded (the boundary is
    /// kept), and not once a send newer than that is recorded.
    /// </summary>
    [SkippableFact]
    public async Task A_send_older_than_the_retention_is_not_found()
    {
        var index = await NewStoreAsync();
        var old = new ProviderMessage(Contact, "email", "old", T0);
        await index.RecordAsync("old", old, default);
        await index.RecordAsync("edge", new ProviderMessage(Contact, "email", "edge", T0 + Duration.FromDays(1)), default);
        await index.RecordAsync("new", new ProviderMessage(Contact, "email", "new", T0 + Retention), default);
        Assert.Equal(old, await index.FindAsync("email", "old", default)); // exactly the retention old: kept

        await index.RecordAsync("newer", new ProviderMessage(Contact, "sms", "newer", T0 + Retention + Duration.FromTicks(1)), default);
        var other = await SecondInstanceAsync(index);
        Assert.Null(await other.FindAsync("email", "old", default));
        Assert.Null(await index.FindAsync("email", "old", default));
        Assert.NotNull(await other.FindAsync("email", "edge", default));
        Assert.NotNull(await other.FindAsync("sms", "newer", default));
    }

    /// <summary>A cancelled record stores nothing; a cancelled find throws.</summary>
    [SkippableFact]
    public async Task Cancelled_calls_throw_and_store_nothing()
    {
        var index = await NewStoreAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await index.RecordAsync("ses-1", new ProviderMessage(Contact, "email", "k", T0), Cancelled()));
        Assert.Null(await index.FindAsync("email", "ses-1", default));

        await index.RecordAsync("ses-1", new ProviderMessage(Contact, "email", "k", T0), default);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await index.FindAsync("email", "ses-1", Cancelled()));
    }

    /// <summary>Bad input names what was wrong.</summary>
    [SkippableFact]
    public async Task Bad_input_is_rejected()
    {
        var index = await NewStoreAsync();
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await index.RecordAsync(" ", new ProviderMessage(Contact, "email", "k", T0), default));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await index.RecordAsync("id", null!, default));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await index.FindAsync(null!, "id", default));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await index.FindAsync("email", null!, default));
    }
}
