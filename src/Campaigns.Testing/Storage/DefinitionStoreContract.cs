using Campaigns.Storage;
using NodaTime;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences; they show in the integrator's test runner.
#pragma warning disable CA2007 // Test bodies keep xUnit's context (xUnit1030 advises against ConfigureAwait(false) in tests).

namespace Campaigns.Testing.Storage;

/// <summary>
/// The contract of <see cref="IDefinitionStore"/>: put, get and list by kind (also by a second instance), versions
/// that grow only when the document changes, a change stamp that grows with every change, optimistic concurrency
/// (a stale put or delete throws <see cref="ConcurrencyException"/> and changes nothing; of two concurrent writers
/// expecting the same version exactly one wins), and bad input refused.
/// </summary>
public abstract class DefinitionStoreContract : StoreContract<IDefinitionStore>
{
    /// <summary>A put creates version 1; both instances get it; a list returns one kind, ordered by id.</summary>
    [SkippableFact]
    public async Task Definitions_are_put_got_and_listed_by_kind()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var created = await store.PutAsync("segment", "vip", """{"id":"vip","name":"VIP"}""", 0, T0, default);
        Assert.Equal(new StoredDefinition("segment", "vip", """{"id":"vip","name":"VIP"}""", 1, T0), created);
        await other.PutAsync("segment", "active", """{"id":"active"}""", null, T0 + Duration.FromSeconds(1), default);
        await store.PutAsync("tag-model", "vip", """{"id":"vip","tags":[]}""", null, T0, default);

        Assert.Equal(created, await other.GetAsync("segment", "vip", default));
        Assert.Null(await other.GetAsync("segment", "nothing", default));
        Assert.Null(await other.GetAsync("journey", "vip", default));
        Assert.Equal(["active", "vip"], (await store.ListAsync("segment", default)).Select(d => d.Id));
        Assert.Equal(["vip"], (await other.ListAsync("tag-model", default)).Select(d => d.Id));
        Assert.Empty(await other.ListAsync("journey", default));
    }

    /// <summary>Putting the stored document again changes nothing (version, stamp); another document makes the next version and moves the stamp.</summary>
    [SkippableFact]
    public async Task Versions_and_the_stamp_grow_only_with_changes()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        var stamp0 = await store.GetStampAsync(default);
        var v1 = await store.PutAsync("journey", "welcome", """{"v":1}""", null, T0, default);
        var stamp1 = await other.GetStampAsync(default);
        Assert.True(stamp1 > stamp0);

        var same = await other.PutAsync("journey", "welcome", """{"v":1}""", null, T0 + Duration.FromHours(1), default);
        Assert.Equal(v1, same);
        Assert.Equal(stamp1, await store.GetStampAsync(default));

        var v2 = await other.PutAsync("journey", "welcome", """{"v":2}""", 1, T0 + Duration.FromHours(2), default);
        Assert.Equal((2L, T0 + Duration.FromHours(2)), (v2.Version, v2.UpdatedAt));
        Assert.Equal(v2, await store.GetAsync("journey", "welcome", default));
        Assert.True(await store.GetStampAsync(default) > stamp1);
    }

    /// <summary>A put or delete expecting another version throws a <see cref="ConcurrencyException"/> naming both versions and changes nothing.</summary>
    [SkippableFact]
    public async Task A_stale_write_throws_and_changes_nothing()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.PutAsync("tag-model", "m", """{"v":1}""", 0, T0, default);
        await other.PutAsync("tag-model", "m", """{"v":2}""", 1, T0, default);
        var stamp = await store.GetStampAsync(default);

        var stale = await Assert.ThrowsAsync<ConcurrencyException>(async () => await store.PutAsync("tag-model", "m", """{"v":"lost?"}""", 1, T0, default));
        Assert.Equal(("m", 1L, (long?)2L), (stale.EntityId, stale.ExpectedVersion, stale.ActualVersion));
        Assert.Contains("tag-model", stale.EntityKind, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ConcurrencyException>(async () => await store.PutAsync("tag-model", "m", """{"v":"again"}""", 0, T0, default));
        var missing = await Assert.ThrowsAsync<ConcurrencyException>(async () => await store.PutAsync("tag-model", "new", """{}""", 3, T0, default));
        Assert.Null(missing.ActualVersion);
        await Assert.ThrowsAsync<ConcurrencyException>(async () => await other.DeleteAsync("tag-model", "m", 1, default));

        Assert.Equal("""{"v":2}""", (await other.GetAsync("tag-model", "m", default))!.Document);
        Assert.Null(await store.GetAsync("tag-model", "new", default));
        Assert.Equal(stamp, await other.GetStampAsync(default));
    }

    /// <summary>Of writers on two instances expecting the same version, exactly one wins; the others throw.</summary>
    [SkippableFact]
    public async Task Concurrent_writers_expecting_one_version_have_one_winner()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.PutAsync("segment", "s", """{"n":0}""", 0, T0, default);
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                await (i % 2 == 0 ? store : other).PutAsync("segment", "s", $$"""{"n":{{i}}}""", 1, T0, default);
                return true;
            }
            catch (ConcurrencyException)
            {
                return false;
            }
        })));
        Assert.Single(results, won => won);
        Assert.Equal(2, (await store.GetAsync("segment", "s", default))!.Version);
    }

    /// <summary>Delete removes for every instance and moves the stamp; deleting what is not there returns false and does not.</summary>
    [SkippableFact]
    public async Task Delete_removes_and_moves_the_stamp()
    {
        var store = await NewStoreAsync();
        var other = await SecondInstanceAsync(store);
        await store.PutAsync("segment", "a", "{}", null, T0, default);
        var stamp = await store.GetStampAsync(default);
        Assert.True(await other.DeleteAsync("segment", "a", 1, default));
        Assert.Null(await store.GetAsync("segment", "a", default));
        var after = await store.GetStampAsync(default);
        Assert.True(after > stamp);
        Assert.False(await store.DeleteAsync("segment", "a", null, default));
        Assert.Equal(after, await other.GetStampAsync(default));
        var again = await store.PutAsync("segment", "a", "{}", 0, T0, default);
        Assert.Equal(1, again.Version);
    }

    /// <summary>A blank kind or id, a document that is not JSON, a negative expected version and a cancelled token are refused and store nothing.</summary>
    [SkippableFact]
    public async Task Bad_input_is_refused()
    {
        var store = await NewStoreAsync();
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await store.PutAsync(" ", "a", "{}", null, T0, default));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await store.PutAsync("segment", "", "{}", null, T0, default));
        var notJson = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await store.PutAsync("segment", "a", "{not json", null, T0, default));
        Assert.Contains("segment 'a' is not JSON", notJson.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await store.PutAsync("segment", "a", "{}", -1, T0, default));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.PutAsync("segment", "a", "{}", null, T0, Cancelled()));
        Assert.Empty(await store.ListAsync("segment", default));
        Assert.Equal(0, await store.GetStampAsync(default));
    }
}
