using System.Globalization;
using BenchmarkDotNet.Attributes;
using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace Campaigns.Benchmarks.Contacts;

/// <summary>
/// Event ingest through <see cref="IContactEvents.IngestAsync"/> with 50 behaviour scoring rules (some capped, one
/// threshold with hysteresis, MQL and round robin) and 50 windowed rule tags active, against what a user would write: a
/// list of rules evaluated with LINQ per event updating a score dictionary, and tag rules counted with LINQ over the
/// contact's event list. Every iteration starts from a fresh host with <see cref="Contacts"/> contacts and ingests
/// <see cref="Events"/> new events (10 per contact), so histories do not grow across iterations.
/// </summary>
[MemoryDiagnoser]
public class IngestBenchmarks
{
    /// <summary>Events per invocation.</summary>
    public const int Events = 20_000;

    /// <summary>Contacts the events are spread over.</summary>
    public const int Contacts = 2_000;

    /// <summary>Rules of each kind.</summary>
    public const int Rules = 50;

    private static readonly Instant Now = Instant.FromUtc(2026, 6, 17, 2, 0);
    private static readonly string[] Kinds = [EventKinds.PageView, EventKinds.FormSubmit, EventKinds.Download, EventKinds.EmailClick, EventKinds.LiveView];

    private ServiceProvider? _services;
    private IContactEvents _ingest = null!;
    private BehaviourEvent[] _events = null!;
    private UserRule[] _scoreRules = null!;
    private UserTagRule[] _tagRules = null!;
    private Dictionary<ContactId, decimal> _scores = null!;
    private Dictionary<ContactId, List<BehaviourEvent>> _history = null!;
    private Dictionary<ContactId, HashSet<string>> _tags = null!;
    private HashSet<string> _seen = null!;

    /// <summary>The property a rule of this kind tests, and the values it takes.</summary>
    private static (string Property, string Prefix) PropertyOf(string kind) => kind switch
    {
        EventKinds.PageView => ("page_kind", "page-"),
        EventKinds.FormSubmit => ("form", "form-"),
        EventKinds.Download => ("asset", "asset-"),
        EventKinds.EmailClick => ("url", "https://example.com/"),
        _ => ("topic", "topic-"),
    };

    /// <summary>
    /// Whether the host also keeps live segments (<c>AddLiveSegments()</c>, loader started): the segment index upkeep then
    /// runs inside each ingest (no segment is defined, so this is the index's own cost). Off for the BenchmarkDotNet figure,
    /// which measures <c>AddCampaigns()</c> alone; the one-shot <c>ingest-stats … live</c> mode turns it on.
    /// </summary>
    public bool LiveSegments { get; set; }

