using System.Collections;
using Campaigns.Contacts;

namespace Campaigns.Delivery;

/// <summary>
/// The gate decisions of one delivery (<see cref="DeliveryOutcome.Decisions"/>), kept compactly: the checks that passed,
/// always in the pipeline's order (consent, do-not-contact, frequency caps, send window, content), then at most one
/// refusal, which ends the gate. Each <see cref="GateDecision"/> is built when read, so a delivery allocates one small
/// object instead of a list of six decisions. Equal, item by item, to the list the pipeline built before; two trails
/// with the same fields are equal (<see cref="Equals(object?)"/>), so an outcome rebuilt by the idempotency store from
/// a shared <see cref="WithoutConsent">shape</see> and the contact's consent record equals the one completed. Filled by
/// one thread, then read-only (safe to share once returned).
/// </summary>
internal sealed class GateTrail : IReadOnlyList<GateDecision>, IEquatable<GateTrail>
{
    internal const string NotListed = "not on the do-not-contact list";
    internal const string ContentPasses = "content passes the rules";

    private string? _consentKey;
    private ConsentRecord? _consent;
    private bool _notListed;
    private int _caps;
    private string? _window;
    private object? _content; // ContentPasses, or the ContentReport whose warnings are the detail
    private object? _refusal; // the boxed GateDecision of a refused delivery (rare), so a passed one carries no empty slot
    private byte _count;

    /// <inheritdoc />
    public int Count => _count;

    /// <summary>The consent record the consent check passed with, or null.</summary>
    public ConsentRecord? Consent => _consent;

    /// <summary>
    /// Whether the gate passed without a refusal and without content warnings: then the trail is its
    /// <see cref="WithoutConsent">shape</see> (the same for every contact of a channel and zone) plus <see cref="Consent"/>.
    /// </summary>
    public bool IsPlain => _refusal is null && _content is null or string;

    /// <summary>This trail without its consent record: the shape many plain sends share.</summary>
    public GateTrail WithoutConsent() => WithConsent(null);

    /// <summary>A copy of this trail with <paramref name="consent"/> as its consent record.</summary>
    public GateTrail WithConsent(ConsentRecord? consent) => new()
    {
        _consentKey = _consentKey,
        _consent = consent,
        _notListed = _notListed,
        _caps = _caps,
        _window = _window,
        _content = _content,
        _refusal = _refusal,
        _count = _count,
    };

    /// <summary>Whether <paramref name="other"/> has the same shape (every field but the consent record).</summary>
    public bool SameShape(GateTrail other) =>
        _count == other._count && _notListed == other._notListed && _caps == other._caps
        && string.Equals(_consentKey, other._consentKey, StringComparison.Ordinal)
        && string.Equals(_window, other._window, StringComparison.Ordinal)
        && Equals(_content, other._content) && Equals(_refusal, other._refusal);

    /// <inheritdoc />
    public bool Equals(GateTrail? other) =>
        other is not null && (ReferenceEquals(this, other) || (SameShape(other) && Equals(_consent, other._consent)));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as GateTrail);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_count, _caps, _window, _consent);

    /// <summary>Consent for <paramref name="key"/> passed, granted by <paramref name="consent"/>.</summary>
    public void ConsentGranted(string key, ConsentRecord consent)
    {
        _consentKey = key;
        _consent = consent;
        _count++;
    }

    /// <summary>The do-not-contact check passed.</summary>
    public void NotOnDoNotContactList()
    {
        _notListed = true;
        _count++;
    }

    /// <summary>The frequency caps had room (<paramref name="windows"/> of them).</summary>
    public void CapsHaveRoom(int windows)
    {
        _caps = windows;
        _count++;
    }

    /// <summary>Inside the send window; <paramref name="detail"/> says which zone.</summary>
    public void InsideWindow(string detail)
    {
        _window = detail;
        _count++;
    }

    /// <summary>The content passed: with no issue (null) or with warnings only.</summary>
    public void ContentPassed(ContentReport? warnings)
    {
        _content = (object?)warnings ?? ContentPasses;
        _count++;
    }

    /// <summary>The refusal that ends the gate.</summary>
    public void Refuse(GateDecision refusal)
    {
        _refusal = refusal; // boxed
        _count++;
    }

    /// <inheritdoc />
    public GateDecision this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, (int)_count);
            var i = index;
            if (_consentKey is not null && i-- == 0)
            {
                return GateDecision.Lazy(GateCheck.Consent, true, static (k, c) => $"consent for '{k}' granted at {((ConsentRecord)c!).At} ({((ConsentRecord)c!).Source})", _consentKey, _consent);
            }

            if (_notListed && i-- == 0)
            {
                return new GateDecision(GateCheck.DoNotContact, true, NotListed);
            }

            if (_caps > 0 && i-- == 0)
            {
                return GateDecision.Lazy(GateCheck.FrequencyCap, true, static (n, _) => $"{n} cap(s) have room", _caps, null);
            }

            if (_window is not null && i-- == 0)
            {
                return new GateDecision(GateCheck.SendWindow, true, _window);
            }

            if (_content is not null && i-- == 0)
            {
                return _content is string passes
                    ? new GateDecision(GateCheck.Content, true, passes)
                    : GateDecision.Lazy(GateCheck.Content, true, static (r, _) => r!.ToString()!, _content, null);
            }

            return (GateDecision)_refusal!; // i == 0 here: the refusal is last
        }
    }

    /// <inheritdoc />
    public IEnumerator<GateDecision> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
