using System.Globalization;
using Campaigns.Contacts;
using Campaigns.Modeling;
using Campaigns.Segmentation;
using DuckDB.NET.Data;
using NodaTime;

namespace Campaigns.Tests.Segmentation.Engine;

/// <summary>
/// The engine returns exactly the members DuckDB returns for the equivalent SQL over the same data
/// (DuckDB.NET.Data.Full, in-memory). The translator below is written from the semantics of docs/segmentation.md
/// ("Semantics"), independently of the engine: NULL-safe two-valued predicates, correlated subqueries for tags, lists
/// and events. Missing values (no value, empty text, empty list, a value of the wrong type) are loaded as NULL / no rows;
/// schema defaults are not applied; relative dates are computed from the calendar of <see cref="RandomBase.Zone"/>.
/// </summary>
public sealed class DuckDbDifferentialTests
{
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void EngineMatchesDuckDb(int seed)
    {
        var data = new RandomBase(seed, 400);
        var index = data.BuildIndex();
        foreach (var c in data.Mutate(0.2))
        {
            index.Upsert(c);
        }

        foreach (var c in data.RemoveSome(0.05))
        {
            index.Remove(c.Id);
        }

        using var db = Load(data);
        var segments = new Dictionary<string, SegmentDefinition> { ["s1"] = new() { Id = "s1", Name = "s1", Filter = data.NewFilter(2) } };
        for (var i = 0; i < 100; i++)
        {
            var filter = i % 10 == 9 ? new AndFilter([new SegmentFilter("s1"), data.NewFilter(1)]) : data.NewFilter();
            var sql = "SELECT id FROM contacts c WHERE " + new SqlTranslator(segments).Translate(filter) + " ORDER BY id";
            var expected = Query(db, sql);
            var actual = index.Evaluate(filter, RandomBase.Now, segments).Select(IdOf).ToList();
            Assert.True(expected.SequenceEqual(actual), $"seed {seed}, filter {i}: {filter}\n{sql}\nexpected {expected.Count}, got {actual.Count}");
        }
    }

    private static int IdOf(ContactId id) => BitConverter.ToInt32(id.Value.ToByteArray(), 0);

    private static List<int> Query(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var ids = new List<int>();
        while (reader.Read())
        {
            ids.Add(reader.GetInt32(0));
        }

        return ids;
    }