    /// <summary>Builds a fresh host (rules, tags, contacts) and the event stream.</summary>
    [IterationSetup]
    public void Setup()
    {
        _services?.Dispose();
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(new FixedClock(Now));
        var campaigns = services.AddCampaigns();
        if (LiveSegments)
        {
            campaigns.AddLiveSegments();
        }

        _services = services.BuildServiceProvider();
        if (LiveSegments)
        {
            // What a started host with live segments does before it ingests: the loader's start-up load (here of an empty
            // base), after which every contact change and event is written through to the segment index on the writer's thread.
            _services.GetRequiredService<SegmentIndexLoader>().LoadAsync().GetAwaiter().GetResult();
        }

        var catalog = _services.GetRequiredService<ITagCatalog>();
        var scoreRules = new List<BehaviourRule>();
        var userScoreRules = new List<UserRule>();
        var tagDefinitions = new List<TagDefinition>();
        var userTagRules = new List<UserTagRule>();
        for (var i = 0; i < Rules; i++)
        {
            var kind = Kinds[i % Kinds.Length];
            var (property, prefix) = PropertyOf(kind);
            var value = prefix + (i / Kinds.Length).ToString(CultureInfo.InvariantCulture);
            var points = i % 7 == 6 ? -3 : 1 + (i % 10);
            scoreRules.Add(new BehaviourRule
            {
                Id = "rule-" + i.ToString(CultureInfo.InvariantCulture),
                Name = "规则" + i.ToString(CultureInfo.InvariantCulture),
                EventKind = kind,
                Where = [new PropertyCondition(property, CompareOperator.Equal, [value])],
                Points = points,
                Cap = i % 5 == 0 ? new ScoreCap { MaxPoints = 30, Period = Duration.FromDays(1) } : null,
            });
            userScoreRules.Add(new UserRule(kind, property, value, points));
            var min = 2 + (i % 3);
            tagDefinitions.Add(new TagDefinition
            {
                Id = "tag-" + i.ToString(CultureInfo.InvariantCulture),
                Name = "标签" + i.ToString(CultureInfo.InvariantCulture),
                Owner = "system",
                Condition = FilterParser.Parse($"count({kind} where {property} = \"{value}\") >= {min} within 30d", catalog.Context),
            });
            userTagRules.Add(new UserTagRule("tag-" + i.ToString(CultureInfo.InvariantCulture), kind, property, value, min, Duration.FromDays(30)));
        }

        _services.GetRequiredService<IScoringModelStore>().Replace(new ScoringModel
        {
            BehaviourRules = scoreRules,
            HalfLife = Duration.FromDays(14),
            Thresholds =
            [
                new ScoreThreshold
                {
                    Id = "high-intent", Name = "高意向", Enter = 40, Exit = 30, MoveToStage = LifecycleStage.Mql,
                    Assignment = new AssignmentPolicy { Mode = AssignmentMode.RoundRobin, Assignees = ["sales-1", "sales-2"] },
                },
            ],
        });
        catalog.SetModel(new TagModel
        {
            Id = "behaviour", Name = "行为特征", Dimension = TagDimension.Behaviour,
            Groups = [new TagGroupDefinition { Id = "rules", Name = "规则标签", Tags = tagDefinitions }],
        });
        _scoreRules = [.. userScoreRules];
        _tagRules = [.. userTagRules];

        var contactService = _services.GetRequiredService<IContactService>();
        var ids = new ContactId[Contacts];
        for (var i = 0; i < Contacts; i++)
        {
            ids[i] = contactService.CreateAsync(new ContactDraft
            {
                Name = "联系人" + i.ToString(CultureInfo.InvariantCulture),
                Identities = new ContactIdentities { Email = $"c{i}@example.com" },
            }).GetAwaiter().GetResult().Id;
        }

        _ingest = _services.GetRequiredService<IContactEvents>();

        // The journey runner (with the delivery pipeline it builds: channels, content checks, banned-word lists) is made
        // once per process: a host with the journey worker makes it at start, one without it on its first event. Every
        // iteration here is a fresh host, so without this line each 20,000 events would pay that start-up once (≈ 10 %
        // of a round's thread CPU, s36) — a cost a long-running host does not have per event. Ingest itself is unchanged.
        _ = _services.GetRequiredService<Campaigns.Journeys.JourneyRunner>();
        var random = new Random(42);
        _events = new BehaviourEvent[Events];
        for (var i = 0; i < Events; i++)
        {
            var kind = Kinds[random.Next(Kinds.Length)];
            var (property, prefix) = PropertyOf(kind);
            _events[i] = new BehaviourEvent
            {
                EventId = "e-" + i.ToString(CultureInfo.InvariantCulture),
                ContactId = ids[random.Next(Contacts)],
                Kind = kind,
                OccurredAt = Now - Duration.FromSeconds(random.Next(60 * 24 * 3600)),
                Properties = new Dictionary<string, string>(StringComparer.Ordinal) { [property] = prefix + random.Next(Rules / Kinds.Length + 2).ToString(CultureInfo.InvariantCulture) },
            };
        }

        _scores = [];
        _history = [];
        _tags = [];
        _seen = new HashSet<string>(StringComparer.Ordinal);
    }

    /// <summary>The current host's services (for the one-shot <c>ingest-stats</c> mode's ablations).</summary>
    internal IServiceProvider Services => _services ?? throw new InvalidOperationException("Call Setup first.");

    /// <summary>Disposes the last host.</summary>
    [GlobalCleanup]
    public void Cleanup() => _services?.Dispose();

    /// <summary>What a user writes: rules in a list, LINQ per event, a score dictionary, tags counted over the contact's events.</summary>
    /// <returns>Contacts scored.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public int HandWritten()
    {
        foreach (var e in _events)
        {
            if (!_seen.Add(e.EventId))
            {
                continue;
            }

            if (!_history.TryGetValue(e.ContactId, out var history))
            {
                _history[e.ContactId] = history = [];
            }

            history.Add(e);
            var points = _scoreRules
                .Where(r => r.Kind == e.Kind && e.Properties.TryGetValue(r.Property, out var v) && v == r.Value)
                .Sum(r => r.Points);
            _scores[e.ContactId] = _scores.GetValueOrDefault(e.ContactId) + points;
            foreach (var rule in _tagRules.Where(r => r.Kind == e.Kind))
            {
                var holds = history.Count(h => h.Kind == rule.Kind && h.OccurredAt + rule.Window >= Now
                    && h.Properties.TryGetValue(rule.Property, out var v) && v == rule.Value) >= rule.Min;
                if (!_tags.TryGetValue(e.ContactId, out var tags))
                {
                    _tags[e.ContactId] = tags = [];
                }

                if (holds)
                {
                    tags.Add(rule.Id);
                }
                else
                {
                    tags.Remove(rule.Id);
                }
            }
        }

        return _scores.Count;
    }

    /// <summary>The SDK: validation, idempotency, the event store, the scoring engine and the tag engine as listeners.</summary>
    /// <returns>Events accepted.</returns>
    [Benchmark(OperationsPerInvoke = Events)]
    public async Task<int> Sdk()
    {
        var accepted = 0;
        foreach (var e in _events)
        {
            var result = await _ingest.IngestAsync(e).ConfigureAwait(false);
            accepted += result.Status == IngestStatus.Accepted ? 1 : 0;
        }

        return accepted;
    }

    private sealed record UserRule(string Kind, string Property, string Value, int Points);

    private sealed record UserTagRule(string Id, string Kind, string Property, string Value, int Min, Duration Window);

    private sealed class FixedClock(Instant now) : IClock
    {
        public Instant GetCurrentInstant() => now;
    }
}
