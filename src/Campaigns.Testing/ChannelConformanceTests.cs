using System.Diagnostics;
using Campaigns.Channels;
using Xunit;

#pragma warning disable CA1707 // Test names are sentences, as in the test projects; they show in the integrator's test runner.

namespace Campaigns.Testing;

/// <summary>A way to make an adapter's provider fail, arranged by <see cref="ChannelConformanceTests.ArrangeFaultAsync"/>.</summary>
public enum ConformanceFault
{
    /// <summary>The provider refuses this recipient for good (SMTP 550, HTTP 400/404/410). Expected: a non-retryable failure value.</summary>
    PermanentRejection = 0,

    /// <summary>The provider fails for now (SMTP 451, HTTP 503). Expected: a retryable failure value.</summary>
    TransientFailure = 1,

    /// <summary>
    /// The provider takes the request and does not answer for much longer than the test waits (at least 30 s). Expected:
    /// <see cref="OperationCanceledException"/> when the caller cancels.
    /// </summary>
    Unresponsive = 2,
}

/// <summary>
/// The channel conformance kit: an abstract xUnit test class that checks an <see cref="IChannel"/> against the contract.
/// Inherit it in your test project, build your adapter against a real or fake provider in
/// <see cref="CreateChannelAsync"/>, and tell the kit how to make the provider fail in <see cref="ArrangeFaultAsync"/>;
/// every <c>[Fact]</c> here then runs for your adapter.
/// </summary>
/// <remarks>
/// <para>What it checks:</para>
/// <list type="bullet">
/// <item>A valid name and truthful capabilities: a body of exactly <see cref="ChannelCapabilities.MaxContentLength"/>
/// is accepted, one character more fails with <see cref="DeliveryFailureReason.ContentRejected"/> (not retryable);
/// a malformed e-mail/phone/URL address fails with <see cref="DeliveryFailureReason.InvalidAddress"/>.</item>
/// <item>Expected failures are values, with a reason: a permanent rejection is not retryable and names a reason other than
/// <see cref="DeliveryFailureReason.Unknown"/>; a transient failure is retryable.</item>
/// <item>Cancellation is honoured: the contract chosen by the SDK is that a cancelled caller token makes
/// <see cref="IChannel.SendAsync"/> throw <see cref="OperationCanceledException"/> (before sending, and while waiting
/// for an unresponsive provider, within <see cref="CancellationGrace"/>); only the adapter's own timeout yields
/// <c>Failed(Timeout)</c>.</item>
/// <item>The idempotency key reaches the provider (<see cref="WasDeliveredWithKeyAsync"/>).</item>
/// <item>Batch sends return one result per message, in order; concurrent sends all complete.</item>
/// <item>Receipts are normalized (when <see cref="ChannelCapabilities.SupportsDeliveryReceipts"/>): the receipts
/// <see cref="ProduceReceiptsAsync"/> returns for a sent message carry the channel name, a defined kind, the send's
/// provider message id and an instant; and a channel that says it has no receipts produces none.</item>
/// </list>
/// <para>Channels created by <see cref="CreateChannelAsync"/> are disposed after each test when they are disposable.</para>
/// </remarks>
public abstract class ChannelConformanceTests : IAsyncLifetime
{
    private readonly List<IChannel> _created = [];

    /// <summary>
    /// Why the kit cannot run here (e.g. the provider's test server is not installed), or null to run. When not null,
    /// every check is reported as skipped with this reason instead of failing.
    /// </summary>
    protected virtual string? SkipReason => null;

    /// <summary>How long a cancelled send may take to give up (default 5 s).</summary>
    protected virtual TimeSpan CancellationGrace => TimeSpan.FromSeconds(5);

    /// <summary>The longest body the length test sends when the channel claims no limit (default 64 KiB characters).</summary>
    protected virtual int UnlimitedContentProbeLength => 64 * 1024;

    /// <summary>Creates the adapter under test, ready to send to recipients from <see cref="CreateRecipient"/>.</summary>
    /// <returns>The channel.</returns>
    protected abstract ValueTask<IChannel> CreateChannelAsync();

    /// <summary>Returns a well-formed address the provider accepts; distinct tags give distinct addresses.</summary>
    /// <param name="tag">A short ASCII tag naming the test (letters, digits and '-').</param>
    /// <returns>The address.</returns>
    protected abstract string CreateRecipient(string tag);

    /// <summary>Makes the provider fail every send to <paramref name="recipient"/> in the given way.</summary>
    /// <param name="recipient">An address from <see cref="CreateRecipient"/>.</param>
    /// <param name="fault">How it should fail.</param>
    /// <returns>Completes when arranged.</returns>
    protected abstract ValueTask ArrangeFaultAsync(string recipient, ConformanceFault fault);

