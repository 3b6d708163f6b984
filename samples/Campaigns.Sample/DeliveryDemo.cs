using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Modeling;
using Campaigns.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Sample;

/// <summary>
/// Sends the seminar's registration-success notice (the SOP content of its template) to the registered participants
/// through the delivery pipeline (F-7): consent, quiet hours in each contact's zone, render, then the <c>email</c>
/// channel — the SMTP adapter when <c>Campaigns:Channels:Email:Host</c> is configured, else a recording channel, so
/// no server is needed. Then an unsubscribe receipt withdraws one participant's consent and the next notice to them is
/// refused.
/// </summary>
internal sealed class DeliveryDemo(
    IDeliveryPipeline pipeline,
    IExecutionRecords records,
    IDeliveryReceiptSink receipts,
    IContactService contacts,
    ICampaignService campaigns,
    IParticipantService participants,
    IChannelRegistry channels,
    IClock clock)
{
    private const string TaskId = "seminar/registration-success";

    // Quiet hours (appsettings.json: Campaigns:Delivery:Channels:email:Window) are 21:00–09:00, twelve hours; these two
    // zones are twelve hours apart and keep no daylight saving time, so whenever the sample runs exactly one group is
    // inside its quiet hours and its notices are deferred to 09:00 local.
    private static readonly string[] Zones = ["Asia/Shanghai", "America/La_Paz"];
    private static readonly LocalDateTimePattern Local = LocalDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd HH:mm");

    /// <summary>Adds the <c>email</c> channel: SMTP when configured, else a recording channel (a local "pickup").</summary>
    /// <param name="builder">The SDK builder.</param>
    /// <param name="configuration">The host configuration.</param>
    public static void AddEmailChannel(ICampaignsBuilder builder, IConfiguration configuration)
    {
        var smtp = configuration.GetSection("Campaigns:Channels:Email");
        if (!string.IsNullOrWhiteSpace(smtp["Host"]))
        {
            builder.AddEmailChannel(smtp);
            return;
        }

        var pickup = new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true });
        builder.Services.AddSingleton(pickup);
        builder.AddChannel("email", (_, _) => pickup);
    }

    public async Task RunAsync(CampaignId seminarId, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine("== Delivery: registration-success notice by e-mail");
        var seminar = await campaigns.GetAsync(seminarId).ConfigureAwait(false);
        var sop = seminar.Sops.First(s => s.Key == "registration-success");
        var template = new MessageTemplate(sop.Content!, subject: "报名成功:{campaign}") { Id = sop.Key };
        var registered = (await participants.ListAsync(seminarId).ConfigureAwait(false)).Where(p => p.Status == RegistrationStatus.Registered).ToList();
        var channel = channels.GetChannel("email");
        o.WriteLine($"  SOP '{sop.Name}': {sop.Content}");
        o.WriteLine($"  channel 'email': {(channel is RecordingChannel ? "recording channel (no SMTP host configured)" : "SMTP")}; quiet hours 21:00–09:00 in each contact's zone");

        await records.StartAsync(TaskId, registered.Count, clock.GetCurrentInstant(), CancellationToken.None).ConfigureAwait(false);
        var sentTo = new List<(Contact Contact, DeliveryOutcome Outcome)>();
        for (var i = 0; i < registered.Count; i++)
        {
            var p = registered[i];
            var contact = await ContactForAsync(p, Zones[i % Zones.Length], consent: i % 3 != 2).ConfigureAwait(false);
            var outcome = await pipeline.DeliverAsync(new DeliveryRequest
            {
                IdempotencyKey = $"{TaskId}/{p.Id}",
                Contact = contact,
                Channel = "email",
                Template = template,
                TaskId = TaskId,
                CampaignId = seminarId,
                Variables = new Dictionary<string, string>
                {
                    ["name"] = p.Name ?? "",
                    ["campaign"] = seminar.Name,
                    ["time"] = seminar.Schedule.StartsAt is { } start ? Local.Format(start.InZone(DateTimeZoneProviders.Tzdb["Asia/Shanghai"]).LocalDateTime) + " (北京时间)" : "待定",
                    ["location"] = seminar.Schedule.Location ?? "待定",
                    ["link"] = $"https://example.com/e/{seminarId}",
                },
            }, CancellationToken.None).ConfigureAwait(false);
            var detail = outcome.Status switch
            {
                DeliveryStatus.Deferred => $"until {Local.Format(outcome.DeferredUntil!.Value.InZone(DateTimeZoneProviders.Tzdb[contact.TimeZoneId!]).LocalDateTime)} {contact.TimeZoneId}",
                DeliveryStatus.Sent => $"as {outcome.Result!.Value.ProviderMessageId}",
                _ => outcome.Decisions.LastOrDefault(d => !d.Passed).Detail,
            };
            o.WriteLine($"  {p.Name,-6} {contact.Identities.Email ?? "(no e-mail)",-26} {contact.TimeZoneId,-15} {outcome.Status,-10} {detail}");
            if (outcome.Status == DeliveryStatus.Sent)
            {
                sentTo.Add((contact, outcome));
            }
        }

        var record = (await records.GetAsync(TaskId, CancellationToken.None).ConfigureAwait(false))!;
        o.WriteLine($"  execution record '{record.TaskId}': target {record.TargetCount}, sent {record.Sent}, deferred by quiet hours {record.Deferred}, " +
            $"rejected by consent {record.SuppressedBy.GetValueOrDefault(GateCheck.Consent)}, no address {record.SuppressedBy.GetValueOrDefault(GateCheck.Address)}, failed {record.Failed}");
        if (channel is RecordingChannel pickup && pickup.Accepted.Count > 0)
        {
            var first = pickup.Accepted[0];
            o.WriteLine($"  first message in the recording channel: to {first.Recipient}, subject '{first.Subject}': {first.TextBody}");
        }

        if (sentTo.Count == 0)
        {
            return;
        }

        // The provider reports an unsubscribe: consent is withdrawn at once and the next notice is refused.
        var (unsubscriber, sent) = sentTo[0];
        await receipts.OnReceiptAsync(
            new DeliveryReceipt("email", DeliveryReceiptKind.Unsubscribed, clock.GetCurrentInstant())
            {
                ContactId = unsubscriber.Id.ToString(),
                ProviderMessageId = sent.Result!.Value.ProviderMessageId,
                IdempotencyKey = sent.IdempotencyKey,
            },
            CancellationToken.None).ConfigureAwait(false);
        var fresh = await contacts.GetAsync(unsubscriber.Id).ConfigureAwait(false);
        var next = await pipeline.DeliverAsync(new DeliveryRequest
        {
            IdempotencyKey = $"seminar/reminder/{unsubscriber.Id}",
            Contact = fresh,
            Channel = "email",
            Template = new MessageTemplate("{name}您好,「{campaign}」明天开始,期待您的到来。", subject: "活动提醒:{campaign}"),
            Variables = new Dictionary<string, string> { ["name"] = fresh.Name ?? "", ["campaign"] = seminar.Name },
        }, CancellationToken.None).ConfigureAwait(false);
        o.WriteLine($"  unsubscribe receipt for {fresh.Name}: consent for e-mail {(fresh.HasConsent("email") ? "still granted" : "withdrawn")}; the next reminder is {next}");
    }

    private async Task<Contact> ContactForAsync(Participant p, string zone, bool consent)
    {
        var existing = p.Phone is { } phone ? await contacts.FindAsync(IdentityKind.Phone, phone).ConfigureAwait(false) : null;
        existing ??= p.Email is { } email ? await contacts.FindAsync(IdentityKind.Email, email).ConfigureAwait(false) : null;
        var contact = existing ?? await contacts.CreateAsync(new ContactDraft
        {
            Name = p.Name,
            Identities = new ContactIdentities { Phone = p.Phone, Email = p.Email },
        }).ConfigureAwait(false);
        contact = await contacts.SetTimeZoneAsync(contact.Id, zone).ConfigureAwait(false);
        return consent
            ? await contacts.GrantConsentAsync(contact.Id, "email", "registration form").ConfigureAwait(false)
            : contact;
    }
}
