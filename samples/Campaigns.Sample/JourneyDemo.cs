using System.Globalization;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scheduling;
using Campaigns.Segmentation;
using Campaigns.Testing;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Sample;

/// <summary>
/// A live stream's SOPs (F-6.1) and a nurture journey (F-6.4/6.5) on a simulated clock: days pass in a moment, jumping
/// from one due instant to the next. It has its own service provider (in-memory stores, recording channels, the SOP
/// runner with its approval check, SMS allowed up to four segments for the built-in notices with a link) so that the
/// sample host's approvals stay as they are. Prints the timeline in Shanghai time and the execution records.
/// Deterministic: a fixed start, fixed people, and the events scripted.
/// </summary>
internal static class JourneyDemo
{
    private static readonly DateTimeZone Shanghai = DateTimeZoneProviders.Tzdb["Asia/Shanghai"];
    private static readonly LocalDateTimePattern Local = LocalDateTimePattern.CreateWithInvariantCulture("MM-dd HH:mm");
    private static readonly Actor Operator = new("olivia", "operator");

    private static Instant At(int month, int day, int hour, int minute) => new LocalDateTime(2026, month, day, hour, minute).InZoneStrictly(Shanghai).ToInstant();

    private sealed class Timeline : IJourneyObserver
    {
        public List<JourneyStep> Steps { get; } = [];

