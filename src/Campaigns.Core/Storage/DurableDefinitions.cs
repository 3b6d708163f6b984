using System.Globalization;
using System.Text.Json;
using Campaigns.Journeys;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NodaTime;

namespace Campaigns.Storage;

/// <summary>Settings of the durable definitions (section <c>Campaigns:Definitions</c>).</summary>
public sealed class DefinitionsOptions
{
    /// <summary>
    /// How often the change stamp of the <see cref="IDefinitionStore"/> is read to pick up other instances' changes
    /// (default 5 s). A change made on one instance is applied on the others within this interval plus one reload.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    internal static void Validate(DefinitionsOptions options, string path, List<string> failures)
    {
        if (options.PollInterval <= TimeSpan.Zero)
        {
            failures.Add($"{path}:PollInterval: {options.PollInterval} is not positive.");
        }
    }
}

/// <summary>A stored definition that could not be applied: it does not read, or no longer validates. Immutable.</summary>
/// <param name="Kind">The kind (<see cref="DefinitionKinds"/>).</param>
/// <param name="Id">The id.</param>
/// <param name="Version">The stored version that failed.</param>
/// <param name="Field">The field at fault (a JSON path, a rule field, a journey node), or <c>$</c> for the whole document.</param>
/// <param name="Message">What is wrong.</param>
public sealed record DefinitionProblem(string Kind, string Id, long Version, string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Kind} '{Id}' (version {Version}), field '{Field}': {Message}");
}

/// <summary>What a load or reload of the stored definitions did. Immutable.</summary>
/// <param name="Stamp">The store's change stamp the load saw.</param>
/// <param name="Applied">Definitions applied (new or changed since the last load).</param>
/// <param name="Removed">Tag models and live segments removed because they were deleted in the store.</param>
/// <param name="Problems">The stored definitions that could not be applied (all of them, not only new ones).</param>
public sealed record DefinitionLoadReport(long Stamp, int Applied, int Removed, IReadOnlyList<DefinitionProblem> Problems);

/// <summary>
/// Makes the definitions of a host durable and shared between instances: tag models (<see cref="ITagCatalog"/>), live
/// segments (<see cref="SegmentRegistry"/>), published journeys and their state (<see cref="JourneyCatalog"/>) and the
/// scoring model (<see cref="IScoringModelStore"/>) are kept in the <see cref="IDefinitionStore"/>. Write through the
/// async methods here (they validate, store, then apply locally); at start the hosted service loads what the store holds
/// and then polls its change stamp every <see cref="DefinitionsOptions.PollInterval"/> to apply other instances' changes.
/// </summary>
/// <remarks>
/// <para>
/// Writes use optimistic concurrency: each write expects the version this instance last saw of that definition, so a
/// write over another instance's change not yet polled throws <see cref="ConcurrencyException"/> and changes nothing
/// (call <see cref="PollAsync"/> and decide again). Writing what is stored already changes nothing, so a host may
/// define the same things at every start.
/// </para>
/// <para>
/// A stored definition that does not read or no longer validates (e.g. an attribute removed from the schema) is
/// reported in <see cref="Problems"/> and logged as an error naming kind, id and field; it does not stop the others from
/// loading, and the instance keeps the previous version it had of it (none after a restart). Writing a valid version
/// over it clears the problem.
/// </para>
/// <para>
/// Journey state changes (pause, resume, cancel, alerts) are made synchronously on the catalog and persisted right after
/// in the background (last writer wins for the state; the stored definition is kept). Tag models and live segments can
/// be removed (<see cref="RemoveTagModelAsync"/>, <see cref="RemoveSegmentAsync"/>); journeys cannot be unpublished
/// (cancel them: the definition stays so that runs in flight can still be read).
/// Definitions written to the catalogs directly (not through this class) stay local to the instance.
/// </para>
/// <para>Thread-safe: loads and writes of one instance are serialized.</para>
/// </remarks>
public sealed class DurableDefinitions : IDisposable
{
    /// <summary>The id of the scoring model's document.</summary>
    public const string ScoringModelId = "current";

