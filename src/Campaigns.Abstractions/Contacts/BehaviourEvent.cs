using NodaTime;

namespace Campaigns.Contacts;

/// <summary>
/// The well-known behaviour event kinds (F-2.2). Hosts may use their own kinds too: any non-blank
/// lower-case name of letters, digits, '_' and '.'.
/// </summary>
public static class EventKinds
{
    /// <summary>A page view; properties <c>url</c>, <c>page_kind</c>.</summary>
    public const string PageView = "page_view";

    /// <summary>A form submission; property <c>form</c>.</summary>
    public const string FormSubmit = "form_submit";

    /// <summary>A campaign registration; property <c>campaign</c>.</summary>
    public const string Registration = "registration";

    /// <summary>A check-in at an event; property <c>campaign</c>.</summary>
    public const string CheckIn = "check_in";

    /// <summary>Watching a live stream; property <c>duration_seconds</c>.</summary>
    public const string LiveView = "live_view";

    /// <summary>A download; property <c>item</c>.</summary>
    public const string Download = "download";

    /// <summary>An e-mail opened.</summary>
    public const string EmailOpen = "email_open";

    /// <summary>A link in an e-mail clicked; property <c>url</c>.</summary>
    public const string EmailClick = "email_click";

    /// <summary>A link in an SMS clicked; property <c>url</c>.</summary>
    public const string SmsClick = "sms_click";

    /// <summary>A reply to a message (WeChat, WeCom, SMS).</summary>
    public const string MessageReply = "message_reply";

    /// <summary>A purchase; property <c>amount</c>.</summary>
    public const string Purchase = "purchase";

    /// <summary>Every well-known kind.</summary>
    public static IReadOnlyList<string> All { get; } =
        [PageView, FormSubmit, Registration, CheckIn, LiveView, Download, EmailOpen, EmailClick, SmsClick, MessageReply, Purchase];
}

/// <summary>
/// One behaviour event of a contact (F-2.2). Idempotent on <see cref="EventId"/>; windows are computed on
/// <see cref="OccurredAt"/>, not on arrival, so out-of-order arrival is tolerated.
/// </summary>
public sealed record BehaviourEvent
{
    /// <summary>The producer's unique id of the event; a second event with the same id is a duplicate.</summary>
    public required string EventId { get; init; }

    /// <summary>The contact it belongs to.</summary>
    public required ContactId ContactId { get; init; }

    /// <summary>The kind, e.g. <see cref="EventKinds.PageView"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>When it happened.</summary>
    public required Instant OccurredAt { get; init; }

    /// <summary>Properties as text by name, e.g. <c>url</c>, <c>page_kind</c>, <c>amount</c> (invariant culture for numbers).</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();
}
