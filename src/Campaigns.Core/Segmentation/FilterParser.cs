using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;

namespace Campaigns.Segmentation;

/// <summary>
/// Parses the text form of a filter (F-5.1), e.g.
/// <c>industry = "manufacturing" and region in ("east", "north") and visited("product") &gt;= 2 within 7d</c>,
/// and validates it against a <see cref="FilterContext"/> (F-5.2). The grammar is in <c>docs/segmentation.md</c>.
/// Stateless and thread-safe.
/// </summary>
public static class FilterParser
{
    /// <summary>Parses and validates a filter.</summary>
    /// <param name="text">The text form.</param>
    /// <param name="context">The schema, segments, event kinds and tags the filter may name.</param>
    /// <param name="segmentId">The id of the segment the filter defines, to reject cycles; null for a free-standing filter.</param>
    /// <returns>The filter tree.</returns>
    /// <exception cref="FilterException">
    /// The text is not a filter (the first syntax error, with its line and column) or does not validate (every
    /// problem, each with its line and column).
    /// </exception>
    public static Filter Parse(string text, FilterContext context, string? segmentId = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(context);
        var parser = new Parser(text, context);
        var filter = parser.ParseAll();
        var errors = new List<FilterError>();
        FilterValidator.Validate(filter, context, segmentId, (error, node, member) => errors.Add(parser.Locate(error, node, member)));
        if (errors.Count > 0)
        {
            throw new FilterException([.. errors.OrderBy(e => e.Offset)]);
        }

        return filter;
    }

    /// <summary>Parses and validates a filter without throwing.</summary>
    /// <param name="text">The text form.</param>
    /// <param name="context">The schema, segments, event kinds and tags the filter may name.</param>
    /// <param name="filter">The filter, when valid.</param>
    /// <param name="errors">The problems, when not.</param>
    /// <returns>Whether the text is a valid filter.</returns>
    public static bool TryParse(string text, FilterContext context, out Filter? filter, out IReadOnlyList<FilterError> errors)
    {
        try
        {
            filter = Parse(text, context);
            errors = [];
            return true;
        }
        catch (FilterException e)
        {
            filter = null;
            errors = e.Errors;
            return false;
        }
    }

    /// <summary>The deepest nesting of parentheses and <c>not</c>s the text form accepts (so the JSON form stays within System.Text.Json's default depth of 64).</summary>
    internal const int MaxDepth = 25;

    private sealed class Parser(string text, FilterContext context)
    {
        private int depth;

        private readonly List<Token> tokens = FilterLexer.Tokenize(text);
        private readonly Dictionary<Filter, Dictionary<string, (int Offset, int Length)>> spans = new(ReferenceEqualityComparer.Instance);
        private int position;

        private Token Peek => tokens[position];

        public Filter ParseAll()
        {
            if (Peek.Kind == TokenKind.End)
            {
                throw Error(FilterErrorCodes.UnexpectedToken, Peek, "the filter is empty; expected a predicate such as industry = \"retail\"", "a predicate");
            }

            var filter = ParseOr();
            if (Peek.Kind == TokenKind.RightParen)
            {
                throw Error(FilterErrorCodes.UnbalancedParentheses, Peek, "')' has no matching '('", "and, or or the end of the filter");
            }

            if (Peek.Kind != TokenKind.End)
            {
                throw Unexpected("and, or or the end of the filter");
            }

            return filter;
        }

        public FilterError Locate(FilterError error, Filter? node, string member)
        {
            var (offset, length) = (0, text.Length);
            if (node is not null && spans.TryGetValue(node, out var members))
            {
                var key = member;
                while (true)
                {
                    if (members.TryGetValue(key, out var span))
                    {
                        (offset, length) = span;
                        break;
                    }

                    if (key.Length == 0)
                    {
                        break;
                    }

                    var dot = key.LastIndexOf('.');
                    key = dot < 0 ? string.Empty : key[..dot];
                }
            }

            var (line, column) = FilterLexer.Position(text, offset);
            return error with { Offset = offset, Length = length, Line = line, Column = column };
        }

        private Filter ParseOr() => ParseChain("or", ParseAnd, static operands => new OrFilter(operands));

        private Filter ParseAnd() => ParseChain("and", ParseUnary, static operands => new AndFilter(operands));

