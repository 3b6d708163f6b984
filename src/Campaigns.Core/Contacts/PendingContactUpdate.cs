namespace Campaigns.Contacts;

/// <summary>
/// A listener that derives contact data from behaviour events (rule tags, scores). On ingest the
/// <see cref="ContactChangeNotifier"/> calls the contributors first: each adds its change to the event's one
/// <see cref="PendingContactUpdate"/> instead of writing the contact itself, so an event costs one contact write and one
/// round of <see cref="IContactChangeListener.OnContactChangedAsync"/>, not one per engine.
/// </summary>
internal interface IContactChangeContributor
{
    /// <summary>Adds to <paramref name="update"/> what <paramref name="behaviourEvent"/> changes on its contact (nothing when it changes nothing).</summary>
    /// <param name="behaviourEvent">The new (not duplicate) event, already stored.</param>
    /// <param name="update">The event's pending contact update.</param>
    /// <param name="cancellationToken">The writer's cancellation token.</param>
    ValueTask ContributeAsync(BehaviourEvent behaviourEvent, PendingContactUpdate update, CancellationToken cancellationToken);
}

/// <summary>One contributor's part of a <see cref="PendingContactUpdate"/>.</summary>
internal abstract class ContactContribution
{
    /// <summary>Whether <see cref="Apply"/> changes the contact (a part may only need <see cref="StoredAsync"/>).</summary>
    public virtual bool Changes => true;

    /// <summary>Applies the change to <paramref name="contact"/>; may be called more than once (on a fresh copy after a concurrent write), so it has no side effects.</summary>
    /// <param name="contact">The contact as read (or as changed by the parts before this one).</param>
    /// <returns>The changed contact, or <paramref name="contact"/> itself when nothing changes.</returns>
    public abstract Contact Apply(Contact contact);

    /// <summary>
    /// Applies the change to <paramref name="edit"/> as <see cref="Apply"/> would to <paramref name="contact"/> carrying the
    /// edit's fields (the parts before this one), so that one copy of the contact carries every part; returns false when
    /// it cannot, and the update then falls back to <see cref="Apply"/>. No side effects.
    /// </summary>
    /// <param name="contact">The contact as read.</param>
    /// <param name="edit">The fields as changed by the parts before this one.</param>
    public virtual bool TryEdit(Contact contact, ref ContactEdit edit) => false;

    /// <summary>Runs after the contact was written (or when no part changed it), e.g. to raise lead events.</summary>
    /// <param name="cancellationToken">The writer's cancellation token.</param>
    public virtual ValueTask StoredAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// The contact changes derived from one ingested event, applied in order in one <see cref="IContactService.UpdateAsync"/>.
/// Not thread-safe: one ingest call owns it.
/// </summary>
internal sealed class PendingContactUpdate(ContactId contactId)
{
    private ContactContribution? _first;
    private List<ContactContribution>? _more;

    /// <summary>The contact the event belongs to.</summary>
    public ContactId ContactId { get; } = contactId;

    /// <summary>Whether any part changes the contact.</summary>
    public bool Changes
    {
        get
        {
            if (_first is null)
            {
                return false;
            }

            if (_first.Changes)
            {
                return true;
            }

            for (var i = 0; i < (_more?.Count ?? 0); i++)
            {
                if (_more![i].Changes)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Whether any part was added.</summary>
    public bool IsEmpty => _first is null;

    /// <summary>Adds a part; parts are applied in the order added.</summary>
    /// <param name="part">The part.</param>
    public void Add(ContactContribution part)
    {
        ArgumentNullException.ThrowIfNull(part);
        if (_first is null)
        {
            _first = part;
        }
        else
        {
            (_more ??= []).Add(part);
        }
    }

    /// <summary>Applies every part in order.</summary>
    /// <param name="contact">The contact as read.</param>
    /// <returns>The changed contact.</returns>
    public Contact Apply(Contact contact)
    {
        if (_first is null)
        {
            return contact;
        }

        contact = _first.Apply(contact);
        for (var i = 0; i < (_more?.Count ?? 0); i++)
        {
            contact = _more![i].Apply(contact);
        }

        return contact;
    }

    /// <summary>
    /// Applies every part to one <see cref="ContactEdit"/> of <paramref name="contact"/> and makes one copy carrying all of
    /// them and the next version (<see cref="Contact.Version"/> + 1); false when a part cannot edit (use <see cref="Apply"/>).
    /// </summary>
    /// <param name="contact">The contact as read.</param>
    /// <param name="changed">The changed contact with the next version, when true.</param>
    public bool TryApply(Contact contact, out Contact changed)
    {
        changed = contact;
        if (_first is null)
        {
            return false;
        }

        var edit = new ContactEdit(contact);
        if (!_first.TryEdit(contact, ref edit))
        {
            return false;
        }

        for (var i = 0; i < (_more?.Count ?? 0); i++)
        {
            if (!_more![i].TryEdit(contact, ref edit))
            {
                return false;
            }
        }

        changed = edit.ToContact(contact, contact.Version + 1);
        return true;
    }

    /// <summary>How many parts were added.</summary>
    public int Count => _first is null ? 0 : 1 + (_more?.Count ?? 0);

    /// <summary>The part at <paramref name="index"/>, in the order added.</summary>
    /// <param name="index">From 0 to <see cref="Count"/> − 1.</param>
    public ContactContribution this[int index] => index == 0 ? _first! : _more![index - 1];
}

/// <summary>
/// The contact fields that ingest contributions change (tags, scores, stage with its history, owner), gathered so that
/// one copy of the contact carries the changes of every part of a <see cref="PendingContactUpdate"/>.
/// </summary>
internal struct ContactEdit
{
    /// <summary>The tags.</summary>
    public IReadOnlyList<ContactTag> Tags;

    /// <summary>The scores.</summary>
    public ContactScores? Scores;

    /// <summary>The lifecycle stage.</summary>
    public LifecycleStage Stage;

    /// <summary>The stage history.</summary>
    public IReadOnlyList<StageChange> StageHistory;

    /// <summary>The owner.</summary>
    public string? OwnerId;

    /// <summary>Starts from the contact's fields.</summary>
    /// <param name="contact">The contact as read.</param>
    public ContactEdit(Contact contact)
    {
        Tags = contact.Tags;
        Scores = contact.Scores;
        Stage = contact.Stage;
        StageHistory = contact.StageHistory;
        OwnerId = contact.OwnerId;
    }

    /// <summary>One copy of <paramref name="contact"/> with these fields and <paramref name="version"/>.</summary>
    /// <param name="contact">The contact as read.</param>
    /// <param name="version">The version the copy carries.</param>
    public readonly Contact ToContact(Contact contact, long version) => contact with
    {
        Tags = Tags,
        Scores = Scores,
        Stage = Stage,
        StageHistory = StageHistory,
        OwnerId = OwnerId,
        Version = version,
    };
}