    [ThreadStatic]
    private static bool t_applying;

    private readonly IDefinitionStore _store;
    private readonly ITagCatalog _tags;
    private readonly SegmentRegistry _segments;
    private readonly JourneyCatalog _journeys;
    private readonly IScoringModelStore _scoring;
    private readonly IClock _clock;
    private readonly FilterContext _context;
    private readonly JourneyValidationContext _journeyContext;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(string Kind, string Id), long> _applied = [];
    private readonly Dictionary<(string Kind, string Id), DefinitionProblem> _problems = [];
    private readonly Dictionary<string, JourneyState> _pendingStates = new(StringComparer.Ordinal);
    private readonly Lock _pendingGate = new();
    private long _stamp = -1;
    private long _nextPollTicks = long.MinValue;
    private DefinitionProblem[] _problemList = [];

    /// <summary>Creates the durable definitions over the host's catalogs (usually resolved from DI).</summary>
    /// <param name="store">The definition store.</param>
    /// <param name="tags">The tag catalog.</param>
    /// <param name="segments">The live segment registry.</param>
    /// <param name="journeys">The journey catalog.</param>
    /// <param name="scoring">The scoring model store.</param>
    /// <param name="clock">The clock (versions' timestamps, journeys' publish instant, polling).</param>
    /// <param name="context">The attribute schema and event kinds rules and segments are validated against.</param>
    /// <param name="journeyContext">What journeys are validated against (channels, templates).</param>
    /// <param name="pollInterval">How often <see cref="PollIfDueAsync"/> polls; positive.</param>
    /// <param name="logger">A logger, or null.</param>
    public DurableDefinitions(
        IDefinitionStore store,
        ITagCatalog tags,
        SegmentRegistry segments,
        JourneyCatalog journeys,
        IScoringModelStore scoring,
        IClock clock,
        FilterContext context,
        JourneyValidationContext journeyContext,
        Duration pollInterval,
        ILogger<DurableDefinitions>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(tags);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(journeys);
        ArgumentNullException.ThrowIfNull(scoring);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(journeyContext);
        if (pollInterval <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(pollInterval), pollInterval, "Campaigns:Definitions:PollInterval must be positive.");
        }

