using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MimeKit;

namespace Campaigns.Channels.Email.Tests;

/// <summary>
/// A real SMTP server (Debian's python3-aiosmtpd, driven by smtp_server.py) on 127.0.0.1 and a free port, shared by the
/// tests of the "smtp" collection. Messages it accepts land in <see cref="Directory"/>; faults are set per recipient.
/// In CI (CI=true) a server that cannot start fails the tests; locally they are skipped when aiosmtpd is not importable.
/// </summary>
public sealed class SmtpServer : IAsyncLifetime
{
    private readonly Dictionary<string, string> _rules = new(StringComparer.Ordinal);
    private Process? _process;

    /// <summary>The reason the tests are skipped, or null when they run (always null in CI).</summary>
    public static string? SkipReason => LazySkipReason.Value;

    private static readonly Lazy<string?> LazySkipReason = new(() =>
        Environment.GetEnvironmentVariable("CI") == "true" || CanImportAiosmtpd()
            ? null
            : "python3-aiosmtpd is not installed (sudo apt-get install python3-aiosmtpd); .ci/run installs it. Skipped locally, fails in CI.");

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "campaigns-smtp-" + Guid.NewGuid().ToString("N"));

    public int Port { get; private set; }

    public static string Python =>
        Environment.GetEnvironmentVariable("CAMPAIGNS_PYTHON") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public async Task InitializeAsync()
    {
        if (SkipReason is not null)
        {
            return;
        }

        System.IO.Directory.CreateDirectory(Directory);
        var script = Path.Combine(AppContext.BaseDirectory, "smtp_server.py");
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(Directory);
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }

        if (line is null || !line.StartsWith("READY ", StringComparison.Ordinal))
        {
            var error = _process.HasExited ? await _process.StandardError.ReadToEndAsync() : "(no answer within 20 s)";
            throw new InvalidOperationException(
                $"The test SMTP server did not start ({Python} {script}): {line} {error}. Install python3-aiosmtpd (sudo apt-get install python3-aiosmtpd).");
        }

        Port = int.Parse(line.AsSpan(6), CultureInfo.InvariantCulture);
    }

    public async Task DisposeAsync()
    {
        if (_process is { } process)
        {
            process.StandardInput.Close();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }

        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>
    /// Makes the server answer RCPT TO for <paramref name="recipient"/> with "550", "451", "drop" or "hang"; or, with
    /// "data-drop" / "data-hang", store the message after DATA and then close the connection / never answer.
    /// </summary>
    public void SetRule(string recipient, string rule)
    {
        lock (_rules)
        {
            _rules[recipient] = rule;
            var tmp = Path.Combine(Directory, "rules.json.tmp");
            File.WriteAllText(tmp, JsonSerializer.Serialize(_rules));
            File.Move(tmp, Path.Combine(Directory, "rules.json"), overwrite: true);
        }
    }

    /// <summary>The SMTP sessions opened so far (one EHLO each).</summary>
    public int Connections
    {
        get
        {
            var log = Path.Combine(Directory, "connections.log");
            return File.Exists(log) ? File.ReadAllLines(log).Length : 0;
        }
    }

    /// <summary>The messages received for a recipient, in arrival order, as parsed MIME.</summary>
    public IReadOnlyList<MimeMessage> MessagesTo(string recipient) =>
        [.. System.IO.Directory.GetFiles(Directory, "*.eml").Order(StringComparer.Ordinal)
            .Where(eml => JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(eml, ".json"))).RootElement.GetProperty("rcpt_tos").EnumerateArray().Any(r => r.GetString() == recipient))
            .Select(eml => MimeMessage.Load(eml))];

    private static bool CanImportAiosmtpd()
    {
        try
        {
            using var check = Process.Start(new ProcessStartInfo(Python, ["-c", "import aiosmtpd"]) { RedirectStandardError = true, UseShellExecute = false });
            if (check is null)
            {
                return false;
            }

            check.WaitForExit(15_000);
            return check.HasExited && check.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>The tests that share one SMTP server (run one after another).</summary>
[CollectionDefinition("smtp")]
public sealed class SmtpServerGroup : ICollectionFixture<SmtpServer>;

/// <summary>A fact that needs the SMTP server: skipped locally (never in CI) when aiosmtpd is missing.</summary>
public sealed class SmtpFactAttribute : FactAttribute
{
    public SmtpFactAttribute()
    {
        if (SmtpServer.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