        // operand (keyword operand)*: one operand stays itself; several become one n-ary node spanning them all.
        private Filter ParseChain(string keyword, Func<Filter> operand, Func<List<Filter>, Filter> combine)
        {
            var start = Peek.Offset;
            var first = operand();
            if (!Peek.IsKeyword(keyword))
            {
                return first;
            }

            var operands = new List<Filter> { first };
            while (Peek.IsKeyword(keyword))
            {
                position++;
                operands.Add(operand());
            }

            return Span(combine(operands), start);
        }

        private Filter ParseUnary()
        {
            if (Peek.IsKeyword("not"))
            {
                Enter();
                var start = Take().Offset;
                var negated = Span(new NotFilter(ParseUnary()), start);
                depth--;
                return negated;
            }

            return ParsePrimary();
        }

        private Filter ParsePrimary()
        {
            var token = Peek;
            switch (token.Kind)
            {
                case TokenKind.LeftParen:
                    {
                        Enter();
                        position++;
                        var inner = ParseOr();
                        if (Peek.Kind != TokenKind.RightParen)
                        {
                            var (line, column) = FilterLexer.Position(text, token.Offset);
                            throw Error(FilterErrorCodes.UnbalancedParentheses, Peek, $"'(' at {line}:{column} is not closed; expected ')', found {Peek.Describe()}", "')'");
                        }

                        position++;
                        depth--;
                        return inner;
                    }

                case TokenKind.RightParen:
                    throw Error(FilterErrorCodes.UnbalancedParentheses, token, "')' has no matching '('; expected a predicate", "a predicate");
                case TokenKind.Identifier:
                    break;
                default:
                    throw Unexpected("a predicate: a field, a function such as has_tag(...), not or '('");
            }

            var word = token.Text.ToLowerInvariant();
            if (tokens[position + 1].Kind == TokenKind.LeftParen && !IsFieldName(token.Text))
            {
                return word switch
                {
                    "has_tag" or "has_any_tag" => ParseTags(TagMatch.Any),
                    "has_all_tags" => ParseTags(TagMatch.All),
                    "has_no_tag" or "has_no_tags" => ParseTags(TagMatch.None),
                    "has_tag_in_group" => ParseSingle(s => new TagGroupFilter(s), "group", "a tag group"),
                    "consent" => ParseSingle(s => new ConsentFilter(s), "channel", "a channel"),
                    "in_segment" => ParseSingle(s => new SegmentFilter(s), "segmentId", "a segment id"),
                    "count" or "visited" or "did" or "never" => ParseBehaviour(word),
                    _ => throw Error(FilterErrorCodes.UnexpectedToken, token, $"unknown function '{token.Text}'" + (FilterText.Suggest(token.Text, Functions) is { } function ? $"; did you mean '{function}'?" : "; expected one of " + string.Join(", ", Functions)), string.Join(", ", Functions)),
                };
            }

            switch (word)
            {
                case "true":
                    position++;
                    return Span(new AndFilter([]), token.Offset);
                case "false":
                    position++;
                    return Span(new OrFilter([]), token.Offset);
                case "score":
                    return ParseScore(ScoreKind.Behaviour);
                case "fit_score":
                    return ParseScore(ScoreKind.Fit);
                case "total_score":
                    return ParseScore(ScoreKind.Total);
                case "grade":
                    return ParseNameSet(names => new GradeFilter(names), "grade", ParseName);
                case "stage":
                    return ParseNameSet(stages => new StageFilter(stages), "stage", ParseStage);
                default:
                    if (FilterSyntax.IsReservedWord(token.Text))
                    {
                        throw Unexpected("a predicate: a field, a function such as has_tag(...), not or '('");
                    }

                    return ParseField();
            }
        }

        private static readonly string[] Functions =
            ["has_tag", "has_any_tag", "has_all_tags", "has_no_tag", "has_tag_in_group", "count", "visited", "did", "never", "consent", "in_segment"];

        private bool IsFieldName(string name) => context.Schema.Find(name) is not null && !Functions.Contains(name.ToLowerInvariant());