    /// <summary>
    /// Tells whether the provider received <paramref name="sent"/> carrying its <see cref="ChannelMessage.IdempotencyKey"/>
    /// (as is, or in the adapter's documented encoding, e.g. a Message-ID derived from it).
    /// </summary>
    /// <param name="sent">A message that was accepted.</param>
    /// <returns>True when the key arrived.</returns>
    protected abstract ValueTask<bool> WasDeliveredWithKeyAsync(ChannelMessage sent);

    /// <summary>
    /// Makes the provider report on a message the adapter sent (a delivery report, a bounce, a status callback) and
    /// returns the receipts the adapter turned it into, e.g. by passing a provider callback through the adapter's receipt
    /// handler into a <see cref="RecordingDeliveryReceiptSink"/>. The default returns null: the adapter produces no
    /// receipts. An adapter whose <see cref="ChannelCapabilities.SupportsDeliveryReceipts"/> is true must override it.
    /// </summary>
    /// <param name="channel">The channel that sent.</param>
    /// <param name="sent">The message, accepted.</param>
    /// <param name="result">The accepted result (its <see cref="DeliveryResult.ProviderMessageId"/> is what receipts must carry).</param>
    /// <returns>The receipts about <paramref name="sent"/>, or null when the adapter produces none.</returns>
    protected virtual ValueTask<IReadOnlyList<DeliveryReceipt>?> ProduceReceiptsAsync(IChannel channel, ChannelMessage sent, DeliveryResult result) =>
        ValueTask.FromResult<IReadOnlyList<DeliveryReceipt>?>(null);

    /// <summary>
    /// How many times the provider delivered a message with the idempotency key of <paramref name="sent"/> (a repeat the
    /// provider dropped as a duplicate does not count). The default returns null: the test cannot tell, and the check that
    /// <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/> is truthful is skipped. An adapter that declares
    /// <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/> should override it.
    /// </summary>
    /// <param name="sent">A message that was sent twice with the same key.</param>
    /// <returns>The number of deliveries, or null when unknown.</returns>
    protected virtual ValueTask<int?> CountDeliveriesWithKeyAsync(ChannelMessage sent) => ValueTask.FromResult<int?>(null);

