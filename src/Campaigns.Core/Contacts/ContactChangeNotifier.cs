namespace Campaigns.Contacts;

/// <summary>Calls the registered <see cref="IContactChangeListener"/>s, one after the other; every listener is called even when one throws.</summary>
internal sealed class ContactChangeNotifier(IEnumerable<IContactChangeListener> listeners)
{
    private readonly IContactChangeListener[] _listeners = [.. listeners];

    public bool HasListeners => _listeners.Length > 0;

    public ValueTask ChangedAsync(Contact? previous, Contact current, CancellationToken cancellationToken) =>
        _listeners.Length == 0
            ? ValueTask.CompletedTask
            : NotifyAsync(new ContactChange(previous, current), static (l, c, ct) => l.OnContactChangedAsync(c, ct), cancellationToken);

    public ValueTask IngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) =>
        _listeners.Length == 0
            ? ValueTask.CompletedTask
            : NotifyAsync(behaviourEvent, static (l, e, ct) => l.OnEventIngestedAsync(e, ct), cancellationToken);

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
