using Campaigns.Contacts;
using Campaigns.Segmentation;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The oracle of the engine's differential tests: the reference <see cref="FilterEvaluator"/> applied to each contact
/// object with its events (data conversion only; no semantics of its own).
/// </summary>
internal sealed class EvaluatorOracle(AttributeSchema schema, IReadOnlyDictionary<ContactId, List<BehaviourEvent>> events, IReadOnlyDictionary<string, SegmentDefinition>? segments = null)
{
    private readonly FilterEvaluator _evaluator = new(RandomBase.Zone, new Definitions(segments), schema);

    public IEnumerable<ContactId> Evaluate(IEnumerable<Contact> contacts, Filter filter, Instant now) =>
        contacts.Where(c => Matches(c, filter, now)).Select(c => c.Id);

    public bool Matches(Contact c, Filter f, Instant now) =>
        _evaluator.Matches(f, c, events.TryGetValue(c.Id, out var list) ? list : [], now);

    private sealed class Definitions(IReadOnlyDictionary<string, SegmentDefinition>? segments) : ISegmentResolver
    {
        public SegmentDefinition? Find(string segmentId) => segments?.GetValueOrDefault(segmentId);
    }
}