        _store = store;
        _tags = tags;
        _segments = segments;
        _journeys = journeys;
        _scoring = scoring;
        _clock = clock;
        _context = context;
        _journeyContext = journeyContext;
        PollInterval = pollInterval;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _journeys.StateChanged += OnJourneyStateChanged;
    }

    /// <summary>Stops following the journey catalog's state changes and releases the write gate.</summary>
    public void Dispose()
    {
        _journeys.StateChanged -= OnJourneyStateChanged;
        _gate.Dispose();
    }

    /// <summary>Gets how often <see cref="PollIfDueAsync"/> polls.</summary>
    public Duration PollInterval { get; }

    /// <summary>Gets the stored definitions that could not be applied at the last load or poll (a copy).</summary>
    public IReadOnlyList<DefinitionProblem> Problems => Volatile.Read(ref _problemList);

    /// <summary>Gets whether the stored definitions were loaded (by the hosted service at start, or by a first write).</summary>
    public bool IsLoaded => Interlocked.Read(ref _stamp) >= 0;

    /// <summary>
    /// Loads the stored definitions into the catalogs: new or changed ones are applied (tag models, then segments in
    /// reference order, then journeys with their state, then the scoring model), tag models deleted in the store are
    /// removed. One that fails is reported, not thrown.
    /// </summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The report.</returns>
    public async Task<DefinitionLoadReport> LoadAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Persists pending journey state changes, then reloads when the store's change stamp moved since the last load.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether it reloaded.</returns>
    public async Task<bool> PollAsync(CancellationToken cancellationToken = default)
    {
        await FlushJourneyStatesAsync(cancellationToken).ConfigureAwait(false);
        if (await _store.GetStampAsync(cancellationToken).ConfigureAwait(false) == Interlocked.Read(ref _stamp))
        {
            return false;
        }

        await LoadAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Polls (<see cref="PollAsync"/>) when <see cref="PollInterval"/> has passed on the clock since the last poll by this method.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether it reloaded.</returns>
    public async Task<bool> PollIfDueAsync(CancellationToken cancellationToken = default)
    {
        var now = _clock.GetCurrentInstant().ToUnixTimeTicks();
        if (now < Interlocked.Read(ref _nextPollTicks))
        {
            return false;
        }

        Interlocked.Exchange(ref _nextPollTicks, now + PollInterval.BclCompatibleTicks);
        return await PollAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates a tag model, stores it, then sets it on the tag catalog.</summary>
    /// <param name="model">The model.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stored definition.</returns>
    /// <exception cref="RuleDefinitionException">The model is invalid; nothing was stored.</exception>
    /// <exception cref="ConcurrencyException">Another instance changed it since this one last saw it; nothing changed.</exception>
    public async ValueTask<StoredDefinition> SetTagModelAsync(TagModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Id, "model.Id");
        (_tags as TagCatalog)?.Validate(model);
        return await WriteAsync(DefinitionKinds.TagModel, model.Id, StorageJson.Serialize(model), () => _tags.SetModel(model), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a tag model from the store and removes it from the catalog.</summary>
    /// <param name="modelId">The model's id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether the catalog or the store had it.</returns>
    /// <exception cref="ConcurrencyException">Another instance changed it since this one last saw it; nothing changed.</exception>
    public async ValueTask<bool> RemoveTagModelAsync(string modelId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = (DefinitionKinds.TagModel, modelId);
            var stored = false;
            if (_applied.TryGetValue(key, out var version))
            {
                stored = await _store.DeleteAsync(DefinitionKinds.TagModel, modelId, version, cancellationToken).ConfigureAwait(false);
                _applied.Remove(key);
                _problems.Remove(key);
                PublishProblems();
            }

            return _tags.RemoveModel(modelId) | stored;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Validates a live segment (against the schema and the segments defined), stores it, then defines it on the registry (evaluated at the clock's now).</summary>
    /// <param name="definition">The definition.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stored definition.</returns>
    /// <exception cref="FilterException">The filter does not validate; nothing was stored.</exception>
    /// <exception cref="ConcurrencyException">Another instance changed it since this one last saw it; nothing changed.</exception>
    public async ValueTask<StoredDefinition> DefineSegmentAsync(SegmentDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentException.ThrowIfNullOrWhiteSpace(definition.Id, "definition.Id");
        ValidateSegment(definition);
        return await WriteAsync(
            DefinitionKinds.Segment,
            definition.Id,
            StorageJson.Serialize(definition),
            () => _segments.Define(definition, _clock.GetCurrentInstant()),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes a live segment from the store and drops it from the registry (<see cref="SegmentRegistry.Drop"/>); other
    /// instances drop it at their next poll.
    /// </summary>
    /// <param name="segmentId">The segment's id.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Whether the registry or the store had it.</returns>
    /// <exception cref="InvalidOperationException">Another live segment refers to it (<c>in_segment</c>); the message names them. Nothing changed.</exception>
    /// <exception cref="ConcurrencyException">Another instance changed it since this one last saw it; nothing changed.</exception>
    public async ValueTask<bool> RemoveSegmentAsync(string segmentId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(segmentId);
        await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _segments.ThrowIfReferenced(segmentId); // before the store: a refused removal changes nothing
            var key = (DefinitionKinds.Segment, segmentId);
            var stored = false;
            if (_applied.TryGetValue(key, out var version))
            {
                stored = await _store.DeleteAsync(DefinitionKinds.Segment, segmentId, version, cancellationToken).ConfigureAwait(false);
                _applied.Remove(key);
                _problems.Remove(key);
                PublishProblems();
            }

            return _segments.Drop(segmentId) | stored;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Validates a journey, stores it (with its current state, Active when new), then publishes it on the catalog.</summary>
    /// <param name="definition">The journey.</param>
    /// <param name="context">What it is validated against, or null for the host's channels and templates.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stored definition.</returns>
    /// <exception cref="JourneyValidationException">The journey is not valid; nothing was stored.</exception>
    /// <exception cref="ConcurrencyException">Another instance changed it since this one last saw it; nothing changed.</exception>
    public async ValueTask<StoredDefinition> PublishJourneyAsync(JourneyDefinition definition, JourneyValidationContext? context = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentException.ThrowIfNullOrWhiteSpace(definition.Id, "definition.Id");
        var validation = context ?? _journeyContext;
        JourneyValidator.Validate(definition, validation).ThrowIfInvalid();
        var state = _journeys.GetState(definition.Id) ?? JourneyState.Active;
        return await WriteAsync(
            DefinitionKinds.Journey,
            definition.Id,
            JourneyDocument(definition, state),
            () => _journeys.Publish(definition, validation, _clock.GetCurrentInstant()),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates the scoring model, stores it, then replaces the current one.</summary>
    /// <param name="model">The model.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The stored definition.</returns>
    /// <exception cref="RuleDefinitionException">The model is invalid; nothing was stored.</exception>
    /// <exception cref="ConcurrencyException">Another instance replaced it since this one last saw it; nothing changed.</exception>
    public async ValueTask<StoredDefinition> ReplaceScoringModelAsync(ScoringModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ScoringModelValidator.ThrowIfInvalid(model, _context);
        return await WriteAsync(DefinitionKinds.ScoringModel, ScoringModelId, StorageJson.Serialize(model), () => _scoring.Replace(model), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores the journey state changes made on the catalog since the last flush (the poll and the hosted service's stop do it too).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Completes when stored.</returns>
    public async Task FlushJourneyStatesAsync(CancellationToken cancellationToken = default)
    {
        // The gate first: a flush already writing (the background one) completes before this one returns.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            KeyValuePair<string, JourneyState>[] pending;
            lock (_pendingGate)
            {
                pending = [.. _pendingStates];
                _pendingStates.Clear();
            }

            for (var i = 0; i < pending.Length; i++)
            {
                var (id, state) = pending[i];
                var key = (DefinitionKinds.Journey, id);
                if (_journeys.Find(id) is not { } definition || !_applied.TryGetValue(key, out var version))
                {
                    continue; // Published on the catalog directly: not durable, its state neither.
                }

                var now = _clock.GetCurrentInstant();
                try
                {
                    var stored = await _store.PutAsync(DefinitionKinds.Journey, id, JourneyDocument(definition, state), version, now, cancellationToken).ConfigureAwait(false);
                    _applied[key] = stored.Version;
                }
                catch (ConcurrencyException)
                {
                    // Another instance changed the journey: keep its definition, set the state; the next poll applies its definition here.
                    if (await _store.GetAsync(DefinitionKinds.Journey, id, cancellationToken).ConfigureAwait(false) is { } current)
                    {
                        var (theirs, _) = ReadJourney(current.Document);
                        await _store.PutAsync(DefinitionKinds.Journey, id, JourneyDocument(theirs, state), current.Version, now, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch
                {
                    // The store failed: keep this and the remaining changes for the next flush (a newer change made meanwhile wins).
                    lock (_pendingGate)
                    {
                        foreach (var (laterId, laterState) in pending.Skip(i))
                        {
                            _pendingStates.TryAdd(laterId, laterState);
                        }
                    }

                    throw;
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void OnJourneyStateChanged(string journeyId, JourneyState state)
    {
        if (t_applying)
        {
            return;
        }

        lock (_pendingGate)
        {
            _pendingStates[journeyId] = state;
        }

        _ = FlushInBackgroundAsync();
    }

    private async Task FlushInBackgroundAsync()
    {
        try
        {
            await Task.Yield();
            await FlushJourneyStatesAsync(CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A background write: logged; the next poll or the stop flushes again.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_logger.IsEnabled(LogLevel.Error))
            {
                _logger.LogError(ex, "Storing journey state changes failed; they are kept and stored at the next poll.");
            }
        }
    }

    private async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (!IsLoaded)
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<StoredDefinition> WriteAsync(string kind, string id, string document, Action apply, CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = (kind, id);
            var stored = await _store.PutAsync(kind, id, document, _applied.GetValueOrDefault(key), _clock.GetCurrentInstant(), cancellationToken).ConfigureAwait(false);
            apply();
            _applied[key] = stored.Version;
            if (_problems.Remove(key))
            {
                PublishProblems();
            }

            return stored;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<DefinitionLoadReport> LoadCoreAsync(CancellationToken cancellationToken)
    {
        // The stamp first: a change made during the load moves it again, so the next poll loads again.
        var stamp = await _store.GetStampAsync(cancellationToken).ConfigureAwait(false);
        var applied = 0;
        var removed = 0;

        var tagModels = await _store.ListAsync(DefinitionKinds.TagModel, cancellationToken).ConfigureAwait(false);
        foreach (var stored in tagModels.Where(IsNew))
        {
            applied += Apply(stored, () =>
            {
                var model = Read<TagModel>(stored);
                _tags.SetModel(model);
            });
        }

        var tagIds = tagModels.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _applied.Keys.Where(k => k.Kind == DefinitionKinds.TagModel && !tagIds.Contains(k.Id)).ToList())
        {
            _tags.RemoveModel(key.Id);
            _applied.Remove(key);
            _problems.Remove(key);
            removed++;
        }

        var segments = await _store.ListAsync(DefinitionKinds.Segment, cancellationToken).ConfigureAwait(false);
        applied += ApplySegments(segments);
        removed += DropDeletedSegments(segments);

        foreach (var stored in (await _store.ListAsync(DefinitionKinds.Journey, cancellationToken).ConfigureAwait(false)).Where(IsNew))
        {
            applied += Apply(stored, () =>
            {
                var (definition, state) = ReadJourney(stored.Document);
                RequireSameId(stored, definition.Id);
                JourneyValidator.Validate(definition, _journeyContext).ThrowIfInvalid();
                _journeys.Publish(definition, _journeyContext, _clock.GetCurrentInstant());
                if (_journeys.GetState(definition.Id) != state)
                {
                    t_applying = true;
                    try
                    {
                        _journeys.SetState(definition.Id, state);
                    }
                    finally
                    {
                        t_applying = false;
                    }
                }
            });
        }

        if (await _store.GetAsync(DefinitionKinds.ScoringModel, ScoringModelId, cancellationToken).ConfigureAwait(false) is { } scoring && IsNew(scoring))
        {
            applied += Apply(scoring, () => _scoring.Replace(Read<ScoringModel>(scoring)));
        }

        Interlocked.Exchange(ref _stamp, stamp);
        PublishProblems();
        var report = new DefinitionLoadReport(stamp, applied, removed, Problems);
        if (_logger.IsEnabled(LogLevel.Information) && (applied > 0 || removed > 0))
        {
            _logger.LogInformation("Definitions loaded at stamp {Stamp}: {Applied} applied, {Removed} removed, {Problems} not applicable.", stamp, applied, removed, report.Problems.Count);
        }

        return report;
    }

    /// <summary>Segments may reference each other: applied in passes until no more can be (a reference to a segment not yet defined waits for the next pass).</summary>
    private int ApplySegments(IReadOnlyList<StoredDefinition> all)
    {
        var pending = all.Where(IsNew).ToList();
        var applied = 0;
        var failures = new Dictionary<StoredDefinition, Exception>();
        bool progress;
        do
        {
            progress = false;
            foreach (var stored in pending.ToList())
            {
                try
                {
                    var definition = Read<SegmentDefinition>(stored);
                    RequireSameId(stored, definition.Id);
                    ValidateSegment(definition);
                    _segments.Define(definition, _clock.GetCurrentInstant());
                    Applied(stored);
                    pending.Remove(stored);
                    failures.Remove(stored);
                    applied++;
                    progress = true;
                }
                catch (Exception ex) when (IsDefinitionError(ex))
                {
                    failures[stored] = ex;
                }
            }
        }
        while (progress && pending.Count > 0);

        foreach (var (stored, ex) in failures)
        {
            Failed(stored, ex);
        }

        return applied;
    }

    /// <summary>Drops the live segments deleted in the store; a referrer goes before what it refers to (passes until no progress).</summary>
    private int DropDeletedSegments(IReadOnlyList<StoredDefinition> stored)
    {
        var ids = stored.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var gone = _applied.Keys.Where(k => k.Kind == DefinitionKinds.Segment && !ids.Contains(k.Id)).ToList();
        var removed = 0;
        bool progress;
        do
        {
            progress = false;
            foreach (var key in gone.ToList())
            {
                try
                {
                    _segments.Drop(key.Id);
                }
                catch (InvalidOperationException)
                {
                    // Still referred to by a segment deleted later in this pass, or by one still stored (which then
                    // no longer validates where it is loaded fresh): try again after the others.
                    continue;
                }

                _applied.Remove(key);
                _problems.Remove(key);
                gone.Remove(key);
                removed++;
                progress = true;
            }
        }
        while (progress && gone.Count > 0);

        foreach (var key in gone)
        {
            _logger.LogWarning("The segment {SegmentId} was deleted in the store but is still referred to by a live segment; it stays live on this instance.", key.Id);
        }

        return removed;
    }

    private void ValidateSegment(SegmentDefinition definition) =>
        FilterValidator.ThrowIfInvalid(definition.Filter, _context with { Segments = new RegistryResolver(_segments, definition) }, definition.Id);

    private bool IsNew(StoredDefinition stored) =>
        !_applied.TryGetValue((stored.Kind, stored.Id), out var version) || version != stored.Version;

    private int Apply(StoredDefinition stored, Action apply)
    {
        try
        {
            apply();
            Applied(stored);
            return 1;
        }
        catch (Exception ex) when (IsDefinitionError(ex))
        {
            Failed(stored, ex);
            return 0;
        }
    }

    private void Applied(StoredDefinition stored)
    {
        _applied[(stored.Kind, stored.Id)] = stored.Version;
        _problems.Remove((stored.Kind, stored.Id));
    }

    /// <summary>Recorded as seen at this version (a later write from here expects it), kept out of the catalog, reported.</summary>
    private void Failed(StoredDefinition stored, Exception ex)
    {
        var (field, message) = Describe(ex);
        var problem = new DefinitionProblem(stored.Kind, stored.Id, stored.Version, field, message);
        _applied[(stored.Kind, stored.Id)] = stored.Version;
        _problems[(stored.Kind, stored.Id)] = problem;
        if (_logger.IsEnabled(LogLevel.Error))
        {
            _logger.LogError(ex, "The stored definition {Problem} cannot be applied; the other definitions were loaded.", problem.ToString());
        }
    }

    private void PublishProblems() =>
        Volatile.Write(ref _problemList, [.. _problems.Values.OrderBy(p => p.Kind, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal)]);

    private static bool IsDefinitionError(Exception ex) =>
        ex is JsonException or RuleDefinitionException or FilterException or JourneyValidationException or ArgumentException or InvalidOperationException or KeyNotFoundException or FormatException;

    private static (string Field, string Message) Describe(Exception ex) => ex switch
    {
        JsonException json => (json.Path ?? "$", json.Message),
        RuleDefinitionException rule => (rule.Field, rule.Message),
        FilterException filter => (filter.Error.Path, filter.Message),
        JourneyValidationException journey => (journey.Result.Errors.Count > 0 && journey.Result.Errors[0].NodeId is { } node ? $"nodes['{node}']" : "$", journey.Message),
        ArgumentException argument => (argument.ParamName ?? "$", argument.Message),
        _ => ("$", ex.Message),
    };

    private static T Read<T>(StoredDefinition stored)
    {
        try
        {
            return StorageJson.Deserialize<T>(stored.Document);
        }
        catch (NotSupportedException ex)
        {
            // System.Text.Json reports shapes it cannot read (e.g. an unknown filter type) this way; the path is in the message.
            var path = System.Text.RegularExpressions.Regex.Match(ex.Message, @"Path: (\$[^ |]*)") is { Success: true } m ? m.Groups[1].Value : "$";
            throw new JsonException(ex.Message, path, null, null, ex);
        }
    }

    private static void RequireSameId(StoredDefinition stored, string? id)
    {
        if (!string.Equals(stored.Id, id, StringComparison.Ordinal))
        {
            throw new RuleDefinitionException("id", id, $"Field 'id': '{id}' differs from the id '{stored.Id}' it is stored under.");
        }
    }

    private static string JourneyDocument(JourneyDefinition definition, JourneyState state) =>
        "{\"state\":\"" + state.ToString() + "\",\"definition\":" + JourneyJson.Serialize(definition) + "}";

    private static (JourneyDefinition Definition, JourneyState State) ReadJourney(string document)
    {
        using var json = JsonDocument.Parse(document);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("definition", out var definition) || !root.TryGetProperty("state", out var stateText))
        {
            throw new JsonException("A stored journey is an object with 'state' and 'definition'.", "$", null, null);
        }

        if (!Enum.TryParse<JourneyState>(stateText.GetString(), ignoreCase: false, out var state) || !Enum.IsDefined(state))
        {
            throw new JsonException($"'{stateText}' is not a journey state (Active, Paused, Cancelled).", "$.state", null, null);
        }

        return (JourneyJson.Deserialize(definition.GetRawText()), state);
    }

    /// <summary>The registry's live segments plus the one being validated.</summary>
    private sealed class RegistryResolver(SegmentRegistry registry, SegmentDefinition candidate) : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) =>
            segmentId == candidate.Id ? candidate
            : registry.SegmentIds.Contains(segmentId, StringComparer.Ordinal) ? registry.Definition(segmentId)
            : null;
    }
}

/// <summary>
/// Loads the stored definitions when the host starts (the start waits for it; problems are logged and do not stop the
/// host) and then polls for other instances' changes every <see cref="DefinitionsOptions.PollInterval"/>; stores the
/// pending journey state changes when the host stops. Registered by <c>AddDurableDefinitions()</c> and by the storage
/// packages.
/// </summary>
internal sealed class DurableDefinitionsService(DurableDefinitions definitions, TimeProvider time, ILogger<DurableDefinitionsService>? logger = null) : IHostedService, IDisposable
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var report = await definitions.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (report.Problems.Count > 0 && _logger.IsEnabled(LogLevel.Warning))
        {
            _logger.LogWarning("{Count} stored definitions could not be applied: {Problems}", report.Problems.Count, string.Join("; ", report.Problems));
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        await definitions.FlushJourneyStatesAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken stopping)
    {
        var interval = definitions.PollInterval.ToTimeSpan();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stopping).ConfigureAwait(false);
                await definitions.PollIfDueAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The poll loop survives a store outage: logged, retried at the next interval.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (_logger.IsEnabled(LogLevel.Error))
                {
                    _logger.LogError(ex, "Polling the definition store failed; retrying in {PollInterval}.", interval);
                }
            }
        }
    }
}
