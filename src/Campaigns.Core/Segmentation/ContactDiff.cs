using Campaigns.Contacts;

namespace Campaigns.Segmentation;

/// <summary>Decides whether a contact change can change the result of a filter, from what the filter reads.</summary>
internal static class ContactDiff
{
    public static bool Affects(FilterReads reads, Contact? previous, Contact current)
    {
        if (previous is null || reads.Segments.Count > 0 || !string.Equals(previous.TimeZoneId, current.TimeZoneId, StringComparison.Ordinal))
        {
            return true;
        }

        foreach (var field in reads.Fields)
        {
            if (field == BuiltInFields.OwnerId)
            {
                if (!string.Equals(previous.OwnerId, current.OwnerId, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            else if (!Equals(previous.Attributes.GetValueOrDefault(field), current.Attributes.GetValueOrDefault(field)))
            {
                return true;
            }
        }

        if ((reads.Tags.Count > 0 || reads.TagGroups.Count > 0) && !previous.Tags.SequenceEqual(current.Tags))
        {
            return true;
        }

        if ((reads.Scores || reads.Grade) && previous.Scores != current.Scores)
        {
            return true;
        }

        if (reads.Stage && previous.Stage != current.Stage)
        {
            return true;
        }

        foreach (var channel in reads.Channels)
        {
            if (previous.Consents.GetValueOrDefault(channel) != current.Consents.GetValueOrDefault(channel))
            {
                return true;
            }
        }

        return false;
    }
}
