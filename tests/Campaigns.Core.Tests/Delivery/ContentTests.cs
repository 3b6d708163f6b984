using Campaigns.Delivery;
using Campaigns.Modeling;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;

namespace Campaigns.Tests.Delivery;

public class SmsLengthTests
{
    [Theory]
    [InlineData("", SmsEncoding.Gsm7, 0, 0)]
    [InlineData("Hello", SmsEncoding.Gsm7, 5, 1)]
    [InlineData("Price: 5€ [50% off]", SmsEncoding.Gsm7, 22, 1)] // € [ ] count 2 each
    [InlineData("^{}\\[~]|€", SmsEncoding.Gsm7, 18, 1)]
    [InlineData("Café àé ñ Ä Ø Δ Ω", SmsEncoding.Gsm7, 17, 1)]
    [InlineData("您好，李雷", SmsEncoding.Ucs2, 5, 1)]
    [InlineData("Hi 😀", SmsEncoding.Ucs2, 5, 1)] // emoji: a surrogate pair, 2 code units
    [InlineData("ç", SmsEncoding.Ucs2, 1, 1)] // lower-case c-cedilla is not in the GSM table (Ç is)
    public void Measures_encoding_units_and_segments(string text, SmsEncoding encoding, int units, int segments) =>
        Assert.Equal(new SmsLength(encoding, units, segments), SmsLength.Measure(text));

    [Theory]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    public void Gsm7_boundaries_160_and_153(int length, int segments)
    {
        var sms = SmsLength.Measure(new string('a', length));
        Assert.Equal((SmsEncoding.Gsm7, length, segments), (sms.Encoding, sms.Units, sms.Segments));
    }

    [Theory]
    [InlineData(70, 1)]
    [InlineData(71, 2)]
    [InlineData(134, 2)]
    [InlineData(135, 3)]
    public void Ucs2_boundaries_70_and_67(int length, int segments)
    {
        var sms = SmsLength.Measure(new string('好', length));
        Assert.Equal((SmsEncoding.Ucs2, length, segments), (sms.Encoding, sms.Units, sms.Segments));
    }

    [Fact]
    public void An_extension_character_counts_two_and_is_not_split_across_segments()
    {
        Assert.Equal(new SmsLength(SmsEncoding.Gsm7, 160, 1), SmsLength.Measure(new string('a', 158) + "€"));
        Assert.Equal(new SmsLength(SmsEncoding.Gsm7, 161, 2), SmsLength.Measure(new string('a', 159) + "€"));
        // 152 septets then € (2) then 7: the pair moves to segment 2 → 152 | 2 + 7.
        Assert.Equal(new SmsLength(SmsEncoding.Gsm7, 161, 2), SmsLength.Measure(new string('a', 152) + "€" + new string('a', 7)));
        // 152 + € + 152 'a' = 306 septets, which fits 2×153 only if the pair could straddle: it cannot → 3.
        Assert.Equal(3, SmsLength.Measure(new string('a', 152) + "€" + new string('a', 152)).Segments);
    }

    [Fact]
    public void A_surrogate_pair_is_not_split_across_segments()
    {
        Assert.Equal(new SmsLength(SmsEncoding.Ucs2, 70, 1), SmsLength.Measure(new string('好', 68) + "😀"));
        // 66 + emoji (2) + 5 = 73 units: 2 segments; the pair goes whole to segment 2.
        Assert.Equal(new SmsLength(SmsEncoding.Ucs2, 73, 2), SmsLength.Measure(new string('好', 66) + "😀" + new string('好', 5)));
        // 134 units would fit 2×67 only if the pair could straddle: it cannot → 3.
        Assert.Equal(3, SmsLength.Measure(new string('好', 66) + "😀" + new string('好', 66)).Segments);
    }

    [Fact]
    public void One_chinese_character_switches_the_whole_message_to_ucs2()
    {
        var sms = SmsLength.Measure(new string('a', 100) + "好");
        Assert.Equal((SmsEncoding.Ucs2, 101, 2), (sms.Encoding, sms.Units, sms.Segments));
    }

    [Fact]
    public void The_signature_is_counted_and_the_seventy_character_policy_applies()
    {
        var checker = new ContentChecker(new ContentRulesOptions { Sms = { Signature = "【示例科技】" } });
        Assert.Equal(new SmsLength(SmsEncoding.Ucs2, 70, 1), checker.MeasureSms(new string('好', 64)));
        var ok = checker.CheckRendered(new RenderedContent(new string('好', 64), null, null), MessageKind.Sms);
        Assert.True(ok.IsValid, ok.ToString());
        var tooLong = checker.CheckRendered(new RenderedContent(new string('好', 65), null, null), MessageKind.Sms);
        Assert.Contains(tooLong.Errors, i => i.Code == ContentIssueCode.SmsTooLong && i.Message.Contains("71 UCS-2 characters", StringComparison.Ordinal));
        Assert.Contains(tooLong.Errors, i => i.Code == ContentIssueCode.SmsTooManySegments);
    }

