using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Delivery;

/// <summary>Where a template is in its content approval.</summary>
public enum ContentApprovalState
{
    /// <summary>Being edited; not yet submitted, or submitted and refused by the content check.</summary>
    Draft = 0,

    /// <summary>Submitted; waiting for the level at <see cref="ContentApproval.LevelIndex"/>.</summary>
    Pending = 1,

    /// <summary>Every level approved: the template may be sent.</summary>
    Approved = 2,

    /// <summary>A level rejected it; <see cref="ContentApproval.Revise"/> starts a new draft.</summary>
    Rejected = 3,
}

/// <summary>One step of a template's approval history.</summary>
/// <param name="Action">What happened: <c>submit</c>, <c>refused</c> (the content check found errors), <c>approve</c>, <c>reject</c>, <c>revise</c>.</param>
/// <param name="Actor">Who acted.</param>
/// <param name="At">When.</param>
/// <param name="Level">The level acted on (approve, reject), else null.</param>
/// <param name="Comment">The comment, if any (required on reject).</param>
public sealed record ContentApprovalEntry(string Action, Actor Actor, Instant At, string? Level = null, string? Comment = null);

/// <summary>
/// Multi-level content approval of one <see cref="MessageTemplate"/> (F-7.3), reusing the campaign's
/// <see cref="ApprovalChain"/> shape (levels by role, optional submitter role, separation of duties). Submitting runs the
/// content check: a template with errors (a variable that cannot be satisfied, a banned word, an SMS over the policy,
/// a bad subject) stays a draft and the report names each problem. Immutable: every action returns a new value.
/// </summary>
public sealed record ContentApproval
{
    private ContentApproval(MessageTemplate template, ApprovalChain chain)
    {
        Template = template;
        Chain = chain;
    }

    /// <summary>The template under approval.</summary>
    public MessageTemplate Template { get; private init; }

    /// <summary>The chain of levels.</summary>
    public ApprovalChain Chain { get; }

    /// <summary>The state.</summary>
    public ContentApprovalState State { get; private init; }

    /// <summary>The index in <see cref="ApprovalChain.Levels"/> of the level waited for (meaningful when <see cref="ContentApprovalState.Pending"/>).</summary>
    public int LevelIndex { get; private init; }

    /// <summary>Who submitted (for separation of duties), or null before submission.</summary>
    public Actor? Submitter { get; private init; }

    /// <summary>The report of the last submission's content check, or null before any.</summary>
    public ContentReport? Report { get; private init; }

    /// <summary>Every action, oldest first.</summary>
    public IReadOnlyList<ContentApprovalEntry> History { get; private init; } = [];

