using System.Globalization;
using DuckDB.NET.Data;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>
/// The generated base in an in-memory DuckDB, laid out as a competent DuckDB user would: one <c>contacts</c> table,
/// industry and region as ENUM types compared with typed literals, the 200 tags as a bitmask in four <c>UBIGINT</c>
/// columns (<c>tags0</c>..<c>tags3</c>, tested with <c>&amp;</c>; an ENUM list with <c>list_has_any</c> measured 5–10× slower),
/// budget as <c>DECIMAL(9,2)</c>, last visit a <c>DATE</c>, product views a <c>SMALLINT</c>, and <c>threads</c> set to the
/// machine's cores. The rows are appended to a staging table and converted once with <c>CREATE TABLE AS</c>.
/// </summary>
public static class DuckDbBase
{
    public static DuckDBConnection Load(ContactBaseGenerator data)
    {
        var c = new DuckDBConnection("DataSource=:memory:");
        c.Open();
        Exec(c, $"SET threads = {Environment.ProcessorCount}");
        Exec(c, "CREATE TABLE staging(id INTEGER, industry VARCHAR, region VARCHAR, budget DECIMAL(9,2), last_visit DATE, product_views_30d SMALLINT, tags0 UBIGINT, tags1 UBIGINT, tags2 UBIGINT, tags3 UBIGINT)");
        var epoch = new DateOnly(1970, 1, 1).DayNumber;
        using (var a = c.CreateAppender("staging"))
        {
            Span<ulong> masks = stackalloc ulong[4];
            for (var i = 0; i < data.Count; i++)
            {
                masks.Clear();
                foreach (var t in data.TagsOf(i))
                {
                    masks[t >> 6] |= 1UL << (t & 63);
                }

                a.CreateRow()
                    .AppendValue(i)
                    .AppendValue(ContactBaseGenerator.Industries[data.Industry[i]])
                    .AppendValue(ContactBaseGenerator.Regions[data.Region[i]])
                    .AppendValue((decimal)data.Budget[i])
                    .AppendValue(DateOnly.FromDayNumber(epoch + ContactBaseGenerator.TodayDay - data.LastVisitDaysAgo[i]))
                    .AppendValue((short)data.ProductViews[i])
                    .AppendValue(masks[0]).AppendValue(masks[1]).AppendValue(masks[2]).AppendValue(masks[3])
                    .EndRow();
            }
        }

        Exec(c, $"CREATE TYPE industry_t AS ENUM ({Names(ContactBaseGenerator.Industries)})");
        Exec(c, $"CREATE TYPE region_t AS ENUM ({Names(ContactBaseGenerator.Regions)})");
        Exec(c, "CREATE TABLE contacts AS SELECT id, industry::industry_t AS industry, region::region_t AS region, budget, last_visit, product_views_30d, " +
            "tags0, tags1, tags2, tags3 FROM staging ORDER BY id");
        Exec(c, "DROP TABLE staging");
        Exec(c, "CHECKPOINT");
        return c;
    }

    public static string NarrowSql(DateOnly from, DateOnly to) =>
        $"SELECT count(*) FROM contacts WHERE industry = 'ind2'::industry_t AND region = 'reg1'::region_t AND last_visit BETWEEN {D(from)} AND {D(to)} AND budget BETWEEN 10 AND 50 " +
        $"AND ({HasAny(7)} OR product_views_30d >= 3)";

    public static string BroadSql(DateOnly from, DateOnly to) =>
        $"SELECT count(*) FROM contacts WHERE region IN ('reg0'::region_t, 'reg1'::region_t, 'reg2'::region_t) AND last_visit BETWEEN {D(from)} AND {D(to)} " +
        $"AND {HasAny(0, 3)} AND NOT {HasAny(1)} AND budget >= 20";

    /// <summary>Whether a contact has any of the tags (all in one mask column here: tag numbers below 64).</summary>
    private static string HasAny(params int[] tags)
    {
        var column = tags[0] >> 6;
        var mask = tags.Aggregate(0UL, (m, t) => t >> 6 == column ? m | (1UL << (t & 63)) : throw new ArgumentException("tags of one mask column", nameof(tags)));
        return $"(tags{column} & {mask.ToString(CultureInfo.InvariantCulture)}::UBIGINT) <> 0";
    }

    public static long Count(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>The physical plan DuckDB chooses (<c>EXPLAIN</c>), for the benchmark notes.</summary>
    public static string Explain(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "EXPLAIN " + sql;
        using var r = cmd.ExecuteReader();
        var text = new System.Text.StringBuilder();
        while (r.Read())
        {
            text.AppendLine(r.GetValue(1)?.ToString());
        }

        return text.ToString();
    }

    private static string Names(IEnumerable<string> values) => string.Join(", ", values.Select(v => "'" + v + "'"));

    private static string D(DateOnly d) => "DATE '" + d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "'";

    private static void Exec(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
