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

        // The Count guards skip the boxed set enumerators when nothing is read (the common case on ingest).
        if (reads.Fields.Count > 0 && AnyFieldChanged(reads.Fields, previous, current))
        {
            return true;
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

        return reads.Channels.Count > 0 && AnyConsentChanged(reads.Channels, previous, current);
    }

    private static bool AnyFieldChanged(IReadOnlySet<string> fields, Contact previous, Contact current)
    {
        foreach (var field in fields)
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

        return false;
    }

    private static bool AnyConsentChanged(IReadOnlySet<string> channels, Contact previous, Contact current)
    {
        foreach (var channel in channels)
        {
            if (previous.Consents.GetValueOrDefault(channel) != current.Consents.GetValueOrDefault(channel))
            {
                return true;
            }
        }

        return false;
    }
}