    [Fact]
    public void Segment_count_property_matches_a_naive_split()
    {
        var gen = Gen.Elements('a', 'Z', '0', ' ', '€', '[', '好', '\uD83D').ListOf().Select(cs => new string([.. cs]).Replace("\uD83D", "😀", StringComparison.Ordinal));
        Prop.ForAll(gen.ToArbitrary(), text =>
        {
            var sms = SmsLength.Measure(text);
            var ucs = text.Any(c => !SmsLength.IsGsm7(c));
            var units = ucs ? text.Length : text.Sum(c => SmsLength.IsGsm7Extension(c) ? 2 : 1);
            var (single, multi) = ucs ? (70, 67) : (160, 153);
            // Naive bound: segments are at least ceil(units / multi) and at most one more per unit that cannot straddle.
            return sms.Units == units
                && (units == 0 ? sms.Segments == 0 : units <= single ? sms.Segments == 1 : sms.Segments >= (units + multi - 1) / multi && sms.Segments <= (units + multi - 1) / multi + units / multi)
                && sms.Encoding == (ucs ? SmsEncoding.Ucs2 : SmsEncoding.Gsm7);
        }).QuickCheckThrowOnFailure();
    }
}

public class TemplateAndRulesTests
{
    private static readonly Dictionary<string, string> Li = new() { ["name"] = "李雷", ["product"] = "数字化工厂", ["link"] = "https://e.x/r/42" };

    [Fact]
    public void Renders_values_inline_defaults_and_template_defaults()
    {
        var template = new MessageTemplate("{name|朋友}您好，{product}报名成功：{link}") { Defaults = new Dictionary<string, string> { ["link"] = "https://e.x" } };
        Assert.Equal("李雷您好，数字化工厂报名成功：https://e.x/r/42", template.Render(Li).Text);
        Assert.Equal("朋友您好，沙龙报名成功：https://e.x", template.Render(new Dictionary<string, string> { ["product"] = "沙龙" }).Text);
        Assert.Equal("{literal} 李雷", TemplateText.Parse("{{literal}} {name}").Render(Li, ContentKind.Text));
    }

    [Fact]
    public void A_render_is_exact_when_values_are_missing_long_or_render_templates_themselves()
    {
        var missing = new List<string>();
        Assert.Equal("a--b", TemplateText.Parse("a-{x}-b").Render(new Dictionary<string, string>(), ContentKind.Text, null, missing));
        Assert.Equal(["x"], missing);

        var many = string.Concat(Enumerable.Range(0, 40).Select(i => $"{{v{i}}}|")); // more parts than the reused buffer starts with
        var values = Enumerable.Range(0, 40).ToDictionary(i => $"v{i}", i => new string('字', i));
        Assert.Equal(string.Concat(Enumerable.Range(0, 40).Select(i => new string('字', i) + "|")), TemplateText.Parse(many).Render(values, ContentKind.Text));

        // A dictionary that renders another template while it is looked up (same thread) does not disturb the outer render.
        var inner = TemplateText.Parse("<{y}>");
        var nested = new RenderingDictionary(() => inner.Render(new Dictionary<string, string> { ["y"] = "内" }, ContentKind.Text));
        Assert.Equal("[<内>|<内>]", TemplateText.Parse("[{a}|{b}]").Render(nested, ContentKind.Text));
    }

    private sealed class RenderingDictionary(Func<string> render) : IReadOnlyDictionary<string, string>
    {
        public string this[string key] => render();

        public IEnumerable<string> Keys => [];

        public IEnumerable<string> Values => [];

        public int Count => 0;

        public bool ContainsKey(string key) => true;

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => Enumerable.Empty<KeyValuePair<string, string>>().GetEnumerator();

