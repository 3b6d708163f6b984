using System.Collections.Concurrent;
using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Storage;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Sample;

/// <summary>
/// Lead scoring (F-4) and rule tags (F-3), configured through the services <c>AddCampaigns</c> registers: product page
/// view +5, form submit +10 (half-life 14 days), ≥ 20 = high intent → MQL and round-robin assignment to sales-1 /
/// sales-2; the rule tag "consulted product ≥ 2 times in 30 days". A stream of behaviour events is replayed for a few
/// new contacts, then the top leads are printed with the explanation of their score, their owner and rule tags.
/// </summary>
internal sealed class ScoringDemo(
    DurableDefinitions definitions,
    IScoringEngine scoring,
    ITagCatalog tags,
    IContactService contacts,
    IContactEvents events,
    LeadInbox inbox,
    IClock clock)
{
    private static readonly (string Name, string Phone, string Industry, string Region)[] Leads =
    [
        ("张伟", "13700137001", "manufacturing", "华东"),
        ("刘洋", "13700137002", "finance", "华北"),
        ("陈静", "13700137003", "manufacturing", "华南"),
        ("杨帆", "13700137004", "retail", "华东"),
        ("黄磊", "13700137005", "internet", "西南"),
    ];

    // The replayed stream: (lead, kind, page kind or form, how long ago).
    private static readonly (int Lead, string Kind, string? What, Duration Ago)[] Replay =
    [
        (0, EventKinds.PageView, "product", Duration.FromDays(2)),
        (0, EventKinds.PageView, "product", Duration.FromDays(1)),
        (0, EventKinds.PageView, "product", Duration.FromHours(3)),
        (0, EventKinds.FormSubmit, "demo-request", Duration.FromHours(1)),
        (1, EventKinds.PageView, "product", Duration.FromDays(5)),
        (1, EventKinds.FormSubmit, "whitepaper", Duration.FromMinutes(10)),
        (1, EventKinds.PageView, "product", Duration.FromMinutes(2)),
        (2, EventKinds.PageView, "product", Duration.FromDays(20)),
        (2, EventKinds.PageView, "product", Duration.FromDays(12)),
        (2, EventKinds.FormSubmit, "demo-request", Duration.FromDays(6)),
        (2, EventKinds.PageView, "product", Duration.FromDays(2)),
        (2, EventKinds.PageView, "product", Duration.FromHours(5)),
        (3, EventKinds.PageView, "blog", Duration.FromDays(3)),
        (3, EventKinds.PageView, "blog", Duration.FromHours(8)),
        (3, EventKinds.FormSubmit, "newsletter", Duration.FromHours(7)),
        (4, EventKinds.PageView, "product", Duration.FromDays(41)),
        (4, EventKinds.PageView, "product", Duration.FromDays(40)),
        (4, EventKinds.PageView, "product", Duration.FromMinutes(30)),
        (4, EventKinds.FormSubmit, "demo-request", Duration.FromMinutes(20)),
        (4, EventKinds.FormSubmit, "contact-sales", Duration.FromMinutes(5)),
    ];

    /// <summary>Registers the lead inbox: the <see cref="ILeadEventSink"/> that receives threshold crossings and assignments.</summary>
    /// <param name="services">The host's services.</param>
    public static void AddLeadInbox(IServiceCollection services)
    {
        services.AddSingleton<LeadInbox>();
        services.AddSingleton<ILeadEventSink>(sp => sp.GetRequiredService<LeadInbox>());
    }

    public async Task RunAsync(int top, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine("== Lead scoring and rule tags");
        // Through the durable definitions: kept in the SQLite file; a second run writes nothing new (same documents).
        var model = await definitions.ReplaceScoringModelAsync(new ScoringModel
        {
            BehaviourRules =
            [
                new BehaviourRule
                {
                    Id = "product-page-view", Name = "访问产品页", EventKind = EventKinds.PageView,
                    Where = [new PropertyCondition("page_kind", CompareOperator.Equal, ["product"])], Points = 5,
                },
                new BehaviourRule { Id = "form-submit", Name = "提交表单", EventKind = EventKinds.FormSubmit, Points = 10 },
            ],
            FitRules = [new FitRule { Id = "manufacturing", Name = "制造业", Condition = FilterParser.Parse("industry = \"manufacturing\"", tags.Context), Points = 40 }],
            HalfLife = Duration.FromDays(14),
            Thresholds =
            [
                new ScoreThreshold
                {
                    Id = "high-intent", Name = "高意向", Enter = 20, Exit = 15, MoveToStage = LifecycleStage.Mql,
                    Assignment = new AssignmentPolicy { Mode = AssignmentMode.RoundRobin, Assignees = ["sales-1", "sales-2"] },
                },
            ],
        }).ConfigureAwait(false);
        var tagModel = await definitions.SetTagModelAsync(new TagModel
        {
            Id = "behaviour",
            Name = "行为特征",
            Dimension = TagDimension.Behaviour,
            Groups =
            [
                new TagGroupDefinition
                {
                    Id = "interest",
                    Name = "浏览内容",
                    Tags =
                    [
                        new TagDefinition
                        {
                            Id = "consulted-product", Name = "近30天咨询产品≥2次", Owner = "system",
                            Condition = FilterParser.Parse("count(page_view where page_kind = \"product\") >= 2 within 30d", tags.Context),
                        },
                    ],
                },
            ],
        }).ConfigureAwait(false);
        o.WriteLine($"  definitions stored in the SQLite file: scoring model version {model.Version}, tag model '{tagModel.Id}' version {tagModel.Version} (unchanged on a second run)");
        o.WriteLine("  model: product page view +5, form submit +10, half-life 14 days, fit: manufacturing +40; high intent ≥ 20 (leave < 15) → MQL, round robin sales-1/sales-2");
        o.WriteLine("  rule tag: 近30天咨询产品≥2次 = count(page_view where page_kind = \"product\") >= 2 within 30d");

        var leads = new List<Contact>();
        foreach (var (name, phone, industry, region) in Leads)
        {
            // The sample keeps its state in SQLite: a second run finds the leads of the first (and their events are duplicates).
            if (await contacts.FindAsync(IdentityKind.Phone, phone).ConfigureAwait(false) is { } known)
            {
                leads.Add(known);
                continue;
            }

            leads.Add(await contacts.CreateAsync(new ContactDraft
            {
                Name = name,
                Identities = new ContactIdentities { Phone = phone },
                Attributes = new Dictionary<string, FieldValue> { ["industry"] = new TextValue(industry), ["region"] = new TextValue(region) },
            }).ConfigureAwait(false));
        }

        // Replay the stream in the order the events happened.
        var now = clock.GetCurrentInstant();
        var accepted = 0;
        foreach (var (e, n) in Replay.OrderByDescending(e => e.Ago).Select((e, n) => (e, n)))
        {
            var result = await events.IngestAsync(new BehaviourEvent
            {
                EventId = string.Create(CultureInfo.InvariantCulture, $"scoring-demo-{n}"),
                ContactId = leads[e.Lead].Id,
                Kind = e.Kind,
                OccurredAt = now - e.Ago,
                Properties = e.Kind == EventKinds.PageView
                    ? new Dictionary<string, string> { ["page_kind"] = e.What!, ["url"] = $"/{e.What}/mes" }
                    : new Dictionary<string, string> { ["form"] = e.What! },
            }).ConfigureAwait(false);
            accepted += result.IsAccepted ? 1 : 0;
        }

        o.WriteLine($"  replayed {accepted}/{Replay.Length} events for {leads.Count} new contacts");
        foreach (var leadEvent in inbox.Drain())
        {
            var name = leads.Find(l => l.Id == leadEvent.ContactId)?.Name ?? leadEvent.ContactId.ToString();
            o.WriteLine(leadEvent switch
            {
                LeadAssigned a => $"  → {a.AssigneeId} notified: {name} assigned (score {a.Score:0.##}, {a.ThresholdId})",
                ThresholdCrossed c => $"  {name} {(c.Entered ? "entered" : "left")} {c.ThresholdId} at score {c.Score:0.##}",
                _ => $"  {leadEvent}",
            });
        }

        var scored = new List<(Contact Contact, ScoreExplanation Why)>();
        foreach (var lead in leads)
        {
            scored.Add((await contacts.GetAsync(lead.Id).ConfigureAwait(false), await scoring.ExplainAsync(lead.Id).ConfigureAwait(false)));
        }

        o.WriteLine($"  top {top} leads:");
        foreach (var (contact, why) in scored.OrderByDescending(s => s.Why.Scores.Behaviour).Take(top))
        {
            var s = why.Scores;
            var ruleTags = contact.Tags.Where(t => t.Source == TagSource.Rule).Select(t => t.Tag).ToList();
            o.WriteLine($"  {contact.Name,-3} score {s.Behaviour,6:0.00}  fit {s.Fit,3:0} grade {s.Grade}  stage {contact.Stage,-4} owner {contact.OwnerId ?? "-",-8} tags: {(ruleTags.Count == 0 ? "-" : string.Join(", ", ruleTags))}");
            foreach (var rule in why.Behaviour)
            {
                var earned = string.Join(" ", rule.Events.Select(e => $"+{e.Awarded:0.##}@{Ago(now - e.OccurredAt)}→{e.Current:0.##}"));
                o.WriteLine($"      {rule.Name} ({rule.RuleId}): {rule.Points:0.00} = {earned}");
            }

            foreach (var fit in why.Fit)
            {
                o.WriteLine($"      fit {fit.Name} ({fit.RuleId}): +{fit.Points:0}");
            }
        }
    }

    private static string Ago(Duration d) => d >= Duration.FromDays(1) ? $"{d.Days}d" : d >= Duration.FromHours(1) ? $"{(int)d.TotalHours}h" : $"{(int)d.TotalMinutes}m";
}

/// <summary>Collects lead events (threshold crossings, assignments) — where a host would notify the salesperson.</summary>
internal sealed class LeadInbox : ILeadEventSink
{
    private readonly ConcurrentQueue<LeadEvent> _events = new();

    public ValueTask HandleAsync(LeadEvent leadEvent, CancellationToken cancellationToken)
    {
        _events.Enqueue(leadEvent);
        return ValueTask.CompletedTask;
    }

    public IEnumerable<LeadEvent> Drain()
    {
        while (_events.TryDequeue(out var e))
        {
            yield return e;
        }
    }
}