        private Filter ParseField()
        {
            var fieldToken = Take();
            var field = fieldToken.Text;
            FilterValidator.TryResolveField(context, field, out var definition);
            var opToken = Peek;
            CompareOperator op;
            switch (opToken.Kind)
            {
                case TokenKind.Equal: op = CompareOperator.Equal; position++; break;
                case TokenKind.NotEqual: op = CompareOperator.NotEqual; position++; break;
                case TokenKind.Less: op = CompareOperator.LessThan; position++; break;
                case TokenKind.LessOrEqual: op = CompareOperator.LessOrEqual; position++; break;
                case TokenKind.Greater: op = CompareOperator.GreaterThan; position++; break;
                case TokenKind.GreaterOrEqual: op = CompareOperator.GreaterOrEqual; position++; break;
                case TokenKind.Identifier:
                    if (TryParseDate(fieldToken) is { } date)
                    {
                        return date;
                    }

                    op = ParseWordOperator();
                    break;
                default:
                    throw Unexpected($"an operator after '{field}': =, !=, <, <=, >, >=, in, not in, contains, starts with, between, exists, is empty, within, before, on or after, on or before");
            }

            var values = new List<FieldValue>();
            var valueSpans = new List<(int, int)>();
            switch (op)
            {
                case CompareOperator.In or CompareOperator.NotIn:
                    ExpectLeftParen($"'(' to start the list of '{FilterValidator.OperatorText(op)}'");
                    do
                    {
                        values.Add(ParseValue(definition, valueSpans));
                    }
                    while (TakeIf(TokenKind.Comma));

                    ExpectRightParen();
                    break;
                case CompareOperator.Between:
                    values.Add(ParseValue(definition, valueSpans));
                    ExpectKeyword("and", "'and' between the bounds of 'between'");
                    values.Add(ParseValue(definition, valueSpans));
                    break;
                case CompareOperator.Exists or CompareOperator.IsEmpty:
                    break;
                default:
                    values.Add(ParseValue(definition, valueSpans));
                    break;
            }

            var node = Span(new AttributeFilter(field, op, values), fieldToken.Offset);
            Record(node, "field", fieldToken.Offset, fieldToken.Length);
            Record(node, "operator", opToken.Offset, opToken.Length);
            for (var i = 0; i < valueSpans.Count; i++)
            {
                Record(node, "values[" + i.ToString(CultureInfo.InvariantCulture) + "]", valueSpans[i].Item1, valueSpans[i].Item2);
            }

            if (valueSpans.Count > 0)
            {
                var (first, last) = (valueSpans[0], valueSpans[^1]);
                Record(node, "values", first.Item1, last.Item1 + last.Item2 - first.Item1);
            }

            return node;
        }

        private DateFilter? TryParseDate(Token fieldToken)
        {
            var opToken = Peek;
            DateOperator op;
            if (opToken.IsKeyword("within"))
            {
                op = DateOperator.Within;
            }
            else if (opToken.IsKeyword("before"))
            {
                op = DateOperator.Before;
            }
            else if (opToken.IsKeyword("on"))
            {
                position++;
                ExpectKeyword("or", "'or' in 'on or after' / 'on or before'");
                if (Peek.IsKeyword("after"))
                {
                    op = DateOperator.OnOrAfter;
                }
                else if (Peek.IsKeyword("before"))
                {
                    op = DateOperator.OnOrBefore;
                }
                else
                {
                    throw Unexpected("'after' or 'before' in 'on or after' / 'on or before'");
                }

                position++;
                var dateToken = Peek;
                var date = ParseDate();
                var absolute = Span(new DateFilter(fieldToken.Text, op, Date: date), fieldToken.Offset);
                Record(absolute, "field", fieldToken.Offset, fieldToken.Length);
                Record(absolute, "date", dateToken.Offset, dateToken.Length);
                return absolute;
            }
            else
            {
                return null;
            }

            position++;
            var windowToken = Peek;
            var window = ParseWindow();
            var relative = Span(new DateFilter(fieldToken.Text, op, Window: window), fieldToken.Offset);
            Record(relative, "field", fieldToken.Offset, fieldToken.Length);
            Record(relative, "operator", opToken.Offset, opToken.Length);
            Record(relative, "window", windowToken.Offset, windowToken.Length);
            return relative;
        }

