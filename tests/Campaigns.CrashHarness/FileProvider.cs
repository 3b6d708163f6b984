using System.Diagnostics;
using System.Text;
using Campaigns.Channels;

namespace Campaigns.CrashHarness;

/// <summary>
/// The "provider": every call is appended to <c>calls.log</c>, every delivery to <c>deliveries.log</c> (one
/// <c>key TAB recipient</c> line per write, flushed to the OS before answering, so a SIGKILL of this process loses
/// nothing already answered). With <paramref name="honoursKeys"/> it drops a send whose key it delivered before (also
/// before a restart: it reloads <c>deliveries.log</c>), like a real provider that honours idempotency keys; otherwise
/// every call is a delivery. With <paramref name="killAtAccepted"/> it SIGKILLs its own process right after the N-th
/// delivery of this process — after the provider accepted, before the pipeline recorded the outcome.
/// </summary>
internal sealed class FileProvider : IChannel, IDisposable
{
    private readonly Lock _gate = new();
    private readonly FileStream _calls;
    private readonly FileStream _deliveries;
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);
    private readonly int? _killAtAccepted;
    private int _accepted;

    public FileProvider(string directory, bool honoursKeys, int? killAtAccepted)
    {
        var deliveries = Path.Combine(directory, "deliveries.log");
        if (File.Exists(deliveries))
        {
            var text = File.ReadAllText(deliveries);
            foreach (var line in text.Split('\n'))
            {
                var tab = line.IndexOf('\t', StringComparison.Ordinal);
                if (tab > 0)
                {
                    _delivered.Add(line[..tab]);
                }
            }
        }

        _calls = Open(Path.Combine(directory, "calls.log"));
        _deliveries = Open(deliveries);
        _killAtAccepted = killAtAccepted;
        Capabilities = new ChannelCapabilities { AddressKind = ChannelAddressKind.Email, HonoursIdempotencyKeys = honoursKeys };
    }

    public string Name => "provider";

    public ChannelCapabilities Capabilities { get; }

    public ValueTask<DeliveryResult> SendAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        var line = Encoding.UTF8.GetBytes($"{message.IdempotencyKey}\t{message.Recipient}\n");
        bool kill;
        lock (_gate)
        {
            Append(_calls, line);
            if (Capabilities.HonoursIdempotencyKeys && _delivered.Contains(message.IdempotencyKey))
            {
                return new(DeliveryResult.Accepted("dup:" + message.IdempotencyKey));
            }

            Append(_deliveries, line);
            _delivered.Add(message.IdempotencyKey);
            kill = ++_accepted == _killAtAccepted;
        }

        Console.Out.WriteLine(kill ? $"self-kill\t{message.IdempotencyKey}" : "accepted");
        if (kill)
        {
            // In the window: the provider accepted, the store has not recorded it. A real SIGKILL, no cleanup.
            Console.Out.Flush();
            using var self = Process.GetCurrentProcess();
            self.Kill();
        }

        return new(DeliveryResult.Accepted("msg:" + message.IdempotencyKey));
    }

    public void Dispose()
    {
        _calls.Dispose();
        _deliveries.Dispose();
    }

    private static FileStream Open(string path)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        stream.Seek(0, SeekOrigin.End);
        if (stream.Length > 0)
        {
            // A line cut by a kill in the middle of a write (not expected: one write per line) must not glue onto the next.
            using var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            read.Seek(-1, SeekOrigin.End);
            if (read.ReadByte() != '\n')
            {
                stream.Write("\n"u8);
            }
        }

        return stream;
    }

    private static void Append(FileStream stream, byte[] line)
    {
        stream.Write(line); // one write(2) per line, unbuffered: in the OS once this returns
        stream.Flush();
    }
}
