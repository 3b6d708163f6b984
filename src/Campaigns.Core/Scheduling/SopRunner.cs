using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Modeling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Scheduling;

/// <summary>Settings of the SOP runner (configuration section <c>Campaigns:Sops</c> when bound).</summary>
public sealed class SopOptions
{
    /// <summary>
    /// The value of the <c>{link}</c> variable: a URL template where <c>{campaignId}</c> and <c>{participantId}</c> are
    /// replaced, e.g. <c>https://m.example.com/c/{campaignId}?p={participantId}</c>. When null, an SOP whose content uses
    /// <c>{link}</c> is reported at approval.
    /// </summary>
    public string? LinkTemplate { get; set; }

    /// <summary>
    /// An SOP send due longer ago than this (after downtime, or a registration recorded late) is skipped rather than sent
    /// late (default one day; null sends every overdue send once, still through send windows and caps).
    /// </summary>
    public TimeSpan? SkipIfOlderThan { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long to wait before trying again a send whose task is paused by a delivery alert (default 1 min).</summary>
    public TimeSpan PausedRetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest the hosted <see cref="SopWorker"/> sleeps between rounds (default 1 min).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Validates <see cref="SopOptions"/> at start, naming the configuration keys.</summary>
internal sealed class SopOptionsValidator : IValidateOptions<SopOptions>
{
    public ValidateOptionsResult Validate(string? name, SopOptions options)
    {
        var errors = new List<string>();
        if (options.LinkTemplate is { } link && !Uri.TryCreate(link.Replace("{campaignId}", "c", StringComparison.Ordinal).Replace("{participantId}", "p", StringComparison.Ordinal), UriKind.Absolute, out _))
        {
            errors.Add($"Campaigns:Sops:LinkTemplate: '{link}' is not an absolute URL (e.g. https://m.example.com/c/{{campaignId}}).");
        }

        if (options.SkipIfOlderThan is { } skip && skip <= TimeSpan.Zero)
        {
            errors.Add($"Campaigns:Sops:SkipIfOlderThan: {skip} is not positive; leave it empty to send every overdue message.");
        }

        if (options.PausedRetryInterval <= TimeSpan.Zero)
        {
            errors.Add($"Campaigns:Sops:PausedRetryInterval: {options.PausedRetryInterval} is not positive.");
        }

        if (options.PollInterval <= TimeSpan.Zero)
        {
            errors.Add($"Campaigns:Sops:PollInterval: {options.PollInterval} is not positive.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// One planned SOP send: one SOP, one participant, one occurrence of the SOP's moment, one channel. Immutable.
/// </summary>
public sealed record SopSend
{
    /// <summary>The campaign.</summary>
    public required CampaignId CampaignId { get; init; }

    /// <summary>The SOP's key, e.g. <c>registration-success</c>.</summary>
    public required string SopKey { get; init; }

    /// <summary>The SOP's display name.</summary>
    public required string SopName { get; init; }

    /// <summary>Customer-facing or sales-facing.</summary>
    public required SopAudience Audience { get; init; }

    /// <summary>The channel name.</summary>
    public required string Channel { get; init; }

    /// <summary>The participant the SOP is about (the recipient for customer SOPs; the customer the salesperson hears about).</summary>
    public required ParticipantId ParticipantId { get; init; }

    /// <summary>
    /// Which occurrence of the SOP's moment: the anchor for campaign moments (<c>eventDay</c>, <c>liveStart</c>, ...),
    /// <c>registered</c> for the registration notice, <c>{activity}-{n}</c> for the n-th interaction of a kind.
    /// </summary>
    public required string Occurrence { get; init; }

    /// <summary>When it is due (UTC instant; resolved in the campaign's zone with the SDK's DST policy).</summary>
    public required Instant DueAt { get; init; }

    /// <summary>The pipeline's idempotency key: <c>sop/{campaign}/{sop}/{participant}/{occurrence}/{channel}</c>.</summary>
    public string IdempotencyKey => string.Create(CultureInfo.InvariantCulture, $"sop/{CampaignId}/{SopKey}/{ParticipantId}/{Occurrence}/{Channel}");

    /// <summary>The execution record (sending task) of the SOP: <c>sop/{campaign}/{sop}</c>.</summary>
    public string TaskId => string.Create(CultureInfo.InvariantCulture, $"sop/{CampaignId}/{SopKey}");
}

/// <summary>What happened to an SOP send in a round of <see cref="SopRunner.RunDueAsync(Instant, CancellationToken)"/>.</summary>
public enum SopSendStatus
{
    /// <summary>The provider accepted it (or had: a replay after a restart, nothing was sent again).</summary>
    Sent = 0,

    /// <summary>Outside the recipient's send window; tried again at the next allowed instant.</summary>
    Deferred = 1,

    /// <summary>The gate refused it (consent, do-not-contact, frequency cap, address).</summary>
    Suppressed = 2,

    /// <summary>The channel or the content rules failed it.</summary>
    Failed = 3,

    /// <summary>The SOP's sending task is paused (a delivery alert); tried again after <see cref="SopOptions.PausedRetryInterval"/>.</summary>
    Paused = 4,

    /// <summary>Not sent: overdue beyond <see cref="SopOptions.SkipIfOlderThan"/>, no contact, no owner, or no channel.</summary>
    Skipped = 5,

    /// <summary>
    /// In doubt (<see cref="DeliveryStatus.Unknown"/>): an earlier attempt's host died between the provider's accept and
    /// the record, and the channel can neither dedupe nor be asked; not sent again (at most once), so it was delivered
    /// once or not at all. Reported like a failure (logged as a warning), never as sent.
    /// </summary>
    Unknown = 6,
}

/// <summary>The result of one SOP send in a round.</summary>
/// <param name="Send">The planned send.</param>
/// <param name="At">When the runner handled it.</param>
/// <param name="Status">What happened.</param>
/// <param name="Detail">Why, in a sentence.</param>
/// <param name="Outcome">The pipeline's outcome when the pipeline was called.</param>
public sealed record SopDelivery(SopSend Send, Instant At, SopSendStatus Status, string Detail, DeliveryOutcome? Outcome = null);

/// <summary>The result of a round.</summary>
/// <param name="Deliveries">What was done, in due order.</param>
/// <param name="NextDue">The earliest instant something else becomes due (a future send or a deferred retry), or null.</param>
public sealed record SopRunResult(IReadOnlyList<SopDelivery> Deliveries, Instant? NextDue);

/// <summary>
/// Turns a campaign's SOP set and its participants into planned sends (F-6.1). Pure and thread-safe.
/// Customer SOPs reach registered participants (status <see cref="RegistrationStatus.Registered"/>); the registration
/// notice is relative to the registration's approval (or submission, when no approval was needed); interaction SOPs
/// fire once per matching participant activity; an SOP whose anchor is not set (a live start on an offline event) plans nothing.
/// </summary>
public static class SopPlanner
{
    /// <summary>Plans every send of a campaign's SOPs for the given participants, in due order.</summary>
    /// <param name="campaign">The campaign (its SOPs, schedule and zone).</param>
    /// <param name="participants">Its participants.</param>
    /// <exception cref="ScheduleException">The campaign's zone is unknown.</exception>
    public static IReadOnlyList<SopSend> Plan(Campaign campaign, IEnumerable<Participant> participants)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(participants);
        var sends = new List<SopSend>();
        var baseContext = ScheduleContext.For(campaign.Schedule);
        foreach (var participant in participants)
        {
            foreach (var sop in campaign.Sops)
            {
                foreach (var (occurrence, due) in Occurrences(sop, participant, baseContext))
                {
                    foreach (var channel in sop.Channels)
                    {
                        sends.Add(new SopSend
                        {
                            CampaignId = campaign.Id,
                            SopKey = sop.Key,
                            SopName = sop.Name,
                            Audience = sop.Audience,
                            Channel = channel,
                            ParticipantId = participant.Id,
                            Occurrence = occurrence,
                            DueAt = due,
                        });
                    }
                }
            }
        }

        sends.Sort(static (a, b) => a.DueAt.CompareTo(b.DueAt));
        return sends;
    }

    /// <summary>When a participant registered successfully: the last approval, else the last registration; null unless registered.</summary>
    /// <param name="participant">The participant.</param>
    public static Instant? RegistrationSucceededAt(Participant participant)
    {
        ArgumentNullException.ThrowIfNull(participant);
        if (participant.Status != RegistrationStatus.Registered)
        {
            return null;
        }

        Instant? approved = null, registered = null;
        foreach (var a in participant.Activities)
        {
            if (a.Kind == ParticipantActivityKind.Approved)
            {
                approved = a.At;
            }
            else if (a.Kind == ParticipantActivityKind.Registered)
            {
                registered = a.At;
            }
        }

        return approved ?? registered;
    }

    private static IEnumerable<(string Occurrence, Instant Due)> Occurrences(SopDefinition sop, Participant participant, ScheduleContext context)
    {
        if (sop.Anchor == SopAnchor.Interaction)
        {
            var counts = new Dictionary<ParticipantActivityKind, int>();
            foreach (var activity in participant.Activities)
            {
                if (!sop.Interactions.Contains(activity.Kind))
                {
                    continue;
                }

                var n = counts[activity.Kind] = counts.GetValueOrDefault(activity.Kind) + 1;
                if (ScheduleResolver.Resolve(sop, context with { Interaction = activity.At }) is { } due)
                {
                    yield return (string.Create(CultureInfo.InvariantCulture, $"{Camel(activity.Kind.ToString())}-{n}"), due);
                }
            }

            yield break;
        }

        if (participant.Status != RegistrationStatus.Registered)
        {
            yield break;
        }

        if (sop.Anchor == SopAnchor.RegistrationSucceeded)
        {
            if (RegistrationSucceededAt(participant) is { } at && ScheduleResolver.Resolve(sop, context with { RegistrationSucceeded = at }) is { } due)
            {
                yield return ("registered", due);
            }

            yield break;
        }

        if (ScheduleResolver.Resolve(sop, context) is { } moment)
        {
            yield return (Camel(sop.Anchor.ToString()), moment);
        }
    }

    internal static string Camel(string name) => string.Concat(char.ToLowerInvariant(name[0]).ToString(), name.AsSpan(1));
}

/// <summary>
/// Runs campaigns' SOPs (F-6.1): on each round it plans the sends of every campaign that is approved, scheduled,
/// running or completed (not drafts, pending, paused, cancelled or archived campaigns), and delivers those that are due
/// through <see cref="IDeliveryPipeline"/> with the idempotency key <c>sop/{campaign}/{sop}/{participant}/{occurrence}/{channel}</c>
/// and the sending task <c>sop/{campaign}/{sop}</c> (its execution record). Driven by the instant passed in (the clock's); the hosted <see cref="SopWorker"/> (<c>AddSopWorker()</c>) calls it on a schedule.
/// <para>
/// Customer SOPs go to the participant's contact (linked by id, else found by phone, then e-mail) through the full gate
/// (consent, caps, send window in the contact's zone). Sales SOPs go to the contact's owner as an internal recipient: not
/// gated by the customer's consent or caps, in the campaign's zone. A send that is done (sent, suppressed, failed or
/// skipped) is remembered in memory; after a restart the pipeline's idempotency store answers a repeated key with the
/// recorded outcome, so nothing is sent twice. Thread-safe; rounds may overlap (the pipeline serializes each key).
/// </para>
/// </summary>
public sealed class SopRunner
{
    private static readonly Guid SampleId = new("5a3e0000-0000-4000-8000-000000000001");
    private static readonly CampaignState[] RunningStates = [CampaignState.Approved, CampaignState.Scheduled, CampaignState.Running, CampaignState.Completed];
    private readonly ICampaignStore _campaigns;
    private readonly IParticipantStore _participants;
    private readonly IContactStore _contacts;
    private readonly IDeliveryPipeline _pipeline;
    private readonly IChannelRegistry _channels;
    private readonly SopOptions _options;
    private readonly ContentChecker _content;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Progress> _progress = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MessageTemplate> _templates = new(StringComparer.Ordinal);

    /// <summary>Creates the runner (usually resolved from DI).</summary>
    /// <param name="campaigns">Campaigns (read).</param>
    /// <param name="participants">Participants (read).</param>
    /// <param name="contacts">Contacts (read).</param>
    /// <param name="pipeline">The delivery pipeline.</param>
    /// <param name="channels">The registered channels.</param>
    /// <param name="options">SOP settings.</param>
    /// <param name="campaignsOptions">The SDK options (the content rules checked at approval).</param>
    /// <param name="logger">A logger, or null.</param>
    public SopRunner(ICampaignStore campaigns, IParticipantStore participants, IContactStore contacts, IDeliveryPipeline pipeline, IChannelRegistry channels, IOptions<SopOptions> options, IOptions<CampaignsOptions> campaignsOptions, ILogger<SopRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(campaignsOptions);
        _content = new ContentChecker(campaignsOptions.Value.Delivery);
        _campaigns = campaigns;
        _participants = participants;
        _contacts = contacts;
        _pipeline = pipeline;
        _channels = channels;
        _options = options.Value;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The variables every SOP content can use (<c>link</c> only with <see cref="SopOptions.LinkTemplate"/>).</summary>
    public IReadOnlyList<string> AvailableVariables =>
        _options.LinkTemplate is null ? ["name", "campaign", "topic", "time", "date", "location", "activity"] : ["name", "campaign", "topic", "time", "date", "location", "activity", "link"];

    /// <summary>
    /// What would make a campaign's SOPs fail at send time, as approval findings: a channel that is not registered,
    /// an SOP without channels or content, a content variable without a value, content that breaks the delivery content
    /// rules for a channel (SMS length and segments, banned words; checked with the campaign's values and a sample name),
    /// an anchor the campaign's schedule does not set (e.g. a live-start SOP without <c>schedule.liveStartsAt</c>).
    /// Each finding names the SOP (and the channel).
    /// </summary>
    /// <param name="campaign">The campaign.</param>
    /// <returns>Findings as "sops[key] 'name': problem"; empty when fine.</returns>
    public IReadOnlyList<string> Check(Campaign campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var findings = new List<string>();
        var available = AvailableVariables;
        foreach (var sop in campaign.Sops)
        {
            var at = $"sops[{sop.Key}] '{sop.Name}'";
            if (sop.Channels.Count == 0)
            {
                findings.Add($"{at}: names no channel.");
            }

            var samples = SampleValues(campaign);
            foreach (var channel in sop.Channels)
            {
                if (!_channels.TryGetChannel(channel, out var registered))
                {
                    findings.Add($"{at}: channel '{channel}' is not registered (registered: {(_channels.Names.Count == 0 ? "none" : string.Join(", ", _channels.Names))}); register it with AddChannel(\"{channel}\", ...) or remove it from the SOP.");
                    continue;
                }

                if (string.IsNullOrWhiteSpace(sop.Content))
                {
                    continue;
                }

                var kind = registered.Capabilities.AddressKind switch
                {
                    ChannelAddressKind.Phone => MessageKind.Sms,
                    ChannelAddressKind.Email => MessageKind.Email,
                    _ => MessageKind.Text,
                };
                foreach (var issue in _content.CheckTemplate(Template(sop.Content), kind, samples).Errors.Where(i => i.Code != ContentIssueCode.MissingVariable))
                {
                    findings.Add($"{at}: on '{channel}': {issue.Message}");
                }
            }

            if (string.IsNullOrWhiteSpace(sop.Content))
            {
                findings.Add($"{at}: has no content.");
            }
            else
            {
                foreach (var missing in Template(sop.Content).FindUnsatisfied(available))
                {
                    findings.Add(string.Equals(missing, "link", StringComparison.Ordinal)
                        ? $"{at}: the content uses {{link}} but Campaigns:Sops:LinkTemplate is not set."
                        : $"{at}: the content uses {{{missing}}}, which has no value (available: {string.Join(", ", available)}).");
                }
            }

            var schedule = campaign.Schedule;
            var unset = sop.Anchor switch
            {
                SopAnchor.EventDay or SopAnchor.EventStart when schedule.StartsAt is null => "schedule.startsAt",
                SopAnchor.LiveStart when schedule.LiveStartsAt is null => "schedule.liveStartsAt",
                SopAnchor.EventEnd when schedule.EndsAt is null => "schedule.endsAt",
                _ => null,
            };
            if (unset is not null)
            {
                findings.Add($"{at}: is relative to {SopPlanner.Camel(sop.Anchor.ToString())} but the campaign's {unset} is not set.");
            }
        }

        return findings;
    }

    /// <summary>Runs a round over every campaign whose SOPs run (approved, scheduled, running, completed).</summary>
    /// <param name="now">The current instant (usually the clock's).</param>
    /// <param name="cancellationToken">Cancels between sends.</param>
    /// <returns>What was done and when something is next due.</returns>
    public async ValueTask<SopRunResult> RunDueAsync(Instant now, CancellationToken cancellationToken = default)
    {
        var deliveries = new List<SopDelivery>();
        Instant? next = null;
        await foreach (var campaign in _campaigns.ListAsync(RunningStates, cancellationToken).ConfigureAwait(false))
        {
            var result = await RunCampaignAsync(campaign, now, cancellationToken).ConfigureAwait(false);
            deliveries.AddRange(result.Deliveries);
            next = Earliest(next, result.NextDue);
        }

        return new SopRunResult(deliveries, next);
    }

    /// <summary>Runs a round over one campaign (whatever its state: the caller decides).</summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="now">The current instant.</param>
    /// <param name="cancellationToken">Cancels between sends.</param>
    /// <returns>What was done and when something is next due.</returns>
    /// <exception cref="EntityNotFoundException">No such campaign.</exception>
    public async ValueTask<SopRunResult> RunCampaignDueAsync(CampaignId campaignId, Instant now, CancellationToken cancellationToken = default)
    {
        var campaign = await _campaigns.GetAsync(campaignId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException("campaign", campaignId.ToString());
        return await RunCampaignAsync(campaign, now, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<SopRunResult> RunCampaignAsync(Campaign campaign, Instant now, CancellationToken cancellationToken)
    {
        if (campaign.Sops.Count == 0)
        {
            return new SopRunResult([], null);
        }

        var participants = new Dictionary<ParticipantId, Participant>();
        await foreach (var p in _participants.ListAsync(campaign.Id, cancellationToken).ConfigureAwait(false))
        {
            participants[p.Id] = p;
        }

        var deliveries = new List<SopDelivery>();
        Instant? next = null;
        var contacts = new Dictionary<ParticipantId, Contact?>();
        foreach (var send in SopPlanner.Plan(campaign, participants.Values))
        {
            var key = send.IdempotencyKey;
            var progress = _progress.GetValueOrDefault(key);
            if (progress.Done)
            {
                continue;
            }

            var due = progress.RetryAt ?? send.DueAt;
            if (due > now)
            {
                next = Earliest(next, due);
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var participant = participants[send.ParticipantId];
            if (!contacts.TryGetValue(participant.Id, out var contact))
            {
                contact = contacts[participant.Id] = await ContactOfAsync(participant, cancellationToken).ConfigureAwait(false);
            }

            var delivery = await DeliverAsync(campaign, participant, contact, send, progress, now, cancellationToken).ConfigureAwait(false);
            deliveries.Add(delivery);
            var retryAt = delivery.Status switch
            {
                SopSendStatus.Deferred => delivery.Outcome?.DeferredUntil,
                SopSendStatus.Paused => now + Duration.FromTimeSpan(_options.PausedRetryInterval),
                _ => null,
            };
            _progress[key] = retryAt is null ? new Progress(true, null) : new Progress(false, retryAt);
            next = retryAt is null ? next : Earliest(next, retryAt);
        }

        return new SopRunResult(deliveries, next);
    }

    private async ValueTask<SopDelivery> DeliverAsync(Campaign campaign, Participant participant, Contact? customer, SopSend send, Progress progress, Instant now, CancellationToken cancellationToken)
    {
        SopDelivery Skip(string why) => new(send, now, SopSendStatus.Skipped, why);

        // Overdue beyond the limit (downtime, late registration): skip, unless it is a deferral we are retrying.
        if (progress.RetryAt is null && _options.SkipIfOlderThan is { } limit && now - send.DueAt > Duration.FromTimeSpan(limit))
        {
            return Skip($"due {send.DueAt}, more than {limit} ago; skipped (Campaigns:Sops:SkipIfOlderThan)");
        }

        if (!_channels.TryGetChannel(send.Channel, out _))
        {
            // Reported at approval (SopApprovalCheck); reaching this means the channel was removed since.
            return Skip($"channel '{send.Channel}' is not registered");
        }

        if (customer is null)
        {
            return Skip($"participant {participant.Id} ({participant.Name}) is not linked to a contact and none has their phone or e-mail");
        }

        Contact recipientContact;
        string? recipient = null;
        if (send.Audience == SopAudience.Sales)
        {
            if (customer.OwnerId is not { } owner)
            {
                return Skip($"the contact {customer.Id} has no owner to notify");
            }

            recipientContact = SalesContact(owner, send.Channel, campaign.Schedule.TimeZoneId, now);
            recipient = owner;
        }
        else
        {
            recipientContact = customer;
        }

        var sop = campaign.Sops.First(s => string.Equals(s.Key, send.SopKey, StringComparison.Ordinal));
        var request = new DeliveryRequest
        {
            IdempotencyKey = send.IdempotencyKey,
            Contact = recipientContact,
            Channel = send.Channel,
            Template = Template(sop.Content ?? string.Empty),
            Variables = Variables(campaign, participant, customer, send, sop),
            TaskId = send.TaskId,
            CampaignId = campaign.Id,
            Recipient = recipient,
        };
        var outcome = await _pipeline.DeliverAsync(request, cancellationToken).ConfigureAwait(false);
        var reason = outcome.Decisions.LastOrDefault(d => !d.Passed).Detail;
        var delivery = outcome.Status switch
        {
            DeliveryStatus.Sent => new SopDelivery(send, now, SopSendStatus.Sent, outcome.IsReplay ? $"sent via {outcome.Channel} (replay: already sent)" : $"sent via {outcome.Channel}", outcome),
            DeliveryStatus.Deferred => new SopDelivery(send, now, SopSendStatus.Deferred, reason ?? "outside the send window", outcome),
            DeliveryStatus.Suppressed => new SopDelivery(send, now, SopSendStatus.Suppressed, $"suppressed by {outcome.SuppressedBy}: {reason}", outcome),
            DeliveryStatus.Paused or DeliveryStatus.InProgress => new SopDelivery(send, now, SopSendStatus.Paused, outcome.Status == DeliveryStatus.Paused ? $"the task {send.TaskId} is paused" : outcome.Result?.Detail ?? "another host is sending it", outcome),
            DeliveryStatus.Unknown => new SopDelivery(send, now, SopSendStatus.Unknown, outcome.Result?.Detail ?? "in doubt: sent once or not at all; not sent again", outcome),
            _ => new SopDelivery(send, now, SopSendStatus.Failed, $"failed: {outcome.Result}", outcome),
        };
        if (delivery.Status is SopSendStatus.Failed or SopSendStatus.Unknown)
        {
            _logger.LogWarning("SOP {SopKey} of campaign {CampaignId} failed for participant {ParticipantId} on {Channel}: {Detail}", send.SopKey, send.CampaignId, send.ParticipantId, send.Channel, delivery.Detail);
        }

        return delivery;
    }

    private async ValueTask<Contact?> ContactOfAsync(Participant participant, CancellationToken cancellationToken)
    {
        if (participant.ContactId is { } id && ContactId.TryParse(id, null, out var contactId)
            && await _contacts.GetAsync(contactId, cancellationToken).ConfigureAwait(false) is { } linked)
        {
            return linked;
        }

        if (participant.Phone is { } phone && await _contacts.FindAsync(IdentityKind.Phone, phone, cancellationToken).ConfigureAwait(false) is { } byPhone)
        {
            return byPhone;
        }

        return participant.Email is { } email ? await _contacts.FindAsync(IdentityKind.Email, email, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>The salesperson as an internal recipient: a stable id per owner, consent as an employee, the campaign's zone.</summary>
    private static Contact SalesContact(string owner, string channel, string zone, Instant now) => new()
    {
        Id = new ContactId(new Guid(SHA256.HashData(Encoding.UTF8.GetBytes("sales-owner/" + owner)).AsSpan(0, 16))),
        Name = owner,
        TimeZoneId = zone,
        CreatedAt = now,
        Consents = new Dictionary<string, ConsentRecord>(StringComparer.Ordinal) { [channel] = new(true, "employee notification", now) },
    };

    private Dictionary<string, string> Variables(Campaign campaign, Participant participant, Contact customer, SopSend send, SopDefinition sop)
    {
        var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(campaign.Schedule.TimeZoneId) ?? DateTimeZone.Utc;
        var moment = sop.Anchor == SopAnchor.Interaction ? send.DueAt : campaign.Schedule.StartsAt;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = participant.Name ?? customer.Name ?? string.Empty,
            ["campaign"] = campaign.Name,
            ["topic"] = campaign.Topic ?? campaign.Name,
            ["location"] = campaign.Schedule.Location ?? string.Empty,
            ["activity"] = send.Occurrence,
        };
        if (moment is { } m)
        {
            var local = m.InZone(zone).LocalDateTime;
            values["time"] = local.ToString("uuuu-MM-dd HH:mm", CultureInfo.InvariantCulture);
            values["date"] = local.Date.ToString("uuuu-MM-dd", CultureInfo.InvariantCulture);
        }

        if (_options.LinkTemplate is { } link)
        {
            values["link"] = link.Replace("{campaignId}", campaign.Id.ToString(), StringComparison.Ordinal)
                .Replace("{participantId}", participant.Id.ToString(), StringComparison.Ordinal);
        }

        return values;
    }

    private Dictionary<string, string> SampleValues(Campaign campaign)
    {
        var participant = new Participant { Id = new ParticipantId(SampleId), CampaignId = campaign.Id, Name = "王小明" };
        var customer = new Contact { Id = new ContactId(SampleId), Name = participant.Name, CreatedAt = Instant.MinValue };
        var send = new SopSend
        {
            CampaignId = campaign.Id,
            SopKey = "sample",
            SopName = "sample",
            Audience = SopAudience.Customer,
            Channel = "sample",
            ParticipantId = participant.Id,
            Occurrence = "registered-1",
            DueAt = campaign.Schedule.StartsAt ?? campaign.CreatedAt,
        };
        return Variables(campaign, participant, customer, send, new SopDefinition { Key = "sample", Name = "sample", Anchor = SopAnchor.Interaction });
    }

    private MessageTemplate Template(string content) => _templates.GetOrAdd(content, static c => new MessageTemplate(c));

    private static Instant? Earliest(Instant? a, Instant? b) => a is null ? b : b is null ? a : a < b ? a : b;

    private readonly record struct Progress(bool Done, Instant? RetryAt);
}

/// <summary>
/// Reports, at submission and at each approval, what would make a campaign's SOPs fail at send time
/// (<see cref="SopRunner.Check"/>): a channel that is not registered, a variable without a value, an unset anchor.
/// Registered by <c>AddSopRunner()</c>. Thread-safe.
/// </summary>
public sealed class SopApprovalCheck : ICampaignApprovalCheck
{
    private readonly SopRunner _runner;

    /// <summary>Creates the check.</summary>
    /// <param name="runner">The SOP runner (its channels and variables).</param>
    public SopApprovalCheck(SopRunner runner) => _runner = runner;

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> CheckAsync(Campaign campaign, CampaignAction action, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_runner.Check(campaign));
}