    /// <summary>Builds a message to a recipient; override to add what your channel needs (a subject, an HTML body).</summary>
    /// <param name="recipient">The address.</param>
    /// <param name="body">The text body.</param>
    /// <returns>The message, with a fresh idempotency key.</returns>
    protected virtual ChannelMessage CreateMessage(string recipient, string body = "Hello from the conformance kit") =>
        new("conformance-" + Guid.NewGuid().ToString("N"), recipient, body) { Subject = "Conformance", HtmlBody = "<p>" + body + "</p>" };

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var channel in _created)
        {
            switch (channel)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        _created.Clear();
    }

    /// <summary>The name is a valid channel name and the capabilities are consistent.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Name_and_capabilities_are_well_formed()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        ChannelRegistration.ValidateName(channel.Name);
        Assert.NotNull(channel.Capabilities);
        Assert.Same(channel.Capabilities, channel.Capabilities);
        Assert.True(channel.Capabilities.MaxContentLength is null or > 0, "MaxContentLength is null or positive.");
        Assert.True(channel.Capabilities.MaxBatchSize is null or > 0, "MaxBatchSize is null or positive.");
    }

    /// <summary>A plain message is accepted.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_plain_message_is_accepted()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var result = await channel.SendAsync(CreateMessage(CreateRecipient("plain")), CancellationToken.None).ConfigureAwait(false);
        Assert.True(result.IsAccepted, $"Expected Accepted, got {result}.");
    }

    /// <summary>The idempotency key reaches the provider.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task The_idempotency_key_is_carried_to_the_provider()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var message = CreateMessage(CreateRecipient("idempotency"));
        var result = await channel.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        Assert.True(result.IsAccepted, $"Expected Accepted, got {result}.");
        Assert.True(await WasDeliveredWithKeyAsync(message).ConfigureAwait(false), $"The provider did not receive the idempotency key '{message.IdempotencyKey}'.");
    }

    /// <summary>
    /// <see cref="ChannelCapabilities.HonoursIdempotencyKeys"/> is truthful: a channel that declares it, sent the same
    /// message twice, accepts both and delivers once. Skipped when the channel does not declare it, or when
    /// <see cref="CountDeliveriesWithKeyAsync"/> is not overridden.
    /// </summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Idempotency_key_support_is_truthful()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        Skip.IfNot(channel.Capabilities.HonoursIdempotencyKeys, "The channel does not declare HonoursIdempotencyKeys.");
        var message = CreateMessage(CreateRecipient("idempotency-twice"));
        var first = await channel.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        var second = await channel.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        Assert.True(first.IsAccepted, $"Expected Accepted, got {first}.");
        Assert.True(second.IsAccepted, $"HonoursIdempotencyKeys is true, so a repeat of an accepted key is accepted (as a duplicate); got {second}.");
        var count = await CountDeliveriesWithKeyAsync(message).ConfigureAwait(false);
        Skip.If(count is null, "Override CountDeliveriesWithKeyAsync to check that HonoursIdempotencyKeys is truthful.");
        Assert.True(count == 1, $"HonoursIdempotencyKeys is true, but the provider delivered the key '{message.IdempotencyKey}' {count} time(s) after two sends: a repeat must be dropped, or the channel must not declare HonoursIdempotencyKeys.");
    }

    /// <summary>A null message is a programming error.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_null_message_throws_ArgumentNullException()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await channel.SendAsync(null!, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>An already-cancelled token makes the send throw <see cref="OperationCanceledException"/>.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_cancelled_token_throws_OperationCanceledException()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync().ConfigureAwait(false);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await channel.SendAsync(CreateMessage(CreateRecipient("cancelled")), cts.Token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Cancelling while the provider does not answer ends the send promptly with <see cref="OperationCanceledException"/>.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Cancelling_while_the_provider_hangs_throws_OperationCanceledException_promptly()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var recipient = CreateRecipient("hang");
        await ArrangeFaultAsync(recipient, ConformanceFault.Unresponsive).ConfigureAwait(false);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await channel.SendAsync(CreateMessage(recipient), cts.Token).ConfigureAwait(false)).ConfigureAwait(false);
        Assert.True(watch.Elapsed < CancellationGrace, $"The send took {watch.Elapsed} to honour cancellation; at most {CancellationGrace} is allowed.");
    }

    /// <summary>A permanent rejection is a non-retryable failure value with a reason.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_permanent_rejection_is_a_non_retryable_value_with_a_reason()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var recipient = CreateRecipient("rejected");
        await ArrangeFaultAsync(recipient, ConformanceFault.PermanentRejection).ConfigureAwait(false);
        var result = await channel.SendAsync(CreateMessage(recipient), CancellationToken.None).ConfigureAwait(false);
        Assert.False(result.IsAccepted, $"Expected a failure, got {result}.");
        Assert.False(result.IsRetryable, $"A permanent rejection must not be retryable: {result}.");
        Assert.NotEqual(DeliveryFailureReason.Unknown, result.FailureReason);
        Assert.Contains(result.FailureReason, (DeliveryFailureReason[])[DeliveryFailureReason.InvalidAddress, DeliveryFailureReason.Unsubscribed, DeliveryFailureReason.ContentRejected, DeliveryFailureReason.Unauthorized]);
    }

    /// <summary>A transient failure is a retryable failure value.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_transient_failure_is_a_retryable_value()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var recipient = CreateRecipient("transient");
        await ArrangeFaultAsync(recipient, ConformanceFault.TransientFailure).ConfigureAwait(false);
        var result = await channel.SendAsync(CreateMessage(recipient), CancellationToken.None).ConfigureAwait(false);
        Assert.False(result.IsAccepted, $"Expected a failure, got {result}.");
        Assert.True(result.IsRetryable, $"A transient failure must be retryable: {result}.");
        Assert.Contains(result.FailureReason, (DeliveryFailureReason[])[DeliveryFailureReason.ProviderError, DeliveryFailureReason.RateLimited, DeliveryFailureReason.Timeout]);
    }

    /// <summary>The maximum content length is truthful: the limit is accepted, one more is rejected before the provider.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task The_max_content_length_is_truthful()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var max = channel.Capabilities.MaxContentLength;
        var atLimit = await channel.SendAsync(CreateMessage(CreateRecipient("at-limit"), new string('x', max ?? UnlimitedContentProbeLength)), CancellationToken.None).ConfigureAwait(false);
        Assert.True(atLimit.IsAccepted, $"A body of {max ?? UnlimitedContentProbeLength} characters must be accepted: {atLimit}.");
        if (max is { } limit)
        {
            var over = await channel.SendAsync(CreateMessage(CreateRecipient("over-limit"), new string('x', limit + 1)), CancellationToken.None).ConfigureAwait(false);
            Assert.False(over.IsAccepted, $"A body of {limit + 1} characters must be refused: {over}.");
            Assert.Equal(DeliveryFailureReason.ContentRejected, over.FailureReason);
            Assert.False(over.IsRetryable);
        }
    }

    /// <summary>A malformed address of the channel's kind fails as <see cref="DeliveryFailureReason.InvalidAddress"/>, not retryable.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_malformed_address_is_an_invalid_address_value()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        if (channel.Capabilities.AddressKind is not (ChannelAddressKind.Email or ChannelAddressKind.Phone or ChannelAddressKind.Url))
        {
            return; // Custom and platform ids have no format the kit can break.
        }

        var result = await channel.SendAsync(CreateMessage(AddressRules.Malformed(channel.Capabilities.AddressKind)), CancellationToken.None).ConfigureAwait(false);
        Assert.False(result.IsAccepted, $"Expected a failure, got {result}.");
        Assert.Equal(DeliveryFailureReason.InvalidAddress, result.FailureReason);
        Assert.False(result.IsRetryable);
    }

    /// <summary>A batch returns one result per message, in order, failures included.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task A_batch_returns_one_result_per_message_in_order()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var rejected = CreateRecipient("batch-rejected");
        await ArrangeFaultAsync(rejected, ConformanceFault.PermanentRejection).ConfigureAwait(false);
        ChannelMessage[] messages = [CreateMessage(CreateRecipient("batch-1")), CreateMessage(rejected), CreateMessage(CreateRecipient("batch-3"))];
        var results = await channel.SendBatchAsync(messages, CancellationToken.None).ConfigureAwait(false);
        Assert.Equal(3, results.Count);
        Assert.True(results[0].IsAccepted, results[0].ToString());
        Assert.False(results[1].IsAccepted, results[1].ToString());
        Assert.True(results[2].IsAccepted, results[2].ToString());
    }

    /// <summary>Concurrent sends through one instance all complete and are accepted.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Concurrent_sends_through_one_instance_all_complete()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var sends = Enumerable.Range(0, 8).Select(i => channel.SendAsync(CreateMessage(CreateRecipient("concurrent-" + i)), CancellationToken.None).AsTask());
        var results = await Task.WhenAll(sends).ConfigureAwait(false);
        Assert.All(results, r => Assert.True(r.IsAccepted, r.ToString()));
    }

    /// <summary>
    /// Receipts are normalized: those the adapter produces for a sent message carry its channel name, a defined kind, the
    /// <see cref="DeliveryResult.ProviderMessageId"/> of the send and an instant (a click also its link). Skipped when the
    /// capabilities say the adapter reports no receipts.
    /// </summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Receipts_for_a_sent_message_are_normalized()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        Skip.IfNot(channel.Capabilities.SupportsDeliveryReceipts, "The channel reports no delivery receipts (SupportsDeliveryReceipts is false).");
        var message = CreateMessage(CreateRecipient("receipts"));
        var result = await channel.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        Assert.True(result.IsAccepted, $"Expected Accepted, got {result}.");
        Assert.False(string.IsNullOrEmpty(result.ProviderMessageId), "A channel that reports receipts returns a ProviderMessageId on acceptance, so receipts can be matched to the send.");
        var receipts = await ProduceReceiptsAsync(channel, message, result).ConfigureAwait(false);
        Assert.True(receipts is { Count: > 0 }, "SupportsDeliveryReceipts is true, but ProduceReceiptsAsync returned no receipts: override it to make the provider report on the message and return what the adapter produced.");
        foreach (var receipt in receipts)
        {
            Assert.Equal(channel.Name, receipt.ChannelName);
            Assert.True(Enum.IsDefined(receipt.Kind), $"The receipt kind {(int)receipt.Kind} is not a DeliveryReceiptKind.");
            Assert.Equal(result.ProviderMessageId, receipt.ProviderMessageId);
            Assert.NotEqual(default, receipt.OccurredAt);
            Assert.True(receipt.Kind != DeliveryReceiptKind.Clicked || receipt.Url is not null, "A click receipt carries the link.");
        }
    }

    /// <summary><see cref="ChannelCapabilities.SupportsDeliveryReceipts"/> is truthful: a channel that says false produces no receipts.</summary>
    /// <returns>A task.</returns>
    [SkippableFact]
    public async Task Delivery_receipt_support_is_truthful()
    {
        Skip.If(SkipReason is not null, SkipReason);
        var channel = await NewChannelAsync().ConfigureAwait(false);
        var message = CreateMessage(CreateRecipient("receipt-support"));
        var result = await channel.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
        Assert.True(result.IsAccepted, $"Expected Accepted, got {result}.");
        var receipts = await ProduceReceiptsAsync(channel, message, result).ConfigureAwait(false);
        if (channel.Capabilities.SupportsDeliveryReceipts)
        {
            Assert.True(receipts is { Count: > 0 }, "SupportsDeliveryReceipts is true, but ProduceReceiptsAsync returned no receipts.");
        }
        else
        {
            Assert.True(receipts is null or { Count: 0 }, $"SupportsDeliveryReceipts is false, but the adapter produced {receipts?.Count} receipt(s): set it to true.");
        }
    }

    private async ValueTask<IChannel> NewChannelAsync()
    {
        var channel = await CreateChannelAsync().ConfigureAwait(false);
        Assert.NotNull(channel);
        _created.Add(channel);
        return channel;
    }
}
