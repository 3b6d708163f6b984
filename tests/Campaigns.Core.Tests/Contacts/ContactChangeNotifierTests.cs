using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Tests.Contacts;

/// <summary>Every listener is told each change once, in order, whether listeners complete synchronously or not; failures are thrown together after all were called.</summary>
public sealed class ContactChangeNotifierTests
{
    private static readonly BehaviourEvent Event = new()
    {
        EventId = "e-1",
        ContactId = ContactId.New(),
        Kind = EventKinds.PageView,
        OccurredAt = Instant.FromUtc(2026, 5, 20, 2, 0),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_listener_is_called_once_in_order(bool asynchronous)
    {
        var calls = new List<string>();
        var notifier = new ContactChangeNotifier([new Listener("a", calls, asynchronous), new Listener("b", calls, false), new Listener("c", calls, asynchronous)]);

        await notifier.IngestedAsync(Event, CancellationToken.None);

        Assert.Equal(["a", "b", "c"], calls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Failures_are_thrown_together_after_every_listener_was_called(bool asynchronous)
    {
        var calls = new List<string>();
        var notifier = new ContactChangeNotifier(
        [
            new Listener("a", calls, asynchronous, new InvalidOperationException("a failed")),
            new Listener("b", calls, false),
            new Listener("c", calls, true, new InvalidOperationException("c failed")),
            new Listener("d", calls, false),
        ]);

        var error = await Assert.ThrowsAsync<AggregateException>(async () => await notifier.IngestedAsync(Event, CancellationToken.None));

        Assert.Equal(["a", "b", "c", "d"], calls);
        Assert.Equal(["a failed", "c failed"], error.InnerExceptions.Select(e => e.Message));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cancellation_stops_at_the_listener_that_saw_it(bool asynchronous)
    {
        var calls = new List<string>();
        var notifier = new ContactChangeNotifier(
        [
            new Listener("a", calls, false),
            new Listener("b", calls, asynchronous, new OperationCanceledException()),
            new Listener("c", calls, false),
        ]);

        await Assert.ThrowsAsync<OperationCanceledException>(async () => await notifier.IngestedAsync(Event, CancellationToken.None));

        Assert.Equal(["a", "b"], calls);
    }

    private sealed class Listener(string name, List<string> calls, bool asynchronous, Exception? failure = null) : IContactChangeListener
    {
        public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken) => CallAsync();

        public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) => CallAsync();

        private ValueTask CallAsync()
        {
            calls.Add(name);
            if (!asynchronous)
            {
                return failure is null ? ValueTask.CompletedTask : throw failure;
            }

            return new ValueTask(CompleteLaterAsync());
        }

        private async Task CompleteLaterAsync()
        {
            await Task.Yield();
            if (failure is not null)
            {
                throw failure;
            }
        }
    }
}
