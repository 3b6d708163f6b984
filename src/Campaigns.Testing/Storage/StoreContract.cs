using System.Text.Json;
using Campaigns.Storage;
using NodaTime;
using Xunit;

namespace Campaigns.Testing.Storage;

/// <summary>
/// The base of the store contract suite: one abstract xUnit test class per store interface (e.g.
/// <see cref="ContactStoreContract"/>). Derive a class per implementation, return a fresh, empty, isolated store from
/// <see cref="CreateStoreAsync"/> and, for durable stores, a second instance on the same data from
/// <see cref="CreateSecondInstanceAsync"/> (another connection pool or process view), and every check runs against
/// your store. The checks are provider-neutral: the in-memory stores, SQLite and PostgreSQL all pass the same suite.
/// </summary>
/// <remarks>
/// xUnit creates one instance of the test class per test, and <see cref="CreateStoreAsync"/> is called once per test
/// (before any <see cref="CreateSecondInstanceAsync"/>), so a derived class may keep per-test state such as a temporary
/// database file in fields, and clean it up in <see cref="DisposeAsync"/>. Stores that are <see cref="IDisposable"/> or
/// <see cref="IAsyncDisposable"/> are disposed after each test. Not thread-safe (xUnit runs one test per instance).
/// </remarks>
/// <typeparam name="TStore">The store interface.</typeparam>
public abstract class StoreContract<TStore> : IAsyncLifetime
    where TStore : class
{
    private readonly List<object> _created = [];

    /// <summary>Gets the instant the checks start at (2026-05-01T00:00:00Z).</summary>
    protected static Instant T0 { get; } = Instant.FromUtc(2026, 5, 1, 0, 0);

    /// <summary>Gets why the suite cannot run here (e.g. no database server configured), or null to run; when set, every check is skipped with it.</summary>
    protected virtual string? SkipReason => null;

    /// <summary>Creates a fresh, empty store that no other test sees.</summary>
    /// <returns>The store.</returns>
    protected abstract ValueTask<TStore> CreateStoreAsync();

    /// <summary>
    /// Creates a second instance of the store on the same data as <paramref name="first"/>, as another host would see it
    /// (for durable stores: a new instance with its own connections). The default returns <paramref name="first"/> itself
    /// (in-memory stores cannot share data between instances), which still checks concurrency within one instance.
    /// </summary>
    /// <param name="first">The store from <see cref="CreateStoreAsync"/>.</param>
    /// <returns>The second instance.</returns>
    protected virtual ValueTask<TStore> CreateSecondInstanceAsync(TStore first) => ValueTask.FromResult(first);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var created in _created.Distinct())
        {
            switch (created)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        _created.Clear();
    }

    /// <summary>Skips the check when <see cref="SkipReason"/> is set, else creates the store under test.</summary>
    /// <returns>The store.</returns>
    protected async Task<TStore> NewStoreAsync()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var store = await CreateStoreAsync().ConfigureAwait(false);
        _created.Add(store);
        return store;
    }

    /// <summary>Creates the second instance on the same data (see <see cref="CreateSecondInstanceAsync"/>).</summary>
    /// <param name="first">The first instance.</param>
    /// <returns>The second instance.</returns>
    protected async Task<TStore> SecondInstanceAsync(TStore first)
    {
        var second = await CreateSecondInstanceAsync(first).ConfigureAwait(false);
        _created.Add(second);
        return second;
    }

    /// <summary>A token that is already cancelled.</summary>
    /// <returns>The token.</returns>
    protected static CancellationToken Cancelled() => new(canceled: true);

    /// <summary>Asserts two values serialize to the same stored JSON (deep equality of records with lists and maps).</summary>
    /// <typeparam name="T">The type.</typeparam>
    /// <param name="expected">The expected value.</param>
    /// <param name="actual">The actual value.</param>
    protected static void AssertSameDocument<T>(T expected, T? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(JsonSerializer.Serialize(expected, StorageJson.Options), JsonSerializer.Serialize(actual, StorageJson.Options));
    }
}
