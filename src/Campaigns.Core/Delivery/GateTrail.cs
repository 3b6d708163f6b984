using System.Collections;
using Campaigns.Contacts;

namespace Campaigns.Delivery;

/// <summary>
/// The gate decisions of one delivery (<see cref="DeliveryOutcome.Decisions"/>), kept compactly: the checks that passed,
/// always in the pipeline's order (consent, do-not-contact, frequency caps, send window, content), then at most one
/// refusal, which ends the gate. Each <see cref="GateDecision"/> is built when read, so a delivery allocates one small
/// object instead of a list of six decisions, and an outcome kept by the idempotency store keeps only this. Equal, item
/// by item, to the list the pipeline built before. Filled by one thread, then read-only (safe to share once returned).
/// </summary>
internal sealed class GateTrail : IReadOnlyList<GateDecision>
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
