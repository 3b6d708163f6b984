using System.Diagnostics;
using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Sample;

/// <summary>
/// Audience segmentation (F-5): builds a <see cref="SegmentIndex"/> over a generated contact base (fixed seed, over
/// <see cref="ExampleSegments.Schema"/>), defines the layered audiences of seed 004 (<see cref="ExampleSegments"/>,
/// parsed from their text form) as live segments of a <see cref="SegmentRegistry"/>, prints their sizes and evaluation
/// times, then streams a batch of behaviour events and contact changes through the registry and counts who entered and
/// exited each audience — and what time alone does a week later.
/// </summary>
internal sealed class SegmentationDemo(IClock clock)
{
    private const int Seed = 4;

    private static readonly (string Id, string Name, string Text)[] Audiences =
    [
        (ExampleSegments.HighValueId, "高价值用户", ExampleSegments.HighValue),
        (ExampleSegments.PotentialId, "潜在转化用户", ExampleSegments.Potential),
        (ExampleSegments.ChurnRiskId, "流失风险用户", ExampleSegments.ChurnRisk),
        (ExampleSegments.DormantId, "沉睡用户", ExampleSegments.Dormant),
    ];

    public void Run(int contacts, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine($"== Segmentation: the layered audiences of seed 004 over {N(contacts)} generated contacts (seed {Seed})");
        var now = clock.GetCurrentInstant();
        var generator = new ContactGenerator(now);

        // 1. The index: every contact and its behaviour events, loaded in one pass by the bulk builder (what
        //    AddLiveSegments() does from the stores at start). Nothing is live yet.
        var builder = new SegmentIndexBuilder(ExampleSegments.Schema, contacts);
        var events = new List<BehaviourEvent>(8);
        long eventCount = 0;
        var step = Math.Max(1, contacts / 5);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < contacts; i++)
        {
            builder.Add(generator.Generate(i, events));
            foreach (var e in events)
            {
                builder.Apply(e);
            }

            eventCount += events.Count;
            if ((i + 1) % step == 0 || i + 1 == contacts)
            {
                o.WriteLine($"  indexing: {N(i + 1),9} / {N(contacts)} contacts, {N(eventCount)} events, {watch.Elapsed.TotalSeconds:0.0} s");
            }
        }

        var index = builder.Build();
        o.WriteLine($"  index built in {watch.Elapsed.TotalSeconds:0.0} s ({N(index.Count)} contacts; managed heap {GC.GetTotalMemory(false) / (1024 * 1024)} MB)");

        // 2. The audiences, parsed from text and validated against a catalog (references between layers are checked).
        var catalog = new SegmentCatalog(new FilterContext(ExampleSegments.Schema));
        foreach (var (id, name, text) in Audiences)
        {
            catalog.Set(new SegmentDefinition { Id = id, Name = name, Filter = FilterParser.Parse(text, catalog.Context, id) });
        }

        var definitions = catalog.Definitions.ToDictionary(d => d.Id, StringComparer.Ordinal);
        var registry = new SegmentRegistry(index);
        o.WriteLine($"  {"audience",-12} {"name",-8} {"members",9} {"share",6} {"evaluate",9} {"made live",10}");
        foreach (var definition in Audiences.Select(a => definitions[a.Id])) // each layer after the layers it excludes
        {
            watch.Restart();
            var members = index.Evaluate(definition.Filter, now, definitions);
            var evaluate = watch.Elapsed;
            watch.Restart();
            registry.Define(definition, now); // evaluates again and schedules the time-relative re-evaluations
            var define = watch.Elapsed;
            o.WriteLine($"  {definition.Id,-12} {definition.Name,-8} {N(members.Count),9} {Share(members.Count, contacts),6} {Ms(evaluate),9} {Ms(define),10}");
        }

        o.WriteLine($"  {N(registry.ScheduledCount)} time-relative re-evaluations scheduled (windows, 'within'/'before' dates)");