        private CompareOperator ParseWordOperator()
        {
            var token = Peek;
            var word = token.Text.ToLowerInvariant();
            position++;
            switch (word)
            {
                case "in": return CompareOperator.In;
                case "contains": return CompareOperator.Contains;
                case "between": return CompareOperator.Between;
                case "exists": return CompareOperator.Exists;
                case "not":
                    ExpectKeyword("in", "'in' after 'not' (not in (...))");
                    return CompareOperator.NotIn;
                case "starts":
                    ExpectKeyword("with", "'with' after 'starts' (starts with ...)");
                    return CompareOperator.StartsWith;
                case "is":
                    if (TakeKeyword("not"))
                    {
                        ExpectKeyword("empty", "'empty' after 'is not'");
                        return CompareOperator.Exists;
                    }

                    ExpectKeyword("empty", "'empty' after 'is'");
                    return CompareOperator.IsEmpty;
                default:
                    position--;
                    throw Unexpected("an operator: =, !=, <, <=, >, >=, in, not in, contains, starts with, between, exists, is empty, within, before, on or after, on or before");
            }
        }

        private FieldValue ParseValue(AttributeDefinition? definition, List<(int, int)> valueSpans)
        {
            var token = Peek;
            FieldValue value;
            switch (token.Kind)
            {
                case TokenKind.String:
                    value = TextLike(token.Value, definition);
                    break;
                case TokenKind.Number:
                    value = new NumberValue(ParseDecimal(token));
                    break;
                case TokenKind.Date:
                    value = new DateValue(NodaTime.Text.LocalDatePattern.Iso.Parse(token.Text).Value);
                    break;
                case TokenKind.Identifier when token.IsKeyword("true") || token.IsKeyword("false"):
                    value = new BooleanValue(token.IsKeyword("true"));
                    break;
                case TokenKind.Identifier when !FilterSyntax.IsReservedWord(token.Text):
                    value = TextLike(token.Text, definition);
                    break;
                default:
                    throw Unexpected("a value: a quoted text, a name, a number, an ISO date, true or false");
            }

            position++;
            valueSpans.Add((token.Offset, token.Length));
            return value;
        }

        private static FieldValue TextLike(string text, AttributeDefinition? definition) =>
            definition?.Type == AttributeType.Enum ? new ChoiceValue(text) : new TextValue(text);

