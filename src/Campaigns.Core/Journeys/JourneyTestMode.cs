using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Campaigns.Channels;
using Campaigns.Contacts;
using Campaigns.Delivery;
using Microsoft.Extensions.Options;
using NodaTime;

namespace Campaigns.Journeys;

/// <summary>A test run of a journey's send steps (F-6.6 test mode).</summary>
public sealed record JourneyTestRequest
{
    /// <summary>The test contacts (seed 004: 100 test users); each gets every send step of the journey once.</summary>
    public required IReadOnlyList<Contact> Contacts { get; init; }

    /// <summary>The lowest success rate that passes, in [0, 1] (default 0.98: seed 004's ≥ 98 %).</summary>
    public double MinimumSuccessRate { get; init; } = 0.98;

    /// <summary>
    /// Channels to send through in place of the host's registered ones (by <see cref="IChannel.Name"/>), or null
    /// (default) for the real configured channels.
    /// </summary>
    public IReadOnlyList<IChannel>? Channels { get; init; }
}

/// <summary>One test send: the contact, the node and what the delivery pipeline did.</summary>
/// <param name="ContactId">The test contact.</param>
/// <param name="NodeId">The send step.</param>
/// <param name="Outcome">The pipeline's outcome.</param>
public sealed record JourneyTestSend(ContactId ContactId, string NodeId, DeliveryOutcome Outcome)
{
    /// <summary>Whether the provider accepted the message.</summary>
    public bool Succeeded => Outcome.Status == DeliveryStatus.Sent;

    /// <summary>For a send that did not succeed: its reason (<c>suppressed:Consent</c>, <c>failed:InvalidAddress</c>, ...), else null.</summary>
    public string? FailureReason => Outcome.Status switch
    {
        DeliveryStatus.Sent => null,
        DeliveryStatus.Suppressed => $"suppressed:{Outcome.SuppressedBy}",
        DeliveryStatus.Failed => $"failed:{Outcome.Result?.FailureReason ?? DeliveryFailureReason.Unknown}",
        _ => Outcome.Status.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// The report of a test run. A test contact succeeds when every send step reached it; the success rate is the share
/// of test contacts that succeeded, and the run passes when it is at least the threshold.
/// </summary>
public sealed record JourneyTestReport
{
    /// <summary>The journey.</summary>
    public required string JourneyId { get; init; }

    /// <summary>A fingerprint of the tested definition (SHA-256 of its JSON): launching another definition needs another test.</summary>
    public required string DefinitionHash { get; init; }

    /// <summary>When the test ran.</summary>
    public required Instant At { get; init; }

    /// <summary>Every test send.</summary>
    public required IReadOnlyList<JourneyTestSend> Sends { get; init; }

    /// <summary>The test contacts.</summary>
    public required int Contacts { get; init; }

    /// <summary>The test contacts that got every send step.</summary>
    public required int SucceededContacts { get; init; }

    /// <summary>The threshold.</summary>
    public required double MinimumSuccessRate { get; init; }

    /// <summary>Messages the providers accepted.</summary>
    public int Sent => Sends.Count(s => s.Succeeded);

    /// <summary>Messages that were not sent.</summary>
    public int Failed => Sends.Count - Sent;

    /// <summary>The failed messages by reason (see <see cref="JourneyTestSend.FailureReason"/>).</summary>
    public IReadOnlyDictionary<string, int> FailedByReason =>
        Sends.Where(s => !s.Succeeded).GroupBy(s => s.FailureReason!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    /// <summary>The share of test contacts that got every send step, in [0, 1] (1 with no contacts).</summary>
    public double SuccessRate => Contacts == 0 ? 1 : (double)SucceededContacts / Contacts;

    /// <summary>The share of messages accepted, in [0, 1] (1 with no sends).</summary>
    public double MessageSuccessRate => Sends.Count == 0 ? 1 : (double)Sent / Sends.Count;

    /// <summary>Whether the run passed: <see cref="SuccessRate"/> ≥ <see cref="MinimumSuccessRate"/>.</summary>
    public bool Passed => SuccessRate >= MinimumSuccessRate;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{JourneyId}: {(Passed ? "passed" : "failed")}, {SuccessRate:P1} of {Contacts} test contacts (threshold {MinimumSuccessRate:P1}); {Sent} sent, {Failed} failed{(Failed == 0 ? string.Empty : " (" + string.Join(", ", FailedByReason.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}")) + ")")}");
}

/// <summary>Thrown when a journey may not launch: its last test run failed, it has none, or it changed since.</summary>
public sealed class JourneyLaunchRefusedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="journeyId">The journey.</param>
    /// <param name="successRate">The last test run's success rate, or null when there is none for this definition.</param>
    /// <param name="threshold">The threshold, or null when there is no test run.</param>
    /// <param name="message">The message.</param>
    public JourneyLaunchRefusedException(string journeyId, double? successRate, double? threshold, string message)
        : base(message)
    {
        JourneyId = journeyId;
        SuccessRate = successRate;
        Threshold = threshold;
    }

    /// <summary>Creates the exception (for serializers and tooling).</summary>
    public JourneyLaunchRefusedException()
        : this(string.Empty, null, null, "The journey may not launch.")
    {
    }

    /// <summary>Creates the exception (for serializers and tooling).</summary>
    /// <param name="message">The message.</param>
    public JourneyLaunchRefusedException(string message)
        : this(string.Empty, null, null, message)
    {
    }

    /// <summary>Creates the exception (for serializers and tooling).</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public JourneyLaunchRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
        JourneyId = string.Empty;
    }

    /// <summary>The journey.</summary>
    public string JourneyId { get; }

    /// <summary>The last test run's success rate, or null.</summary>
    public double? SuccessRate { get; }

    /// <summary>The threshold of that test run, or null.</summary>
    public double? Threshold { get; }
}

/// <summary>
/// Test mode (F-6.6): sends a journey's send steps to test contacts through the real channels (or given ones), reports
/// the success rate, and gates launch on it (seed 004: 100 test users, ≥ 98 %). Test sends go through a delivery
/// pipeline of their own: the same consent, do-not-contact list, content rules, rendering, resilience and failover
/// as the host, but no send window (they go now), no frequency caps, and fresh idempotency and execution-record
/// stores, so the host's stores are not written. The last report per journey is kept in memory. Thread-safe.
/// </summary>
public sealed class JourneyTestMode
{
    private readonly IChannelRegistry _channels;
    private readonly IJourneyTemplateResolver _templates;
    private readonly IDoNotContactList _doNotContact;
    private readonly IOptions<CampaignsOptions> _options;
    private readonly IClock _clock;
    private readonly TimeProvider _timeProvider;
    private readonly JourneyCatalog _catalog;
    private readonly ConcurrentDictionary<string, JourneyTestReport> _reports = new(StringComparer.Ordinal);
    private long _runs;

