using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Contacts;

/// <summary>The outcome of ingesting one behaviour event.</summary>
public enum IngestStatus
{
    /// <summary>The event was new and is stored; listeners were told.</summary>
    Accepted = 0,

    /// <summary>An event with the same id was already stored; nothing changed.</summary>
    Duplicate = 1,

    /// <summary>The event is invalid; nothing was stored. See <see cref="IngestResult.Field"/> and <see cref="IngestResult.Reason"/>.</summary>
    Rejected = 2,
}

/// <summary>The result of <see cref="IContactEvents.IngestAsync"/>. Expected failures are values, not exceptions.</summary>
/// <param name="Status">Accepted, duplicate or rejected.</param>
/// <param name="EventId">The event's id as given (may be null or blank when that is why it was rejected).</param>
/// <param name="Field">For a rejection: the field at fault, e.g. <c>eventId</c>, <c>kind</c>, <c>contactId</c>, <c>properties.amount</c>.</param>
/// <param name="Reason">For a rejection: a sentence naming the field and the value.</param>
public readonly record struct IngestResult(IngestStatus Status, string? EventId, string? Field = null, string? Reason = null)
{
    /// <summary>Whether the event was stored now.</summary>
    public bool IsAccepted => Status == IngestStatus.Accepted;

    /// <summary>An accepted result.</summary>
    /// <param name="eventId">The event id.</param>
    public static IngestResult Accepted(string eventId) => new(IngestStatus.Accepted, eventId);

    /// <summary>A duplicate result.</summary>
    /// <param name="eventId">The event id.</param>
    public static IngestResult Duplicate(string eventId) => new(IngestStatus.Duplicate, eventId);

    /// <summary>A rejected result.</summary>
    /// <param name="eventId">The event id as given.</param>
    /// <param name="field">The field at fault.</param>
    /// <param name="reason">Why.</param>
    public static IngestResult Rejected(string? eventId, string field, string reason) => new(IngestStatus.Rejected, eventId, field, reason);
}

/// <summary>
/// The one entry point for behaviour events (F-2.2): page views, form submits, registrations, check-ins, live views,
/// downloads, e-mail opens and clicks, SMS clicks, message replies, purchases and custom kinds. Thread-safe.
/// </summary>
public interface IContactEvents
{
    /// <summary>
    /// Validates and stores an event, then tells the registered <see cref="IContactChangeListener"/>s. Idempotent on
    /// <see cref="BehaviourEvent.EventId"/>: a duplicate changes nothing, tells no listener and is reported as
    /// <see cref="IngestStatus.Duplicate"/> (even when its other fields differ: the first event wins). Out-of-order
    /// arrival is tolerated: events are kept and windows computed on <see cref="BehaviourEvent.OccurredAt"/>, not on
    /// arrival; only events more than <see cref="ContactsOptions.MaxEventClockSkew"/> in the clock's future are rejected.
    /// </summary>
    /// <remarks>
    /// Rejected: a blank or over-long (more than 200 characters) event id; a blank kind or one that is not lower-case
    /// letters, digits, '_' and '.' starting with a letter (at most 64 characters); an occurred-at instant too far in
    /// the future; a property name that is blank; <c>amount</c> or <c>duration_seconds</c> that is not a non-negative
    /// invariant-culture number; a contact that does not exist. A listener that throws does not undo the stored event:
    /// the exceptions are thrown together as an <see cref="AggregateException"/> after every listener was called. What
    /// the event changes on its contact (rule tags, scores, stage, owner) is written in one contact write, told to every
    /// listener as one <see cref="IContactChangeListener.OnContactChangedAsync"/>, before the other listeners are told
    /// of the event itself (docs/contacts.md, "Listeners").
    /// </remarks>
    /// <param name="behaviourEvent">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Accepted, duplicate, or rejected with the field and reason.</returns>
    ValueTask<IngestResult> IngestAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IContactEvents"/>.</summary>
/// <remarks>With <c>writer</c> (always with DI) the tag and scoring engines' changes from one event are written in one contact write.</remarks>
internal sealed partial class ContactEvents(
    IEventStore events,
    IContactStore contacts,
    IClock clock,
    ContactChangeNotifier notifier,
    IOptions<CampaignsOptions> options,
    IContactService? writer = null)
    : IContactEvents
{
    internal const int MaxEventIdLength = 200;

    private readonly Duration _maxSkew = Duration.FromTimeSpan(options.Value.Contacts.MaxEventClockSkew);

    public async ValueTask<IngestResult> IngestAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(behaviourEvent);
        if (Validate(behaviourEvent) is { } rejection)
        {
            return rejection;
        }

        if (await contacts.ReadAsync(behaviourEvent.ContactId, cancellationToken).ConfigureAwait(false) is null)
        {
            return IngestResult.Rejected(behaviourEvent.EventId, "contactId", $"Field 'contactId': no contact '{behaviourEvent.ContactId}' exists.");
        }

        if (!await events.AppendAsync(behaviourEvent, cancellationToken).ConfigureAwait(false))
        {
            return IngestResult.Duplicate(behaviourEvent.EventId);
        }

        await notifier.IngestedAsync(behaviourEvent, writer, cancellationToken).ConfigureAwait(false);
        return IngestResult.Accepted(behaviourEvent.EventId);
    }

