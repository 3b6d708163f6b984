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

    private async ValueTask NotifyAsync<T>(T argument, Func<IContactChangeListener, T, CancellationToken, ValueTask> call, CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        foreach (var listener in _listeners)
        {
            try
            {
                await call(listener, argument, cancellationToken).ConfigureAwait(false);
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