        public ValueTask OnStepAsync(JourneyStep journeyStep, CancellationToken cancellationToken)
        {
            lock (Steps)
            {
                Steps.Add(journeyStep);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The seed 004 nurture flow: welcome → wait 2 days → opened? → reminder (loop) / coupon → last chance; exit on purchase or after 3 touches.</summary>
    private static JourneyDefinition Nurture() => new()
    {
        Id = "live-nurture",
        Name = "Live stream registrants: nurture",
        Trigger = new ApiTrigger(),
        StartNodeId = "welcome",
        TimeZoneId = "Asia/Shanghai",
        Nodes =
        [
            new SendMessageNode { Id = "welcome", Channel = "email", TemplateId = "welcome", Next = "wait-2d" },
            new WaitNode { Id = "wait-2d", Duration = Duration.FromDays(2), Next = "opened" },
            new ConditionNode { Id = "opened", Condition = new BehaviourFilter(EventKinds.EmailOpen, [], CompareOperator.GreaterOrEqual, [1]), Then = "coupon", Else = "reminder" },
            new SendMessageNode { Id = "reminder", Channel = "email", TemplateId = "reminder", Next = "wait-2d" },
            new SendMessageNode { Id = "coupon", Channel = "sms", TemplateId = "coupon", Next = "morning" },
            new WaitUntilNode { Id = "morning", At = new LocalTime(9, 0), Next = "final" },
            new SendMessageNode { Id = "final", Channel = "email", TemplateId = "final" },
        ],
        Exit = new JourneyExitConditions { GoalEventKind = EventKinds.Purchase, MaxTouches = 3 },
    };

    public static async Task RunAsync(bool quick, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine("== SOPs and a nurture journey on a simulated clock (Asia/Shanghai times)");
        var start = At(6, 1, 9, 0);
        var clock = new ControllableClock(start);
        var timeline = new Timeline();
        var channels = new[]
        {
            new RecordingChannel("sms", new ChannelCapabilities { AddressKind = ChannelAddressKind.Phone }),
            new RecordingChannel("wechat-template", new ChannelCapabilities { AddressKind = ChannelAddressKind.WeChatOpenId }),
            new RecordingChannel("wecom", new ChannelCapabilities { AddressKind = ChannelAddressKind.WeComUserId }),
            new RecordingChannel("email", new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, SupportsRichContent = true }),
        };
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(clock);
        services.AddSingleton<IJourneyObserver>(timeline);
        services.AddSingleton<IJourneyTemplateResolver>(new InMemoryJourneyTemplates()
            .Add("welcome", new MessageTemplate("{name}, thanks for registering: the replay and slides will be here.", subject: "Welcome to the live stream"))
            .Add("reminder", new MessageTemplate("{name}, the replay is waiting for you.", subject: "Did you see the replay?"))
            .Add("coupon", new MessageTemplate("{name}: 20% off the starter kit this week, code LIVE20"))
            .Add("final", new MessageTemplate("{name}, last day for code LIVE20.", subject: "Last chance")));
        var campaignsBuilder = services.AddCampaigns(c =>
        {
            foreach (var channel in channels)
            {
                c.Delivery.Channels[channel.Name] = new ChannelDeliveryOptions { Resilience = { RetryBaseDelay = TimeSpan.Zero, UseJitter = false, MaxRetryAttempts = 0 } };
            }

            c.Delivery.Sms.MaxLength = null; // the built-in notices with a link are concatenated SMS
            c.Delivery.Sms.MaxSegments = 4;
            c.Delivery.Channels["sms"].Window = new SendWindowOptions { QuietFrom = "21:00", QuietUntil = "08:00" };
        });
        foreach (var channel in channels)
        {
            campaignsBuilder.AddChannel(channel.Name, (_, _) => channel);
        }

        campaignsBuilder.AddSopRunner(s => s.LinkTemplate = "https://m.example.com/c/{campaignId}?p={participantId}");
        await using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        // A live stream from the built-in template (its SOP set attached), approved and scheduled.
        var campaigns = sp.GetRequiredService<ICampaignService>();
        var draft = await campaigns.CreateFromTemplateAsync(
            new CreateCampaignRequest
            {
                TypeId = "live-stream",
                Name = "工业互联网专题直播",
                Topic = "工业互联网",
                Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai", StartsAt = At(6, 4, 19, 30), LiveStartsAt = At(6, 4, 19, 30), EndsAt = At(6, 4, 21, 0), Location = "online" },
            },
            Operator).ConfigureAwait(false);
        await campaigns.SubmitAsync(draft.Id, Operator).ConfigureAwait(false);
        await campaigns.ApproveAsync(draft.Id, new Actor("mark", "marketing-manager")).ConfigureAwait(false);
        await campaigns.ApproveAsync(draft.Id, new Actor("ada", "admin")).ConfigureAwait(false);
        var campaign = await campaigns.ScheduleAsync(draft.Id, Operator).ConfigureAwait(false);
        o.WriteLine($"campaign '{campaign.Name}' ({campaign.State}), live {Local.Format(At(6, 4, 19, 30).InZone(Shanghai).LocalDateTime)}; SOPs: {string.Join(", ", campaign.Sops.Select(s => s.Key))}");

        // Registrants: each is a contact and a participant; everyone also enters the nurture journey.
        var runner = sp.GetRequiredService<JourneyRunner>();
        runner.Catalog.Publish(Nurture(), new JourneyValidationContext { Channels = sp.GetRequiredService<IChannelRegistry>(), Templates = sp.GetRequiredService<IJourneyTemplateResolver>() }, start);
        string[] names = quick ? ["Ann", "Bo", "Cai"] : ["Ann", "Bo", "Cai", "Dee", "Eli", "Fay"];
        var people = new Dictionary<string, (Contact Contact, Participant Participant)>(StringComparer.Ordinal);
        var nameOf = new Dictionary<ContactId, string>();
        var nameOfParticipant = new Dictionary<ParticipantId, string>();
        foreach (var (name, k) in names.Select((n, k) => (n, k)))
        {
            var registeredAt = start + Duration.FromHours(k);
            var phone = "+86138000000" + (k + 10).ToString(CultureInfo.InvariantCulture);
            var contact = await sp.GetRequiredService<IContactStore>().AddAsync(new Contact
            {
                Id = ContactId.New(),
                Name = name,
                TimeZoneId = "Asia/Shanghai",
                OwnerId = "sales-li",
                CreatedAt = registeredAt,
                Identities = new ContactIdentities { Phone = phone, Email = name.ToLowerInvariant() + "@example.com", WeChatOpenId = "o-" + name },
                Consents = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "form", registeredAt), ["wechat-template"] = new(true, "form", registeredAt), ["email"] = new(true, "form", registeredAt) },
            }).ConfigureAwait(false);
            var participant = await sp.GetRequiredService<IParticipantStore>().AddAsync(new Participant
            {
                Id = ParticipantId.New(),
                CampaignId = campaign.Id,
                ContactId = contact.Id.ToString(),
                Name = name,
                Phone = phone,
                Status = RegistrationStatus.Registered,
                Activities = [new ParticipantActivity(ParticipantActivityKind.Registered, registeredAt)],
            }).ConfigureAwait(false);
            people[name] = (contact, participant);
            nameOf[contact.Id] = name;
            nameOfParticipant[participant.Id] = name;
        }

