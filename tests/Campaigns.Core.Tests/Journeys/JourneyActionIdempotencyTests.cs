using Campaigns.Contacts;
using Campaigns.Journeys;
using Campaigns.Modeling;
using Campaigns.Scoring;
using NodaTime;

namespace Campaigns.Tests.Journeys;

/// <summary>Every non-send action runs twice (a crash is injected between each action and its commit); the contact changes once.</summary>
public sealed class JourneyActionIdempotencyTests
{
    /// <summary>A run store whose first commit of every step fails, as if the host died after the action and before the write.</summary>
    private sealed class CrashBeforeEachCommit(IJourneyRunStore inner) : IJourneyRunStore
    {
        private readonly HashSet<(ContactId, long)> _crashed = [];

        public int Crashes { get; private set; }

        public ValueTask<JourneyRun?> TryUpdateAsync(JourneyRun run, long expectedVersion, CancellationToken cancellationToken = default)
        {
            lock (_crashed)
            {
                if (_crashed.Add((run.ContactId, run.Step)))
                {
                    Crashes++;
                    throw new IOException("injected crash between the action and the commit");
                }
            }

            return inner.TryUpdateAsync(run, expectedVersion, cancellationToken);
        }

        public ValueTask<JourneyRun?> GetLatestAsync(string journeyId, ContactId contactId, CancellationToken cancellationToken = default) => inner.GetLatestAsync(journeyId, contactId, cancellationToken);

        public ValueTask<JourneyRun?> TryCreateAsync(JourneyRun run, CancellationToken cancellationToken = default) => inner.TryCreateAsync(run, cancellationToken);

        public ValueTask<IReadOnlyList<JourneyTimer>> ClaimDueAsync(Instant now, int batchSize, Duration lease, IReadOnlySet<string> excludedJourneys, CancellationToken cancellationToken = default) => inner.ClaimDueAsync(now, batchSize, lease, excludedJourneys, cancellationToken);

        public ValueTask<Instant?> GetNextDueAsync(CancellationToken cancellationToken = default) => inner.GetNextDueAsync(cancellationToken);

        public IAsyncEnumerable<JourneyRun> ListAsync(string journeyId, CancellationToken cancellationToken = default) => inner.ListAsync(journeyId, cancellationToken);
    }

    private static JourneyDefinition Actions() => new()
    {
        Id = "qualify",
        Name = "Qualify",
        Trigger = new ApiTrigger(),
        StartNodeId = "tag",
        Nodes =
        [
            new AddTagNode { Id = "tag", Tag = "vip", Next = "score" },
            new ChangeScoreNode { Id = "score", Delta = 5, Next = "assign" },
            new AssignLeadNode { Id = "assign", OwnerId = "sales-li", Next = "attr" },
            new UpdateAttributeNode { Id = "attr", Field = "job_title", Value = new TextValue("nurtured"), Next = "notify" },
            new NotifySalesNode { Id = "notify", Channel = "email", TemplateId = "welcome", Recipient = "li@corp.example", Next = "untag" },
            new RemoveTagNode { Id = "untag", Tag = "trial" },
        ],
    };

    [Fact]
    public async Task Each_action_repeated_after_a_crash_changes_the_contact_once()
    {
        CrashBeforeEachCommit? store = null;
        using var h = new JourneyHarness(wrapStore: inner => store = new CrashBeforeEachCommit(inner));
        h.Publish(Actions());
        var contact = await h.AddContactAsync("Eve");
        await h.Get<IContactService>().AddTagAsync(contact.Id, "trial", "test");
        await h.Runner.EnterAsync("qualify", contact.Id);

        await h.DriveAsync(h.Clock.GetCurrentInstant() + Duration.FromHours(1));

        Assert.Equal(6, store!.Crashes); // every action ran twice
        var actions = h.Log.Steps.Where(s => s.Kind == JourneyStepKind.Action).Select(s => (s.NodeId, s.Detail)).ToList();
        Assert.Contains(("tag", "tag 'vip' already present"), actions);
        Assert.Contains(actions, a => a.NodeId == "score" && a.Detail.StartsWith("behaviour score +5 already applied", StringComparison.Ordinal));
        Assert.Contains(("assign", "already assigned to 'sales-li'"), actions);
        Assert.Contains(("attr", "attribute 'job_title' already set"), actions);
        Assert.Contains(("untag", "tag 'trial' not present"), actions);

        var after = await h.Get<IContactStore>().GetAsync(contact.Id);
        Assert.Single(after!.Tags, t => t.Tag == "vip");
        Assert.DoesNotContain(after.Tags, t => t.Tag == "trial");
        Assert.Equal("sales-li", after.OwnerId);
        Assert.Equal(new TextValue("nurtured"), after.Attributes["job_title"]);
        Assert.Equal(5m, (await h.Get<IScoringEngine>().GetScoresAsync(contact.Id)).Behaviour);
        var adjustments = new List<BehaviourEvent>();
        await foreach (var e in h.State.Events.ListAsync(contact.Id))
        {
            if (e.Kind == ScoreAdjustment.EventKind)
            {
                adjustments.Add(e);
            }
        }

        var adjustment = Assert.Single(adjustments);
        Assert.StartsWith("journey/qualify/", adjustment.EventId, StringComparison.Ordinal);

        // The sales notice is a send: the pipeline's idempotency (and, for webhooks, the webhook-id header) keeps it at one.
        Assert.Equal("li@corp.example", Assert.Single(h.State.Email.Accepted).Recipient);
        Assert.Equal(JourneyRunStatus.Completed, (await h.Store.GetLatestAsync("qualify", contact.Id))!.Status);
    }

    [Fact]
    public async Task A_rescore_from_the_event_history_keeps_the_journey_score_change()
    {
        using var h = new JourneyHarness();
        h.Publish(Actions());
        var contact = await h.AddContactAsync("Fay");
        await h.Runner.EnterAsync("qualify", contact.Id);
        await h.DriveAsync(h.Clock.GetCurrentInstant() + Duration.FromHours(1));

        var scores = await h.Get<IScoringEngine>().RescoreAsync(contact.Id);

        Assert.Equal(5m, scores.Behaviour);
        var explanation = await h.Get<IScoringEngine>().ExplainAsync(contact.Id);
        Assert.Equal(ScoreAdjustment.RuleId, Assert.Single(explanation.Behaviour).RuleId);
    }
}
