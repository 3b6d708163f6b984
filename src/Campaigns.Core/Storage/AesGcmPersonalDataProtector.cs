using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Campaigns.Storage;

/// <summary>
/// Options of <see cref="AesGcmPersonalDataProtector"/>, bound from <c>Campaigns:Storage:Protection</c>. Keys are
/// base64 text of 32 random bytes (e.g. <c>openssl rand -base64 32</c>); keep them in a secret store, not in
/// appsettings.json.
/// </summary>
public sealed class AesGcmProtectionOptions
{
    /// <summary>The configuration section: <c>Campaigns:Storage:Protection</c>.</summary>
    public const string SectionPath = "Campaigns:Storage:Protection";

    /// <summary>Gets or sets the current key (base64, 32 bytes): new values are encrypted with it.</summary>
    public string? Key { get; set; }

    /// <summary>
    /// Gets the keys used before (base64, 32 bytes each): values they encrypted still decrypt after a rotation. Values are
    /// re-encrypted with <see cref="Key"/> when their record is next written.
    /// </summary>
    public IList<string> PreviousKeys { get; } = [];

    /// <summary>
    /// Gets or sets the key lookup keys (HMAC-SHA256 of identities) are derived from (base64, 32 bytes), or null to derive
    /// them from <see cref="Key"/>. Lookup keys must not change for the life of the data: set it once (recommended), or,
    /// when rotating a <see cref="Key"/> that also served for lookups, set it to the old key.
    /// </summary>
    public string? LookupKey { get; set; }
}

/// <summary>
/// Encrypts personal data at rest with AES-256-GCM (<see cref="AesGcm"/>). Keys: an encryption key and an HMAC-SHA256
/// lookup key, each derived with HKDF-SHA256 from a configured 256-bit key; the purpose (<c>phone</c>, <c>email</c>,
/// ...) is bound as associated data, so a value cannot be moved to another field unnoticed. Thread-safe.
/// </summary>
/// <remarks>
/// <para>Format of a protected value: <c>v1.{keyId}.{base64url(nonce ‖ ciphertext ‖ tag)}</c> with a random 12-byte
/// nonce and a 16-byte tag; <c>keyId</c> (8 hex digits) names the key, so values written with an older key still decrypt
/// while that key is listed in <see cref="AesGcmProtectionOptions.PreviousKeys"/>.</para>
/// <para>Lookup keys are <c>base64url(HMAC-SHA256(lookupKey, purpose ‖ 0 ‖ value))</c>: deterministic, so equality
/// lookups work without decrypting, and they reveal nothing without the key. <see cref="Scheme"/> names the lookup key
/// (<c>aes-256-gcm;lookup={id}</c>), so a store refuses to start when the lookup key changed.</para>
/// </remarks>
public sealed class AesGcmPersonalDataProtector : IPersonalDataProtector
{
    private const string Version = "v1";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] EncryptionInfo = Encoding.ASCII.GetBytes("campaigns/personal-data/aes-256-gcm/v1");
    private static readonly byte[] LookupInfo = Encoding.ASCII.GetBytes("campaigns/personal-data/lookup-hmac-sha256/v1");
    private static readonly byte[] KeyIdInfo = Encoding.ASCII.GetBytes("campaigns/personal-data/key-id/v1");

    private readonly string _currentKeyId;
    private readonly Dictionary<string, byte[]> _encryptionKeys = new(StringComparer.Ordinal);
    private readonly byte[] _lookupKey;

    /// <summary>Creates the protector from validated options.</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentException">A key is missing or is not base64 of 32 bytes; the message names the configuration key.</exception>
    public AesGcmPersonalDataProtector(IOptions<AesGcmProtectionOptions> options)
        : this(options?.Value ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Creates the protector.</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentException">A key is missing or is not base64 of 32 bytes; the message names the configuration key.</exception>
    public AesGcmPersonalDataProtector(AesGcmProtectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = AesGcmProtectionOptionsValidator.Check(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        var current = Convert.FromBase64String(options.Key!.Trim());
        _currentKeyId = KeyIdOf(current);
        _encryptionKeys[_currentKeyId] = Derive(current, EncryptionInfo);
        foreach (var previous in options.PreviousKeys)
        {
            var key = Convert.FromBase64String(previous.Trim());
            _encryptionKeys.TryAdd(KeyIdOf(key), Derive(key, EncryptionInfo));
        }

        var lookupRoot = options.LookupKey is null ? current : Convert.FromBase64String(options.LookupKey.Trim());
        _lookupKey = Derive(lookupRoot, LookupInfo);
        Scheme = "aes-256-gcm;lookup=" + KeyIdOf(lookupRoot);
    }

    /// <inheritdoc />
    /// <remarks><c>aes-256-gcm;lookup={id of the lookup key}</c>: unchanged by a rotation of the encryption key.</remarks>
    public string Scheme { get; }

    /// <summary>Gets the id (8 hex digits) of the current key, as it prefixes new values.</summary>
    public string CurrentKeyId => _currentKeyId;

    /// <inheritdoc />
    public string Protect(string purpose, string value)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(value);
        var plain = Encoding.UTF8.GetBytes(value);
        var buffer = new byte[NonceSize + plain.Length + TagSize];
        var nonce = buffer.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(_encryptionKeys[_currentKeyId], TagSize))
        {
            aes.Encrypt(nonce, plain, buffer.AsSpan(NonceSize, plain.Length), buffer.AsSpan(NonceSize + plain.Length), Encoding.UTF8.GetBytes(purpose));
        }

        return $"{Version}.{_currentKeyId}.{Base64Url.EncodeToString(buffer)}";
    }

    /// <inheritdoc />
    /// <exception cref="CryptographicException">Not a value of this protector, an unknown key id, a different purpose, or tampered with.</exception>
    public string Unprotect(string purpose, string protectedValue)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(protectedValue);
        var parts = protectedValue.Split('.');
        if (parts.Length != 3 || parts[0] != Version)
        {
            throw new CryptographicException($"The stored {purpose} value is not an AES-GCM protected value (expected '{Version}.<keyId>.<data>'); was it written with another protector?");
        }

        if (!_encryptionKeys.TryGetValue(parts[1], out var key))
        {
            throw new CryptographicException(
                $"The stored {purpose} value was encrypted with key id '{parts[1]}', which is neither {AesGcmProtectionOptions.SectionPath}:Key nor one of {AesGcmProtectionOptions.SectionPath}:PreviousKeys.");
        }

        byte[] buffer;
        try
        {
            buffer = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (FormatException ex)
        {
            throw new CryptographicException($"The stored {purpose} value is not valid base64url.", ex);
        }

        if (buffer.Length < NonceSize + TagSize)
        {
            throw new CryptographicException($"The stored {purpose} value is too short to be AES-GCM protected.");
        }

        var length = buffer.Length - NonceSize - TagSize;
        var plain = new byte[length];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(buffer.AsSpan(0, NonceSize), buffer.AsSpan(NonceSize, length), buffer.AsSpan(NonceSize + length), plain, Encoding.UTF8.GetBytes(purpose));
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new CryptographicException($"The stored {purpose} value failed authentication: it was tampered with, or was protected for another purpose.", ex);
        }

        return Encoding.UTF8.GetString(plain);
    }

    /// <inheritdoc />
    public string ComputeLookupKey(string purpose, string normalizedValue)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        ArgumentNullException.ThrowIfNull(normalizedValue);
        var input = Encoding.UTF8.GetBytes(purpose + "\0" + normalizedValue);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_lookupKey, input, mac);
        return Base64Url.EncodeToString(mac);
    }

    private static byte[] Derive(byte[] key, byte[] info) => HKDF.DeriveKey(HashAlgorithmName.SHA256, key, 32, salt: [], info);

    private static string KeyIdOf(byte[] key) => Convert.ToHexStringLower(Derive(key, KeyIdInfo).AsSpan(0, 4));
}

