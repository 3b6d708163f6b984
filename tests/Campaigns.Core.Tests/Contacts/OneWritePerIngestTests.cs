using Campaigns.Contacts;
using Campaigns.Scoring;
using Campaigns.Segmentation;
using Campaigns.Tags;
using Campaigns.Tests.Scoring;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Contacts;

/// <summary>
/// On ingest the rule tags and the scores an event changes are written in one contact write: every listener sees one
/// change (before the event → with the event's tags and scores), then the event, then the lead events are raised.
/// </summary>
public sealed class OneWritePerIngestTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 5, 20, 2, 0);

    [Fact]
    public async Task Tags_and_scores_of_an_event_reach_every_listener_in_one_change_before_the_event()
    {
        using var host = new Host();
        var contact = await host.CreateAsync();
        host.Recorder.Calls.Clear();

        await host.IngestAsync(contact.Id, "e1", EventKinds.PageView, ("page_kind", "product"));

        var stored = await host.Contacts.GetAsync(contact.Id);
        Assert.Equal(5m, stored.Scores!.Behaviour);
        Assert.Contains(stored.Tags, t => t.Tag == "product-reader" && t.Source == TagSource.Rule);
        Assert.Collection(
            host.Recorder.Calls,
            c =>
            {
                var change = Assert.IsType<ContactChange>(c);
                Assert.Null(change.Previous!.Scores);
                Assert.Empty(change.Previous.Tags);
                Assert.Equal(stored, change.Current);
            },
            c => Assert.Equal(("e1", 5m, true), Assert.IsType<(string, decimal?, bool)>(c)));
    }

    [Fact]
    public async Task An_event_crossing_a_threshold_writes_score_stage_and_owner_once_then_raises_the_lead_events()
    {
        using var host = new Host();
        var contact = await host.CreateAsync();
        await host.IngestAsync(contact.Id, "e1", EventKinds.PageView, ("page_kind", "product"));
        await host.IngestAsync(contact.Id, "e2", EventKinds.PageView, ("page_kind", "product"));
        host.Recorder.Calls.Clear();

        await host.IngestAsync(contact.Id, "e3", EventKinds.FormSubmit);

        var stored = await host.Contacts.GetAsync(contact.Id);
        Assert.Equal((20m, LifecycleStage.Mql, "sales-1"), (stored.Scores!.Behaviour, stored.Stage, stored.OwnerId));
        var change = Assert.IsType<ContactChange>(host.Recorder.Calls[0]);
        Assert.Equal(stored, change.Current);
        Assert.Equal(LifecycleStage.New, change.Previous!.Stage);
        Assert.Equal(change.Previous.Version + 1, stored.Version);
        Assert.Equal(LifecycleStage.Mql, Assert.Single(stored.StageHistory).To);
        Assert.Equal(2, host.Recorder.Calls.Count);
        Assert.Collection(host.Sink.Events, e => Assert.IsType<ThresholdCrossed>(e), e => Assert.IsType<LeadAssigned>(e));
    }

    [Fact]
    public async Task An_event_that_changes_nothing_on_the_contact_is_told_without_a_change()
    {
        using var host = new Host();
        var contact = await host.CreateAsync();
        host.Recorder.Calls.Clear();

        await host.IngestAsync(contact.Id, "e1", EventKinds.Download, ("asset", "x"));

        Assert.Equal(("e1", (decimal?)null, false), Assert.IsType<(string, decimal?, bool)>(Assert.Single(host.Recorder.Calls)));
    }

    [Fact]
    public async Task A_failing_contributor_does_not_stop_the_others_write_nor_the_listeners()
    {
        using var host = new Host(failing: true);
        var contact = await host.CreateAsync();
        host.Recorder.Calls.Clear();

        var error = await Assert.ThrowsAsync<AggregateException>(async () => await host.IngestAsync(contact.Id, "e1", EventKinds.PageView, ("page_kind", "product")));

        Assert.Equal("contributor failed", Assert.Single(error.InnerExceptions).Message);
        Assert.Equal(5m, (await host.Contacts.GetAsync(contact.Id)).Scores!.Behaviour);
        Assert.Equal(2, host.Recorder.Calls.Count);
    }

    [Fact]
    public async Task Without_a_writer_each_engine_writes_its_own_change_as_before()
    {
        using var host = new Host();
        var contact = await host.CreateAsync();
        host.Recorder.Calls.Clear();
        var events = new ContactEvents(
            host.Provider.GetRequiredService<IEventStore>(),
            host.Provider.GetRequiredService<IContactStore>(),
            host.Clock,
            host.Provider.GetRequiredService<ContactChangeNotifier>(),
            host.Provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<CampaignsOptions>>());

        var result = await events.IngestAsync(new BehaviourEvent { EventId = "e1", ContactId = contact.Id, Kind = EventKinds.PageView, OccurredAt = Now, Properties = new Dictionary<string, string> { ["page_kind"] = "product" } });

        Assert.True(result.IsAccepted);
        var stored = await host.Contacts.GetAsync(contact.Id);
        Assert.Equal(5m, stored.Scores!.Behaviour);
        Assert.Contains(stored.Tags, t => t.Tag == "product-reader");
        Assert.Equal(2, host.Recorder.Calls.OfType<ContactChange>().Count());
    }

    [Fact]
    public void One_copy_carries_every_part_and_the_next_version_as_the_parts_applied_one_by_one_would()
    {
        var contact = new Contact { Id = ContactId.New(), CreatedAt = Now, Version = 3 };
        var tag = new ContactTag { Tag = "t", Source = TagSource.Rule, AssignedBy = "tag-rule:t", AssignedAt = Now };
        IReadOnlyList<ContactTag> tags = [tag];
        var scores = new ContactScores(5m, 0m, null, Now);
        var update = new PendingContactUpdate(contact.Id);
        update.Add(new Part(c => c with { Tags = tags }, (ref ContactEdit e) => e.Tags = tags));
        update.Add(new Part(c => c with { Scores = scores, OwnerId = "sales-1" }, (ref ContactEdit e) => (e.Scores, e.OwnerId) = (scores, "sales-1")));

        Assert.True(update.TryApply(contact, out var edited));

        var applied = update.Apply(contact);
        Assert.Equal(applied with { Version = 4 }, edited);
        Assert.Equal(4, edited.Version);
        Assert.Equal(contact, applied with { Tags = contact.Tags, Scores = null, OwnerId = null });
    }

    [Fact]
    public void A_part_that_cannot_edit_makes_the_update_fall_back_to_applying_each_part()
    {
        var contact = new Contact { Id = ContactId.New(), CreatedAt = Now, Version = 1 };
        var update = new PendingContactUpdate(contact.Id);
        update.Add(new Part(c => c with { Name = "n" }, null));

        Assert.False(update.TryApply(contact, out var unchanged));
        Assert.Same(contact, unchanged);
        Assert.Equal("n", update.Apply(contact).Name);
    }

    private delegate void Edit(ref ContactEdit edit);

    /// <summary>A contribution from two delegates; without an edit it cannot edit (the default).</summary>
    private sealed class Part(Func<Contact, Contact> apply, Edit? editor) : ContactContribution
    {
        public override Contact Apply(Contact contact) => apply(contact);

        public override bool TryEdit(Contact contact, ref ContactEdit edit)
        {
            if (editor is null)
            {
                return base.TryEdit(contact, ref edit);
            }

            editor(ref edit);
            return true;
        }
    }

    private sealed class Host : IDisposable
    {
        public Host(bool failing = false)
        {
            var services = new ServiceCollection();
            services.AddSingleton<IClock>(Clock);
            services.AddSingleton<ILeadEventSink>(Sink);
            services.AddSingleton<IContactChangeListener>(Recorder);
            if (failing)
            {
                services.AddSingleton<IContactChangeListener>(new FailingContributor());
            }

            services.AddCampaigns();
            Provider = services.BuildServiceProvider();
            Recorder.Store = Provider.GetRequiredService<IContactStore>();
            Provider.GetRequiredService<IScoringModelStore>().Replace(SeedModels.Seed with { FitRules = [], Thresholds = [SeedModels.HighIntent with { MoveToStage = LifecycleStage.Mql }] });
            var catalog = Provider.GetRequiredService<ITagCatalog>();
            catalog.SetModel(new TagModel
            {
                Id = "behaviour",
                Name = "behaviour",
                Dimension = TagDimension.Behaviour,
                Groups =
                [
                    new TagGroupDefinition
                    {
                        Id = "rules",
                        Name = "rules",
                        Tags = [new TagDefinition { Id = "product-reader", Name = "product-reader", Owner = "system", Condition = FilterParser.Parse("count(page_view where page_kind = \"product\") >= 1 within 30d", catalog.Context) }],
                    },
                ],
            });
        }

        public FakeClock Clock { get; } = new(Now);

        public RecordingSink Sink { get; } = new();

        public Recorder Recorder { get; } = new();

        public ServiceProvider Provider { get; }

        public IContactService Contacts => Provider.GetRequiredService<IContactService>();

        public Task<Contact> CreateAsync() =>
            Contacts.CreateAsync(new ContactDraft { Identities = new ContactIdentities { Phone = "13800138000" }, Name = "Ann" });

        public async Task IngestAsync(ContactId contact, string id, string kind, params (string Key, string Value)[] properties)
        {
            var result = await Provider.GetRequiredService<IContactEvents>().IngestAsync(new BehaviourEvent
            {
                EventId = id,
                ContactId = contact,
                Kind = kind,
                OccurredAt = Now,
                Properties = properties.ToDictionary(p => p.Key, p => p.Value),
            });
            Assert.True(result.IsAccepted, result.Reason);
        }

        public void Dispose() => Provider.Dispose();
    }

    /// <summary>Records each change, and for each event the contact's stored score and whether it has a rule tag at that moment.</summary>
    private sealed class Recorder : IContactChangeListener
    {
        public List<object> Calls { get; } = [];

        public IContactStore? Store { get; set; }

        public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken)
        {
            Calls.Add(change);
            return ValueTask.CompletedTask;
        }

        public async ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken)
        {
            var contact = await Store!.GetAsync(behaviourEvent.ContactId, cancellationToken);
            Calls.Add((behaviourEvent.EventId, contact!.Scores?.Behaviour, contact.Tags.Any(t => t.Source == TagSource.Rule)));
        }
    }

    private sealed class FailingContributor : IContactChangeListener, IContactChangeContributor
    {
        public ValueTask OnContactChangedAsync(ContactChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnEventIngestedAsync(BehaviourEvent behaviourEvent, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask ContributeAsync(BehaviourEvent behaviourEvent, PendingContactUpdate update, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("contributor failed");
    }
}
