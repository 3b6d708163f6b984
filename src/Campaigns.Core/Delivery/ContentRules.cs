using System.Buffers;
using System.Collections.Frozen;

namespace Campaigns.Delivery;

/// <summary>Which content rules apply to a message: chosen from the channel's address kind (phone → SMS, e-mail → e-mail).</summary>
public enum MessageKind
{
    /// <summary>Any other channel: banned words only.</summary>
    Text = 0,

    /// <summary>SMS: length, segments and signature rules.</summary>
    Sms = 1,

    /// <summary>E-mail: subject rules.</summary>
    Email = 2,
}

/// <summary>What a content issue is about.</summary>
public enum ContentIssueCode
{
    /// <summary>A variable has no value, inline default or template default.</summary>
    MissingVariable = 0,

    /// <summary>A banned word (e.g. an absolute term under the PRC Advertising Law) appears.</summary>
    BannedWord = 1,

    /// <summary>The SMS (signature included) is longer than the single-segment policy allows.</summary>
    SmsTooLong = 2,

    /// <summary>The SMS needs more segments than allowed.</summary>
    SmsTooManySegments = 3,

    /// <summary>An e-mail has no subject, or a blank one.</summary>
    SubjectBlank = 4,

    /// <summary>The subject contains a line break.</summary>
    SubjectLineBreak = 5,

    /// <summary>The subject is longer than the maximum (error) or the recommended length (warning).</summary>
    SubjectTooLong = 6,
}

/// <summary>How serious a content issue is.</summary>
public enum ContentIssueSeverity
{
    /// <summary>The content is refused (at approval, or the send fails with <c>ContentRejected</c>).</summary>
    Error = 0,

    /// <summary>Reported; does not block.</summary>
    Warning = 1,
}

/// <summary>One finding of a content check.</summary>
/// <param name="Code">What it is about.</param>
/// <param name="Severity">Error or warning.</param>
/// <param name="Part">The part of the message: <c>text</c>, <c>subject</c> or <c>html</c>.</param>
/// <param name="Message">A sentence naming the problem, e.g. <c>text: the variable {product} has no value or default.</c></param>
public sealed record ContentIssue(ContentIssueCode Code, ContentIssueSeverity Severity, string Part, string Message)
{
    /// <summary>The 0-based UTF-16 index in the part where the problem is (a banned word's position), when it has one.</summary>
    public int? Position { get; init; }

    /// <summary>The variable name or banned word concerned, when any.</summary>
    public string? Subject { get; init; }
}

/// <summary>The result of a content check. Immutable.</summary>
/// <param name="Issues">The findings, errors and warnings.</param>
public sealed record ContentReport(IReadOnlyList<ContentIssue> Issues)
{
    /// <summary>A report with no findings.</summary>
    public static ContentReport Empty { get; } = new([]);