        // Scripted behaviour: Ann opens the welcome mail on day 2, Bo buys on day 3; the others stay silent.
        var events = new List<(Instant At, string Name, string Kind)> { (At(6, 2, 20, 0), "Ann", EventKinds.EmailOpen), (At(6, 3, 11, 0), "Bo", EventKinds.Purchase) };
        var sops = sp.GetRequiredService<SopRunner>();
        var store = sp.GetRequiredService<IJourneyRunStore>();
        var contactEvents = sp.GetRequiredService<IContactEvents>();
        var lines = new List<(Instant At, string Name, string Text)>();
        var end = At(6, 12, 0, 0);
        var entered = 0;
        for (var guard = 0; guard < 10_000; guard++)
        {
            var now = clock.GetCurrentInstant();

            // Registrations up to now enter the journey (an API trigger here; a form hook in a real host).
            for (; entered < names.Length && start + Duration.FromHours(entered) <= now; entered++)
            {
                await runner.EnterAsync("live-nurture", people[names[entered]].Contact.Id).ConfigureAwait(false);
            }

            foreach (var e in events.Where(e => e.At == now))
            {
                await contactEvents.IngestAsync(new BehaviourEvent { EventId = $"{e.Name}-{e.Kind}", ContactId = people[e.Name].Contact.Id, Kind = e.Kind, OccurredAt = e.At }).ConfigureAwait(false);
                lines.Add((now, e.Name, $"event      {e.Kind}"));
            }

            var sopRound = await sops.RunDueAsync(now).ConfigureAwait(false);
            foreach (var d in sopRound.Deliveries)
            {
                lines.Add((d.At, nameOfParticipant[d.Send.ParticipantId], $"SOP        {d.Send.SopKey} via {d.Send.Channel}{(d.Send.Audience == SopAudience.Sales ? " (to sales)" : string.Empty)}: {d.Status}{(d.Status == SopSendStatus.Sent ? string.Empty : " — " + d.Detail)}"));
            }

            while (await runner.RunDueAsync(now, 100).ConfigureAwait(false) > 0)
            {
            }

            // Jump to the next thing that is due: an SOP send, a journey timer, a registration or a scripted event.
            var next = new[]
            {
                sopRound.NextDue,
                await store.GetNextDueAsync().ConfigureAwait(false),
                entered < names.Length ? start + Duration.FromHours(entered) : null,
                events.Where(e => e.At > now).Select(e => (Instant?)e.At).FirstOrDefault(),
            }.Where(t => t > now).Min();
            if (next is not { } due || due > end)
            {
                break;
            }

            clock.AdvanceTo(due);
        }

        foreach (var s in timeline.Steps.Where(s => s.Kind is JourneyStepKind.Sent or JourneyStepKind.Deferred or JourneyStepKind.Branched or JourneyStepKind.Exited or JourneyStepKind.Completed))
        {
            lines.Add((s.At, nameOf[s.ContactId], $"journey    {s.NodeId}: {s.Kind.ToString().ToLowerInvariant()}{(s.Kind == JourneyStepKind.Sent ? " via " + s.Channel : ": " + s.Detail)}"));
        }

        // By instant, then person; each person's lines keep the order they happened in (a stable sort).
        foreach (var (at, name, text) in lines.OrderBy(l => l.At).ThenBy(l => l.Name, StringComparer.Ordinal))
        {
            o.WriteLine($"  {Local.Format(at.InZone(Shanghai).LocalDateTime)}  {name,-4} {text}");
        }

        // Execution records: one per SOP and per journey message node.
        o.WriteLine("execution records:");
        var records = sp.GetRequiredService<IExecutionRecords>();
        var taskIds = campaign.Sops.Select(s => $"sop/{campaign.Id}/{s.Key}")
            .Concat(Nurture().Nodes.OfType<SendMessageNode>().Select(n => $"journey/live-nurture/{n.Id}"));
        foreach (var taskId in taskIds)
        {
            if (await records.GetAsync(taskId, CancellationToken.None).ConfigureAwait(false) is { } r)
            {
                var label = taskId.StartsWith("sop/", StringComparison.Ordinal) ? "sop/" + taskId[(taskId.LastIndexOf('/') + 1)..] : taskId;
                o.WriteLine($"  {label,-29} sent {r.Sent}, still deferred {r.Deferred}, suppressed {r.Suppressed}, failed {r.Failed}");
            }
        }

        var runs = new List<JourneyRun>();
        await foreach (var run in store.ListAsync("live-nurture").ConfigureAwait(false))
        {
            runs.Add(run);
        }

        o.WriteLine($"journey runs: {string.Join(", ", runs.OrderBy(r => nameOf[r.ContactId], StringComparer.Ordinal).Select(r => $"{nameOf[r.ContactId]} {r.Status.ToString().ToLowerInvariant()} ({r.EndReason}, {r.Touches} touches)"))}");
        o.WriteLine($"messages: {string.Join(", ", channels.Select(c => $"{c.Name} {c.Accepted.Count}"))}");
    }
}