        private decimal ParseDecimal(Token token) =>
            decimal.TryParse(token.Text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
                ? number
                : throw Error(FilterErrorCodes.BadValue, token, $"{token.Describe()} is too large a number", "a number");

        private Window ParseWindow()
        {
            var token = Peek;
            if (token.Kind is TokenKind.Word or TokenKind.Number or TokenKind.Identifier && Window.TryParse(token.Text, out var window))
            {
                position++;
                return window;
            }

            if (token.Kind is TokenKind.Word or TokenKind.Number)
            {
                throw Error(FilterErrorCodes.BadWindow, token, $"'{token.Text}' is not a window; expected e.g. 7d, 12h, 30m", "a window such as 7d, 12h, 30m");
            }

            throw Error(FilterErrorCodes.BadWindow, token, $"expected a window such as 7d, 12h, 30m; found {token.Describe()}", "a window such as 7d, 12h, 30m");
        }

        private NodaTime.LocalDate ParseDate()
        {
            var token = Peek;
            if (token.Kind == TokenKind.Date)
            {
                position++;
                return NodaTime.Text.LocalDatePattern.Iso.Parse(token.Text).Value;
            }

            throw Error(FilterErrorCodes.BadDate, token, $"expected an ISO date such as 2026-01-31; found {token.Describe()}", "an ISO date (yyyy-MM-dd)");
        }

        private string ParseName(string what)
        {
            var token = Peek;
            if (token.Kind == TokenKind.String)
            {
                position++;
                return token.Value;
            }

            if (token.Kind == TokenKind.Identifier && !FilterSyntax.IsReservedWord(token.Text))
            {
                position++;
                return token.Text;
            }

            throw Unexpected(what + " (a name or a quoted text)");
        }

        private LifecycleStage ParseStage(string what)
        {
            var token = Peek;
            var name = ParseName(what);
            if (Enum.TryParse<LifecycleStage>(name, ignoreCase: true, out var stage) && Enum.IsDefined(stage) && !char.IsAsciiDigit(name[0]))
            {
                return stage;
            }

            var names = Enum.GetNames<LifecycleStage>().Select(n => n.ToLowerInvariant()).ToArray();
            throw Error(FilterErrorCodes.UnknownStage, token, $"unknown stage '{name}'" + FilterText.DidYouMean(name, names) + "; expected one of " + string.Join(", ", names), string.Join(", ", names));
        }

        private TagFilter ParseTags(TagMatch match)
        {
            var nameToken = Take();
            var open = Take();
            var tags = new List<string>();
            var tagSpans = new List<(int, int)>();
            if (Peek.Kind == TokenKind.RightParen)
            {
                throw Error(FilterErrorCodes.Arity, Peek, $"{nameToken.Text}(...) needs at least one tag", "a tag name");
            }

            do
            {
                tagSpans.Add((Peek.Offset, Peek.Length));
                tags.Add(ParseName("a tag"));
            }
            while (TakeIf(TokenKind.Comma));

            ExpectRightParen(open);
            var node = Span(new TagFilter(match, tags), nameToken.Offset);
            for (var i = 0; i < tagSpans.Count; i++)
            {
                Record(node, "tags[" + i.ToString(CultureInfo.InvariantCulture) + "]", tagSpans[i].Item1, tagSpans[i].Item2);
            }

            return node;
        }

        private Filter ParseSingle(Func<string, Filter> create, string member, string what)
        {
            var nameToken = Take();
            var open = Take();
            if (Peek.Kind == TokenKind.RightParen)
            {
                throw Error(FilterErrorCodes.Arity, Peek, $"{nameToken.Text}(...) needs {what}", what);
            }

            var argToken = Peek;
            var name = ParseName(what);
            if (Peek.Kind == TokenKind.Comma)
            {
                throw Error(FilterErrorCodes.Arity, Peek, $"{nameToken.Text}(...) takes one argument", "')'");
            }

            ExpectRightParen(open);
            var node = Span(create(name), nameToken.Offset);
            Record(node, member, argToken.Offset, argToken.Length);
            return node;
        }

        private BehaviourFilter ParseBehaviour(string function)
        {
            var nameToken = Take();
            var open = Take();
            string kind;
            var conditions = new List<PropertyCondition>();
            var kindToken = Peek;
            var conditionSpans = new List<(int, int)>();
            if (function == "visited")
            {
                var page = ParseName("a page kind, e.g. \"product\"");
                kind = EventKinds.PageView;
                conditions.Add(new PropertyCondition("page_kind", CompareOperator.Equal, [page]));
                conditionSpans.Add((kindToken.Offset, kindToken.Length));
            }
            else
            {
                kind = ParseName("an event kind, e.g. page_view");
                if (TakeKeyword("where"))
                {
                    do
                    {
                        var start = Peek.Offset;
                        conditions.Add(ParseCondition());
                        conditionSpans.Add((start, tokens[position - 1].Offset + tokens[position - 1].Length - start));
                    }
                    while (TakeKeyword("and"));
                }
            }

            ExpectRightParen(open);
            var op = CompareOperator.GreaterOrEqual;
            List<int> counts = [1];
            var countToken = Peek;
            if (function == "never")
            {
                op = CompareOperator.Equal;
                counts = [0];
            }
            else if (function is "count" or "visited")
            {
                var comparison = Peek.Kind switch
                {
                    TokenKind.Equal => CompareOperator.Equal,
                    TokenKind.NotEqual => CompareOperator.NotEqual,
                    TokenKind.Less => CompareOperator.LessThan,
                    TokenKind.LessOrEqual => CompareOperator.LessOrEqual,
                    TokenKind.Greater => CompareOperator.GreaterThan,
                    TokenKind.GreaterOrEqual => CompareOperator.GreaterOrEqual,
                    TokenKind.Identifier when Peek.IsKeyword("between") => CompareOperator.Between,
                    _ => (CompareOperator?)null,
                };

                if (comparison is null && function == "count")
                {
                    throw Unexpected("a comparison of the count: =, !=, <, <=, >, >= or between");
                }

                if (comparison is { } compare)
                {
                    position++;
                    op = compare;
                    counts = [ParseCount()];
                    if (compare == CompareOperator.Between)
                    {
                        ExpectKeyword("and", "'and' between the bounds of 'between'");
                        counts.Add(ParseCount());
                    }
                }
            }

            var countEnd = tokens[position - 1];
            Window? window = null;
            var windowToken = default(Token);
            if (TakeKeyword("within"))
            {
                windowToken = Peek;
                window = ParseWindow();
            }

            var node = Span(new BehaviourFilter(kind, conditions, op, counts, window), nameToken.Offset);
            Record(node, "eventKind", kindToken.Offset, kindToken.Length);
            Record(node, "counts", countToken.Offset, Math.Max(countToken.Length, countEnd.Offset + countEnd.Length - countToken.Offset));
            Record(node, "operator", countToken.Offset, countToken.Length);
            if (window is not null)
            {
                Record(node, "window", windowToken.Offset, windowToken.Length);
            }

            for (var i = 0; i < conditionSpans.Count; i++)
            {
                Record(node, "where[" + i.ToString(CultureInfo.InvariantCulture) + "]", conditionSpans[i].Item1, conditionSpans[i].Item2);
            }

            return node;
        }

        private PropertyCondition ParseCondition()
        {
            var property = ParseName("a property name, e.g. page_kind");
            CompareOperator op;
            switch (Peek.Kind)
            {
                case TokenKind.Equal: op = CompareOperator.Equal; position++; break;
                case TokenKind.NotEqual: op = CompareOperator.NotEqual; position++; break;
                case TokenKind.Less: op = CompareOperator.LessThan; position++; break;
                case TokenKind.LessOrEqual: op = CompareOperator.LessOrEqual; position++; break;
                case TokenKind.Greater: op = CompareOperator.GreaterThan; position++; break;
                case TokenKind.GreaterOrEqual: op = CompareOperator.GreaterOrEqual; position++; break;
                case TokenKind.Identifier: op = ParseWordOperator(); break;
                default: throw Unexpected($"an operator after '{property}'");
            }

            var values = new List<string>();
            switch (op)
            {
                case CompareOperator.In or CompareOperator.NotIn:
                    ExpectLeftParen($"'(' to start the list of '{FilterValidator.OperatorText(op)}'");
                    do
                    {
                        values.Add(ParsePropertyValue());
                    }
                    while (TakeIf(TokenKind.Comma));

                    ExpectRightParen();
                    break;
                case CompareOperator.Between:
                    values.Add(ParsePropertyValue());
                    ExpectKeyword("and", "'and' between the bounds of 'between'");
                    values.Add(ParsePropertyValue());
                    break;
                case CompareOperator.Exists or CompareOperator.IsEmpty:
                    break;
                default:
                    values.Add(ParsePropertyValue());
                    break;
            }

            return new PropertyCondition(property, op, values);
        }

        private string ParsePropertyValue()
        {
            var token = Peek;
            switch (token.Kind)
            {
                case TokenKind.String:
                    position++;
                    return token.Value;
                case TokenKind.Number or TokenKind.Date:
                    position++;
                    return token.Text;
                case TokenKind.Identifier when token.IsKeyword("true") || token.IsKeyword("false"):
                    position++;
                    return token.Text.ToLowerInvariant();
                case TokenKind.Identifier when !FilterSyntax.IsReservedWord(token.Text):
                    position++;
                    return token.Text;
                default:
                    throw Unexpected("a value: a quoted text, a name or a number");
            }
        }

        private int ParseCount()
        {
            var token = Peek;
            if (token.Kind == TokenKind.Number && int.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                position++;
                return count;
            }

            throw Error(FilterErrorCodes.TypeMismatch, token, $"expected a whole count of 0 or more; found {token.Describe()}", "a whole count such as 2");
        }

        private ScoreFilter ParseScore(ScoreKind kind)
        {
            var nameToken = Take();
            var opToken = Peek;
            var op = opToken.Kind switch
            {
                TokenKind.Equal => CompareOperator.Equal,
                TokenKind.NotEqual => CompareOperator.NotEqual,
                TokenKind.Less => CompareOperator.LessThan,
                TokenKind.LessOrEqual => CompareOperator.LessOrEqual,
                TokenKind.Greater => CompareOperator.GreaterThan,
                TokenKind.GreaterOrEqual => CompareOperator.GreaterOrEqual,
                TokenKind.Identifier when opToken.IsKeyword("between") => CompareOperator.Between,
                _ => throw Unexpected($"a comparison after '{nameToken.Text}': =, !=, <, <=, >, >= or between"),
            };

            position++;
            var values = new List<decimal> { ParseNumber() };
            if (op == CompareOperator.Between)
            {
                ExpectKeyword("and", "'and' between the bounds of 'between'");
                values.Add(ParseNumber());
            }

            var node = Span(new ScoreFilter(kind, op, values), nameToken.Offset);
            Record(node, "operator", opToken.Offset, opToken.Length);
            return node;
        }

        private decimal ParseNumber()
        {
            var token = Peek;
            if (token.Kind == TokenKind.Number)
            {
                position++;
                return ParseDecimal(token);
            }

            throw Error(FilterErrorCodes.TypeMismatch, token, $"expected a number; found {token.Describe()}", "a number");
        }

        private Filter ParseNameSet<T>(Func<IReadOnlyList<T>, Filter> create, string what, Func<string, T> parse)
        {
            var nameToken = Take();
            var negate = false;
            var values = new List<T>();
            if (Peek.Kind is TokenKind.Equal or TokenKind.NotEqual)
            {
                negate = Take().Kind == TokenKind.NotEqual;
                values.Add(parse("a " + what));
            }
            else
            {
                if (TakeKeyword("not"))
                {
                    negate = true;
                    ExpectKeyword("in", $"'in' after '{what} not'");
                }
                else if (!TakeKeyword("in"))
                {
                    throw Unexpected($"=, !=, in or not in after '{what}'");
                }

                ExpectLeftParen($"'(' to start the list of {what}s");
                do
                {
                    values.Add(parse("a " + what));
                }
                while (TakeIf(TokenKind.Comma));

                ExpectRightParen();
            }

            var node = Span(create(values), nameToken.Offset);
            return negate ? Span(new NotFilter(node), nameToken.Offset) : node;
        }

        private void Enter()
        {
            if (++depth > MaxDepth)
            {
                throw Error(FilterErrorCodes.TooDeep, Peek, $"the filter nests more than {MaxDepth} levels of parentheses and 'not'", $"at most {MaxDepth} levels");
            }
        }

        private Token Take() => tokens[position++];

        private bool TakeIf(TokenKind kind)
        {
            if (Peek.Kind != kind)
            {
                return false;
            }

            position++;
            return true;
        }

        private bool TakeKeyword(string keyword)
        {
            if (!Peek.IsKeyword(keyword))
            {
                return false;
            }

            position++;
            return true;
        }

        private void ExpectKeyword(string keyword, string expected)
        {
            if (!TakeKeyword(keyword))
            {
                throw Unexpected(expected);
            }
        }

        private void ExpectLeftParen(string expected)
        {
            if (!TakeIf(TokenKind.LeftParen))
            {
                throw Unexpected(expected);
            }
        }

        private void ExpectRightParen(Token? open = null)
        {
            if (TakeIf(TokenKind.RightParen))
            {
                return;
            }

            if (Peek.Kind == TokenKind.End && open is { } start)
            {
                var (line, column) = FilterLexer.Position(text, start.Offset);
                throw Error(FilterErrorCodes.UnbalancedParentheses, Peek, $"'(' at {line}:{column} is not closed; expected ')', found end of input", "')'");
            }

            throw Unexpected("',' or ')'");
        }

        private T Span<T>(T node, int start)
            where T : Filter
        {
            var end = tokens[position - 1];
            Record(node, string.Empty, start, end.Offset + end.Length - start);
            return node;
        }

        private void Record(Filter node, string member, int offset, int length)
        {
            if (!spans.TryGetValue(node, out var members))
            {
                members = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
                spans[node] = members;
            }

            members[member] = (offset, length);
        }

        private FilterException Unexpected(string expected)
        {
            var token = Peek;
            var code = token.Kind == TokenKind.End && tokens.Take(position).Count(t => t.Kind == TokenKind.LeftParen) > tokens.Take(position).Count(t => t.Kind == TokenKind.RightParen)
                ? FilterErrorCodes.UnbalancedParentheses
                : FilterErrorCodes.UnexpectedToken;
            return Error(code, token, $"expected {expected}; found {token.Describe()}", expected);
        }

        private FilterException Error(string code, Token token, string message, string expected) =>
            FilterLexer.Error(text, code, token.Offset, token.Length, message, token.Describe(), expected);
    }
}