    private IngestResult? Validate(BehaviourEvent e)
    {
        var id = e.EventId;
        if (string.IsNullOrWhiteSpace(id))
        {
            return IngestResult.Rejected(id, "eventId", $"Field 'eventId': '{id}' is blank; every event needs the producer's unique id.");
        }

        if (id.Length > MaxEventIdLength)
        {
            return IngestResult.Rejected(id, "eventId", $"Field 'eventId': '{id[..20]}…' is {id.Length} characters long; at most {MaxEventIdLength} are allowed.");
        }

        if (string.IsNullOrWhiteSpace(e.Kind))
        {
            return IngestResult.Rejected(id, "kind", $"Field 'kind' of event '{id}': '{e.Kind}' is blank; give a kind such as page_view or a custom one.");
        }

        if (!KindPattern().IsMatch(e.Kind))
        {
            return IngestResult.Rejected(id, "kind", $"Field 'kind' of event '{id}': '{e.Kind}' is not lower-case letters, digits, '_' and '.' starting with a letter (at most 64 characters), e.g. page_view.");
        }

        var latest = clock.GetCurrentInstant() + _maxSkew;
        if (e.OccurredAt > latest)
        {
            return IngestResult.Rejected(id, "occurredAt", $"Field 'occurredAt' of event '{id}': {e.OccurredAt} is more than {_maxSkew.TotalMinutes.ToString(CultureInfo.InvariantCulture)} minutes in the future of the clock; check the producer's clock and time zone.");
        }

        if (e.Properties is not { Count: > 0 } properties)
        {
            return null;
        }

        // The usual dictionary is walked with its struct enumerator (the interface's would be allocated per event).
        if (properties is Dictionary<string, string> dictionary)
        {
            foreach (var (name, value) in dictionary)
            {
                if (ValidateProperty(id, name, value) is { } rejected)
                {
                    return rejected;
                }
            }

            return null;
        }

        foreach (var (name, value) in properties)
        {
            if (ValidateProperty(id, name, value) is { } rejected)
            {
                return rejected;
            }
        }

        return null;
    }

    private static IngestResult? ValidateProperty(string id, string name, string value)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return IngestResult.Rejected(id, "properties", $"Field 'properties' of event '{id}': a property name is blank (value '{value}').");
        }

        if (name is "amount" or "duration_seconds"
            && !(decimal.TryParse(value, NumberStyles.Number, CultureInfo.InvariantCulture, out var number) && number >= 0))
        {
            return IngestResult.Rejected(id, $"properties.{name}", $"Field 'properties.{name}' of event '{id}': '{value}' is not a non-negative number (invariant culture, e.g. 1999.00).");
        }

        return null;
    }

    [GeneratedRegex(@"^[a-z][a-z0-9_.]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex KindPattern();
}