    /// <summary>Whether no finding is an error.</summary>
    public bool IsValid
    {
        get
        {
            var issues = Issues;
            for (var i = 0; i < issues.Count; i++)
            {
                if (issues[i].Severity == ContentIssueSeverity.Error)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>The errors.</summary>
    public IEnumerable<ContentIssue> Errors => Issues.Where(i => i.Severity == ContentIssueSeverity.Error);

    /// <inheritdoc />
    public override string ToString() => Issues.Count == 0 ? "no issues" : string.Join(" ", Issues.Select(i => i.Message));
}

/// <summary>A banned word found in a text.</summary>
/// <param name="Word">The word as listed.</param>
/// <param name="Position">Its 0-based UTF-16 index in the text.</param>
public readonly record struct BannedWordMatch(string Word, int Position);

/// <summary>
/// Finds banned words in a text: leftmost-longest, non-overlapping (in <c>最佳产品</c> with 最 and 最佳 listed, 最佳 is
/// reported once at 0). Latin letters compare case-insensitively. Immutable and thread-safe.
/// </summary>
public sealed class BannedWords
{
    /// <summary>
    /// The default list: absolute terms the PRC Advertising Law (Article 9) forbids in advertising, e.g. 最, 第一,
    /// 国家级, 最佳, 顶级, 极致. A host sets its own list with <see cref="ContentRulesOptions.BannedWords"/>.
    /// </summary>
    public static IReadOnlyList<string> Default { get; } =
    [
        "最", "最佳", "最好", "最高", "最低", "最优", "最强", "最新", "最大", "最先进", "第一", "唯一", "首个", "首选",
        "国家级", "世界级", "全球级", "顶级", "顶尖", "极致", "极品", "绝对", "万能", "独一无二", "史无前例", "遥遥领先",
    ];

    // The candidate words by the text char that can start them: every char whose upper-invariant form is a word's
    // first char (upper-invariant), so the scan looks a char up as it is, without case-mapping it.
    private readonly FrozenDictionary<char, Candidate[]> _byFirst;

    // Every char whose upper-invariant form starts a word: a vectorised pre-filter that skips text no word can start in.
    private readonly SearchValues<char> _firstChars;

    /// <summary>Creates a scanner for a list of words.</summary>
    /// <param name="words">The words; blank entries are ignored.</param>
    public BannedWords(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        Words = words.Where(w => !string.IsNullOrWhiteSpace(w)).Select(w => w.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

        // A char has case when another char maps to it or it maps to another under upper-invariant casing; a word
        // made only of chars without case (CJK, digits, most punctuation) is compared ordinally, which is the same
        // answer as ignoring case and skips the case mapping on the hot path.
        var hasCase = new bool[char.MaxValue + 1];
        for (var c = 0; c <= char.MaxValue; c++)
        {
            var upper = char.ToUpperInvariant((char)c);
            if (upper != c)
            {
                hasCase[c] = true;
                hasCase[upper] = true;
            }
        }

        var groups = Words
            .GroupBy(w => char.ToUpperInvariant(w[0]))
            .ToDictionary(g => g.Key, g => g.OrderByDescending(w => w.Length).Select(w => new Candidate(w, w.All(ch => !hasCase[ch] && !char.IsSurrogate(ch)))).ToArray());
        var byFirst = new Dictionary<char, Candidate[]>();
        for (var c = 0; c <= char.MaxValue; c++)
        {
            if (groups.TryGetValue(char.ToUpperInvariant((char)c), out var candidates))
            {
                byFirst[(char)c] = candidates;
            }
        }

        _byFirst = byFirst.ToFrozenDictionary();
        _firstChars = SearchValues.Create([.. byFirst.Keys]);
    }

    /// <summary>The words, trimmed and without duplicates.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Finds the banned words in a text.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The matches in order of position.</returns>
    public IReadOnlyList<BannedWordMatch> Find(ReadOnlySpan<char> text)
    {
        List<BannedWordMatch>? found = null;
        for (var i = 0; i < text.Length; i++)
        {
            var next = text[i..].IndexOfAny(_firstChars);
            if (next < 0)
            {
                break;
            }

            i += next;
            if (!_byFirst.TryGetValue(text[i], out var candidates))
            {
                continue;
            }

            var rest = text[i..];
            foreach (var candidate in candidates)
            {
                if (candidate.Caseless ? rest.StartsWith(candidate.Word, StringComparison.Ordinal) : rest.StartsWith(candidate.Word, StringComparison.OrdinalIgnoreCase))
                {
                    (found ??= []).Add(new BannedWordMatch(candidate.Word, i));
                    i += candidate.Word.Length - 1;
                    break;
                }
            }
        }

        return found ?? (IReadOnlyList<BannedWordMatch>)[];
    }

    /// <summary>A listed word and whether it has no char with case (then compared ordinally).</summary>
    private readonly record struct Candidate(string Word, bool Caseless);
}

/// <summary>SMS rules (configuration <c>Campaigns:Delivery:Sms</c>).</summary>
public sealed class SmsContentOptions
{
    /// <summary>The signature the gateway shows with every SMS, e.g. <c>【示例科技】</c>; counted in the length. Null for none.</summary>
    public string? Signature { get; set; }

    /// <summary>Whether the pipeline appends <see cref="Signature"/> to the text (false: the gateway adds it; it is counted either way).</summary>
    public bool AppendSignature { get; set; }

    /// <summary>
    /// The single-segment policy: the most units (UCS-2 code units, or GSM-7 septets) of text plus signature; default 70
    /// (one UCS-2 segment). Null for no limit other than <see cref="MaxSegments"/>.
    /// </summary>
    public int? MaxLength { get; set; } = 70;

    /// <summary>The most segments an SMS may take (default 1).</summary>
    public int MaxSegments { get; set; } = 1;
}

/// <summary>E-mail rules (configuration <c>Campaigns:Delivery:Email</c>).</summary>
public sealed class EmailContentOptions
{
    /// <summary>The subject length above which a warning is reported, in UTF-16 code units (default 78, RFC 5322's line length).</summary>
    public int RecommendedSubjectLength { get; set; } = 78;

    /// <summary>The subject length above which the content is refused, in UTF-16 code units (default 200).</summary>
    public int MaxSubjectLength { get; set; } = 200;
}

/// <summary>Content rules (configuration <c>Campaigns:Delivery</c>): SMS, e-mail and banned words.</summary>
public class ContentRulesOptions
{
    /// <summary>SMS rules.</summary>
    public SmsContentOptions Sms { get; set; } = new();

    /// <summary>E-mail rules.</summary>
    public EmailContentOptions Email { get; set; } = new();

    /// <summary>The banned words; null (the default) for <see cref="Delivery.BannedWords.Default"/>, empty for none.</summary>
    public IList<string>? BannedWords { get; set; }
}

/// <summary>
/// Checks content against the rules: at approval time a <see cref="MessageTemplate"/> (missing variables, banned
/// words in the template, SMS length and subject with sample values), at send time a <see cref="RenderedContent"/>.
/// Immutable and thread-safe.
/// </summary>
public sealed class ContentChecker
{
    private readonly ContentRulesOptions _options;

    /// <summary>Creates a checker.</summary>
    /// <param name="options">The rules; read once (later changes are not seen).</param>
    public ContentChecker(ContentRulesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Banned = new BannedWords((IEnumerable<string>?)options.BannedWords ?? BannedWords.Default);
    }

    /// <summary>The banned-word scanner in use.</summary>
    public BannedWords Banned { get; }

    /// <summary>
    /// Checks a template at approval time. Every variable not in <paramref name="sampleValues"/> and without a default
    /// is an error naming it; banned words are reported with their position in the template text; the SMS length and
    /// the subject are checked on the template rendered with the sample values.
    /// </summary>
    /// <param name="template">The template.</param>
    /// <param name="kind">Which rules apply.</param>
    /// <param name="sampleValues">Values the sends will have (their keys say which variables will be available), e.g. the longest product name.</param>
    /// <returns>The findings.</returns>
    public ContentReport CheckTemplate(MessageTemplate template, MessageKind kind, IReadOnlyDictionary<string, string> sampleValues)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(sampleValues);
        List<ContentIssue>? issues = null;
        foreach (var (part, text) in template.Parts())
        {
            foreach (var name in text.FindUnsatisfied(sampleValues.Keys, template.Defaults))
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.MissingVariable, ContentIssueSeverity.Error, part,
                    $"{part}: the variable {{{name}}} has no value or default; give it a value, an inline default ({{{name}|...}}) or a template default.")
                { Subject = name });
            }

            AddBanned(ref issues, part, text.Source);
        }

        var rendered = template.Render(sampleValues);
        AddSmsAndSubject(ref issues, kind, rendered);
        return issues is null ? ContentReport.Empty : new ContentReport(issues);
    }

