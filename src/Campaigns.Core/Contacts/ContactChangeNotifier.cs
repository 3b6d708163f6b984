namespace Campaigns.Contacts;

/// <summary>Calls the registered <see cref="IContactChangeListener"/>s, one after the other; every listener is called even when one throws.</summary>
internal sealed class ContactChangeNotifier
{
    private readonly IContactChangeListener[] _listeners;
    private readonly bool _hasContributors;

    public ContactChangeNotifier(IEnumerable<IContactChangeListener> listeners)
    {
        _listeners = [.. listeners];
        _hasContributors = Array.Exists(_listeners, static l => l is IContactChangeContributor);
    }

    public bool HasListeners => _listeners.Length > 0;

    public ValueTask ChangedAsync(Contact? previous, Contact current, CancellationToken cancellationToken) =>
        _listeners.Length == 0
            ? ValueTask.CompletedTask
            : NotifyAsync(new ContactChange(previous, current), static (l, c, ct) => l.OnContactChangedAsync(c, ct), cancellationToken);

    public ValueTask IngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) =>
        _listeners.Length == 0
            ? ValueTask.CompletedTask
            : NotifyAsync(behaviourEvent, static (l, e, ct) => l.OnEventIngestedAsync(e, ct), cancellationToken);

    /// <summary>
    /// Tells the listeners about a new event with one contact write for everything the event changes on its contact:
    /// first every <see cref="IContactChangeContributor"/> (rule tags, scoring, in registration order) adds its change to
    /// one <see cref="PendingContactUpdate"/>; then that update is written through <paramref name="writer"/> (one
    /// <see cref="IContactChangeListener.OnContactChangedAsync"/> round, seen by every listener once); then the other
    /// listeners get <see cref="IContactChangeListener.OnEventIngestedAsync"/> (so they see the contact with the event's
    /// tags and scores); last the parts' after-write steps run (lead events). Every listener is called even when one
    /// throws; the failures are thrown together at the end. Without a writer or contributors this is <see cref="IngestedAsync(BehaviourEvent, CancellationToken)"/>.
    /// </summary>
    public ValueTask IngestedAsync(BehaviourEvent behaviourEvent, IContactService? writer, CancellationToken cancellationToken) =>
        writer is null || !_hasContributors
            ? IngestedAsync(behaviourEvent, cancellationToken)
            : IngestWithOneWriteAsync(behaviourEvent, writer, cancellationToken);

    private async ValueTask IngestWithOneWriteAsync(BehaviourEvent behaviourEvent, IContactService writer, CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        var update = new PendingContactUpdate(behaviourEvent.ContactId);
        for (var i = 0; i < _listeners.Length; i++)
        {
            if (_listeners[i] is IContactChangeContributor contributor)
            {
                try
                {
                    await contributor.ContributeAsync(behaviourEvent, update, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    (failures ??= []).Add(ex);
                }
            }
        }

        var stored = true;
        if (update.Changes)
        {
            try
            {
                if (writer is ContactService service)
                {
                    await service.UpdateAsync(behaviourEvent.ContactId, update, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await writer.UpdateAsync(behaviourEvent.ContactId, update.Apply, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (AggregateException ex)
            {
                // Thrown by this notifier's change round after the write: the contact is stored, a listener failed.
                (failures ??= []).AddRange(ex.InnerExceptions);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                stored = false;
                (failures ??= []).Add(ex);
            }
        }

        for (var i = 0; i < _listeners.Length; i++)
        {
            if (_listeners[i] is not IContactChangeContributor)
            {
                try
                {
                    await _listeners[i].OnEventIngestedAsync(behaviourEvent, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    (failures ??= []).Add(ex);
                }
            }
        }

        for (var i = 0; stored && i < update.Count; i++)
        {
            try
            {
                await update[i].StoredAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            throw new AggregateException("A contact change listener failed; the change itself is stored.", failures);
        }
    }

    /// <summary>Calls the listeners in order without a state machine while each completes synchronously (the in-memory case).</summary>
    private ValueTask NotifyAsync<T>(T argument, Func<IContactChangeListener, T, CancellationToken, ValueTask> call, CancellationToken cancellationToken)
    {
        for (var i = 0; i < _listeners.Length; i++)
        {
            ValueTask pending;
            try
            {
                pending = call(_listeners[i], argument, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return RestAsync(argument, call, i + 1, default, [ex], cancellationToken);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return RestAsync(argument, call, i + 1, pending, null, cancellationToken);
            }

            pending.GetAwaiter().GetResult();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Awaits <paramref name="pending"/>, then calls the listeners from <paramref name="next"/> on; throws the failures together.</summary>
    private async ValueTask RestAsync<T>(
        T argument,
        Func<IContactChangeListener, T, CancellationToken, ValueTask> call,
        int next,
        ValueTask pending,
        List<Exception>? failures,
        CancellationToken cancellationToken)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            (failures ??= []).Add(ex);
        }

        for (var i = next; i < _listeners.Length; i++)
        {
            try
            {
                await call(_listeners[i], argument, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            throw new AggregateException("A contact change listener failed; the change itself is stored.", failures);
        }
    }
}