/// <summary>Validates <see cref="AesGcmProtectionOptions"/>; messages name <c>Campaigns:Storage:Protection:*</c>.</summary>
internal sealed class AesGcmProtectionOptionsValidator : IValidateOptions<AesGcmProtectionOptions>
{
    public ValidateOptionsResult Validate(string? name, AesGcmProtectionOptions options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Check(AesGcmProtectionOptions options)
    {
        const string path = AesGcmProtectionOptions.SectionPath;
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Key))
        {
            errors.Add($"{path}:Key: a key is required to encrypt personal data: base64 of 32 random bytes (e.g. `openssl rand -base64 32`).");
        }
        else
        {
            CheckKey($"{path}:Key", options.Key, errors);
        }

        for (var i = 0; i < options.PreviousKeys.Count; i++)
        {
            CheckKey($"{path}:PreviousKeys:{i}", options.PreviousKeys[i], errors);
        }

        if (options.LookupKey is not null)
        {
            CheckKey($"{path}:LookupKey", options.LookupKey, errors);
        }

        return errors;
    }

    private static void CheckKey(string key, string? value, List<string> errors)
    {
        var bytes = new byte[64];
        if (value is null || !Convert.TryFromBase64String(value.Trim(), bytes, out var written))
        {
            errors.Add($"{key}: the value is not base64 text; expected base64 of 32 random bytes (44 characters, e.g. `openssl rand -base64 32`).");
        }
        else if (written != 32)
        {
            errors.Add($"{key}: the value decodes to {written} bytes; AES-256 needs exactly 32 bytes.");
        }
    }
}