        public bool TryGetValue(string key, out string value)
        {
            value = render();
            return true;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void Html_bodies_encode_values_but_keep_the_template_markup()
    {
        var template = new MessageTemplate("{name}", subject: "Hi {name}", html: "<p>您好，<b>{name}</b></p>");
        var rendered = template.Render(new Dictionary<string, string> { ["name"] = "<script>x</script>\r\nA&B" });
        Assert.Equal("<p>您好，<b>&lt;script&gt;x&lt;/script&gt;\r\nA&amp;B</b></p>", rendered.Html);
        Assert.Equal("Hi <script>x</script> A&B", rendered.Subject);
        Assert.Equal("<script>x</script>\r\nA&B", rendered.Text);
    }

    [Theory]
    [InlineData("{name", "position 0 is not closed")]
    [InlineData("a } b", "position 2 has no opening")]
    [InlineData("{na me}", "is not a variable")]
    public void A_malformed_template_is_refused_with_the_position(string source, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => TemplateText.Parse(source));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsatisfiable_variables_are_named_at_approval()
    {
        var template = new MessageTemplate("{name|朋友}，{product} 见 {link}", subject: "{product} {city}");
        Assert.Equal(["product", "link", "city"], template.FindUnsatisfied([]));
        var report = new ContentChecker(new ContentRulesOptions()).CheckTemplate(template, MessageKind.Email, new Dictionary<string, string> { ["link"] = "x" });
        Assert.False(report.IsValid);
        Assert.Equal(["product", "product", "city"], report.Errors.Where(i => i.Code == ContentIssueCode.MissingVariable).Select(i => i.Subject));
        Assert.Contains(report.Errors, i => i.Message == "subject: the variable {city} has no value or default; give it a value, an inline default ({city|...}) or a template default.");
    }

    [Fact]
    public void Banned_words_are_reported_with_positions_leftmost_longest()
    {
        var banned = new BannedWords(BannedWords.Default);
        Assert.Equal(
            [new BannedWordMatch("最佳", 2), new BannedWordMatch("第一", 7), new BannedWordMatch("国家级", 11)],
            banned.Find("本店最佳产品，第一品牌国家级认证"));
        Assert.Equal([new BannedWordMatch("best", 4)], new BannedWords(["best"]).Find("the BEST"));
        Assert.Empty(banned.Find("欢迎参加上海制造业客户沙龙"));

        // A word with any cased letter still ignores case, wherever the letter is; a word with none (CJK, digits) matches exactly.
        var mixed = new BannedWords(["第一Best", "No.1", "100%"]);
        Assert.Equal(
            [new BannedWordMatch("第一Best", 0), new BannedWordMatch("No.1", 10), new BannedWordMatch("100%", 16)],
            mixed.Find("第一BEST品牌, no.1, 100%满意"));
        Assert.Empty(mixed.Find("第一Bes, No.2, 100"));

        var report = new ContentChecker(new ContentRulesOptions { BannedWords = ["顶级"] }).CheckTemplate(new MessageTemplate("{name}：顶级体验"), MessageKind.Text, Li);
        var issue = Assert.Single(report.Errors);
        Assert.Equal((ContentIssueCode.BannedWord, 7, "顶级"), (issue.Code, issue.Position!.Value, issue.Subject));
    }

    [Theory]
    [InlineData("", ContentIssueCode.SubjectBlank, ContentIssueSeverity.Error)]
    [InlineData("   ", ContentIssueCode.SubjectBlank, ContentIssueSeverity.Error)]
    [InlineData("a\nb", ContentIssueCode.SubjectLineBreak, ContentIssueSeverity.Error)]
    public void Email_subject_rules(string subject, ContentIssueCode code, ContentIssueSeverity severity)
    {
        var report = new ContentChecker(new ContentRulesOptions()).CheckRendered(new RenderedContent("body", subject, null), MessageKind.Email);
        Assert.Contains(report.Issues, i => i.Code == code && i.Severity == severity);
    }

    [Fact]
    public void Subject_length_warns_above_recommended_and_fails_above_max()
    {
        var checker = new ContentChecker(new ContentRulesOptions { Email = { RecommendedSubjectLength = 78, MaxSubjectLength = 100 } });
        Assert.Empty(checker.CheckRendered(new RenderedContent("b", new string('x', 78), null), MessageKind.Email).Issues);
        var warn = checker.CheckRendered(new RenderedContent("b", new string('x', 79), null), MessageKind.Email);
        Assert.True(warn.IsValid);
        Assert.Equal(ContentIssueSeverity.Warning, Assert.Single(warn.Issues).Severity);
        Assert.False(checker.CheckRendered(new RenderedContent("b", new string('x', 101), null), MessageKind.Email).IsValid);
    }

    [Fact]
    public void Multi_level_content_approval()
    {
        var chain = new ApprovalChain { Levels = [new ApprovalLevel("manager-review", "marketing-manager"), new ApprovalLevel("legal", "legal")] };
        var checker = new ContentChecker(new ContentRulesOptions());
        var op = new Actor("u1", "operator");
        var at = Instant.FromUtc(2026, 5, 1, 8, 0);

        var bad = ContentApproval.Start(new MessageTemplate("{name}，最佳{product}"), chain).Submit(op, at, checker, MessageKind.Sms, new Dictionary<string, string> { ["name"] = "李雷" });
        Assert.Equal(ContentApprovalState.Draft, bad.State);
        Assert.Contains(bad.Report!.Errors, i => i.Subject == "product");
        Assert.Contains(bad.Report.Errors, i => i.Subject == "最佳");

        var draft = bad.Revise(new MessageTemplate("{name}，欢迎了解{product}"), op, at);
        var pending = draft.Submit(op, at, checker, MessageKind.Sms, Li);
        Assert.Equal(ContentApprovalState.Pending, pending.State);
        Assert.Throws<UnauthorizedAccessException>(() => pending.Approve(new Actor("u9", "legal"), at));
        Assert.Throws<UnauthorizedAccessException>(() => pending.Approve(new Actor("u1", "marketing-manager"), at)); // the submitter
        var second = pending.Approve(new Actor("m1", "Marketing-Manager"), at);
        Assert.Equal((ContentApprovalState.Pending, 1), (second.State, second.LevelIndex));
        Assert.Equal(ContentApprovalState.Approved, second.Approve(new Actor("l1", "legal"), at).State);
        var rejected = second.Reject(new Actor("l1", "legal"), at, "wording");
        Assert.Equal(ContentApprovalState.Rejected, rejected.State);
        Assert.Equal(["refused", "revise", "submit", "approve", "reject"], rejected.History.Select(h => h.Action));
    }
}
