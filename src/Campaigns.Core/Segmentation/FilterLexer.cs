using System.Globalization;
using System.Text;
using NodaTime;
using NodaTime.Text;

namespace Campaigns.Segmentation;

/// <summary>Shared lexical rules of the text form.</summary>
internal static class FilterSyntax
{
    private static readonly HashSet<string> ReservedWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "not", "in", "between", "contains", "starts", "with", "exists", "is", "empty", "within", "before",
        "on", "after", "where", "true", "false", "score", "fit_score", "total_score", "grade", "stage",
    };

    public static bool IsReservedWord(string word) => ReservedWords.Contains(word);

    public static bool IsIdentifierStart(char c) => char.IsLetter(c) || c == '_';

    public static bool IsIdentifierPart(char c) => char.IsLetterOrDigit(c) || c is '_' or '.' or '-';

    /// <summary>Whether the text can be written bare (not quoted) in a value position.</summary>
    public static bool IsBareIdentifier(string text)
    {
        if (text.Length == 0 || !IsIdentifierStart(text[0]) || IsReservedWord(text))
        {
            return false;
        }

        for (var i = 1; i < text.Length; i++)
        {
            if (!IsIdentifierPart(text[i]))
            {
                return false;
            }
        }

        return text[^1] is not ('.' or '-');
    }

    /// <summary>Whether the text is a number literal exactly as the lexer reads it.</summary>
    public static bool IsNumberLiteral(string text)
    {
        var i = 0;
        if (text.Length > 0 && text[0] == '-')
        {
            i++;
        }

        var digits = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
            digits++;
        }

        if (digits == 0)
        {
            return false;
        }

        if (i == text.Length)
        {
            return true;
        }

        if (text[i] != '.')
        {
            return false;
        }

        i++;
        var fraction = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
            fraction++;
        }

        return fraction > 0 && i == text.Length;
    }

    public static string Quote(string text)
    {
        var builder = new StringBuilder(text.Length + 2);
        builder.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (char.IsControl(c))
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>Bare when it reads back as the same text, quoted otherwise.</summary>
    public static string Name(string text) => IsBareIdentifier(text) ? text : Quote(text);
}

internal enum TokenKind
{
    End,
    Identifier,
    String,
    Number,
    Date,
    Word, // digits followed by letters: a window such as 7d, or a bad one such as 7x
    LeftParen,
    RightParen,
    Comma,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Offset, int Length, string Value = "")
{
    public bool IsKeyword(string keyword) => Kind == TokenKind.Identifier && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of input",
        TokenKind.String => Text.Length > 40 ? "'" + Text[..37] + "...'" : "'" + Text + "'",
        _ => "'" + Text + "'",
    };
}

