using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Threading.RateLimiting;
using Campaigns.Channels;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace Campaigns.Delivery;

/// <summary>
/// What the channel sender did: the result, the channel that produced it, whether it failed over, and whether the send
/// is <paramref name="InDoubt"/>: the result is a <see cref="DeliveryFailureReason.Timeout"/> (the provider may have
/// accepted the message) on a channel that may not simply send again (<see cref="ChannelSender.Route.MayResendInDoubt"/>).
/// </summary>
internal readonly record struct SendAttempt(DeliveryResult Result, string Channel, bool FailedOver, bool InDoubt = false);

/// <summary>
/// Sends through a channel's Polly v8 pipeline (retry on retryable results honouring Retry-After — a timeout only on a
/// channel that may resend an in-doubt send, see <see cref="Route.MayResendInDoubt"/> → circuit breaker → rate limiter →
/// per-attempt timeout), built once per channel instance from its options, and fails over to the channel's secondary
/// when the circuit is open or the result is a provider error. Thread-safe.
/// </summary>
internal sealed class ChannelSender(IChannelRegistry registry, DeliveryOptions options, TimeProvider timeProvider) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Route>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<RateLimiter> _limiters = [];

    /// <summary>
    /// A channel instance with its resilience pipeline, built once per name. <see cref="Pipeline"/> is null when the
    /// channel's options configure no strategy (no retry, breaker, rate limit or timeout): the send is then a direct call.
    /// </summary>
    internal sealed class Route(string name, IChannel channel, ResiliencePipeline<DeliveryResult>? pipeline, string? failoverTo, bool mayResendInDoubt)
    {
        public string Name { get; } = name;

        public IChannel Channel { get; } = channel;

        public ResiliencePipeline<DeliveryResult>? Pipeline { get; } = pipeline;

        public string? FailoverTo { get; } = failoverTo;

        /// <summary>
        /// Whether a send whose outcome is in doubt (a timeout: the provider may have accepted it) may simply be sent
        /// again: the channel honours idempotency keys (the provider drops the repeat), or its
        /// <see cref="ChannelDeliveryOptions.InDoubtPolicy"/> is <see cref="InDoubtPolicy.AtLeastOnce"/> (a duplicate is
        /// accepted). Otherwise a timeout is not retried and the pipeline keeps the key claimed, so the in-doubt path
        /// resolves it when the claim's lease expires (ask the provider, or record <see cref="DeliveryStatus.Unknown"/>).
        /// </summary>
        public bool MayResendInDoubt { get; } = mayResendInDoubt;
    }

    /// <summary>The route of a channel (created on first use; the channel must be registered).</summary>
    /// <exception cref="KeyNotFoundException">No channel has that name.</exception>
    public Route RouteFor(string channelName)
    {
        if (!_routes.TryGetValue(channelName, out var lazy))
        {
            lazy = _routes.GetOrAdd(channelName, n => new Lazy<Route>(() => NewRoute(n)));
        }

        return lazy.Value;
    }

    private Route NewRoute(string name)
    {
        var channel = registry.GetChannel(name);
        var channelOptions = options.ForChannel(name);
        var mayResend = channel.Capabilities.HonoursIdempotencyKeys || channelOptions.InDoubtPolicy == InDoubtPolicy.AtLeastOnce;
        return new Route(name, channel, Build(name, mayResend), channelOptions.FailoverTo, mayResend);
    }

    public ValueTask<SendAttempt> SendAsync(string channelName, ChannelMessage message, CancellationToken cancellationToken) =>
        SendAsync(RouteFor(channelName), message, cancellationToken);

    public async ValueTask<SendAttempt> SendAsync(Route route, ChannelMessage message, CancellationToken cancellationToken)
    {
        var (result, exception) = await SendOnceAsync(route, message, cancellationToken).ConfigureAwait(false);
        var failOver = exception is BrokenCircuitException || result.FailureReason == DeliveryFailureReason.ProviderError && !result.IsAccepted;
        if (route.FailoverTo is { } secondary && failOver)
        {
            var secondRoute = RouteFor(secondary);
            var (second, _) = await SendOnceAsync(secondRoute, message, cancellationToken).ConfigureAwait(false);
            return new SendAttempt(second, secondary, true, IsInDoubt(second, secondRoute));
        }

        return new SendAttempt(result, route.Name, false, IsInDoubt(result, route));
    }

    /// <summary>A timeout (the provider may have accepted the message) on a channel that may not simply send again.</summary>
    private static bool IsInDoubt(DeliveryResult result, Route route) =>
        !result.IsAccepted && result.FailureReason == DeliveryFailureReason.Timeout && !route.MayResendInDoubt;

    private static async ValueTask<(DeliveryResult Result, Exception? Exception)> SendOnceAsync(Route route, ChannelMessage message, CancellationToken cancellationToken)
    {
        var channel = route.Channel;
        var channelName = route.Name;
        if (route.Pipeline is not { } pipeline)
        {
            // No strategy configured: no Polly machinery on the path. The channel's own failures are values already;
            // an exception (a bug in the adapter, or the caller's cancellation) propagates as it would through Polly.
            return (await channel.SendAsync(message, cancellationToken).ConfigureAwait(false), null);
        }

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = await pipeline.ExecuteOutcomeAsync(
                static async (ctx, state) =>
                {
                    try
                    {
                        return Outcome.FromResult(await state.channel.SendAsync(state.message, ctx.CancellationToken).ConfigureAwait(false));
                    }
#pragma warning disable CA1031 // Every exception becomes an outcome so the strategies (timeout) can see it; rethrown below.
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        return Outcome.FromException<DeliveryResult>(e);
                    }
                },
                context,
                (channel, message)).ConfigureAwait(false);

            return outcome.Exception switch
            {
                null => (outcome.Result, null),
                OperationCanceledException when cancellationToken.IsCancellationRequested => Rethrow(outcome.Exception),
                TimeoutRejectedException e => (DeliveryResult.Failed(DeliveryFailureReason.Timeout, true, $"no answer within {e.Timeout}"), e),
                RateLimiterRejectedException e => (DeliveryResult.RateLimited(e.RetryAfter is { } r ? NodaTime.Duration.FromTimeSpan(r) : null, "the channel's rate limit is reached"), e),
                BrokenCircuitException e => (DeliveryResult.Failed(DeliveryFailureReason.ProviderError, true, $"the circuit of '{channelName}' is open"), e),
                _ => Rethrow(outcome.Exception),
            };
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static (DeliveryResult, Exception?) Rethrow(Exception e)
    {
        ExceptionDispatchInfo.Capture(e).Throw();
        return default;
    }

    private ResiliencePipeline<DeliveryResult>? Build(string channelName, bool mayResendInDoubt)
    {
        var r = options.ForChannel(channelName).Resilience;
        if (r.MaxRetryAttempts <= 0 && !r.CircuitBreakerEnabled && r.PermitsPerSecond is null && r.AttemptTimeout <= TimeSpan.Zero)
        {
            return null;
        }

        var builder = new ResiliencePipelineBuilder<DeliveryResult> { Name = "Campaigns.Delivery." + channelName, TimeProvider = timeProvider };
        if (r.MaxRetryAttempts > 0)
        {
            var maxDelay = r.RetryMaxDelay;
            builder.AddRetry(new RetryStrategyOptions<DeliveryResult>
            {
                MaxRetryAttempts = r.MaxRetryAttempts,
                Delay = r.RetryBaseDelay,
                MaxDelay = maxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = r.UseJitter,
                // A timeout may have reached the provider: it is retried only where a repeat is safe or allowed.
                ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception switch
                {
                    null => args.Outcome.Result is { IsAccepted: false, IsRetryable: true } result && (mayResendInDoubt || result.FailureReason != DeliveryFailureReason.Timeout),
                    TimeoutRejectedException => mayResendInDoubt,
                    RateLimiterRejectedException => true,
                    _ => false,
                }),
                DelayGenerator = args =>
                {
                    TimeSpan? after = args.Outcome.Result.RetryAfter?.ToTimeSpan()
                        ?? (args.Outcome.Exception as RateLimiterRejectedException)?.RetryAfter;
                    return new ValueTask<TimeSpan?>(after is { } a ? (a > maxDelay ? maxDelay : a) : null);
                },
            });
        }

        if (r.CircuitBreakerEnabled)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<DeliveryResult>
            {
                FailureRatio = r.FailureRatio,
                MinimumThroughput = r.MinimumThroughput,
                SamplingDuration = r.SamplingDuration,
                BreakDuration = r.BreakDuration,
                ShouldHandle = static args => new ValueTask<bool>(args.Outcome.Exception switch
                {
                    null => args.Outcome.Result is { IsAccepted: false, FailureReason: DeliveryFailureReason.ProviderError or DeliveryFailureReason.Timeout },
                    TimeoutRejectedException => true,
                    _ => false,
                }),
            });
        }

        if (r.PermitsPerSecond is { } permits)
        {
            var limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = permits,
                TokensPerPeriod = permits,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
            _limiters.Add(limiter);
            builder.AddRateLimiter(limiter);
        }

        if (r.AttemptTimeout > TimeSpan.Zero)
        {
            builder.AddTimeout(r.AttemptTimeout);
        }

        return builder.Build();
    }

    public void Dispose()
    {
        foreach (var limiter in _limiters)
        {
            limiter.Dispose();
        }
    }
}