    /// <summary>Creates test mode (usually resolved from DI).</summary>
    /// <param name="channels">The host's channels.</param>
    /// <param name="templates">The message templates.</param>
    /// <param name="doNotContact">The do-not-contact list (read).</param>
    /// <param name="options">The SDK options.</param>
    /// <param name="clock">The clock.</param>
    /// <param name="timeProvider">The time provider of the resilience pipelines.</param>
    /// <param name="catalog">The host's published journeys (launch publishes into it).</param>
    public JourneyTestMode(IChannelRegistry channels, IJourneyTemplateResolver templates, IDoNotContactList doNotContact, IOptions<CampaignsOptions> options, IClock clock, TimeProvider timeProvider, JourneyCatalog catalog)
    {
        _channels = channels;
        _templates = templates;
        _doNotContact = doNotContact;
        _options = options;
        _clock = clock;
        _timeProvider = timeProvider;
        _catalog = catalog;
    }

    /// <summary>
    /// Sends every <see cref="SendMessageNode"/> of the journey once to each test contact, now, and records the report
    /// as the journey's last test run.
    /// </summary>
    /// <param name="journey">The journey.</param>
    /// <param name="request">Test contacts, threshold and channels.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The report.</returns>
    public async ValueTask<JourneyTestReport> RunAsync(JourneyDefinition journey, JourneyTestRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journey);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.MinimumSuccessRate, 0.0, nameof(request));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(request.MinimumSuccessRate, 1.0, nameof(request));

        IChannelRegistry channels = request.Channels is { } given ? new StandInRegistry(given) : _channels;
        var pipelineOptions = Options.Create(new CampaignsOptions
        {
            DefaultTimeZone = _options.Value.DefaultTimeZone,
            Delivery = JourneyDeliveryOptions.ForTest(_options.Value.Delivery),
        });
        using var pipeline = new DeliveryPipeline(channels, _clock, _timeProvider, new InMemoryIdempotencyStore(), new InMemoryFrequencyCapStore(), _doNotContact, new InMemoryExecutionRecords(), [], pipelineOptions);