/// <summary>Splits the text form into tokens. Throws <see cref="FilterException"/> on a bad character or an unterminated string.</summary>
internal static class FilterLexer
{
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, string.Empty, text.Length, 0));
                return tokens;
            }

            var start = i;
            var c = text[i];
            if (IsNumberStart(text, i))
            {
                i++;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '.' or '-' or ':' or '_'))
                {
                    i++;
                }

                tokens.Add(ClassifyNumeric(text, start, i - start));
                continue;
            }

            if (FilterSyntax.IsIdentifierStart(c))
            {
                i++;
                while (i < text.Length && FilterSyntax.IsIdentifierPart(text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Identifier, text[start..i], start, i - start, text[start..i]));
                continue;
            }

            if (c is '"' or '\'')
            {
                tokens.Add(ReadString(text, ref i));
                continue;
            }

            var (kind, length) = c switch
            {
                '(' => (TokenKind.LeftParen, 1),
                ')' => (TokenKind.RightParen, 1),
                ',' => (TokenKind.Comma, 1),
                '=' => (TokenKind.Equal, Next(text, i) == '=' ? 2 : 1),
                '!' when Next(text, i) == '=' => (TokenKind.NotEqual, 2),
                '<' when Next(text, i) == '>' => (TokenKind.NotEqual, 2),
                '<' => Next(text, i) == '=' ? (TokenKind.LessOrEqual, 2) : (TokenKind.Less, 1),
                '>' => Next(text, i) == '=' ? (TokenKind.GreaterOrEqual, 2) : (TokenKind.Greater, 1),
                '≠' => (TokenKind.NotEqual, 1),
                '≤' => (TokenKind.LessOrEqual, 1),
                '≥' => (TokenKind.GreaterOrEqual, 1),
                _ => (TokenKind.End, 0),
            };

            if (length == 0)
            {
                throw Error(text, FilterErrorCodes.InvalidCharacter, start, 1, $"unexpected character '{c}'", "'" + c + "'", "a field, a function such as has_tag(...), '(' or an operator");
            }

            tokens.Add(new Token(kind, text.Substring(start, length), start, length));
            i += length;
        }
    }

    public static FilterException Error(string text, string code, int offset, int length, string message, string? found, string? expected)
    {
        var (line, column) = Position(text, offset);
        return new FilterException([new FilterError { Code = code, Message = message, Offset = offset, Length = length, Line = line, Column = column, Found = found, Expected = expected }]);
    }

    public static (int Line, int Column) Position(string text, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return (line, offset - lineStart + 1);
    }

    private static char Next(string text, int i) => i + 1 < text.Length ? text[i + 1] : '\0';

    private static bool IsNumberStart(string text, int i) =>
        char.IsAsciiDigit(text[i]) || (text[i] == '-' && char.IsAsciiDigit(Next(text, i)));

    private static Token ClassifyNumeric(string text, int start, int length)
    {
        var raw = text.Substring(start, length);
        if (FilterSyntax.IsNumberLiteral(raw))
        {
            return new Token(TokenKind.Number, raw, start, length, raw);
        }

        if (raw.Length == 10 && raw[4] == '-' && raw[7] == '-' && char.IsAsciiDigit(raw[0]))
        {
            return LocalDatePattern.Iso.Parse(raw).Success
                ? new Token(TokenKind.Date, raw, start, length, raw)
                : throw Error(text, FilterErrorCodes.BadDate, start, length, $"'{raw}' is not a date; expected an ISO date such as 2026-01-31", "'" + raw + "'", "an ISO date (yyyy-MM-dd)");
        }

        var digits = 0;
        while (digits < raw.Length && char.IsAsciiDigit(raw[digits]))
        {
            digits++;
        }

        var letters = digits;
        while (letters < raw.Length && char.IsAsciiLetter(raw[letters]))
        {
            letters++;
        }

        if (digits > 0 && letters == raw.Length && letters > digits)
        {
            return new Token(TokenKind.Word, raw, start, length, raw);
        }

        throw Error(text, FilterErrorCodes.UnexpectedToken, start, length, $"'{raw}' is not a number, a date or a window", "'" + raw + "'", "a number (12, 4.5), an ISO date (2026-01-31) or a window (7d, 12h, 30m)");
    }

    private static Token ReadString(string text, ref int i)
    {
        var start = i;
        var quote = text[i++];
        var builder = new StringBuilder();
        while (i < text.Length && text[i] != quote)
        {
            var c = text[i++];
            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }

            if (i >= text.Length)
            {
                break;
            }

            var escape = text[i++];
            switch (escape)
            {
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'u' when i + 4 <= text.Length && int.TryParse(text.AsSpan(i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code):
                    builder.Append((char)code);
                    i += 4;
                    break;
                case '"' or '\'' or '\\': builder.Append(escape); break;
                default:
                    throw Error(text, FilterErrorCodes.InvalidCharacter, i - 2, 2, $"'\\{escape}' is not an escape; expected \\\", \\', \\\\, \\n, \\r, \\t or \\uXXXX", "'\\" + escape + "'", "an escape");
            }
        }

        if (i >= text.Length)
        {
            throw Error(text, FilterErrorCodes.InvalidCharacter, start, text.Length - start, $"the string starting here has no closing {quote}", "end of input", quote.ToString());
        }

        i++;
        return new Token(TokenKind.String, text[start..i], start, i - start, builder.ToString());
    }
}

/// <summary>Helpers shared by the parser and the validator.</summary>
internal static class FilterText
{
    public static string Format(LocalDate date) => LocalDatePattern.Iso.Format(date);

    public static string Format(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The closest candidate within a small edit distance, or null.</summary>
    public static string? Suggest(string name, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        var limit = Math.Max(1, Math.Min(3, name.Length / 3));
        foreach (var candidate in candidates)
        {
            var distance = Distance(name, candidate);
            if (distance <= limit && distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best;
    }

    public static string DidYouMean(string name, IEnumerable<string> candidates) =>
        Suggest(name, candidates) is { } suggestion ? $"; did you mean '{suggestion}'?" : string.Empty;

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
