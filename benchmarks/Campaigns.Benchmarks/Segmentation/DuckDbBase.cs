using System.Globalization;
using DuckDB.NET.Data;

namespace Campaigns.Benchmarks.Segmentation;

/// <summary>The generated base in an in-memory DuckDB: <c>contacts</c> and <c>contact_tags</c>.</summary>
public static class DuckDbBase
{
    public static DuckDBConnection Load(ContactBaseGenerator data)
    {
        var c = new DuckDBConnection("DataSource=:memory:");
        c.Open();
        Exec(c, "CREATE TABLE contacts(id INTEGER, industry VARCHAR, region VARCHAR, budget DECIMAL(18,4), last_visit DATE, product_views_30d INTEGER)");
        Exec(c, "CREATE TABLE contact_tags(contact_id INTEGER, tag VARCHAR)");
        var epoch = new DateOnly(1970, 1, 1).DayNumber;
        using (var a = c.CreateAppender("contacts"))
        {
            for (var i = 0; i < data.Count; i++)
            {
                a.CreateRow()
                    .AppendValue(i)
                    .AppendValue(ContactBaseGenerator.Industries[data.Industry[i]])
                    .AppendValue(ContactBaseGenerator.Regions[data.Region[i]])
                    .AppendValue((decimal)data.Budget[i])
                    .AppendValue(DateOnly.FromDayNumber(epoch + ContactBaseGenerator.TodayDay - data.LastVisitDaysAgo[i]))
                    .AppendValue((int)data.ProductViews[i])
                    .EndRow();
            }
        }

        using (var a = c.CreateAppender("contact_tags"))
        {
            for (var i = 0; i < data.Count; i++)
            {
                foreach (var t in data.TagsOf(i))
                {
                    a.CreateRow().AppendValue(i).AppendValue(ContactBaseGenerator.TagNames[t]).EndRow();
                }
            }
        }

        return c;
    }

    public static string NarrowSql(DateOnly from, DateOnly to) =>
        $"SELECT count(*) FROM contacts WHERE industry = 'ind2' AND region = 'reg1' AND last_visit BETWEEN {D(from)} AND {D(to)} AND budget BETWEEN 10 AND 50 " +
        "AND (id IN (SELECT contact_id FROM contact_tags WHERE tag = 'tag7') OR product_views_30d >= 3)";

    public static string BroadSql(DateOnly from, DateOnly to) =>
        $"SELECT count(*) FROM contacts WHERE region IN ('reg0', 'reg1', 'reg2') AND last_visit BETWEEN {D(from)} AND {D(to)} " +
        "AND id IN (SELECT contact_id FROM contact_tags WHERE tag IN ('tag0', 'tag3')) AND id NOT IN (SELECT contact_id FROM contact_tags WHERE tag = 'tag1') AND budget >= 20";

    public static long Count(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static string D(DateOnly d) => "DATE '" + d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "'";

    private static void Exec(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