        var run = Interlocked.Increment(ref _runs);
        var at = _clock.GetCurrentInstant();
        var steps = journey.Nodes.OfType<SendMessageNode>().ToList();
        var sends = new List<JourneyTestSend>(steps.Count * request.Contacts.Count);
        var succeeded = 0;
        foreach (var contact in request.Contacts)
        {
            var all = true;
            foreach (var node in steps)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var key = string.Create(CultureInfo.InvariantCulture, $"journey-test/{journey.Id}/{at.ToUnixTimeTicks()}-{run}/{contact.Id}/{node.Id}");
                var outcome = _templates.FindTemplate(node.TemplateId) is { } template
                    ? await pipeline.DeliverAsync(new DeliveryRequest { IdempotencyKey = key, Contact = contact, Channel = node.Channel, Template = template, Variables = JourneyRunner.Variables(contact, node), CampaignId = journey.CampaignId }, cancellationToken).ConfigureAwait(false)
                    : new DeliveryOutcome { IdempotencyKey = key, Status = DeliveryStatus.Failed, Channel = node.Channel, At = at, Result = DeliveryResult.Failed(DeliveryFailureReason.ContentRejected, false, $"the template '{node.TemplateId}' does not exist") };
                var send = new JourneyTestSend(contact.Id, node.Id, outcome);
                all &= send.Succeeded;
                sends.Add(send);
            }

            succeeded += all ? 1 : 0;
        }

        var report = new JourneyTestReport
        {
            JourneyId = journey.Id,
            DefinitionHash = Fingerprint(journey),
            At = at,
            Sends = sends,
            Contacts = request.Contacts.Count,
            SucceededContacts = succeeded,
            MinimumSuccessRate = request.MinimumSuccessRate,
        };
        _reports[journey.Id] = report;
        return report;
    }

    /// <summary>The journey's last test run, or null.</summary>
    /// <param name="journeyId">The journey.</param>
    public JourneyTestReport? LastReport(string journeyId) => _reports.GetValueOrDefault(journeyId);

    /// <summary>Throws unless the journey's last test run passed and tested this very definition.</summary>
    /// <param name="journey">The journey about to launch.</param>
    /// <exception cref="JourneyLaunchRefusedException">No test run, a failed one (the message names the rate and the threshold), or the definition changed since.</exception>
    public void EnsureCanLaunch(JourneyDefinition journey)
    {
        ArgumentNullException.ThrowIfNull(journey);
        if (LastReport(journey.Id) is not { } report)
        {
            throw new JourneyLaunchRefusedException(journey.Id, null, null, $"The journey '{journey.Id}' may not launch: it has no test run (run test mode first).");
        }

        if (!report.Passed)
        {
            throw new JourneyLaunchRefusedException(journey.Id, report.SuccessRate, report.MinimumSuccessRate, string.Create(CultureInfo.InvariantCulture,
                $"The journey '{journey.Id}' may not launch: its last test run ({report.At}) reached {report.SuccessRate:P1} of {report.Contacts} test contacts, below the threshold of {report.MinimumSuccessRate:P1}; {report}."));
        }

        if (!string.Equals(report.DefinitionHash, Fingerprint(journey), StringComparison.Ordinal))
        {
            throw new JourneyLaunchRefusedException(journey.Id, null, null, $"The journey '{journey.Id}' may not launch: it changed since its last test run ({report.At}); test it again.");
        }
    }

    /// <summary>Launches a journey: checks its last test run (<see cref="EnsureCanLaunch"/>), then publishes it (validated) into the host's catalog.</summary>
    /// <param name="journey">The journey.</param>
    /// <param name="context">What it may name (channels, templates, segments).</param>
    /// <exception cref="JourneyLaunchRefusedException">The last test run did not pass (or there is none for this definition).</exception>
    /// <exception cref="JourneyValidationException">The journey is not valid.</exception>
    public void Launch(JourneyDefinition journey, JourneyValidationContext context)
    {
        EnsureCanLaunch(journey);
        _catalog.Publish(journey, context, _clock.GetCurrentInstant());
    }

    private static string Fingerprint(JourneyDefinition journey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JourneyJson.Serialize(journey))));
}
