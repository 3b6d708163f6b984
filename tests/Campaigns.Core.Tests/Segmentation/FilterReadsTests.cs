using Campaigns.Segmentation;
using static Campaigns.Tests.Segmentation.TestSchema;

namespace Campaigns.Tests.Segmentation;

public class FilterReadsTests
{
    [Fact]
    public void Reads_lists_everything_a_filter_names()
    {
        var reads = FilterReads.Of(Parse(
            "industry = \"x\" and (last_visit on or after 2026-01-01 or has_any_tag(a, b)) and not has_tag_in_group(g) and never(purchase) "
            + "and consent(sms) and in_segment(vips) and score > 1 and grade = A and stage = mql"));

        Assert.Equal(["industry", "last_visit"], reads.Fields.Order());
        Assert.Equal(["a", "b"], reads.Tags.Order());
        Assert.Equal(["g"], reads.TagGroups);
        Assert.Equal(["purchase"], reads.EventKinds);
        Assert.Equal(["sms"], reads.Channels);
        Assert.Equal(["vips"], reads.Segments);
        Assert.True(reads.Scores && reads.Grade && reads.Stage);
        Assert.False(reads.TimeRelative);
    }

    [Theory]
    [InlineData("last_visit within 7d", true)]
    [InlineData("created_at before 30d", true)]
    [InlineData("did(download) within 30d", true)]
    [InlineData("did(download)", false)]
    [InlineData("signed_up on or before 2026-01-01", false)]
    public void Time_relative_filters_are_flagged(string text, bool expected) =>
        Assert.Equal(expected, FilterReads.Of(Parse(text)).TimeRelative);
}