    /// <summary>Starts the approval of a template as a draft.</summary>
    /// <param name="template">The template.</param>
    /// <param name="chain">The levels; <see cref="ApprovalChain.None"/> approves on a clean submission.</param>
    /// <returns>A draft.</returns>
    public static ContentApproval Start(MessageTemplate template, ApprovalChain chain)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(chain);
        return new ContentApproval(template, chain);
    }

    /// <summary>
    /// Submits the draft: checks the content; with errors it stays a <see cref="ContentApprovalState.Draft"/> (see
    /// <see cref="Report"/>); without, it waits for the first level (or is approved when the chain has none).
    /// </summary>
    /// <param name="actor">Who submits; must have <see cref="ApprovalChain.SubmitterRole"/> when that is set.</param>
    /// <param name="at">When.</param>
    /// <param name="checker">The content rules.</param>
    /// <param name="kind">Which channel rules apply.</param>
    /// <param name="sampleValues">Values the sends will have (their keys say which variables are available).</param>
    /// <returns>The new approval.</returns>
    /// <exception cref="InvalidOperationException">Not a draft.</exception>
    /// <exception cref="UnauthorizedAccessException">The actor does not have the submitter role.</exception>
    public ContentApproval Submit(Actor actor, Instant at, ContentChecker checker, MessageKind kind, IReadOnlyDictionary<string, string> sampleValues)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(checker);
        Require(ContentApprovalState.Draft, "submit");
        if (Chain.SubmitterRole is { } role && !string.Equals(role, actor.Role, StringComparison.OrdinalIgnoreCase))
        {
            throw new UnauthorizedAccessException($"Only the role '{role}' may submit content; {actor} may not.");
        }

        var report = checker.CheckTemplate(Template, kind, sampleValues);
        if (!report.IsValid)
        {
            return this with { Report = report, History = [.. History, new ContentApprovalEntry("refused", actor, at, Comment: report.ToString())] };
        }

        return this with
        {
            Report = report,
            Submitter = actor,
            LevelIndex = 0,
            State = Chain.Levels.Count == 0 ? ContentApprovalState.Approved : ContentApprovalState.Pending,
            History = [.. History, new ContentApprovalEntry("submit", actor, at)],
        };
    }

    /// <summary>Approves the current level; the last level approves the template.</summary>
    /// <param name="actor">Who approves; must have the level's role, and not be the submitter unless the chain allows it.</param>
    /// <param name="at">When.</param>
    /// <param name="comment">An optional comment.</param>
    /// <returns>The new approval.</returns>
    /// <exception cref="InvalidOperationException">Not pending.</exception>
    /// <exception cref="UnauthorizedAccessException">The actor may not act on this level.</exception>
    public ContentApproval Approve(Actor actor, Instant at, string? comment = null)
    {
        var level = CheckApprover(actor, "approve");
        var next = LevelIndex + 1;
        return this with
        {
            LevelIndex = next,
            State = next >= Chain.Levels.Count ? ContentApprovalState.Approved : ContentApprovalState.Pending,
            History = [.. History, new ContentApprovalEntry("approve", actor, at, level.Name, comment)],
        };
    }

    /// <summary>Rejects the template at the current level.</summary>
    /// <param name="actor">Who rejects; same rules as <see cref="Approve"/>.</param>
    /// <param name="at">When.</param>
    /// <param name="comment">Why; required.</param>
    /// <returns>The new approval.</returns>
    /// <exception cref="ArgumentException">The comment is blank.</exception>
    /// <exception cref="InvalidOperationException">Not pending.</exception>
    /// <exception cref="UnauthorizedAccessException">The actor may not act on this level.</exception>
    public ContentApproval Reject(Actor actor, Instant at, string comment)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(comment);
        var level = CheckApprover(actor, "reject");
        return this with
        {
            State = ContentApprovalState.Rejected,
            History = [.. History, new ContentApprovalEntry("reject", actor, at, level.Name, comment)],
        };
    }

    /// <summary>Replaces the template after a rejection or a refused submission and starts over as a draft (history kept).</summary>
    /// <param name="template">The revised template.</param>
    /// <param name="actor">Who revises.</param>
    /// <param name="at">When.</param>
    /// <returns>A draft.</returns>
    /// <exception cref="InvalidOperationException">The template is pending or approved.</exception>
    public ContentApproval Revise(MessageTemplate template, Actor actor, Instant at)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(actor);
        if (State is ContentApprovalState.Pending or ContentApprovalState.Approved)
        {
            throw new InvalidOperationException($"Content that is {State} cannot be revised; only a draft or a rejected template can.");
        }

        return this with
        {
            Template = template,
            State = ContentApprovalState.Draft,
            LevelIndex = 0,
            Submitter = null,
            History = [.. History, new ContentApprovalEntry("revise", actor, at)],
        };
    }

    private ApprovalLevel CheckApprover(Actor actor, string action)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Require(ContentApprovalState.Pending, action);
        var level = Chain.Levels[LevelIndex];
        if (!string.Equals(level.Role, actor.Role, StringComparison.OrdinalIgnoreCase))
        {
            throw new UnauthorizedAccessException($"The level '{level.Name}' is for the role '{level.Role}'; {actor} may not {action} it.");
        }

        if (!Chain.AllowSubmitterToApprove && Submitter is not null && string.Equals(Submitter.Id, actor.Id, StringComparison.Ordinal))
        {
            throw new UnauthorizedAccessException($"{actor} submitted this content and may not {action} it (separation of duties).");
        }

        return level;
    }

    private void Require(ContentApprovalState state, string action)
    {
        if (State != state)
        {
            throw new InvalidOperationException($"Cannot {action} content that is {State}; it must be {state}.");
        }
    }
}
