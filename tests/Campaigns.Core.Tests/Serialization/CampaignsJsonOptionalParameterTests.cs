using System.Text.Json;
using Campaigns.Contacts;
using Campaigns.Serialization;
using Campaigns.Storage;
using NodaTime;
using Xunit;

namespace Campaigns.Core.Tests.Serialization;

/// <summary>
/// Nulls are left out on writing, so a member bound to a nullable constructor parameter must read back when it is
/// missing; a missing non-nullable one is still refused.
/// </summary>
public sealed class CampaignsJsonOptionalParameterTests
{
    public sealed record Sample(string Name, string? Note, int? Count, int Size);

    [Fact]
    public void A_missing_nullable_constructor_parameter_reads_as_null()
    {
        var read = JsonSerializer.Deserialize<Sample>("""{"name":"a","size":3}""", CampaignsJson.Options);

        Assert.Equal(new Sample("a", null, null, 3), read);
    }

    [Theory]
    [InlineData("""{"note":"x","size":3}""", "name")]
    [InlineData("""{"name":"a","note":"x"}""", "size")]
    public void A_missing_non_nullable_constructor_parameter_is_refused(string json, string missing)
    {
        var ex = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Sample>(json, CampaignsJson.Options));

        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scores_without_a_grade_round_trip_through_the_storage_documents()
    {
        var scores = new ContactScores(7.5m, 0m, null, Instant.FromUtc(2026, 5, 1, 2, 0));

        var json = StorageJson.Serialize(scores);

        Assert.DoesNotContain("grade", json, StringComparison.Ordinal);
        Assert.Equal(scores, StorageJson.Deserialize<ContactScores>(json));
        Assert.Equal(scores, JsonSerializer.Deserialize<ContactScores>(JsonSerializer.Serialize(scores, CampaignsJson.Options), CampaignsJson.Options));
    }
}
