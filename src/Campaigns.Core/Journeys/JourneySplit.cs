using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Campaigns.Journeys;

/// <summary>The deterministic arm assignment of split nodes. Pure and thread-safe.</summary>
public static class JourneySplit
{
    /// <summary>
    /// A number in [0, 1) from SHA-256 of <c>journeyId/nodeId/contactId</c>: the same inputs give the same number on
    /// every host and after every restart, and different splits (nodes) are independent.
    /// </summary>
    /// <param name="journeyId">The journey's id.</param>
    /// <param name="nodeId">The split node's id.</param>
    /// <param name="contactId">The contact.</param>
    public static double Bucket(string journeyId, string nodeId, ContactId contactId)
    {
        ArgumentNullException.ThrowIfNull(journeyId);
        ArgumentNullException.ThrowIfNull(nodeId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{journeyId}/{nodeId}/{contactId}"), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>The arm a contact lands in: arms take consecutive shares of [0, 1) in proportion to their weights.</summary>
    /// <param name="journeyId">The journey's id.</param>
    /// <param name="node">The split node (weights positive).</param>
    /// <param name="contactId">The contact.</param>
    public static SplitArm Choose(string journeyId, SplitNode node, ContactId contactId)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Arms.Count == 0)
        {
            throw new ArgumentException($"The split '{node.Id}' has no arms.", nameof(node));
        }

        var total = node.Arms.Sum(a => (double)a.Weight);
        var point = Bucket(journeyId, node.Id, contactId) * total;
        var upTo = 0.0;
        foreach (var arm in node.Arms)
        {
            upTo += arm.Weight;
            if (point < upTo)
            {
                return arm;
            }
        }

        return node.Arms[^1];
    }
}
