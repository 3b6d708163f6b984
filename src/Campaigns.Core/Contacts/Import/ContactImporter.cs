using System.Collections.Concurrent;
using System.Threading.Channels;
using Campaigns.Modeling;
using Campaigns.Storage;
using CsvHelper;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// Imports contacts (F-2.3) from CSV (read with CsvHelper) or from programmatic rows, through a
/// <see cref="ContactImportMapping"/>. Cleans as it goes: phones to E.164 (libphonenumber, default region from
/// <see cref="ContactsOptions.DefaultPhoneRegion"/>), e-mails normalized, defaults for empty values (industry →
/// <c>unclassified</c>); dedupes and merges by normalized identity (phone, then e-mail, CRM id, WeChat unionid and
/// openid, WeCom id: the same phone is one contact, every identity kept); flags invalid values instead of dropping
/// them. Streaming in chunks: rows are parsed a chunk (1,000 rows) at a time, the chunk's identities are looked up in one
/// read (<see cref="ContactStoreLookupExtensions.FindManyAsync"/>: one query on the SQLite and PostgreSQL stores), then
/// its rows are merged in order (rows of the chunk that share an identity become one contact) and, on a store with
/// batches (<see cref="IBulkContactStore"/>), committed every <see cref="IBulkContactStore.PreferredWritesPerCommit"/> writes
/// (whole chunks: 4,000 on SQLite, 1,000 on a store whose commits overlap the next rows, such as PostgreSQL); memory does not grow with the
/// input (the store and the capped issue list aside). With <see cref="ContactImportMapping.Pipelined"/>, while one task
/// writes a chunk the caller's flow parses and cleans the next ones (at most 2 waiting); chunks are written one at a time
/// in file order, so counts, issues, merges and progress are those of a sequential import (progress is then reported
/// from the writing task). An exception of
/// the store is rethrown from the import unchanged, with <c>Campaigns.Import.Row</c>, <c>Campaigns.Import.FirstRow</c>,
/// <c>Campaigns.Import.LastRow</c> and <c>Campaigns.Import.CommittedRows</c> (all <see cref="long"/>) in its
/// <see cref="Exception.Data"/>. Thread-safe; concurrent imports and other writers are reconciled through the store's
/// optimistic versions.
/// </summary>
public interface IContactImporter
{
    /// <summary>Imports a CSV stream (UTF-8 unless a byte order mark says otherwise) with a header row. The stream is left open.</summary>
    /// <param name="csv">The CSV input, read sequentially.</param>
    /// <param name="mapping">The field mapping.</param>
    /// <param name="progress">Told the counts every <see cref="ContactImportMapping.ProgressInterval"/> rows and at the end; may be null.</param>
    /// <param name="cancellationToken">Cancels the import; rows already imported stay.</param>
    /// <returns>The report, whose counts add up.</returns>
    /// <exception cref="ContactImportException">The mapping is invalid or a required column is missing; nothing was imported.</exception>
    Task<ImportReport> ImportCsvAsync(Stream csv, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Imports CSV text with a header row. The reader is left open.</summary>
    /// <param name="csv">The CSV text.</param>
    /// <param name="mapping">The field mapping.</param>
    /// <param name="progress">Told the counts as the import goes; may be null.</param>
    /// <param name="cancellationToken">Cancels the import; rows already imported stay.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ContactImportException">The mapping is invalid or a required column is missing; nothing was imported.</exception>
    Task<ImportReport> ImportCsvTextAsync(TextReader csv, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Imports rows given as dictionaries of column → text (a null or missing value is empty), e.g. from a CRM API or a database reader.</summary>
    /// <param name="rows">The rows, enumerated once.</param>
    /// <param name="mapping">The field mapping.</param>
    /// <param name="progress">Told the counts as the import goes; may be null.</param>
    /// <param name="cancellationToken">Cancels the import; rows already imported stay.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ContactImportException">The mapping is invalid; nothing was imported.</exception>
    Task<ImportReport> ImportAsync(IAsyncEnumerable<IReadOnlyDictionary<string, string?>> rows, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IContactImporter"/>.</summary>
internal sealed class ContactImporter : IContactImporter
{
    private readonly IContactStore _store;
    private readonly IClock _clock;
    private readonly ContactChangeNotifier _notifier;
    private readonly ContactsOptions _options;
    private readonly Dictionary<string, FieldValue> _defaults;

    public ContactImporter(IContactStore store, IClock clock, ContactChangeNotifier notifier, IOptions<CampaignsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _clock = clock;
        _notifier = notifier;
        _options = options.Value.Contacts;
        _defaults = ContactAttributes.ResolveDefaults(_options);
    }

    public async Task<ImportReport> ImportCsvAsync(Stream csv, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csv);
        var run = Start(mapping, progress);
        await using var runScope = run.ConfigureAwait(false);
        CsvMalformedRecord? malformed = null;
        var reader = CsvReader.Create(csv, ReaderOptions(mapping, r => malformed = r), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            return await ReadCsvAsync(reader, run, () => malformed, () => malformed = null, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ImportReport> ImportCsvTextAsync(TextReader csv, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csv);
        var run = Start(mapping, progress);
        await using var runScope = run.ConfigureAwait(false);
        CsvMalformedRecord? malformed = null;
        var reader = CsvReader.Create(csv, ReaderOptions(mapping, r => malformed = r), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            return await ReadCsvAsync(reader, run, () => malformed, () => malformed = null, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ImportReport> ImportAsync(IAsyncEnumerable<IReadOnlyDictionary<string, string?>> rows, ContactImportMapping mapping, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var run = Start(mapping, progress);
        await using var runScope = run.ConfigureAwait(false);
        var columns = run.Columns;
        var raw = new string?[columns.Length];
        long number = 0;
        await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            number++;
            string? missing = null;
            for (var i = 0; i < columns.Length; i++)
            {
                if (row is not null && row.TryGetValue(columns[i].Mapping.Column, out var value))
                {
                    raw[i] = value ?? string.Empty;
                }
                else
                {
                    raw[i] = null;
                    missing ??= columns[i].Mapping.Required ? columns[i].Mapping.Column : null;
                }
            }

            if (missing is not null)
            {
                await run.RejectAsync(number, missing, string.Empty, "missing-column", $"Row {number} has no value for the required column '{missing}'.", cancellationToken).ConfigureAwait(false);
                continue;
            }

            await run.ProcessAsync(number, raw, cancellationToken).ConfigureAwait(false);
        }

        return await run.FinishAsync(cancellationToken).ConfigureAwait(false);
    }

    private static CsvReaderOptions ReaderOptions(ContactImportMapping mapping, Action<CsvMalformedRecord> onMalformed) => new()
    {
        Separator = mapping.Separator,
        HasHeader = true,
        TrimWhitespace = false,
        OnMalformedRecord = onMalformed,
    };

    private static async Task<ImportReport> ReadCsvAsync(CsvReader reader, ImportRun run, Func<CsvMalformedRecord?> malformed, Action clearMalformed, CancellationToken cancellationToken)
    {
        await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        var columns = run.Columns;
        var indexes = new int[columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = columns[i].Mapping;
            if (!reader.TryGetFieldIndex(column.Column, out indexes[i]))
            {
                indexes[i] = -1;
                if (column.Required)
                {
                    throw new ContactImportException(column.Column, $"The CSV has no column '{column.Column}', which the mapping requires; nothing was imported.");
                }
            }
        }

        var raw = new string?[columns.Length];
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var row = reader.RowNumber + 1;
            CsvMalformedRecord? recovered = null;
            if (malformed() is { } bad)
            {
                clearMalformed();
                if (bad.Skipped)
                {
                    await run.RejectAsync(bad.RecordNumber, string.Empty, bad.RawRecord, "malformed-row", $"Row {bad.RecordNumber} is malformed CSV ({bad.Reason}) and was skipped.", cancellationToken).ConfigureAwait(false);
                }
                else if (bad.RecordNumber == row)
                {
                    recovered = bad;
                }
            }

            for (var i = 0; i < columns.Length; i++)
            {
                var index = indexes[i];
                raw[i] = index < 0 ? null : index < reader.FieldCount ? reader.GetString(index) : string.Empty;
            }

            var flag = recovered is { } r
                ? (r.RawRecord, $"Row {row} is malformed CSV ({r.Reason}); it was read as well as possible: {r.RawRecord}")
                : default((string, string)?);
            await run.ProcessAsync(row, raw, cancellationToken, flag).ConfigureAwait(false);
        }

        return await run.FinishAsync(cancellationToken).ConfigureAwait(false);
    }

    private ImportRun Start(ContactImportMapping mapping, IProgress<ImportProgress>? progress)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        if (mapping.Columns is null || mapping.Columns.Count == 0)
        {
            throw new ContactImportException(string.Empty, "The import mapping has no columns.");
        }

        if (mapping.MaxIssues < 0 || mapping.ProgressInterval <= 0)
        {
            throw new ContactImportException(string.Empty, $"The import mapping needs MaxIssues ≥ 0 (is {mapping.MaxIssues}) and ProgressInterval > 0 (is {mapping.ProgressInterval}).");
        }

        var columns = new PlannedColumn[mapping.Columns.Count];
        var targets = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Length; i++)
        {
            var column = mapping.Columns[i] ?? throw new ContactImportException(string.Empty, $"Column mapping {i} is null.");
            if (string.IsNullOrWhiteSpace(column.Column))
            {
                throw new ContactImportException(string.Empty, $"Column mapping {i} has no column name.");
            }

            if ((column.Transforms & (ValueTransforms.Lower | ValueTransforms.Upper)) == (ValueTransforms.Lower | ValueTransforms.Upper))
            {
                throw new ContactImportException(column.Column, $"Column '{column.Column}' asks for both lower and upper case.");
            }

            AttributeDefinition? definition = null;
            string target;
            switch (column.Target)
            {
                case ImportTarget.Identity:
                    var kind = column.Identity ?? throw new ContactImportException(column.Column, $"Column '{column.Column}' maps to an identity but does not say which (ColumnMapping.Identity).");
                    target = kind is IdentityKind.Phone or IdentityKind.Email ? $"{kind}:{i}" : kind.ToString();
                    break;
                case ImportTarget.Attribute:
                    definition = _options.Schema.Find(column.Attribute ?? string.Empty)
                        ?? throw new ContactImportException(column.Column, $"Column '{column.Column}' maps to attribute '{column.Attribute}', which the attribute schema does not declare.");
                    target = "attribute:" + definition.Name;
                    break;
                case ImportTarget.Name:
                case ImportTarget.Owner:
                case ImportTarget.TimeZone:
                    target = column.Target.ToString();
                    break;
                default:
                    throw new ContactImportException(column.Column, $"Column '{column.Column}' has an unknown target {column.Target}.");
            }

            if (!targets.Add(target))
            {
                throw new ContactImportException(column.Column, $"Column '{column.Column}' maps to {target}, which another column maps to already (only phone and e-mail may come from several columns).");
            }

            columns[i] = new PlannedColumn(column, definition);
        }

        return new ImportRun(this, mapping, columns, progress);
    }

    private sealed record PlannedColumn(ColumnMapping Mapping, AttributeDefinition? Definition);

    /// <summary>The state of one import: counts, issues, and the row being processed. Not shared between threads.</summary>
    private sealed class ImportRun(ContactImporter owner, ContactImportMapping mapping, PlannedColumn[] columns, IProgress<ImportProgress>? progress) : IAsyncDisposable
    {
        private const int MaxAttempts = 8;

        /// <summary>
        /// What a new contact is merged into (<see cref="Build"/>): no identities, attributes, consents or lists. Shared by
        /// every import and never changed: <see cref="Merge"/> copies its attribute dictionary and identities before adding
        /// to them, and its consents are a read-only empty dictionary, so the contacts made from it share nothing mutable.
        /// </summary>
        private static readonly Contact Blank = new()
        {
            Id = default,
            CreatedAt = default,
            Consents = System.Collections.ObjectModel.ReadOnlyDictionary<string, ConsentRecord>.Empty,
        };

        /// <summary>
        /// Rows parsed before their identities are looked up together (<see cref="ContactStoreLookupExtensions.FindManyAsync"/>)
        /// and applied. Small enough that a chunk's rows die young (the garbage collector's cheapest case), large enough
        /// that the lookup's round trip is shared by a thousand rows.
        /// </summary>
        private const int ChunkSize = 1_000;

        /// <summary>
        /// With a store that offers batches (<see cref="IBulkContactStore"/>), the writes per transaction (whole chunks): the
        /// store's <see cref="IBulkContactStore.PreferredWritesPerCommit"/>, read when the first batch starts.
        /// </summary>
        private int _commitEvery = int.MaxValue;

        /// <summary>
        /// Chunks handed from the reading side to the writing side and not yet written: the reader parses and cleans the
        /// next chunk while the writer looks up, merges and stores the previous ones (at most this many waiting, so memory
        /// stays constant).
        /// </summary>
        private const int ChunksInFlight = 2;

        // Reading side (the caller's flow): the chunk being filled, and the row being parsed.
        private Chunk _filling = new();

        // The pipeline, started when the first chunk is full (an import of one chunk runs on the caller's flow alone):
        // full chunks go to the writer through _queue; written chunks come back through _spare for reuse.
        private Channel<Chunk>? _queue;
        private Task? _writer;
        private CancellationTokenSource? _pipeline;
        private readonly ConcurrentQueue<Chunk> _spare = new();

        // Writing side (one chunk at a time, in order): what the chunk's lookup found (identity → contact, or null when
        // nobody holds it; kept up to date with the chunk's own writes) and the row being written.
        private readonly Dictionary<ContactIdentityKey, Contact?> _known = [];
        private readonly HashSet<ContactIdentityKey> _lookup = [];
        private readonly HashSet<(IdentityKind, string)> _conflicts = [];
        private RowState _r = new();

        private List<(Contact? Previous, Contact Current)> _committedLater = [];
        private IContactWriteBatch? _batch;
        private bool _batchChecked;

        // Overlapped commits (a store whose batches may be open together, IBulkContactStore.AllowsConcurrentBatches): the
        // earlier commit groups' batches commit in the background (at most CommitsInFlight at a time: each is flushed at
        // once and committed after the one before it, so commits complete in order) while the next group is looked up and
        // merged in another batch. _groupKeys are the identities the current group looked up or wrote, and every identity of
        // a stored contact it found (HoldIdentitiesOf); a row that needs
        // one of a committing group's identities is set aside until that commit (_deferred), so the current group never
        // reads or merges into a contact that is not committed yet.
        private const int CommitsInFlight = 2;
        private bool _overlap;
        private readonly List<PendingCommit> _pending = [];
        private long _groupSequence;
        private readonly Stack<IContactWriteBatch> _spareBatches = new();
        private HashSet<ContactIdentityKey> _groupKeys = [];
        private readonly Stack<HashSet<ContactIdentityKey>> _spareKeys = new();
        private readonly Stack<List<(Contact? Previous, Contact Current)>> _spareChanges = new();
        private long _groupFirstRow = -1;
        private long _groupLastRow = -1;
        private bool _commitFailed;
        private readonly List<IContactWriteBatch> _batches = [];

        // Rows of the current group that need an identity of a group committing in the background (or share one with
        // such a row): set aside in order and applied, after those commits, before the current group commits. Their
        // identities must not be looked up in the current batch before then (it would see them as free). _deferredNeeds
        // is the sequence number of the newest committing group they wait for.
        private readonly List<RowState> _deferred = [];
        private readonly HashSet<ContactIdentityKey> _deferredKeys = [];
        private long _deferredNeeds = -1;

        // Early lookups (overlapped commits only): a full chunk is held back until the next one arrives, so that when the
        // held chunk ends its commit group the next chunk's lookup is sent (in the batch of the next group, _nextBatch)
        // before the held chunk is merged, and travels while it merges. Only the next chunk's rows whose identities no
        // committing group, row set aside or the held chunk's group has touched are asked for (RowState.Prefetched); when
        // the next chunk is written, the rows that the held chunk's group touched meanwhile are set aside all the same
        // (their answers unused), and the rest of the rows are looked up then.
        private readonly bool _prefetching = owner._store is IBulkContactStore { AllowsConcurrentBatches: true };
        private Chunk? _held;
        private IContactWriteBatch? _nextBatch;
        private Task<IReadOnlyDictionary<ContactIdentityKey, Contact>>? _prefetch;
        private readonly HashSet<ContactIdentityKey> _prefetchKeys = [];

        private readonly Instant _started = owner._clock.GetCurrentInstant();
        private readonly List<ImportIssue> _issues = [];
        private long _read;
        private long _created;
        private long _merged;
        private long _flagged;
        private long _rejected;
        private long _contactsCreated;
        private long _omitted;
        private long _committedRows;
        private bool _finished;

        public PlannedColumn[] Columns { get; } = columns;

        public async ValueTask DisposeAsync()
        {
            if (_writer is not null)
            {
                // An import that failed or was cancelled on the reading side: stop the writer before touching the batch.
                await _pipeline!.CancelAsync().ConfigureAwait(false);
                try
                {
                    await _writer.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Already surfaced to the caller (or superseded by the reading side's own exception).
                }

                _writer = null;
            }

            _pipeline?.Dispose();
            _pipeline = null;
            if (_prefetch is not null)
            {
                try
                {
                    // Its batch is disposed below (rolled back): the lookup must be over first.
                    await _prefetch.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The held chunk was not written; its lookup's failure does not matter.
                }

                _prefetch = null;
            }

            try
            {
                while (_pending.Count > 0)
                {
                    try
                    {
                        await CompletePendingAsync().ConfigureAwait(false);
                    }
                    catch (Exception) when (!_finished)
                    {
                        // The import is failing already (its own exception is the one the caller sees); a group after a
                        // failed one did not commit (its task failed with the same exception).
                    }
                }

                if (_batch is not null && !_commitFailed)
                {
                    try
                    {
                        // Rows already imported stay, also when the import is cancelled or fails (each row's write is
                        // atomic); after a failed commit of an earlier group, later groups are rolled back instead, so
                        // what stays is always the rows before the failure.
                        await CommitAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception) when (!_finished)
                    {
                        // The import is failing already: its own exception is the one the caller sees, not this commit's
                        // (a store that failed a write may refuse the commit too).
                    }
                }
            }
            finally
            {
                _batch = null;
                _spareBatches.Clear();
                foreach (var batch in _batches)
                {
                    await batch.DisposeAsync().ConfigureAwait(false);
                }

                _batches.Clear();
            }
        }

        /// <summary>The store, or the batch of a store that offers batches (started on first use).</summary>
        private async ValueTask<IContactStore> WriterAsync(CancellationToken cancellationToken)
        {
            if (!_batchChecked)
            {
                _batchChecked = true;
                if (owner._store is IBulkContactStore bulk)
                {
                    _commitEvery = bulk.PreferredWritesPerCommit;
                    if (_commitEvery <= 0)
                    {
                        throw new InvalidOperationException($"{owner._store.GetType().Name}.{nameof(IBulkContactStore.PreferredWritesPerCommit)} must be positive (is {_commitEvery}).");
                    }

                    _batch = await bulk.BeginBatchAsync(cancellationToken).ConfigureAwait(false);
                    _batches.Add(_batch);
                    _overlap = bulk.AllowsConcurrentBatches;
                }
            }

            return _batch ?? owner._store;
        }

        /// <summary>Commits the batch and then tells the listeners about the committed changes.</summary>
        private async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (_batch is null)
            {
                return;
            }

            await _batch.CommitAsync(cancellationToken).ConfigureAwait(false);
            _committedRows = _read;
            _groupKeys.Clear();
            _groupFirstRow = -1;
            foreach (var (previous, current) in _committedLater)
            {
                await owner._notifier.ChangedAsync(previous, current, cancellationToken).ConfigureAwait(false);
            }

            _committedLater.Clear();
        }

        /// <summary>
        /// Starts the commit of the current batch in the background and continues in another batch. At most
        /// <see cref="CommitsInFlight"/> commits run at a time (this waits for the oldest when as many are running), and
        /// the rows set aside are applied first (after the commits they wait for).
        /// </summary>
        private async Task CommitInBackgroundAsync(CancellationToken cancellationToken)
        {
            while (_pending.Count >= CommitsInFlight || (_deferred.Count > 0 && _pending.Count > 0 && _pending[0].Sequence <= _deferredNeeds))
            {
                await CompletePendingAsync().ConfigureAwait(false);
            }

            await ApplyDeferredAsync(cancellationToken).ConfigureAwait(false);
            var batch = _batch!;
            var previous = _pending.Count > 0 ? _pending[^1].Task : null;
            var pending = new PendingCommit(_groupSequence++, batch, _groupKeys, _committedLater, _read, _groupFirstRow, _groupLastRow);

            // Once a group is complete its commit runs to the end, as the commit of a cancelled import does.
            pending.Task = Task.Run(() => FlushAndCommitAsync(batch, previous), CancellationToken.None);
            _pending.Add(pending);

            // The completed groups' sets, emptied: reused rather than grown anew for every group (at a group's size their
            // arrays are on the large-object heap, and each new one brings a gen2 GC nearer).
            _groupKeys = _spareKeys.TryPop(out var keys) ? keys : [];
            _committedLater = _spareChanges.TryPop(out var changes) ? changes : [];
            _groupFirstRow = -1;
            _batch = _nextBatch ?? await NextBatchAsync(cancellationToken).ConfigureAwait(false);
            _nextBatch = null;
        }

        /// <summary>A batch for the next group: one whose group has committed, else a new one.</summary>
        private async ValueTask<IContactWriteBatch> NextBatchAsync(CancellationToken cancellationToken)
        {
            if (!_spareBatches.TryPop(out var next))
            {
                next = await ((IBulkContactStore)owner._store).BeginBatchAsync(cancellationToken).ConfigureAwait(false);
                _batches.Add(next);
            }

            return next;
        }

        /// <summary>
        /// A group's commit in the background: its writes go to the database at once (<see cref="IContactWriteBatch.FlushAsync"/>),
        /// while the group before it may still be committing; the commit itself waits for that one, so groups commit in
        /// order, and not at all after a failed one (this task then fails with the same exception).
        /// </summary>
        private static async Task FlushAndCommitAsync(IContactWriteBatch batch, Task? previous)
        {
            await batch.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (previous is not null)
            {
                await previous.ConfigureAwait(false);
            }

            await batch.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        /// <summary>
        /// Waits for the oldest background commit, then tells the listeners about its changes. A failed commit is rethrown
        /// with its group's rows (<c>Campaigns.Import.FirstRow</c>, <c>Campaigns.Import.LastRow</c>) and the rows committed
        /// before it; the groups after it are then rolled back, not committed.
        /// </summary>
        private async Task CompletePendingAsync()
        {
            var pending = _pending[0];
            _pending.RemoveAt(0);
            try
            {
                await pending.Task!.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _commitFailed = true;
                if (!ex.Data.IsReadOnly && !ex.Data.Contains("Campaigns.Import.CommittedRows"))
                {
                    ex.Data["Campaigns.Import.FirstRow"] = pending.FirstRow;
                    ex.Data["Campaigns.Import.LastRow"] = pending.LastRow;
                    ex.Data["Campaigns.Import.CommittedRows"] = _committedRows;
                }

                throw;
            }

            _committedRows = pending.RowsAfter;
            foreach (var (previous, current) in pending.Changes)
            {
                await owner._notifier.ChangedAsync(previous, current, CancellationToken.None).ConfigureAwait(false);
            }

            pending.Keys.Clear();
            pending.Changes.Clear();
            _spareKeys.Push(pending.Keys);
            _spareChanges.Push(pending.Changes);
            _spareBatches.Push(pending.Batch);
        }

        /// <summary>
        /// Adds every identity of a stored contact the current group found to the group's keys, not only the one it was
        /// found by: a later group's row that reaches the contact by another identity then waits for this group's commit
        /// too, so rows set aside for the contact and rows reaching it otherwise are merged in row order (the group may
        /// merge into it, or find it only, e.g. in a conflict, and not write it).
        /// </summary>
        private void HoldIdentitiesOf(Contact contact)
        {
            foreach (var key in IdentitiesOf(contact.Identities))
            {
                _groupKeys.Add(key);
            }
        }

        private readonly List<ContactIdentityKey> _identitiesOf = [];

        /// <summary>
        /// A contact's identities, as <see cref="PersonalDataFields.IdentityKeys"/> lists them (blank values left out), in a
        /// list reused from call to call (no list, array or enumerator per row): valid until the next call. A value held
        /// twice is listed twice, which the callers (a dictionary, a set) do not mind.
        /// </summary>
        private List<ContactIdentityKey> IdentitiesOf(ContactIdentities identities)
        {
            var keys = _identitiesOf;
            keys.Clear();
            Add(IdentityKind.Phone, identities.Phone);
            for (var i = 0; i < identities.AdditionalPhones.Count; i++)
            {
                Add(IdentityKind.Phone, identities.AdditionalPhones[i]);
            }

            Add(IdentityKind.Email, identities.Email);
            for (var i = 0; i < identities.AdditionalEmails.Count; i++)
            {
                Add(IdentityKind.Email, identities.AdditionalEmails[i]);
            }

            Add(IdentityKind.WeChatOpenId, identities.WeChatOpenId);
            Add(IdentityKind.WeChatUnionId, identities.WeChatUnionId);
            Add(IdentityKind.WeComExternalUserId, identities.WeComExternalUserId);
            Add(IdentityKind.CrmId, identities.CrmId);
            return keys;

            void Add(IdentityKind kind, string? value)
            {
                if (!string.IsNullOrWhiteSpace(value))
                {
                    keys.Add(new ContactIdentityKey(kind, value));
                }
            }
        }

        /// <summary>Waits for the background commits up to the newest one that holds <paramref name="key"/>, if any does.</summary>
        private async Task CompletePendingHoldingAsync(ContactIdentityKey key)
        {
            for (var i = _pending.Count - 1; i >= 0; i--)
            {
                if (_pending[i].Keys.Contains(key))
                {
                    for (var j = 0; j <= i; j++)
                    {
                        await CompletePendingAsync().ConfigureAwait(false);
                    }

                    return;
                }
            }
        }

        /// <summary>A commit group's batch committing in the background, and what depends on it.</summary>
        private sealed class PendingCommit(long sequence, IContactWriteBatch batch, HashSet<ContactIdentityKey> keys, List<(Contact? Previous, Contact Current)> changes, long rowsAfter, long firstRow, long lastRow)
        {
            /// <summary>The group's number in commit order.</summary>
            public long Sequence { get; } = sequence;

            public IContactWriteBatch Batch { get; } = batch;

            /// <summary>The identities the group looked up or wrote: a later lookup of one of them waits for the commit.</summary>
            public HashSet<ContactIdentityKey> Keys { get; } = keys;

            public List<(Contact? Previous, Contact Current)> Changes { get; } = changes;

            public long RowsAfter { get; } = rowsAfter;

            public long FirstRow { get; } = firstRow;

            public long LastRow { get; } = lastRow;

            public Task? Task { get; set; }
        }

        /// <summary>Counts a row as rejected, in its turn (after the rows read before it).</summary>
        public async Task RejectAsync(long row, string column, string value, string code, string reason, CancellationToken cancellationToken)
        {
            var state = _filling.Next(row);
            state.Rejection = (column, value, code, reason);
            if (_filling.Count >= ChunkSize)
            {
                await HandOffAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Attribute values parsed so far, per column and text (reading side only): a column's value of a text seen before is
        /// the same immutable <see cref="FieldValue"/> instance. Categorical columns (industry, region, products) then add
        /// no value objects or strings per contact, which matters because a commit group's contacts stay alive until their
        /// commit and are promoted by the garbage collector. At most <see cref="SharedValuesPerColumn"/> texts of at most
        /// <see cref="SharedValueLength"/> characters per column, so a column of distinct values costs a bounded lookup.
        /// </summary>
        private Dictionary<string, FieldValue>?[]? _sharedValues;

        private const int SharedValuesPerColumn = 1_024;

        private const int SharedValueLength = 64;

        private FieldValue? Shared(int column, string text) =>
            _sharedValues?[column] is { } values && values.TryGetValue(text, out var value) ? value : null;

        private void Share(int column, string text, FieldValue value)
        {
            if (text.Length > SharedValueLength)
            {
                return;
            }

            var values = (_sharedValues ??= new Dictionary<string, FieldValue>?[Columns.Length])[column] ??= new Dictionary<string, FieldValue>(StringComparer.Ordinal);
            if (values.Count < SharedValuesPerColumn)
            {
                values[text] = value;
            }
        }

        /// <summary>Parses and cleans a row; it is looked up and written with the rest of its chunk.</summary>
        public async Task ProcessAsync(long row, string?[] raw, CancellationToken cancellationToken, (string Raw, string Reason)? malformed = null)
        {
            var r = _filling.Next(row);
            if (malformed is { } m)
            {
                Flag(r, string.Empty, m.Raw, "malformed-row", m.Reason, "row");
            }

            var identityGiven = false;
            var region = owner._options.DefaultPhoneRegion;
            for (var i = 0; i < Columns.Length; i++)
            {
                var (column, definition) = Columns[i];
                if (Prepare(raw[i], column) is not { } text)
                {
                    continue;
                }

                switch (column.Target)
                {
                    case ImportTarget.Identity:
                        identityGiven = true;
                        var kind = column.Identity!.Value;
                        if (!ContactIdentityNormalizer.TryNormalize(kind, text, region, out var value))
                        {
                            var (code, what) = kind == IdentityKind.Phone
                                ? ("invalid-phone", $"is not a valid phone number (default region {region})")
                                : ("invalid-email", "is not an e-mail address");
                            Flag(r, column.Column, text, code, $"Row {row}, column '{column.Column}': '{text}' {what}; the row is kept without it.", IdentityNames.Of(kind));
                        }
                        else if (kind == IdentityKind.Phone)
                        {
                            AddDistinct(r.Phones, r.PhoneColumns, value, column.Column);
                        }
                        else if (kind == IdentityKind.Email)
                        {
                            AddDistinct(r.Emails, r.EmailColumns, value, column.Column);
                        }
                        else
                        {
                            r.Others[kind] = (value, column.Column);
                        }

                        break;
                    case ImportTarget.Attribute:
                        if (Shared(i, text) is { } known)
                        {
                            r.Attributes.Add((Columns[i], known));
                        }
                        else if (ContactAttributes.TryParse(definition!, text, out var parsed, out var error, column.ListSeparator))
                        {
                            r.Attributes.Add((Columns[i], parsed));
                            Share(i, text, parsed);
                        }
                        else
                        {
                            Flag(r, column.Column, text, "invalid-attribute", $"Row {row}, column '{column.Column}': {error.Message}", "attributes." + definition!.Name);
                        }

                        break;
                    case ImportTarget.Name:
                        r.Name = (text, column.Merge);
                        break;
                    case ImportTarget.Owner:
                        r.OwnerId = (text, column.Merge);
                        break;
                    case ImportTarget.TimeZone:
                        if (DateTimeZoneProviders.Tzdb.GetZoneOrNull(text) is null)
                        {
                            Flag(r, column.Column, text, "invalid-time-zone", $"Row {row}, column '{column.Column}': '{text}' is not an IANA time zone id known to tzdb.", "timeZoneId");
                        }
                        else
                        {
                            r.Zone = (text, column.Merge);
                        }

                        break;
                }
            }

            if (r.Phones.Count + r.Emails.Count + r.Others.Count == 0 && !identityGiven)
            {
                var identityColumns = string.Join(", ", Columns.Where(c => c.Mapping.Target == ImportTarget.Identity).Select(c => c.Mapping.Column));
                r.Rejection = (identityColumns, string.Empty, "no-identity", $"Row {row} has no value in any identity column ({identityColumns}); a contact cannot be found again without one.");
            }

            if (_filling.Count >= ChunkSize)
            {
                await HandOffAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Hands the full chunk to the writer (started on the first call) and takes an empty one. Waits while
        /// <see cref="ChunksInFlight"/> chunks wait to be written; when the writer has failed, throws its exception.
        /// </summary>
        private async Task HandOffAsync(CancellationToken cancellationToken)
        {
            if (!mapping.Pipelined)
            {
                // No pipeline: the chunk is written on the caller's flow before the next row is read (or held back until
                // the next chunk, see _held).
                _filling = await WriteAsync(_filling, cancellationToken).ConfigureAwait(false) ?? new Chunk();
                return;
            }

            var chunk = _filling;
            _filling = _spare.TryDequeue(out var spare) ? spare : new Chunk();
            if (_queue is null)
            {
                _pipeline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(ChunksInFlight) { SingleReader = true, SingleWriter = true });
                var token = _pipeline.Token;
                _writer = Task.Run(() => WriteChunksAsync(token), CancellationToken.None);
            }

            try
            {
                await _queue.Writer.WriteAsync(chunk, _pipeline!.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The writer stopped: surface its exception (with the row or chunk it failed on).
                await _writer!.ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>The writing side: chunk after chunk, in the order they were read.</summary>
        private async Task WriteChunksAsync(CancellationToken cancellationToken)
        {
            try
            {
                await foreach (var chunk in _queue!.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (await WriteAsync(chunk, cancellationToken).ConfigureAwait(false) is { } written)
                    {
                        _spare.Enqueue(written);
                    }
                }

                await WriteHeldAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Stop the reading side at its next hand-off.
                await _pipeline!.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>
        /// Writes a full chunk, or (on a store with concurrent batches) holds it back and writes the chunk held before,
        /// with this one's lookup sent early. Returns a chunk free for reuse (reset), if any.
        /// </summary>
        private async Task<Chunk?> WriteAsync(Chunk chunk, CancellationToken cancellationToken)
        {
            if (!_prefetching)
            {
                await FlushAsync(chunk, null, cancellationToken).ConfigureAwait(false);
                chunk.Reset();
                return chunk;
            }

            var held = _held;
            _held = chunk;
            if (held is null)
            {
                return null;
            }

            await FlushAsync(held, chunk, cancellationToken).ConfigureAwait(false);
            held.Reset();
            return held;
        }

        /// <summary>Writes the chunk held back, if any (at the end of the input).</summary>
        private async Task WriteHeldAsync(CancellationToken cancellationToken)
        {
            if (_held is { } held)
            {
                await FlushAsync(held, null, cancellationToken).ConfigureAwait(false);
                held.Reset();
                _spare.Enqueue(held);
                _held = null;
            }
        }

        /// <summary>
        /// Sends the early lookup of <paramref name="next"/> in the next group's batch: the identities of its rows that
        /// no committing group, row set aside or the current group (whose chunk <paramref name="current"/> is about to be
        /// merged) has touched; those rows are marked <see cref="RowState.Prefetched"/>. False when there is nothing to ask.
        /// </summary>
        private async Task<bool> PrefetchAsync(Chunk next, Chunk current, CancellationToken cancellationToken)
        {
            var keys = _prefetchKeys;
            keys.Clear();
            for (var i = 0; i < next.Count; i++)
            {
                var state = next.Rows[i];
                if (state.Rejection is null && !Touched(state))
                {
                    state.Prefetched = true;
                    foreach (var key in state.Keys())
                    {
                        keys.Add(key);
                    }
                }
            }

            if (keys.Count == 0)
            {
                return false;
            }

            try
            {
                _nextBatch = await NextBatchAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, current, null))
            {
                throw; // not reached: Locate only adds to the exception and lets it pass
            }

            // The set is not touched again until the lookup has been awaited (the next flush starts with that).
            _prefetch = _nextBatch.FindManyAsync(keys, cancellationToken);
            return true;

            // Held by a committing group or a row set aside (the deferral check), or by the current group.
            bool Touched(RowState state)
            {
                if (NeedsDeferral(state) is not null)
                {
                    return true;
                }

                foreach (var key in state.Keys())
                {
                    if (_groupKeys.Contains(key))
                    {
                        return true;
                    }
                }

                return false;
            }
        }

        /// <summary>
        /// Looks up the identities of the chunk's rows in one read (or takes the answers of its early lookup), applies the
        /// rows in order (rows of the chunk that share an identity find the contact an earlier row created or merged), and
        /// commits the batch once <see cref="_commitEvery"/> writes are pending. With <paramref name="next"/> (the chunk
        /// after it, held back), sends that chunk's early lookup before merging when this chunk ends its group.
        /// </summary>
        private async Task FlushAsync(Chunk chunk, Chunk? next, CancellationToken cancellationToken)
        {
            if (chunk.Count == 0)
            {
                return;
            }

            _lookup.Clear();
            _known.Clear();
            IReadOnlyDictionary<ContactIdentityKey, Contact>? prefetched = null;
            if (_prefetch is not null)
            {
                // The chunk's early lookup (sent while the chunk before it merged, in this group's batch).
                try
                {
                    prefetched = await _prefetch.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, chunk, null))
                {
                    throw; // not reached: Locate only adds to the exception and lets it pass
                }
                finally
                {
                    _prefetch = null;
                }
            }

            var deferring = _pending.Count > 0 || _deferred.Count > 0;
            var applied = 0;
            for (var i = 0; i < chunk.Count; i++)
            {
                var state = chunk.Rows[i];
                if (state.Rejection is null)
                {
                    if (deferring && NeedsDeferral(state) is { } needs)
                    {
                        // The row needs a background commit first: it leaves the chunk (a fresh state takes its place).
                        _deferredNeeds = Math.Max(_deferredNeeds, needs);
                        _deferred.Add(state);
                        chunk.Rows[i] = new RowState();
                        chunk.Rows[i].Defer(state.Row);
                        foreach (var key in state.Keys())
                        {
                            _deferredKeys.Add(key);
                            _groupKeys.Add(key);
                        }

                        continue;
                    }

                    applied++;
                    if (state.Prefetched && prefetched is not null)
                    {
                        // Asked for early, and untouched since by the groups before: the early answer holds.
                        foreach (var key in state.Keys())
                        {
                            var contact = prefetched.TryGetValue(key, out var f) ? f : null;
                            _known[key] = contact;
                            _groupKeys.Add(key);
                            if (contact is not null)
                            {
                                HoldIdentitiesOf(contact);
                            }
                        }

                        continue;
                    }

                    foreach (var key in state.Keys())
                    {
                        _lookup.Add(key);
                    }
                }
            }

            if (_groupFirstRow < 0)
            {
                _groupFirstRow = chunk.Rows[0].Row;
            }

            _groupLastRow = chunk.Rows[chunk.Count - 1].Row;
            if (_lookup.Count > 0 && !_batchChecked)
            {
                try
                {
                    await WriterAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, chunk, null))
                {
                    throw; // not reached: Locate only adds to the exception and lets it pass
                }
            }

            if (_overlap)
            {
                _groupKeys.UnionWith(_lookup);
            }

            if (_lookup.Count > 0)
            {
                IReadOnlyDictionary<ContactIdentityKey, Contact> found;
                try
                {
                    var writer = await WriterAsync(cancellationToken).ConfigureAwait(false);
                    found = await writer.FindManyAsync(_lookup, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, chunk, null))
                {
                    throw; // not reached: Locate only adds to the exception and lets it pass
                }

                foreach (var key in _lookup)
                {
                    var contact = found.TryGetValue(key, out var f) ? f : null;
                    _known[key] = contact;
                    if (contact is not null && _overlap)
                    {
                        HoldIdentitiesOf(contact);
                    }
                }
            }

            // With the next chunk at hand and this one ending its commit group (each row applied is one write), the next
            // chunk's lookup goes out now, in the next group's batch, and this group commits after this chunk.
            var prefetching = next is not null && _overlap && _batch is not null
                && _batch.PendingWrites + _deferred.Count + applied >= _commitEvery
                && await PrefetchAsync(next, chunk, cancellationToken).ConfigureAwait(false);

            for (var i = 0; i < chunk.Count; i++)
            {
                _r = chunk.Rows[i];
                if (_r.Deferred)
                {
                    continue;
                }

                if (_r.Rejection is { } r)
                {
                    _read++;
                    _rejected++;
                    AddIssue(new ImportIssue(_r.Row, r.Column, r.Value, r.Code, r.Reason, ImportIssueKind.Rejection));
                    Report();
                }
                else
                {
                    try
                    {
                        await ApplyAsync(_r.Row, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, chunk, _r.Row))
                    {
                        throw; // not reached: Locate only adds to the exception and lets it pass
                    }
                }
            }

            _known.Clear();

            // The rows set aside count as the group's writes: they are applied before it commits. After an early lookup
            // the group ends here in any case (the next chunk was looked up in the next group's batch).
            if (_batch is not null && (prefetching || _batch.PendingWrites + _deferred.Count >= _commitEvery))
            {
                try
                {
                    if (_overlap)
                    {
                        await CommitInBackgroundAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, chunk, null))
                {
                    throw; // not reached: Locate only adds to the exception and lets it pass
                }
            }
        }

        /// <summary>
        /// Whether the row has an identity of a group committing in the background or of a row set aside already: then
        /// the sequence number of the newest such group (or -1 when only rows set aside hold them), else null.
        /// </summary>
        private long? NeedsDeferral(RowState state)
        {
            // Checked for every row while a commit is in flight: no iterator.
            long? needs = null;
            foreach (var phone in state.Phones)
            {
                Held(new ContactIdentityKey(IdentityKind.Phone, phone), ref needs);
            }

            foreach (var email in state.Emails)
            {
                Held(new ContactIdentityKey(IdentityKind.Email, email), ref needs);
            }

            foreach (var (kind, (value, _)) in state.Others)
            {
                Held(new ContactIdentityKey(kind, value), ref needs);
            }

            return needs;

            void Held(ContactIdentityKey key, ref long? needs)
            {
                // Rows are set aside rarely: an empty set is not asked (Contains would hash the key all the same).
                if (_deferredKeys.Count > 0 && _deferredKeys.Contains(key))
                {
                    needs = Math.Max(needs ?? -1, -1);
                }

                for (var i = _pending.Count - 1; i >= 0; i--)
                {
                    if (_pending[i].Keys.Contains(key))
                    {
                        needs = Math.Max(needs ?? -1, _pending[i].Sequence);
                        break;
                    }
                }
            }
        }

        /// <summary>
        /// Applies the rows set aside (the background commit they waited for has completed): one lookup for all of them,
        /// then each in row order, into the current batch. Their counts and issues are those of a sequential import (issues
        /// are kept in row order).
        /// </summary>
        private async Task ApplyDeferredAsync(CancellationToken cancellationToken)
        {
            if (_deferred.Count == 0)
            {
                return;
            }

            _lookup.Clear();
            _known.Clear();
            foreach (var state in _deferred)
            {
                foreach (var key in state.Keys())
                {
                    _lookup.Add(key);
                }
            }

            IReadOnlyDictionary<ContactIdentityKey, Contact> found;
            try
            {
                var writer = await WriterAsync(cancellationToken).ConfigureAwait(false);
                found = await writer.FindManyAsync(_lookup, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, null, _deferred[0].Row))
            {
                throw; // not reached: Locate only adds to the exception and lets it pass
            }

            foreach (var key in _lookup)
            {
                _known[key] = found.TryGetValue(key, out var contact) ? contact : null;
            }

            foreach (var state in _deferred)
            {
                _r = state;
                try
                {
                    await ApplyAsync(_r.Row, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, null, _r.Row))
                {
                    throw; // not reached: Locate only adds to the exception and lets it pass
                }
            }

            _known.Clear();
            _deferred.Clear();
            _deferredKeys.Clear();
            _deferredNeeds = -1;
        }

        /// <summary>Writes the row in <see cref="_r"/>: a new contact, or a merge into the contact its identities found.</summary>
        private async Task ApplyAsync(long row, CancellationToken cancellationToken)
        {
            var baseFlags = _r.Flags.Count;
            for (var attempt = 1; ; attempt++)
            {
                _r.Flags.RemoveRange(baseFlags, _r.Flags.Count - baseFlags);
                var (target, conflicts) = await FindAsync(row, cancellationToken).ConfigureAwait(false);
                var now = owner._clock.GetCurrentInstant();
                try
                {
                    Contact stored;
                    var created = target is null;
                    if (target is null)
                    {
                        var contact = Build(row, now, conflicts, _r.Name, _r.OwnerId, _r.Zone);
                        stored = await (await WriterAsync(cancellationToken).ConfigureAwait(false)).AddAsync(contact, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        var merged = Merge(row, now, target, conflicts, _r.Name, _r.OwnerId, _r.Zone);
                        stored = await (await WriterAsync(cancellationToken).ConfigureAwait(false)).UpdateAsync(merged, cancellationToken).ConfigureAwait(false);
                    }

                    _read++;
                    if (created)
                    {
                        _contactsCreated++;
                    }

                    if (_r.Flags.Count > 0)
                    {
                        _flagged++;
                        foreach (var f in _r.Flags)
                        {
                            AddIssue(new ImportIssue(row, f.Column, f.Value, f.Code, f.Reason, ImportIssueKind.Flag));
                        }
                    }
                    else if (created)
                    {
                        _created++;
                    }
                    else
                    {
                        _merged++;
                    }

                    Report();
                    if (_batch is null)
                    {
                        await owner._notifier.ChangedAsync(target, stored, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        // Listeners hear of a change once it is committed, so they may write to the store themselves.
                        _committedLater.Add((target, stored));
                    }

                    // Later rows of the chunk find the contact as written (merges only add identities).
                    foreach (var key in IdentitiesOf(stored.Identities))
                    {
                        _known[key] = stored;
                        if (_overlap)
                        {
                            _groupKeys.Add(key);
                        }
                    }

                    return;
                }
                catch (Exception ex) when (ex is ConcurrencyException or DuplicateEntityException && attempt < MaxAttempts)
                {
                    // Another writer changed the contact or took one of the identities meanwhile: look again, in the store.
                    foreach (var key in _r.Keys())
                    {
                        _known.Remove(key);
                    }
                }
            }
        }

        public async Task<ImportReport> FinishAsync(CancellationToken cancellationToken)
        {
            if (_queue is null)
            {
                // Not pipelined, or one chunk or less: written on the caller's flow.
                if (_filling.Count > 0)
                {
                    _filling = await WriteAsync(_filling, cancellationToken).ConfigureAwait(false) ?? new Chunk();
                }

                await WriteHeldAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                if (_filling.Count > 0)
                {
                    await HandOffAsync(cancellationToken).ConfigureAwait(false);
                }

                _queue.Writer.TryComplete();
                await _writer!.ConfigureAwait(false);
                _writer = null;
            }

            try
            {
                while (_pending.Count > 0)
                {
                    await CompletePendingAsync().ConfigureAwait(false);
                }

                await ApplyDeferredAsync(cancellationToken).ConfigureAwait(false);
                await CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && Locate(ex, null, null))
            {
                throw; // not reached: Locate only adds to the exception and lets it pass
            }

            _finished = true;
            progress?.Report(Current);
            return new ImportReport
            {
                RowsRead = _read,
                Created = _created,
                Merged = _merged,
                Flagged = _flagged,
                Rejected = _rejected,
                ContactsCreated = _contactsCreated,
                Issues = [.. _issues],
                IssuesOmitted = _omitted,
                Elapsed = owner._clock.GetCurrentInstant() - _started,
            };
        }

        private ImportProgress Current => new(_read, _created, _merged, _flagged, _rejected);

        private static string? Prepare(string? raw, ColumnMapping column)
        {
            var text = raw ?? string.Empty;
            if ((column.Transforms & ValueTransforms.Trim) != 0)
            {
                text = text.Trim();
            }

            if ((column.Transforms & ValueTransforms.Lower) != 0)
            {
                text = text.ToLowerInvariant();
            }
            else if ((column.Transforms & ValueTransforms.Upper) != 0)
            {
                text = text.ToUpperInvariant();
            }

            if (column.ValueMap.TryGetValue(text, out var mapped))
            {
                text = mapped;
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                text = column.Default;
            }

            return string.IsNullOrWhiteSpace(text) ? null : text;
        }

        private static void AddDistinct(List<string> values, Dictionary<string, string> columnsOf, string value, string column)
        {
            if (!values.Contains(value))
            {
                values.Add(value);
                columnsOf[value] = column;
            }
        }

        private void Report()
        {
            if (progress is not null && _read % mapping.ProgressInterval == 0)
            {
                progress.Report(Current);
            }
        }

        private void AddIssue(ImportIssue issue)
        {
            if (_issues.Count > 0 && issue.Row < _issues[^1].Row)
            {
                // A row applied after later ones (set aside for a background commit): its issues go where a sequential
                // import would have put them, after the issues of earlier rows; the cap then drops the last one.
                var at = _issues.Count;
                while (at > 0 && _issues[at - 1].Row > issue.Row)
                {
                    at--;
                }

                if (at >= mapping.MaxIssues)
                {
                    _omitted++;
                    return;
                }

                _issues.Insert(at, issue);
                if (_issues.Count > mapping.MaxIssues)
                {
                    _issues.RemoveAt(_issues.Count - 1);
                    _omitted++;
                }
            }
            else if (_issues.Count < mapping.MaxIssues)
            {
                _issues.Add(issue);
            }
            else
            {
                _omitted++;
            }
        }

        private void Flag(string column, string value, string code, string reason, string field) => Flag(_r, column, value, code, reason, field);

        private static void Flag(RowState row, string column, string value, string code, string reason, string field) => row.Flags.Add((column, value, code, reason, field));

        /// <summary>
        /// Finds the contact the row belongs to (from the chunk's lookup, else from the store); identities that belong to
        /// another contact are conflicts.
        /// </summary>
        private ValueTask<(Contact? Target, HashSet<(IdentityKind, string)> Conflicts)> FindAsync(long row, CancellationToken cancellationToken)
        {
            // The usual case: every identity of the row is in the chunk's lookup, so the answer is ready without a state
            // machine or a task per row. Otherwise the flags and conflicts noted so far are undone and the row is looked
            // up again with the store's help.
            var flags = _r.Flags.Count;
            if (TryFindKnown(row, out var known))
            {
                return new ValueTask<(Contact?, HashSet<(IdentityKind, string)>)>((known, _conflicts));
            }

            _r.Flags.RemoveRange(flags, _r.Flags.Count - flags);
            return new ValueTask<(Contact?, HashSet<(IdentityKind, string)>)>(FindWithStoreAsync(row, cancellationToken));
        }

        /// <summary><see cref="FindAsync"/> when every identity of the row is in <see cref="_known"/>; false as soon as one is not.</summary>
        private bool TryFindKnown(long row, out Contact? target)
        {
            // Every key is checked before the walk: Consider flags conflicts, so a walk abandoned halfway (and redone by
            // FindWithStoreAsync) would flag them twice.
            target = null;
            if (!AllKnown())
            {
                return false;
            }

            _conflicts.Clear();
            foreach (var phone in _r.Phones)
            {
                target = Consider(row, IdentityKind.Phone, phone, _r.PhoneColumns[phone], target, _known[new ContactIdentityKey(IdentityKind.Phone, phone)]);
            }

            foreach (var email in _r.Emails)
            {
                target = Consider(row, IdentityKind.Email, email, _r.EmailColumns[email], target, _known[new ContactIdentityKey(IdentityKind.Email, email)]);
            }

            if (_r.Others.Count > 0)
            {
                foreach (var kind in IdentityNames.All)
                {
                    if (kind is not IdentityKind.Phone and not IdentityKind.Email && _r.Others.TryGetValue(kind, out var other))
                    {
                        target = Consider(row, kind, other.Value, other.Column, target, _known[new ContactIdentityKey(kind, other.Value)]);
                    }
                }
            }

            return true;
        }

        /// <summary>Whether every identity of the row is in the chunk's lookup (<c>_known</c>).</summary>
        private bool AllKnown()
        {
            foreach (var phone in _r.Phones)
            {
                if (!_known.ContainsKey(new ContactIdentityKey(IdentityKind.Phone, phone)))
                {
                    return false;
                }
            }

            foreach (var email in _r.Emails)
            {
                if (!_known.ContainsKey(new ContactIdentityKey(IdentityKind.Email, email)))
                {
                    return false;
                }
            }

            foreach (var (kind, other) in _r.Others)
            {
                if (kind is not IdentityKind.Phone and not IdentityKind.Email && !_known.ContainsKey(new ContactIdentityKey(kind, other.Value)))
                {
                    return false;
                }
            }

            return true;
        }

        private async Task<(Contact? Target, HashSet<(IdentityKind, string)> Conflicts)> FindWithStoreAsync(long row, CancellationToken cancellationToken)
        {
            // Phones, then e-mails, then the other kinds in IdentityNames.All order; no per-row iterators (the row's
            // identities are almost always in the chunk's lookup, so this completes without awaiting).
            Contact? target = null;
            var conflicts = _conflicts;
            conflicts.Clear();
            foreach (var phone in _r.Phones)
            {
                target = Consider(row, IdentityKind.Phone, phone, _r.PhoneColumns[phone], target, await FoundAsync(IdentityKind.Phone, phone, cancellationToken).ConfigureAwait(false));
            }

            foreach (var email in _r.Emails)
            {
                target = Consider(row, IdentityKind.Email, email, _r.EmailColumns[email], target, await FoundAsync(IdentityKind.Email, email, cancellationToken).ConfigureAwait(false));
            }

            if (_r.Others.Count > 0)
            {
                foreach (var kind in IdentityNames.All)
                {
                    if (kind is not IdentityKind.Phone and not IdentityKind.Email && _r.Others.TryGetValue(kind, out var other))
                    {
                        target = Consider(row, kind, other.Value, other.Column, target, await FoundAsync(kind, other.Value, cancellationToken).ConfigureAwait(false));
                    }
                }
            }

            return (target, conflicts);
        }

        /// <summary>The contact holding an identity: from the chunk's lookup, else from the store.</summary>
        private ValueTask<Contact?> FoundAsync(IdentityKind kind, string value, CancellationToken cancellationToken) =>
            _known.TryGetValue(new ContactIdentityKey(kind, value), out var found)
                ? ValueTask.FromResult(found)
                : new ValueTask<Contact?>(LookUpAsync(kind, value, cancellationToken));

        private async Task<Contact?> LookUpAsync(IdentityKind kind, string value, CancellationToken cancellationToken)
        {
            var key = new ContactIdentityKey(kind, value);
            await CompletePendingHoldingAsync(key).ConfigureAwait(false);

            if (_overlap)
            {
                _groupKeys.Add(key);
            }

            return await (await WriterAsync(cancellationToken).ConfigureAwait(false)).FindAsync(kind, value, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The row's target so far, given that one of its identities belongs to <paramref name="found"/>: the first contact found is the target, another one is a conflict.</summary>
        private Contact? Consider(long row, IdentityKind kind, string value, string column, Contact? target, Contact? found)
        {
            if (found is null)
            {
                return target;
            }

            if (target is null)
            {
                return found;
            }

            if (found.Id != target.Id)
            {
                _conflicts.Add((kind, value));
                Flag(column, value, "identity-conflict", $"Row {row}, column '{column}': {IdentityNames.Of(kind)} '{value}' belongs to another contact ({found.Id}); the row was merged into {target.Id} without it.", IdentityNames.Of(kind));
            }

            return target;
        }

        private Contact Build(long row, Instant now, HashSet<(IdentityKind, string)> conflicts, (string Value, MergePolicy Merge)? name, (string Value, MergePolicy Merge)? ownerId, (string Value, MergePolicy Merge)? zone) =>
            // Merged into the shared blank contact, which Merge copies with the new id: no contact, identities and
            // attribute dictionary built only to be copied (≈ 300 B per new row).
            Merge(row, now, Blank, conflicts, name, ownerId, zone, ContactId.New());

        /// <summary>
        /// Adds the row's <paramref name="values"/> of one kind that are neither conflicts nor held already: the first fills
        /// an empty <paramref name="primary"/>, the others go to <paramref name="added"/>, a copy of
        /// <paramref name="additional"/> made only when something is added.
        /// </summary>
        private static void AddIdentities(List<string> values, IdentityKind kind, HashSet<(IdentityKind, string)> conflicts, ref string? primary, IReadOnlyList<string> additional, ref List<string>? added)
        {
            foreach (var value in values)
            {
                if (conflicts.Contains((kind, value)) || value == primary || additional.Contains(value))
                {
                    continue;
                }

                if (primary is null)
                {
                    primary = value;
                }
                else if (!(added ??= [.. additional]).Contains(value))
                {
                    added.Add(value);
                }
            }
        }

        /// <summary>
        /// The row merged into <paramref name="contact"/>; with <paramref name="newId"/>, a new contact of that id created
        /// at <paramref name="now"/> (then <paramref name="contact"/> is <see cref="Blank"/>, whose parts are never changed).
        /// </summary>
        private Contact Merge(long row, Instant now, Contact contact, HashSet<(IdentityKind, string)> conflicts, (string Value, MergePolicy Merge)? name, (string Value, MergePolicy Merge)? ownerId, (string Value, MergePolicy Merge)? zone, ContactId? newId = null)
        {
            // Identities: the contact's, plus the row's that are neither conflicts nor held already; the lists are copied
            // only when the row adds to them.
            var identities = contact.Identities;
            var phone = identities.Phone;
            var email = identities.Email;
            List<string>? phones = null;
            List<string>? emails = null;
            AddIdentities(_r.Phones, IdentityKind.Phone, conflicts, ref phone, identities.AdditionalPhones, ref phones);
            AddIdentities(_r.Emails, IdentityKind.Email, conflicts, ref email, identities.AdditionalEmails, ref emails);

            if (phone != identities.Phone || email != identities.Email || phones is not null || emails is not null)
            {
                identities = identities with
                {
                    Phone = phone,
                    Email = email,
                    AdditionalPhones = phones is null ? identities.AdditionalPhones : [.. phones],
                    AdditionalEmails = emails is null ? identities.AdditionalEmails : [.. emails],
                };
            }

            foreach (var (kind, (value, column)) in _r.Others)
            {
                if (conflicts.Contains((kind, value)))
                {
                    continue;
                }

                var existing = IdentityNames.Get(identities, kind);
                if (existing is null)
                {
                    identities = IdentityNames.Set(identities, kind, value);
                }
                else if (existing != value)
                {
                    Flag(column, value, "identity-conflict", $"Row {row}, column '{column}': the contact already has {IdentityNames.Of(kind)} '{existing}'; '{value}' was not stored.", IdentityNames.Of(kind));
                }
            }

            var attributes = new Dictionary<string, FieldValue>(contact.Attributes, StringComparer.Ordinal);
            foreach (var (column, value) in _r.Attributes)
            {
                var attribute = column.Definition!;
                attributes.TryGetValue(attribute.Name, out var current);
                var empty = ContactAttributes.IsEmpty(current) || (current is not null && owner._defaults.TryGetValue(attribute.Name, out var d) && Same(d, current));
                switch (column.Mapping.Merge)
                {
                    case MergePolicy.KeepExisting when !empty:
                        break;
                    case MergePolicy.Union when attribute.Type == AttributeType.StringList && !empty && current is ChoicesValue list && value is ChoicesValue items:
                        attributes[attribute.Name] = Union(list, items);
                        break;
                    default:
                        attributes[attribute.Name] = value;
                        break;
                }
            }

            if (mapping.ApplyAttributeDefaults)
            {
                foreach (var (attribute, value) in owner._defaults)
                {
                    attributes.TryAdd(attribute, value);
                }
            }

            var flags = _r.Flags.Count > 0 ? WithFlags(contact.QualityFlags, _r.Flags, now, $"{mapping.Source} row {row}") : contact.QualityFlags;

            return contact with
            {
                Id = newId ?? contact.Id,
                CreatedAt = newId is null ? contact.CreatedAt : now,
                Identities = identities,
                Attributes = attributes,
                QualityFlags = flags,
                Name = Pick(contact.Name, name),
                OwnerId = Pick(contact.OwnerId, ownerId),
                TimeZoneId = Pick(contact.TimeZoneId, zone),
            };
        }

        // Merge's lambdas live in these helpers: in Merge itself their closures would be allocated on every call (per row and
        // per attribute), also when no flag or list is merged.
        private static ChoicesValue Union(ChoicesValue list, ChoicesValue items) =>
            new([.. list.Values, .. items.Values.Where(v => !list.Values.Contains(v))]);

        private static IReadOnlyList<DataQualityFlag> WithFlags(IReadOnlyList<DataQualityFlag> flags, List<(string Column, string Value, string Code, string Reason, string Field)> added, Instant now, string source) =>
            [.. flags, .. added.Select(f => new DataQualityFlag(f.Field, f.Value, f.Code, f.Reason, now, source))];

        private static string? Pick(string? current, (string Value, MergePolicy Merge)? incoming) =>
            incoming is not { } i ? current
            : i.Merge == MergePolicy.KeepExisting && !string.IsNullOrWhiteSpace(current) ? current
            : i.Value;

        /// <summary>
        /// Adds where the import was to a store's exception (<see cref="Exception.Data"/>: <c>Campaigns.Import.Row</c>, the
        /// row being written; <c>Campaigns.Import.FirstRow</c> and <c>Campaigns.Import.LastRow</c>, the rows of its chunk;
        /// <c>Campaigns.Import.CommittedRows</c>, the rows read and committed before it) and returns it, so it is rethrown
        /// as it was (same type, same stack) but says where it happened. Meant for an exception filter: always false.
        /// </summary>
        private bool Locate(Exception ex, Chunk? chunk, long? row)
        {
            if (!ex.Data.IsReadOnly && !ex.Data.Contains("Campaigns.Import.CommittedRows"))
            {
                if (row is { } r)
                {
                    ex.Data["Campaigns.Import.Row"] = r;
                }

                if (chunk is { Count: > 0 })
                {
                    ex.Data["Campaigns.Import.FirstRow"] = chunk.Rows[0].Row;
                    ex.Data["Campaigns.Import.LastRow"] = chunk.Rows[chunk.Count - 1].Row;
                }

                ex.Data["Campaigns.Import.CommittedRows"] = _batch is null ? _read : _committedRows;
            }

            return false;
        }

        /// <summary>Rows of a chunk, reused from chunk to chunk (and between the reading and the writing side).</summary>
        private sealed class Chunk
        {
            public List<RowState> Rows { get; } = new(ChunkSize);

            public int Count { get; private set; }

            /// <summary>The next row state of the chunk (reused from earlier chunks), cleared.</summary>
            public RowState Next(long row)
            {
                if (Count == Rows.Count)
                {
                    Rows.Add(new RowState());
                }

                var state = Rows[Count++];
                state.Clear(row);
                return state;
            }

            public void Reset() => Count = 0;
        }

        /// <summary>One row of a chunk, parsed and cleaned: its identities, attributes and flags, or why it is rejected.</summary>
        private sealed class RowState
        {
            public long Row { get; private set; }

            public List<(string Column, string Value, string Code, string Reason, string Field)> Flags { get; } = [];

            public List<string> Phones { get; } = [];

            public List<string> Emails { get; } = [];

            public Dictionary<string, string> PhoneColumns { get; } = new(StringComparer.Ordinal);

            public Dictionary<string, string> EmailColumns { get; } = new(StringComparer.Ordinal);

            public Dictionary<IdentityKind, (string Value, string Column)> Others { get; } = [];

            public List<(PlannedColumn Column, FieldValue Value)> Attributes { get; } = [];

            public (string Value, MergePolicy Merge)? Name { get; set; }

            public (string Value, MergePolicy Merge)? OwnerId { get; set; }

            public (string Value, MergePolicy Merge)? Zone { get; set; }

            public (string Column, string Value, string Code, string Reason)? Rejection { get; set; }

            /// <summary>Whether the row's identities were in its chunk's early lookup.</summary>
            public bool Prefetched { get; set; }

            /// <summary>Whether the row was set aside (this state only keeps its place in the chunk).</summary>
            public bool Deferred { get; private set; }

            /// <summary>Makes this state the placeholder of a row set aside.</summary>
            public void Defer(long row)
            {
                Clear(row);
                Deferred = true;
            }

            public void Clear(long row)
            {
                Row = row;
                Deferred = false;
                Prefetched = false;
                Flags.Clear();
                Phones.Clear();
                Emails.Clear();
                PhoneColumns.Clear();
                EmailColumns.Clear();
                Others.Clear();
                Attributes.Clear();
                Name = OwnerId = Zone = null;
                Rejection = null;
            }

            private readonly List<ContactIdentityKey> _keys = [];

            /// <summary>
            /// The row's valid identities, in a list the row reuses (no iterator per call): valid until the next call;
            /// iterate it without changing the row meanwhile.
            /// </summary>
            public List<ContactIdentityKey> Keys()
            {
                _keys.Clear();
                foreach (var phone in Phones)
                {
                    _keys.Add(new ContactIdentityKey(IdentityKind.Phone, phone));
                }

                foreach (var email in Emails)
                {
                    _keys.Add(new ContactIdentityKey(IdentityKind.Email, email));
                }

                foreach (var (kind, (value, _)) in Others)
                {
                    _keys.Add(new ContactIdentityKey(kind, value));
                }

                return _keys;
            }
        }

        private static bool Same(FieldValue a, FieldValue b) => (a, b) switch
        {
            (ChoicesValue x, ChoicesValue y) => x.Values.SequenceEqual(y.Values),
            _ => a.Equals(b),
        };
    }
}
