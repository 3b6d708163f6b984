using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Campaigns.Channels;
using Campaigns.Channels.Email;
using Microsoft.Extensions.DependencyInjection;

namespace Campaigns.Benchmarks;

/// <summary>
/// The SMTP adapter against a local aiosmtpd (Debian's python3-aiosmtpd, its <c>Sink</c> handler) on 127.0.0.1:
/// connection reuse (<c>MaxMessagesPerConnection</c> = 100) vs one connection per message (= 1), in the same run.
/// Set <c>CAMPAIGNS_BENCH_PYTHON</c> to another interpreter than <c>/usr/bin/python3</c>.
/// </summary>
[MemoryDiagnoser]
public class SmtpBenchmarks
{
    /// <summary>Messages per invocation.</summary>
    public const int Batch = 20;

    private Process? _server;
    private ServiceProvider _services = null!;
    private IChannel _channel = null!;
    private long _sequence;

    /// <summary>Messages per SMTP connection: 1 = a connection per message, 100 = reuse (the default).</summary>
    [Params(1, 100)]
    public int MessagesPerConnection { get; set; }

    /// <summary>Starts aiosmtpd on a free port and the channel.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var port = FreePort();
        var python = Environment.GetEnvironmentVariable("CAMPAIGNS_BENCH_PYTHON") ?? "/usr/bin/python3";
        _server = Process.Start(new ProcessStartInfo(python, ["-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException($"Could not start {python} -m aiosmtpd.");
        WaitUntilListening(port);
        var services = new ServiceCollection();
        services.AddCampaigns().AddEmailChannel("smtp", o =>
        {
            o.Host = "127.0.0.1";
            o.Port = port;
            o.Security = EmailSecurityMode.None;
            o.FromAddress = "events@example.com";
            o.MaxMessagesPerConnection = MessagesPerConnection;
        });
        _services = services.BuildServiceProvider();
        _channel = _services.GetRequiredService<IChannelRegistry>().GetChannel("smtp");
    }

    /// <summary>Stops the channel and the server.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }

        _server?.Dispose();
    }

    /// <summary>Sends <see cref="Batch"/> messages one after the other.</summary>
    /// <returns>Messages accepted.</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task<int> Send()
    {
        var accepted = 0;
        for (var i = 0; i < Batch; i++)
        {
            var key = "smtp-bench/" + (++_sequence).ToString(CultureInfo.InvariantCulture);
            var result = await _channel.SendAsync(new ChannelMessage(key, "li.lei@example.com", "李雷您好,您已成功报名「2026上海制造业数字化转型沙龙」。")
            {
                Subject = "报名成功",
                HtmlBody = "<p>李雷您好,您已成功报名「2026上海制造业数字化转型沙龙」。</p>",
            }, CancellationToken.None);
            accepted += result.IsAccepted ? 1 : throw new InvalidOperationException($"The local SMTP server refused a message: {result}");
        }

        return accepted;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void WaitUntilListening(int port)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (stopwatch.Elapsed < TimeSpan.FromSeconds(15) && _server is { HasExited: false })
            {
                Thread.Sleep(50);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"aiosmtpd did not listen on 127.0.0.1:{port}: {(_server is { HasExited: true } s ? s.StandardError.ReadToEnd() : "timed out")}", e);
            }
        }
    }
}
