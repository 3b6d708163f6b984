namespace Campaigns.Benchmarks.Storage;

/// <summary>
/// The runtime host settings a PostgreSQL step figure depends on, printed with it so that a row measured with a host
/// setting says so (issue 8, s50): the thread pool's spin before an idle worker sleeps
/// (<c>DOTNET_ThreadPool_UnfairSemaphoreSpinLimit</c> or <c>System.Threading.ThreadPool.UnfairSemaphoreSpinLimit</c> in the
/// runtime config; the runtime's default is 70) and inline socket completions
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>). Child processes inherit the environment.
/// </summary>
internal static class HostSettings
{
    /// <summary>E.g. <c>host=default</c> or <c>host=[spin-limit=0 (env)]</c>.</summary>
    public static string Describe()
    {
        var parts = new List<string>();
        if (Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") is { Length: > 0 } env)
        {
            parts.Add($"spin-limit={env} (env)");
        }
        else if (AppContext.GetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit") is { } configured)
        {
            parts.Add($"spin-limit={configured} (runtimeconfig)");
        }

        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1")
        {
            parts.Add("inline-socket-completions");
        }

        return parts.Count == 0 ? "host=default" : $"host=[{string.Join(", ", parts)}]";
    }
}
