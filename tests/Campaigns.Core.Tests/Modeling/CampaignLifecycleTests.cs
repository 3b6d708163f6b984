using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests.Modeling;

public class CampaignLifecycleTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 5, 1, 2, 0);
    private static readonly Actor Operator = new("olivia", "operator");
    private static readonly Actor Manager = new("mark", "marketing-manager");
    private static readonly Actor Admin = new("ada", "admin");

    private static readonly ApprovalChain ThreeStep = new()
    {
        SubmitterRole = "operator",
        Levels = [new ApprovalLevel("manager-review", "marketing-manager"), new ApprovalLevel("admin-publish", "admin")],
    };

    internal static Campaign NewCampaign(CampaignState state = CampaignState.Draft, ApprovalChain? chain = null) => new()
    {
        Id = CampaignId.New(),
        Name = "Shanghai salon",
        TypeId = "offline-seminar",
        State = state,
        ApprovalChain = chain ?? ApprovalChain.None,
        Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai" },
        CreatedBy = Operator.Id,
        CreatedAt = T0,
    };

    // Every (state, action) pair: the target state, or null when the action is illegal there.
    // With an empty approval chain, Submit approves at once; Approve/Reject are then never reachable
    // through Submit, but are still legal actions in PendingApproval (tested with a chain below).
    public static TheoryData<CampaignState, CampaignAction, CampaignState?> Transitions()
    {
        var legal = new Dictionary<(CampaignState, CampaignAction), CampaignState>
        {
            [(CampaignState.Draft, CampaignAction.Submit)] = CampaignState.Approved,
            [(CampaignState.Draft, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.PendingApproval, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.Approved, CampaignAction.Schedule)] = CampaignState.Scheduled,
            [(CampaignState.Approved, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.Scheduled, CampaignAction.Start)] = CampaignState.Running,
            [(CampaignState.Scheduled, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.Running, CampaignAction.Pause)] = CampaignState.Paused,
            [(CampaignState.Running, CampaignAction.Complete)] = CampaignState.Completed,
            [(CampaignState.Running, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.Paused, CampaignAction.Resume)] = CampaignState.Running,
            [(CampaignState.Paused, CampaignAction.Complete)] = CampaignState.Completed,
            [(CampaignState.Paused, CampaignAction.Cancel)] = CampaignState.Cancelled,
            [(CampaignState.Completed, CampaignAction.Archive)] = CampaignState.Archived,
            [(CampaignState.Cancelled, CampaignAction.Archive)] = CampaignState.Archived,
        };
        var data = new TheoryData<CampaignState, CampaignAction, CampaignState?>();
        foreach (var state in Enum.GetValues<CampaignState>())
        {
            foreach (var action in Enum.GetValues<CampaignAction>())
            {
                if (state == CampaignState.PendingApproval && action is CampaignAction.Approve or CampaignAction.Reject)
                {
                    continue; // covered by the approval chain tests
                }

                data.Add(state, action, legal.TryGetValue((state, action), out var to) ? to : null);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Every_transition_is_legal_or_rejected_with_a_typed_error(CampaignState from, CampaignAction action, CampaignState? expected)
    {
        var campaign = NewCampaign(from);
        if (expected is { } to)
        {
            var changed = CampaignLifecycle.Apply(campaign, action, Operator, T0, "ok");
            Assert.Equal(to, changed.State);
            var entry = Assert.Single(changed.History);
            Assert.Equal(new LifecycleEntry(action, from, to, Operator.Id, Operator.Role, T0, "ok"), entry);
            Assert.Equal(campaign.Version, changed.Version);
        }
        else
        {
            var ex = Assert.Throws<InvalidCampaignTransitionException>(() => CampaignLifecycle.Apply(campaign, action, Operator, T0));
            Assert.Equal(from, ex.Current);
            Assert.Equal(action, ex.Requested);
            Assert.Equal(CampaignLifecycle.TargetOf(action), ex.RequestedState);
            Assert.Equal(CampaignLifecycle.AllowedActions(from), ex.Allowed);
            Assert.Contains(from.ToString(), ex.Message, StringComparison.Ordinal);
            Assert.Contains(action.ToString(), ex.Message, StringComparison.Ordinal);
            foreach (var allowed in ex.Allowed)
            {
                Assert.Contains(allowed.ToString(), ex.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Approve_and_reject_outside_pending_approval_are_illegal()
    {
        foreach (var state in Enum.GetValues<CampaignState>().Where(s => s != CampaignState.PendingApproval))
        {
            Assert.Throws<InvalidCampaignTransitionException>(() => CampaignLifecycle.Apply(NewCampaign(state), CampaignAction.Approve, Manager, T0));
            Assert.Throws<InvalidCampaignTransitionException>(() => CampaignLifecycle.Apply(NewCampaign(state), CampaignAction.Reject, Manager, T0, "no"));
        }
    }

    [Fact]
    public void Closed_states_allow_only_archiving()
    {
        Assert.True(CampaignLifecycle.IsClosed(CampaignState.Completed));
        Assert.True(CampaignLifecycle.IsClosed(CampaignState.Cancelled));
        Assert.True(CampaignLifecycle.IsClosed(CampaignState.Archived));
        Assert.Empty(CampaignLifecycle.AllowedActions(CampaignState.Archived));
        Assert.DoesNotContain(CampaignState.Running, Enum.GetValues<CampaignState>().Where(CampaignLifecycle.IsClosed));
    }

    [Fact]
    public void Multi_level_chain_operator_submits_manager_approves_admin_publishes()
    {
        var c = NewCampaign(chain: ThreeStep);
        c = CampaignLifecycle.Apply(c, CampaignAction.Submit, Operator, T0, "please review");
        Assert.Equal(CampaignState.PendingApproval, c.State);
        Assert.Equal("manager-review", CampaignLifecycle.PendingLevel(c)!.Name);

        c = CampaignLifecycle.Apply(c, CampaignAction.Approve, Manager, T0 + Duration.FromHours(1), "budget ok");
        Assert.Equal(CampaignState.PendingApproval, c.State);
        Assert.Equal("admin-publish", CampaignLifecycle.PendingLevel(c)!.Name);

        c = CampaignLifecycle.Apply(c, CampaignAction.Approve, Admin, T0 + Duration.FromHours(2));
        Assert.Equal(CampaignState.Approved, c.State);
        Assert.Null(CampaignLifecycle.PendingLevel(c));

        Assert.Collection(
            c.History,
            e => Assert.Equal((CampaignAction.Submit, "olivia", (string?)null, "please review"), (e.Action, e.ActorId, e.ApprovalLevel, e.Comment)),
            e => Assert.Equal((CampaignAction.Approve, "mark", "manager-review", T0 + Duration.FromHours(1)), (e.Action, e.ActorId, e.ApprovalLevel, e.At)),
            e => Assert.Equal((CampaignAction.Approve, "ada", "admin-publish", CampaignState.Approved), (e.Action, e.ActorId, e.ApprovalLevel, e.To)));
    }

    [Fact]
    public void Rejection_at_any_level_returns_to_draft_and_restarts_the_chain()
    {
        var c = NewCampaign(chain: ThreeStep);
        c = CampaignLifecycle.Apply(c, CampaignAction.Submit, Operator, T0);
        c = CampaignLifecycle.Apply(c, CampaignAction.Approve, Manager, T0);
        c = CampaignLifecycle.Apply(c, CampaignAction.Reject, Admin, T0, "venue not confirmed");
        Assert.Equal(CampaignState.Draft, c.State);
        var last = c.History[^1];
        Assert.Equal(("admin-publish", "venue not confirmed", CampaignState.PendingApproval, CampaignState.Draft), (last.ApprovalLevel, last.Comment, last.From, last.To));

        c = CampaignLifecycle.Apply(c, CampaignAction.Submit, Operator, T0);
        Assert.Equal("manager-review", CampaignLifecycle.PendingLevel(c)!.Name);
    }

    [Fact]
    public void Rejection_needs_a_comment()
    {
        var c = CampaignLifecycle.Apply(NewCampaign(chain: ThreeStep), CampaignAction.Submit, Operator, T0);
        var ex = Assert.Throws<ArgumentException>(() => CampaignLifecycle.Apply(c, CampaignAction.Reject, Manager, T0, " "));
        Assert.Equal("comment", ex.ParamName);
    }

    [Fact]
    public void Wrong_role_cannot_approve_the_pending_level()
    {
        var c = CampaignLifecycle.Apply(NewCampaign(chain: ThreeStep), CampaignAction.Submit, Operator, T0);
        var ex = Assert.Throws<ApprovalNotPermittedException>(() => CampaignLifecycle.Apply(c, CampaignAction.Approve, Admin, T0));
        Assert.Equal("marketing-manager", ex.RequiredRole);
        Assert.Contains("manager-review", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Role_comparison_ignores_case()
    {
        var c = CampaignLifecycle.Apply(NewCampaign(chain: ThreeStep), CampaignAction.Submit, Operator, T0);
        c = CampaignLifecycle.Apply(c, CampaignAction.Approve, new Actor("mark", "Marketing-Manager"), T0);
        Assert.Equal(1, c.ApprovalLevelIndex);
    }

    [Fact]
    public void Only_the_submitter_role_may_submit()
    {
        var ex = Assert.Throws<ApprovalNotPermittedException>(() => CampaignLifecycle.Apply(NewCampaign(chain: ThreeStep), CampaignAction.Submit, Manager, T0));
        Assert.Equal("operator", ex.RequiredRole);
    }

    [Fact]
    public void Submitter_cannot_approve_own_submission_unless_allowed()
    {
        var chain = new ApprovalChain { Levels = [new ApprovalLevel("review", "manager")] };
        var boss = new Actor("bo", "manager");
        var c = CampaignLifecycle.Apply(NewCampaign(chain: chain), CampaignAction.Submit, boss, T0);
        Assert.Throws<ApprovalNotPermittedException>(() => CampaignLifecycle.Apply(c, CampaignAction.Approve, boss, T0));

        var lenient = CampaignLifecycle.Apply(NewCampaign(chain: chain with { AllowSubmitterToApprove = true }), CampaignAction.Submit, boss, T0);
        Assert.Equal(CampaignState.Approved, CampaignLifecycle.Apply(lenient, CampaignAction.Approve, boss, T0).State);
    }

    [Fact]
    public void Cancel_while_pending_clears_the_pending_level()
    {
        var c = CampaignLifecycle.Apply(NewCampaign(chain: ThreeStep), CampaignAction.Submit, Operator, T0);
        c = CampaignLifecycle.Apply(c, CampaignAction.Approve, Manager, T0);
        c = CampaignLifecycle.Apply(c, CampaignAction.Cancel, Admin, T0, "budget cut");
        Assert.Equal((CampaignState.Cancelled, 0), (c.State, c.ApprovalLevelIndex));
    }

    [Fact]
    public void Full_walk_records_every_step_in_order()
    {
        var c = NewCampaign(chain: ThreeStep);
        var steps = new (CampaignAction Action, Actor Who)[]
        {
            (CampaignAction.Submit, Operator), (CampaignAction.Approve, Manager), (CampaignAction.Approve, Admin),
            (CampaignAction.Schedule, Operator), (CampaignAction.Start, Operator), (CampaignAction.Pause, Operator),
            (CampaignAction.Resume, Operator), (CampaignAction.Complete, Operator), (CampaignAction.Archive, Admin),
        };
        var at = T0;
        foreach (var (action, who) in steps)
        {
            at += Duration.FromMinutes(5);
            c = CampaignLifecycle.Apply(c, action, who, at);
        }

        Assert.Equal(CampaignState.Archived, c.State);
        Assert.Equal(steps.Select(s => s.Action), c.History.Select(h => h.Action));
        Assert.True(c.History.Zip(c.History.Skip(1)).All(p => p.First.To == p.Second.From && p.First.At < p.Second.At));
    }
}
