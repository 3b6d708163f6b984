namespace Campaigns.Storage;

/// <summary>
/// Protects sensitive contact fields (phones, e-mail addresses, WeChat/WeCom ids, names) before a durable store
/// writes them, and computes the deterministic lookup keys a store indexes instead of the plain values.
/// </summary>
/// <remarks>
/// <para>Durable stores (SQLite, PostgreSQL) call <see cref="Protect"/> on every sensitive value they persist and
/// <see cref="Unprotect"/> when they read it back; identity lookups (find a contact by phone) go through
/// <see cref="ComputeLookupKey"/>, so an encrypting protector never needs to decrypt to search.</para>
/// <para>Implementations must be thread-safe and deterministic for <see cref="ComputeLookupKey"/>: the same
/// purpose and value always give the same key for the life of the data.</para>
/// </remarks>
public interface IPersonalDataProtector
{
    /// <summary>Gets a stable name of the protection scheme, recorded by stores so a mismatch is detected at start.</summary>
    string Scheme { get; }

    /// <summary>Protects <paramref name="value"/> for storage.</summary>
    /// <param name="purpose">What the value is, e.g. <c>phone</c>, <c>email</c>, <c>name</c>; part of the protection context.</param>
    /// <param name="value">The plain value.</param>
    /// <returns>The protected text to store.</returns>
    string Protect(string purpose, string value);

    /// <summary>Reverses <see cref="Protect"/>.</summary>
    /// <param name="purpose">The purpose the value was protected with.</param>
    /// <param name="protectedValue">The stored text.</param>
    /// <returns>The plain value.</returns>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The value was not protected by this protector or was tampered with.</exception>
    string Unprotect(string purpose, string protectedValue);

    /// <summary>Computes the deterministic key under which a store indexes a (normalized) value for equality lookups.</summary>
    /// <param name="purpose">What the value is, e.g. <c>phone</c>.</param>
    /// <param name="normalizedValue">The normalized value (E.164 phone, lower-cased e-mail, …).</param>
    /// <returns>The lookup key.</returns>
    string ComputeLookupKey(string purpose, string normalizedValue);
}

/// <summary>
/// The default <see cref="IPersonalDataProtector"/>: stores values as they are and uses them as their own lookup keys.
/// Thread-safe. Use an encrypting protector when contact data must be encrypted at rest.
/// </summary>
public sealed class PlainTextPersonalDataProtector : IPersonalDataProtector
{
    /// <summary>Gets the shared instance.</summary>
    public static PlainTextPersonalDataProtector Instance { get; } = new();

    /// <inheritdoc />
    public string Scheme => "plain";

    /// <inheritdoc />
    public string Protect(string purpose, string value)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(value);
        return value;
    }

    /// <inheritdoc />
    public string Unprotect(string purpose, string protectedValue)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(protectedValue);
        return protectedValue;
    }

    /// <inheritdoc />
    public string ComputeLookupKey(string purpose, string normalizedValue)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(normalizedValue);
        return normalizedValue;
    }
}