    /// <summary>Checks rendered content at send time: banned words (positions in the rendered part), SMS length, subject.</summary>
    /// <param name="content">The rendered content.</param>
    /// <param name="kind">Which rules apply.</param>
    /// <returns>The findings.</returns>
    public ContentReport CheckRendered(RenderedContent content, MessageKind kind)
    {
        ArgumentNullException.ThrowIfNull(content);
        List<ContentIssue>? issues = null;
        AddBanned(ref issues, "text", content.Text);
        if (content.Subject is not null)
        {
            AddBanned(ref issues, "subject", content.Subject);
        }

        if (content.Html is not null)
        {
            AddBanned(ref issues, "html", content.Html);
        }

        AddSmsAndSubject(ref issues, kind, content);
        return issues is null ? ContentReport.Empty : new ContentReport(issues);
    }

    /// <summary>Measures an SMS text as it will arrive: with the configured signature.</summary>
    /// <param name="text">The text without the signature.</param>
    /// <returns>The exact length.</returns>
    public SmsLength MeasureSms(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var signature = _options.Sms.Signature;
        if (string.IsNullOrEmpty(signature) || (_options.Sms.AppendSignature && text.EndsWith(signature, StringComparison.Ordinal)))
        {
            return SmsLength.Measure(text);
        }

        return SmsLength.Measure(string.Concat(text, signature));
    }