    private static void Exec(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static DuckDBConnection Load(RandomBase data)
    {
        var db = new DuckDBConnection("DataSource=:memory:");
        db.Open();
        Exec(db, "CREATE TABLE contacts(id INTEGER, industry VARCHAR, region VARCHAR, budget DECIMAL(38,13), employees DECIMAL(38,13), last_visit DATE, vip BOOLEAN, owner_id VARCHAR, created_at TIMESTAMP, stage VARCHAR, grade VARCHAR, behaviour_score DECIMAL(38,13), fit_score DECIMAL(38,13), total_score DECIMAL(38,13))");
        Exec(db, "CREATE TABLE interests(contact_id INTEGER, element VARCHAR)");
        Exec(db, "CREATE TABLE tags(contact_id INTEGER, tag VARCHAR, grp VARCHAR, expires_at TIMESTAMP)");
        Exec(db, "CREATE TABLE consents(contact_id INTEGER, channel VARCHAR, granted BOOLEAN)");
        Exec(db, "CREATE TABLE events(contact_id INTEGER, kind VARCHAR, occurred_at TIMESTAMP, page_kind VARCHAR)");
        var rows = new Dictionary<string, List<string>> { ["contacts"] = [], ["interests"] = [], ["tags"] = [], ["consents"] = [], ["events"] = [] };
        foreach (var c in data.Contacts)
        {
            var id = IdOf(c.Id);
            FieldValue? V(string name) => c.Attributes.GetValueOrDefault(name);
            string Text(FieldValue? v) => v switch { TextValue { Value.Length: > 0 } t => Lit(t.Value), ChoiceValue { Value.Length: > 0 } ch => Lit(ch.Value), _ => "NULL" };
            string Num(FieldValue? v) => v is NumberValue n ? Dec(n.Value) : "NULL";
            var date = V("last_visit") is DateValue d ? $"DATE '{d.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}'" : "NULL";
            var vip = V("vip") is BooleanValue b ? (b.Value ? "TRUE" : "FALSE") : "NULL";
            rows["contacts"].Add($"({id}, {Text(V("industry"))}, {Text(V("region"))}, {Num(V("budget"))}, {Num(V("employees"))}, {date}, {vip}, {(string.IsNullOrEmpty(c.OwnerId) ? "NULL" : Lit(c.OwnerId))}, {Ts(c.CreatedAt)}, {Lit(c.Stage.ToString())}, {(c.Scores?.Grade is { } g ? Lit(g) : "NULL")}, {Dec(c.Scores?.Behaviour ?? 0)}, {Dec(c.Scores?.Fit ?? 0)}, {Dec(c.Scores?.Total ?? 0)})");
            if (V("interests") is ChoicesValue list)
            {
                foreach (var e in list.Values)
                {
                    rows["interests"].Add($"({id}, {Lit(e)})");
                }
            }

            foreach (var t in c.Tags)
            {
                rows["tags"].Add($"({id}, {Lit(t.Tag)}, {(t.Group is null ? "NULL" : Lit(t.Group))}, {(t.ExpiresAt is { } x ? Ts(x) : "NULL")})");
            }

            foreach (var (channel, r) in c.Consents)
            {
                rows["consents"].Add($"({id}, {Lit(channel)}, {(r.Granted ? "TRUE" : "FALSE")})");
            }

            foreach (var e in data.Events[c.Id])
            {
                rows["events"].Add($"({id}, {Lit(e.Kind)}, {Ts(e.OccurredAt)}, {(e.Properties.TryGetValue("page_kind", out var pk) ? Lit(pk) : "NULL")})");
            }
        }

        foreach (var (table, values) in rows.Where(r => r.Value.Count > 0))
        {
            Exec(db, $"INSERT INTO {table} VALUES " + string.Join(",\n", values));
        }

        return db;
    }

    internal static string Lit(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    internal static string Dec(decimal d) => $"CAST('{d.ToString(CultureInfo.InvariantCulture)}' AS DECIMAL(38,13))";

    internal static string Ts(Instant i) => $"TIMESTAMP '{i.ToString("uuuu-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}'";

    /// <summary>Filter → a NULL-free SQL boolean over <c>contacts c</c>.</summary>
    private sealed class SqlTranslator(IReadOnlyDictionary<string, SegmentDefinition> segments)
    {
        private static readonly string Now = Ts(RandomBase.Now);

        public string Translate(Filter f) => f switch
        {
            AndFilter a => a.Operands.Count == 0 ? "TRUE" : "(" + string.Join(" AND ", a.Operands.Select(Translate)) + ")",
            OrFilter o => o.Operands.Count == 0 ? "FALSE" : "(" + string.Join(" OR ", o.Operands.Select(Translate)) + ")",
            NotFilter n => $"(NOT {Translate(n.Operand)})",
            AttributeFilter a => Attribute(a),
            DateFilter d when d.Field == BuiltInFields.CreatedAt => Safe(d.Operator switch
            {
                DateOperator.Within => $"c.created_at BETWEEN {Ts(RandomBase.Now - d.Window!.Value.Duration)} AND {Now}",
                DateOperator.Before => $"c.created_at < {Ts(RandomBase.Now - d.Window!.Value.Duration)}",
                DateOperator.OnOrAfter => $"c.created_at >= {Ts(d.Date!.Value.AtStartOfDayInZone(RandomBase.Zone).ToInstant())}",
                _ => $"c.created_at < {Ts(d.Date!.Value.PlusDays(1).AtStartOfDayInZone(RandomBase.Zone).ToInstant())}",
            }),
            DateFilter d => Safe(d.Operator switch
            {
                DateOperator.Within => $"c.{d.Field} BETWEEN {Day((RandomBase.Now - d.Window!.Value.Duration).InZone(RandomBase.Zone).Date)} AND {Day(RandomBase.Now.InZone(RandomBase.Zone).Date)}",
                DateOperator.Before => $"c.{d.Field} < {Day((RandomBase.Now - d.Window!.Value.Duration).InZone(RandomBase.Zone).Date)}",
                DateOperator.OnOrAfter => $"c.{d.Field} >= {Day(d.Date!.Value)}",
                _ => $"c.{d.Field} <= {Day(d.Date!.Value)}",
            }),
            TagFilter t => t.Match switch
            {
                TagMatch.Any => Tag("tag", t.Tags),
                TagMatch.All => "(" + string.Join(" AND ", t.Tags.Select(x => Tag("tag", [x]))) + ")",
                _ => $"(NOT {Tag("tag", t.Tags)})",
            },
            TagGroupFilter g => Tag("grp", [g.Group]),
            BehaviourFilter b => Behaviour(b),
            ScoreFilter s => Compare(s.Kind switch { ScoreKind.Behaviour => "c.behaviour_score", ScoreKind.Fit => "c.fit_score", _ => "c.total_score" }, s.Operator, [.. s.Values.Select(Dec)]),
            GradeFilter g => Safe($"c.grade IN ({string.Join(", ", g.Grades.Select(Lit))})"),
            StageFilter s => Safe($"c.stage IN ({string.Join(", ", s.Stages.Select(x => Lit(x.ToString())))})"),
            ConsentFilter k => $"EXISTS (SELECT 1 FROM consents k WHERE k.contact_id = c.id AND k.channel = {Lit(k.Channel)} AND k.granted)",
            SegmentFilter s => Translate(segments[s.SegmentId].Filter),
            _ => throw new NotSupportedException(f.GetType().Name),
        };

        private static string Day(LocalDate d) => $"DATE '{d:uuuu-MM-dd}'";

        private static string Safe(string predicate) => $"coalesce(({predicate}), FALSE)";

        private static string Tag(string column, IReadOnlyList<string> keys) =>
            $"EXISTS (SELECT 1 FROM tags t WHERE t.contact_id = c.id AND t.{column} IN ({string.Join(", ", keys.Select(Lit))}) AND (t.expires_at IS NULL OR {Now} < t.expires_at))";

        private static string Compare(string column, CompareOperator op, List<string> v) => op switch
        {
            CompareOperator.Equal or CompareOperator.In => Safe($"{column} IN ({string.Join(", ", v)})"),
            CompareOperator.NotEqual or CompareOperator.NotIn => $"(NOT {Safe($"{column} IN ({string.Join(", ", v)})")})",
            CompareOperator.LessThan => Safe($"{column} < {v[0]}"),
            CompareOperator.LessOrEqual => Safe($"{column} <= {v[0]}"),
            CompareOperator.GreaterThan => Safe($"{column} > {v[0]}"),
            CompareOperator.GreaterOrEqual => Safe($"{column} >= {v[0]}"),
            CompareOperator.Between => Safe($"{column} BETWEEN {v[0]} AND {v[1]}"),
            CompareOperator.Contains => Safe($"contains({column}, {v[0]})"),
            CompareOperator.StartsWith => Safe($"starts_with({column}, {v[0]})"),
            CompareOperator.Exists => Safe($"{column} IS NOT NULL AND CAST({column} AS VARCHAR) <> ''"),
            _ => $"(NOT {Safe($"{column} IS NOT NULL AND CAST({column} AS VARCHAR) <> ''")})",
        };

        private static string Attribute(AttributeFilter a)
        {
            var values = a.Values.Select(v => v switch
            {
                TextValue t => Lit(t.Value),
                ChoiceValue ch => Lit(ch.Value),
                NumberValue n => Dec(n.Value),
                DateValue d => $"DATE '{d.Value:uuuu-MM-dd}'",
                BooleanValue b => b.Value ? "TRUE" : "FALSE",
                _ => throw new NotSupportedException(),
            }).ToList();
            if (a.Field == "interests")
            {
                var any = $"EXISTS (SELECT 1 FROM interests i WHERE i.contact_id = c.id AND i.element IN ({string.Join(", ", values.DefaultIfEmpty("NULL"))}))";
                var nonEmpty = "EXISTS (SELECT 1 FROM interests i WHERE i.contact_id = c.id)";
                return a.Operator switch
                {
                    CompareOperator.Exists => nonEmpty,
                    CompareOperator.IsEmpty => $"(NOT {nonEmpty})",
                    CompareOperator.Contains => any,
                    _ => throw new NotSupportedException($"{a.Operator} on a string list"),
                };
            }

            return Compare("c." + a.Field, a.Operator, values);
        }

        private static string Behaviour(BehaviourFilter b)
        {
            var window = b.Window is { } w ? $" AND e.occurred_at BETWEEN {Ts(RandomBase.Now - w.Duration)} AND {Now}" : $" AND e.occurred_at <= {Now}";
            var where = string.Concat(b.Where.Select(p => " AND " + Property(p)));
            var count = $"(SELECT count(*) FROM events e WHERE e.contact_id = c.id AND e.kind = {Lit(b.EventKind)}{window}{where})";
            var n = b.Counts.Select(x => x.ToString(CultureInfo.InvariantCulture)).ToList();
            return Compare(count, b.Operator, n);
        }

        /// <summary>Text, or numbers when both sides parse.</summary>
        private static string Property(PropertyCondition p)
        {
            const string v = "e.page_kind";
            string Cmp(string op, string value) =>
                decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                    ? $"(CASE WHEN TRY_CAST({v} AS DECIMAL(38,10)) IS NOT NULL THEN TRY_CAST({v} AS DECIMAL(38,10)) {op} {d.ToString(CultureInfo.InvariantCulture)} ELSE {v} {op} {Lit(value)} END)"
                    : $"({v} {op} {Lit(value)})";
            var any = "(" + string.Join(" OR ", p.Values.Select(x => Safe(Cmp("=", x))).DefaultIfEmpty("FALSE")) + ")";
            return p.Operator switch
            {
                CompareOperator.Exists => Safe($"{v} <> ''"),
                CompareOperator.IsEmpty => $"(NOT {Safe($"{v} <> ''")})",
                CompareOperator.Equal or CompareOperator.In => any,
                CompareOperator.NotEqual or CompareOperator.NotIn => $"(NOT {any})",
                CompareOperator.LessThan => Safe(Cmp("<", p.Values[0])),
                CompareOperator.LessOrEqual => Safe(Cmp("<=", p.Values[0])),
                CompareOperator.GreaterThan => Safe(Cmp(">", p.Values[0])),
                CompareOperator.GreaterOrEqual => Safe(Cmp(">=", p.Values[0])),
                CompareOperator.Between => Safe($"{Cmp(">=", p.Values[0])} AND {Cmp("<=", p.Values[1])}"),
                CompareOperator.Contains => Safe($"contains({v}, {Lit(p.Values[0])})"),
                _ => Safe($"starts_with({v}, {Lit(p.Values[0])})"),
            };
        }
    }
}
