using System.Collections.Concurrent;

namespace Campaigns.Tests;

/// <summary>The version 7 UUIDs of the ids' <c>New()</c> (RFC 9562 §5.7), with random parts from a per-thread CSPRNG buffer.</summary>
public class Uuid7Tests
{
    [Fact]
    public void The_timestamp_version_and_variant_go_where_the_rfc_puts_them()
    {
        Assert.Equal("01234567-89ab-7fff-bfff-ffffffffffff", Uuid7.Create(0x0123456789AB, Enumerable.Repeat((byte)0xFF, 10).ToArray()).ToString());
        Assert.Equal("01234567-89ab-7000-8000-000000000000", Uuid7.Create(0x0123456789AB, new byte[10]).ToString());
        Assert.Equal("00000000-0000-7a5b-9c0d-0e0f10111213", Uuid7.Create(0, [0xFA, 0x5B, 0x5C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13]).ToString());
    }

    [Fact]
    public void Out_of_range_timestamps_and_short_random_parts_are_refused()
    {
        Assert.Equal("unixMilliseconds", Assert.Throws<ArgumentOutOfRangeException>(() => Uuid7.Create(-1, new byte[10])).ParamName);
        Assert.Equal("unixMilliseconds", Assert.Throws<ArgumentOutOfRangeException>(() => Uuid7.Create(1L << 48, new byte[10])).ParamName);
        Assert.Equal("random", Assert.Throws<ArgumentOutOfRangeException>(() => Uuid7.Create(1, new byte[9])).ParamName);
    }

    [Fact]
    public void New_ids_are_version_7_variant_10_and_carry_the_current_millisecond()
    {
        var before = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        var ids = new[] { ContactId.New().Value, CampaignId.New().Value, ParticipantId.New().Value, Uuid7.New() };
        var after = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

        foreach (var id in ids)
        {
            Assert.Equal(7, id.Version);
            Assert.Equal(0b10, id.Variant >> 2);
            var milliseconds = TimestampOf(id);
            Assert.InRange(milliseconds, before, after);
        }
    }

    [Fact]
    public void Ids_sort_by_their_millisecond_whatever_their_random_part()
    {
        var earlier = Uuid7.Create(1_790_000_000_000, Enumerable.Repeat((byte)0xFF, 10).ToArray());
        var later = Uuid7.Create(1_790_000_000_001, new byte[10]);

        Assert.True(string.CompareOrdinal(earlier.ToString(), later.ToString()) < 0);
        Assert.True(earlier.CompareTo(later) < 0);
        Assert.True(Uuid7.New(1_790_000_000_000).CompareTo(Uuid7.New(1_790_000_000_001)) < 0);
    }

    [Fact]
    public void The_buffer_is_refilled_exactly_when_its_random_bytes_run_out_and_no_byte_is_used_twice()
    {
        const int perFill = Uuid7.BufferSize / Uuid7.RandomBytesPerId;
        var ids = new List<Guid>();
        var refills = new List<long>();
        var thread = new Thread(() =>
        {
            // A fresh thread: its buffer is empty, so the first id fills it.
            refills.Add(Uuid7.Refills);
            for (var i = 0; i < (2 * perFill) + 1; i++)
            {
                ids.Add(Uuid7.New(1_790_000_000_000));
                refills.Add(Uuid7.Refills);
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "the id thread hung");

        Assert.Equal(0, refills[0]);
        Assert.Equal(1, refills[1]);             // the first id filled the buffer
        Assert.Equal(1, refills[perFill]);       // the buffer's last id
        Assert.Equal(2, refills[perFill + 1]);   // the next one refilled it
        Assert.Equal(3, refills[(2 * perFill) + 1]);
        Assert.All(ids, id => Assert.Equal((7, 0b10), (id.Version, id.Variant >> 2)));

        // Same millisecond everywhere, so equal random parts would mean equal ids.
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.NotEqual(RandomPartOf(ids[perFill - 1]), RandomPartOf(ids[perFill]));
    }

    [Fact]
    public void Ids_made_on_many_threads_at_once_are_all_different()
    {
        const int perThread = 25_000;
        var all = new ConcurrentBag<Guid[]>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            var ids = new Guid[perThread];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = ContactId.New().Value;
            }

            all.Add(ids);
        });

        var unique = new HashSet<Guid>(all.SelectMany(ids => ids));
        Assert.Equal(8 * perThread, unique.Count);
    }

    private static long TimestampOf(Guid id)
    {
        var bytes = id.ToByteArray(bigEndian: true);
        return (long)bytes[0] << 40 | (long)bytes[1] << 32 | (long)bytes[2] << 24 | (long)bytes[3] << 16 | (long)bytes[4] << 8 | bytes[5];
    }

    private static string RandomPartOf(Guid id) => Convert.ToHexString(id.ToByteArray(bigEndian: true).AsSpan(6));
}