    /// <summary>The SMS text to send: with the signature appended when <see cref="SmsContentOptions.AppendSignature"/> is set.</summary>
    /// <param name="text">The rendered text.</param>
    /// <returns>The text to send.</returns>
    public string WithSignature(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var signature = _options.Sms.Signature;
        return _options.Sms.AppendSignature && !string.IsNullOrEmpty(signature) && !text.EndsWith(signature, StringComparison.Ordinal) ? text + signature : text;
    }

    private void AddBanned(ref List<ContentIssue>? issues, string part, string text)
    {
        foreach (var match in Banned.Find(text))
        {
            (issues ??= []).Add(new ContentIssue(ContentIssueCode.BannedWord, ContentIssueSeverity.Error, part,
                $"{part}: the banned word '{match.Word}' at position {match.Position}.")
            { Position = match.Position, Subject = match.Word });
        }
    }

    private void AddSmsAndSubject(ref List<ContentIssue>? issues, MessageKind kind, RenderedContent content)
    {
        if (kind == MessageKind.Sms)
        {
            var sms = _options.Sms;
            var length = MeasureSms(content.Text);
            var signed = string.IsNullOrEmpty(sms.Signature) ? "" : " (signature included)";
            if (sms.MaxLength is { } max && length.Units > max)
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SmsTooLong, ContentIssueSeverity.Error, "text",
                    $"text: the SMS is {length.Units} {(length.Encoding == SmsEncoding.Gsm7 ? "GSM-7 septets" : "UCS-2 characters")} long{signed}; the policy allows {max}."));
            }

            if (length.Segments > sms.MaxSegments)
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SmsTooManySegments, ContentIssueSeverity.Error, "text",
                    $"text: the SMS takes {length.Segments} segments ({length}){signed}; at most {sms.MaxSegments} allowed."));
            }
        }
        else if (kind == MessageKind.Email)
        {
            var email = _options.Email;
            var subject = content.Subject;
            if (string.IsNullOrWhiteSpace(subject))
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SubjectBlank, ContentIssueSeverity.Error, "subject", "subject: an e-mail needs a subject that is not blank."));
                return;
            }

            var lineBreak = subject.AsSpan().IndexOfAny('\r', '\n');
            if (lineBreak >= 0)
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SubjectLineBreak, ContentIssueSeverity.Error, "subject", $"subject: a line break at position {lineBreak}; a subject is one line.") { Position = lineBreak });
            }

            if (subject.Length > email.MaxSubjectLength)
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SubjectTooLong, ContentIssueSeverity.Error, "subject", $"subject: {subject.Length} characters; at most {email.MaxSubjectLength} allowed."));
            }
            else if (subject.Length > email.RecommendedSubjectLength)
            {
                (issues ??= []).Add(new ContentIssue(ContentIssueCode.SubjectTooLong, ContentIssueSeverity.Warning, "subject", $"subject: {subject.Length} characters; at most {email.RecommendedSubjectLength} recommended."));
            }
        }
    }
}