        // 3. A batch of changes streamed through the registry: only the changed contact is re-evaluated, and only for the
        //    audiences that read what changed.
        var changes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        registry.MembershipChanged += (_, e) =>
        {
            if (!changes.TryGetValue(e.SegmentId, out var c))
            {
                changes[e.SegmentId] = c = new int[2];
            }

            c[e.Entered ? 0 : 1]++;
        };
        var batch = Math.Max(1_000, contacts / 50);
        var kinds = StreamChanges(registry, generator, contacts, batch, now, out var elapsed);
        o.WriteLine();
        o.WriteLine($"  streamed {N(batch)} changes ({kinds}) in {Ms(elapsed)} ({elapsed.TotalMicroseconds / batch:0.0} µs each)");
        PrintChanges(registry, changes, o);

        // 4. Time alone: a week later, windows have moved and dates have aged; only the scheduled contacts are looked at.
        changes.Clear();
        watch.Restart();
        var later = now + Duration.FromDays(7);
        var reevaluated = registry.AdvanceTo(later);
        o.WriteLine($"  a week later: AdvanceTo re-evaluated {N(reevaluated)} scheduled contacts in {Ms(watch.Elapsed)}");
        PrintChanges(registry, changes, o);
    }

    private static string StreamChanges(SegmentRegistry registry, ContactGenerator generator, int contacts, int batch, Instant now, out TimeSpan elapsed)
    {
        var r = new Random(Seed + 1);
        var changed = new Dictionary<int, Contact>();
        var scratch = new List<BehaviourEvent>(8);
        int views = 0, purchases = 0, forms = 0, updates = 0;
        var watch = Stopwatch.StartNew();
        for (var k = 0; k < batch; k++)
        {
            var i = r.Next(contacts);
            var at = now - Duration.FromSeconds(r.Next(3_600));
            var op = r.Next(100);
            if (op < 65)
            {
                var (kind, properties) = op < 40 ? (EventKinds.PageView, ContactGenerator.ProductPage)
                    : op < 55 ? (EventKinds.Purchase, ContactGenerator.Order)
                    : (EventKinds.FormSubmit, ContactGenerator.DemoRequest);
                registry.Apply(new BehaviourEvent { EventId = $"live-{k}", ContactId = ContactGenerator.IdOf(i), Kind = kind, OccurredAt = at, Properties = properties }, now);
                if (op < 40)
                {
                    views++;
                }
                else if (op < 55)
                {
                    purchases++;
                }
                else
                {
                    forms++;
                }

                continue;
            }

            if (!changed.TryGetValue(i, out var contact))
            {
                contact = generator.Generate(i, scratch);
            }

            contact = op switch
            {
                < 80 => contact with { Stage = contact.Stage < LifecycleStage.Customer ? contact.Stage + 1 : contact.Stage },  // sales moves the lead on
                < 92 => contact with                                                                                           // scores and budget rise
                {
                    Scores = new ContactScores((contact.Scores?.Behaviour ?? 0) + 15, Math.Max(contact.Scores?.Fit ?? 0, 45), "B", now),
                    Attributes = new Dictionary<string, FieldValue>(contact.Attributes) { ["budget"] = ContactGenerator.Number(60 + r.Next(41)) },
                },
                _ => contact with { Tags = [.. contact.Tags, new ContactTag { Tag = "churned", AssignedAt = now, Source = TagSource.Manual }] },
            };
            changed[i] = contact;
            registry.Upsert(contact, now);
            updates++;
        }

        elapsed = watch.Elapsed;
        return $"{N(views)} product views, {N(purchases)} purchases, {N(forms)} demo requests, {N(updates)} contact updates";
    }

    private static void PrintChanges(SegmentRegistry registry, Dictionary<string, int[]> changes, TextWriter o)
    {
        foreach (var (id, _, _) in Audiences)
        {
            var c = changes.GetValueOrDefault(id) ?? [0, 0];
            o.WriteLine($"    {id,-12} entered {N(c[0]),7}  exited {N(c[1]),7}  → {N(registry.SizeOf(id)),9} members");
        }
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds < 10 ? "0.00" : "0", CultureInfo.InvariantCulture) + " ms";

    private static string Share(int part, int whole) => whole == 0 ? "-" : (100.0 * part / whole).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>
    /// A deterministic contact base over <see cref="ExampleSegments.Schema"/>: contact <c>i</c> is generated from
    /// (seed, i) alone, so it can be generated again for a change. Times are relative to the run's instant.
    /// </summary>
    private sealed class ContactGenerator
    {
        public static readonly IReadOnlyDictionary<string, string> ProductPage = new Dictionary<string, string> { ["page_kind"] = "product", ["url"] = "/products/mes" };
        public static readonly IReadOnlyDictionary<string, string> DemoRequest = new Dictionary<string, string> { ["form"] = "demo-request" };
        public static readonly IReadOnlyDictionary<string, string> Newsletter = new Dictionary<string, string> { ["form"] = "newsletter" };
        public static readonly IReadOnlyDictionary<string, string> Order = new Dictionary<string, string> { ["amount"] = "12800.00" };

        private static readonly FieldValue[] Industries = [.. new[] { "manufacturing", "manufacturing", "internet", "finance", "retail", "healthcare", "education", "energy" }.Select(v => new TextValue(v))];
        private static readonly FieldValue[] Regions = [.. new[] { "east", "north", "south", "west", "central" }.Select(v => new TextValue(v))];
        private static readonly FieldValue[] Numbers = [.. Enumerable.Range(0, 101).Select(v => new NumberValue(v))];
        private static readonly FieldValue[] Interests = [new ChoicesValue(["mes"]), new ChoicesValue(["erp"]), new ChoicesValue(["mes", "erp"]), new ChoicesValue(["bi"]), new ChoicesValue(["crm", "bi"])];
        private static readonly FieldValue[] Vip = [new BooleanValue(false), new BooleanValue(true)];
        private static readonly IReadOnlyList<ContactTag> NoTags = [];
        private static readonly IReadOnlyDictionary<string, ConsentRecord> NoConsents = new Dictionary<string, ConsentRecord>();

        private readonly Instant _now;
        private readonly FieldValue[] _visits; // last_visit by days ago, 0–365
        private readonly IReadOnlyDictionary<string, ConsentRecord> _sms;
        private readonly IReadOnlyList<ContactTag> _churned;

        public ContactGenerator(Instant now)
        {
            _now = now;
            var today = now.InUtc().Date;
            _visits = [.. Enumerable.Range(0, 366).Select(d => new DateValue(today.PlusDays(-d)))];
            _sms = new Dictionary<string, ConsentRecord> { ["sms"] = new(true, "sign-up form", now - Duration.FromDays(400)) };
            _churned = [new ContactTag { Tag = "churned", AssignedAt = now - Duration.FromDays(60), Source = TagSource.Manual }];
        }

        public static ContactId IdOf(int i) => new(new Guid(i + 1, 0x5e9, 0x0004, 0, 0, 0, 0, 0, 0, 0, 1));

        public static FieldValue Number(int value) => Numbers[Math.Clamp(value, 0, 100)];

        /// <summary>Contact <paramref name="i"/>; its behaviour events replace the content of <paramref name="events"/>.</summary>
        public Contact Generate(int i, List<BehaviourEvent> events)
        {
            var r = new SplitMix((ulong)Seed << 32 ^ (ulong)i);
            var industry = r.Next(Industries.Length);
            var region = r.Next(Regions.Length);
            var size = 10 + (int)(-400 * Math.Log(1 - r.NextDouble()));
            var attributes = new Dictionary<string, FieldValue>(8)
            {
                ["industry"] = Industries[industry],
                ["region"] = Regions[region],
                ["company_size"] = new NumberValue(size),
                ["interests"] = Interests[r.Next(Interests.Length)],
                ["vip"] = Vip[r.NextDouble() < 0.05 ? 1 : 0],
            };
            var budget = r.NextDouble() < 0.9 ? r.Next(101) : -1;
            if (budget >= 0)
            {
                attributes["budget"] = Numbers[budget];
            }

            if (r.NextDouble() < 0.85)
            {
                attributes["last_visit"] = _visits[Math.Min(365, (int)(-45 * Math.Log(1 - r.NextDouble())))];
            }

            var u = r.NextDouble();
            var stage = u < 0.40 ? LifecycleStage.New : u < 0.55 ? LifecycleStage.Mql : u < 0.65 ? LifecycleStage.Sql
                : u < 0.75 ? LifecycleStage.Opportunity : u < 0.95 ? LifecycleStage.Customer : LifecycleStage.Churned;

            // Fit from the profile (manufacturing 40, budget ≥ 50 20, 500+ employees 15, east 10) → grade A ≥ 60, B ≥ 40, C ≥ 20, D.
            var fit = (industry < 2 ? 40 : 0) + (budget >= 50 ? 20 : 0) + (size >= 500 ? 15 : 0) + (region == 0 ? 10 : 0);
            var grade = fit >= 60 ? "A" : fit >= 40 ? "B" : fit >= 20 ? "C" : "D";
            var behaviour = Math.Round((decimal)(-10 * Math.Log(1 - r.NextDouble())), 1);

            events.Clear();
            if (r.NextDouble() < 0.30)
            {
                for (var k = r.Next(4); k >= 0; k--)
                {
                    events.Add(Event(i, events.Count, EventKinds.PageView, r.Next(45 * 24), ProductPage));
                }
            }

            if (r.NextDouble() < 0.06)
            {
                events.Add(Event(i, events.Count, EventKinds.FormSubmit, r.Next(60 * 24), r.NextDouble() < 0.6 ? DemoRequest : Newsletter));
            }

            var purchases = stage switch
            {
                LifecycleStage.Customer => r.Next(5),
                LifecycleStage.Opportunity => r.NextDouble() < 0.2 ? 1 : 0,
                _ => 0,
            };
            for (var k = 0; k < purchases; k++)
            {
                events.Add(Event(i, events.Count, EventKinds.Purchase, r.Next(400 * 24), Order));
            }

            if (stage == LifecycleStage.Churned && r.NextDouble() < 0.5)
            {
                events.Add(Event(i, events.Count, EventKinds.Purchase, (200 + r.Next(500)) * 24, Order));
            }

            return new Contact
            {
                Id = IdOf(i),
                CreatedAt = _now - Duration.FromDays(1 + r.Next(720)),
                Attributes = attributes,
                Stage = stage,
                Scores = new ContactScores(behaviour, fit, grade, _now),
                Tags = stage == LifecycleStage.Churned || r.NextDouble() < 0.03 ? _churned : NoTags,
                Consents = r.NextDouble() < 0.6 ? _sms : NoConsents,
            };
        }

        private BehaviourEvent Event(int i, int k, string kind, int hoursAgo, IReadOnlyDictionary<string, string> properties) => new()
        {
            EventId = string.Create(CultureInfo.InvariantCulture, $"g{i}-{k}"),
            ContactId = IdOf(i),
            Kind = kind,
            OccurredAt = _now - Duration.FromHours(hoursAgo) - Duration.FromMinutes(7),
            Properties = properties,
        };
    }

    /// <summary>SplitMix64: a tiny deterministic generator seeded per contact.</summary>
    private struct SplitMix(ulong state)
    {
        private ulong _state = state;

        public ulong NextUInt64()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

        public int Next(int max) => (int)(NextDouble() * max);
    }
}
