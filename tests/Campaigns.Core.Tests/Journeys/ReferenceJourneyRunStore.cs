using System.Runtime.CompilerServices;
using Campaigns.Journeys;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>
/// The previous (record-per-run, SortedSet) in-memory store, kept as the oracle of the compact one: the latest run per (journey, contact) and one timer per active run,
/// ordered by due instant. Thread-safe (one lock); lost on restart — share one instance between runners to simulate a
/// restart in tests, use the storage packages in production.
/// </summary>
internal sealed class ReferenceJourneyRunStore : IJourneyRunStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string, ContactId), JourneyRun> _runs = [];
    private readonly Dictionary<(string, ContactId), TimerRow> _timers = [];
    private readonly SortedSet<(Instant Due, long Seq, string Journey, ContactId Contact)> _due = new(Comparer<(Instant Due, long Seq, string Journey, ContactId Contact)>.Create(static (a, b) => a.Due != b.Due ? a.Due.CompareTo(b.Due) : a.Seq.CompareTo(b.Seq)));
    private long _sequence;

    /// <summary>The number of pending timers.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_runs.GetValueOrDefault((journeyId, contactId)));
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (_gate)
        {
            var key = (run.JourneyId, run.ContactId);
            if (_runs.TryGetValue(key, out var existing) && (!existing.IsEnded || existing.RunNumber >= run.RunNumber))
            {
                return ValueTask.FromResult<JourneyRun?>(null);
            }

            var stored = run with { Version = 1 };
            _runs[key] = stored;
            SetTimer(key, stored);
            return ValueTask.FromResult<JourneyRun?>(stored);
        }
    }

    /// <inheritdoc />
    public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (_gate)
        {
            var key = (run.JourneyId, run.ContactId);
            if (!_runs.TryGetValue(key, out var existing) || existing.Version != expectedVersion || existing.RunNumber != run.RunNumber)
            {
                return ValueTask.FromResult<JourneyRun?>(null);
            }

            var stored = run with { Version = expectedVersion + 1 };
            _runs[key] = stored;
            SetTimer(key, stored);
            return ValueTask.FromResult<JourneyRun?>(stored);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(excludedJourneys);
        var claimed = new List<JourneyTimer>(Math.Min(batchSize, 256));
        lock (_gate)
        {
            var moved = new List<((Instant, long, string, ContactId) Old, TimerRow Row)>();
            foreach (var entry in _due)
            {
                if (entry.Due > now || claimed.Count == batchSize)
                {
                    break;
                }

                if (excludedJourneys.Contains(entry.Journey))
                {
                    continue;
                }

                var row = _timers[(entry.Journey, entry.Contact)];
                claimed.Add(new JourneyTimer(entry.Journey, entry.Contact, row.RunNumber, row.DueAt, row.RunVersion));
                moved.Add((entry, row));
            }

            // A claimed timer is leased: it is ordered by its lease expiry, so it comes back only if the host dies.
            foreach (var (old, row) in moved)
            {
                _due.Remove(old);
                var leased = row with { LeaseUntil = now + lease, Seq = ++_sequence };
                _timers[(old.Item3, old.Item4)] = leased;
                _due.Add((leased.LeaseUntil.Value, leased.Seq, old.Item3, old.Item4));
            }
        }

        return ValueTask.FromResult<IReadOnlyList<JourneyTimer>>(claimed);
    }

    /// <inheritdoc />
    public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<Instant?>(_due.Count == 0 ? null : _due.Min.Due);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        List<JourneyRun> runs;
        lock (_gate)
        {
            runs = [.. _runs.Values.Where(r => string.Equals(r.JourneyId, journeyId, StringComparison.Ordinal))];
        }

        foreach (var run in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return run;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private void SetTimer((string, ContactId) key, JourneyRun run)
    {
        if (_timers.Remove(key, out var old))
        {
            _due.Remove((old.LeaseUntil ?? old.DueAt, old.Seq, key.Item1, key.Item2));
        }

        if (run.Status == JourneyRunStatus.Active && run.DueAt is { } due)
        {
            var row = new TimerRow(run.RunNumber, due, run.Version, null, ++_sequence);
            _timers[key] = row;
            _due.Add((due, row.Seq, key.Item1, key.Item2));
        }
    }

    private sealed record TimerRow(int RunNumber, Instant DueAt, long RunVersion, Instant? LeaseUntil, long Seq);
}
