namespace Campaigns.Segmentation;

/// <summary>
/// What a filter reads, for deciding which filters to re-evaluate when a contact changes (segments, tag rules,
/// scoring rules): the attributes, tags, tag groups, event kinds, consent channels and segments it names, and whether
/// it reads scores, grade or stage, or depends on the passing of time. Immutable; sets compare ordinally.
/// </summary>
public sealed record FilterReads
{
    /// <summary>Attribute and built-in field names (<see cref="AttributeFilter"/>, <see cref="DateFilter"/>).</summary>
    public required IReadOnlySet<string> Fields { get; init; }

    /// <summary>Tag names (<see cref="TagFilter"/>).</summary>
    public required IReadOnlySet<string> Tags { get; init; }

    /// <summary>Tag groups (<see cref="TagGroupFilter"/>).</summary>
    public required IReadOnlySet<string> TagGroups { get; init; }

    /// <summary>Event kinds (<see cref="BehaviourFilter"/>).</summary>
    public required IReadOnlySet<string> EventKinds { get; init; }

    /// <summary>Consent channels (<see cref="ConsentFilter"/>).</summary>
    public required IReadOnlySet<string> Channels { get; init; }

    /// <summary>Referenced segment ids (<see cref="SegmentFilter"/>), direct references only.</summary>
    public required IReadOnlySet<string> Segments { get; init; }

    /// <summary>Whether it reads a score (<see cref="ScoreFilter"/>).</summary>
    public bool Scores { get; init; }

    /// <summary>Whether it reads the grade (<see cref="GradeFilter"/>).</summary>
    public bool Grade { get; init; }

    /// <summary>Whether it reads the lifecycle stage (<see cref="StageFilter"/>).</summary>
    public bool Stage { get; init; }

    /// <summary>
    /// Whether the result can change with time alone: a relative date (<c>within</c>/<c>before</c>) or a behaviour
    /// window. (Tag filters can also change when a tag expires; see <see cref="Tags"/> and <see cref="TagGroups"/>.)
    /// </summary>
    public bool TimeRelative { get; init; }

    /// <summary>Collects what <paramref name="filter"/> reads.</summary>
    /// <param name="filter">The filter.</param>
    public static FilterReads Of(Filter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var collector = new Collector();
        collector.Visit(filter);
        return new FilterReads
        {
            Fields = collector.Fields,
            Tags = collector.Tags,
            TagGroups = collector.TagGroups,
            EventKinds = collector.EventKinds,
            Channels = collector.Channels,
            Segments = collector.Segments,
            Scores = collector.Scores,
            Grade = collector.Grade,
            Stage = collector.Stage,
            TimeRelative = collector.TimeRelative,
        };
    }

    private sealed class Collector
    {
        public HashSet<string> Fields { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Tags { get; } = new(StringComparer.Ordinal);

        public HashSet<string> TagGroups { get; } = new(StringComparer.Ordinal);

        public HashSet<string> EventKinds { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Channels { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Segments { get; } = new(StringComparer.Ordinal);

        public bool Scores { get; private set; }

        public bool Grade { get; private set; }

        public bool Stage { get; private set; }

        public bool TimeRelative { get; private set; }

        public void Visit(Filter filter)
        {
            switch (filter)
            {
                case AndFilter allOf:
                    foreach (var operand in allOf.Operands)
                    {
                        Visit(operand);
                    }

                    break;
                case OrFilter anyOf:
                    foreach (var operand in anyOf.Operands)
                    {
                        Visit(operand);
                    }

                    break;
                case NotFilter negation:
                    Visit(negation.Operand);
                    break;
                case AttributeFilter attribute:
                    Fields.Add(attribute.Field);
                    break;
                case DateFilter date:
                    Fields.Add(date.Field);
                    TimeRelative |= date.Operator is DateOperator.Within or DateOperator.Before;
                    break;
                case TagFilter tags:
                    Tags.UnionWith(tags.Tags);
                    break;
                case TagGroupFilter group:
                    TagGroups.Add(group.Group);
                    break;
                case BehaviourFilter behaviour:
                    EventKinds.Add(behaviour.EventKind);
                    TimeRelative |= behaviour.Window is not null;
                    break;
                case ScoreFilter:
                    Scores = true;
                    break;
                case GradeFilter:
                    Grade = true;
                    break;
                case StageFilter:
                    Stage = true;
                    break;
                case ConsentFilter consent:
                    Channels.Add(consent.Channel);
                    break;
                case SegmentFilter segment:
                    Segments.Add(segment.SegmentId);
                    break;
            }
        }
    }
}
