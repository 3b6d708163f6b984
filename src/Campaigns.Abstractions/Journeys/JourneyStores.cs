using NodaTime;

namespace Campaigns.Journeys;

/// <summary>Where one contact's run of a journey stands.</summary>
public enum JourneyRunStatus
{
    /// <summary>Running: a step is due (or the run waits for a timer or an event).</summary>
    Active = 0,

    /// <summary>Paused by an operator; no timer is pending until it is resumed.</summary>
    Paused = 1,

    /// <summary>Reached the end of the flow.</summary>
    Completed = 2,

    /// <summary>Left early through an exit condition (goal reached, touch limit, end date, holdout).</summary>
    Exited = 3,

    /// <summary>Cancelled by an operator.</summary>
    Cancelled = 4,
}

/// <summary>
/// One contact's run of one journey: the durable state the runner advances, one row per (journey, contact, run).
/// Immutable; the store compares <see cref="Version"/> on every write (optimistic concurrency).
/// </summary>
public sealed record JourneyRun
{
    /// <summary>The journey's id.</summary>
    public required string JourneyId { get; init; }

    /// <summary>The contact.</summary>
    public required ContactId ContactId { get; init; }

    /// <summary>The run number of this contact in this journey: 1 for the first entry, 2 after a re-entry, ...</summary>
    public required int RunNumber { get; init; }

    /// <summary>Where the run stands.</summary>
    public JourneyRunStatus Status { get; init; }

    /// <summary>The node to execute next (or being waited on); null once the run has ended.</summary>
    public string? NodeId { get; init; }

    /// <summary>
    /// How many steps the run has committed; part of each step's idempotency key, so a node visited twice (a loop
    /// with a wait) gets two keys while the same step executed twice (after a crash) gets one.
    /// </summary>
    public long Step { get; init; }

    /// <summary>How many messages were sent to the contact in this run (the touch count of exit conditions).</summary>
    public int Touches { get; init; }

    /// <summary>Send attempts of the current step that ended in a retryable failure.</summary>
    public int Attempts { get; init; }

    /// <summary>When the contact entered (UTC instant).</summary>
    public required Instant EnteredAt { get; init; }

    /// <summary>When the current node was reached (UTC instant); a wait-for-event counts events from then.</summary>
    public Instant NodeEnteredAt { get; init; }

    /// <summary>When the pending timer is due (UTC instant); kept while paused so that resuming restores it.</summary>
    public Instant? DueAt { get; init; }

    /// <summary>Set while the run waits for an event of this kind (a wait-for-event node).</summary>
    public string? WaitingForEvent { get; init; }

    /// <summary>When the run ended (UTC instant), or null.</summary>
    public Instant? EndedAt { get; init; }

    /// <summary>Why it ended, e.g. <c>completed</c>, <c>goal:purchase</c>, <c>max touches (3)</c>, <c>holdout</c>, <c>cancelled</c>.</summary>
    public string? EndReason { get; init; }

    /// <summary>The row version: 1 once created, incremented by every write.</summary>
    public long Version { get; init; }

    /// <summary>Whether the run has ended (completed, exited or cancelled).</summary>
    public bool IsEnded => Status is JourneyRunStatus.Completed or JourneyRunStatus.Exited or JourneyRunStatus.Cancelled;
}

/// <summary>A pending wake-up of one run: at most one per run, stored with the run (the store is the timer).</summary>
/// <param name="JourneyId">The journey's id.</param>
/// <param name="ContactId">The contact.</param>
/// <param name="RunNumber">The run number.</param>
/// <param name="DueAt">When it is due (UTC instant).</param>
/// <param name="RunVersion">The run's version when the timer was written; a claim whose run moved on is stale.</param>
public readonly record struct JourneyTimer(string JourneyId, ContactId ContactId, int RunNumber, Instant DueAt, long RunVersion);

/// <summary>
/// Stores journey runs and their due timers. A run and its timer are written together, atomically, guarded by the
/// run's version: this is the only way a run advances, so of two hosts racing on the same run exactly one wins.
/// Implementations are storage-neutral (in memory here; SQLite and PostgreSQL in the storage packages) and thread-safe.
/// </summary>
public interface IJourneyRunStore
{
    /// <summary>The contact's latest run of a journey, or null when it never entered.</summary>
    /// <param name="journeyId">The journey's id.</param>
    /// <param name="contactId">The contact.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a run (its <see cref="JourneyRun.Version"/> is set to 1) with its timer at <see cref="JourneyRun.DueAt"/>
    /// when set. Fails (returns null) when the contact already has a run of the journey with the same or a later
    /// run number, or a run that has not ended.
    /// </summary>
    /// <param name="run">The new run.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The stored run, or null when it was not created.</returns>
    ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a run when the stored version is <paramref name="expectedVersion"/>, incrementing the version, and in
    /// the same write sets its timer to <see cref="JourneyRun.DueAt"/> when the run is active (removes it otherwise).
    /// </summary>
    /// <param name="run">The new state.</param>
    /// <param name="expectedVersion">The version read before the change.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The stored run, or null when the version did not match (another writer won; nothing was written).</returns>
    ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims up to <paramref name="batchSize"/> timers due at or before <paramref name="now"/>, earliest first, and
    /// leases them until <paramref name="now"/> + <paramref name="lease"/>: no other claim returns them meanwhile. A
    /// timer whose lease expired (its host died) is claimed again. Timers of <paramref name="excludedJourneys"/> are skipped.
    /// </summary>
    /// <param name="now">The current instant.</param>
    /// <param name="batchSize">At most this many (1 or more).</param>
    /// <param name="lease">How long a claim is held.</param>
    /// <param name="excludedJourneys">Journeys whose timers stay put (paused journeys).</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default);

    /// <summary>The earliest due instant of an unleased timer (the look-ahead read), or null when none is pending.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default);

    /// <summary>The latest runs of a journey (one per contact), in no particular order.</summary>
    /// <param name="journeyId">The journey's id.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, CancellationToken cancellationToken = default);
}
