using System.Globalization;
using System.Text;
using Campaigns.Contacts;
using NodaTime;

namespace Campaigns.Sample;

/// <summary>Imports a generated CSV with dirty rows, then ingests behaviour events (F-2).</summary>
internal sealed class ContactsDemo(IContactImporter importer, IContactEvents events, IContactService contacts, IClock clock)
{
    private static readonly string[] Industries = ["制造", "互联网", "金融", "", "零售"];

    public async Task RunAsync(int rows, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine("== Contacts: CSV import with dirty rows");
        var csv = new StringBuilder("姓名,手机号,邮箱,行业,关注产品\n");
        for (var i = 0; i < rows; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"客户{i:000},1380013{i:0000},c{i}@example.cn,{Industries[i % Industries.Length]},A产品\n");
        }

        csv.Append("客户000(重复),+86 138-0013-0000,,制造,B产品\n");   // same phone as row 1, other format: merged
        csv.Append("坏号码,12345,bad@@example,互联网,\n");            // bad phone and e-mail: flagged, kept
        csv.Append("无身份,,,金融,\n");                               // no identity at all: rejected

        var mapping = new ContactImportMapping
        {
            Source = "sample.csv",
            Columns =
            [
                ColumnMapping.ToName("姓名"),
                ColumnMapping.ToIdentity("手机号", IdentityKind.Phone),
                ColumnMapping.ToIdentity("邮箱", IdentityKind.Email),
                ColumnMapping.ToAttribute("行业", "industry") with
                {
                    ValueMap = new Dictionary<string, string> { ["制造"] = "manufacturing", ["互联网"] = "internet", ["金融"] = "finance", ["零售"] = "retail" },
                },
                ColumnMapping.ToAttribute("关注产品", "interested_products", MergePolicy.Union),
            ],
        };
        using var reader = new StringReader(csv.ToString());
        var report = await importer.ImportCsvTextAsync(reader, mapping).ConfigureAwait(false);
        o.WriteLine($"  rows {report.RowsRead} = created {report.Created} + merged {report.Merged} + flagged {report.Flagged} + rejected {report.Rejected}; {report.ContactsCreated} contacts");
        foreach (var issue in report.Issues.Take(4))
        {
            o.WriteLine($"  row {issue.Row} {issue.Column} '{issue.Value}': {issue.Kind} {issue.Code} — {issue.Reason}");
        }

        var first = await contacts.FindAsync(IdentityKind.Phone, "13800130000").ConfigureAwait(false)
            ?? throw new InvalidOperationException("The first imported contact is missing.");
        o.WriteLine($"  merged contact {first.Name}: phone {first.Identities.Phone}, industry {Describe(first, "industry")}, products {Describe(first, "interested_products")}");

        o.WriteLine();
        o.WriteLine("== Behaviour events");
        var now = clock.GetCurrentInstant();
        var pageView = new BehaviourEvent
        {
            EventId = "web-0001",
            ContactId = first.Id,
            Kind = EventKinds.PageView,
            OccurredAt = now - Duration.FromMinutes(3),
            Properties = new Dictionary<string, string> { ["url"] = "/products/a", ["page_kind"] = "product" },
        };
        var results = new[]
        {
            await events.IngestAsync(pageView).ConfigureAwait(false),
            await events.IngestAsync(pageView).ConfigureAwait(false),
            await events.IngestAsync(pageView with { EventId = "web-0000", OccurredAt = now - Duration.FromHours(2) }).ConfigureAwait(false),
            await events.IngestAsync(pageView with { EventId = "", Kind = EventKinds.Download }).ConfigureAwait(false),
        };
        o.WriteLine($"  {string.Join(", ", results.Select(r => r.Status))} (a duplicate id changes nothing; late events are kept in time order)");
    }

    private static string Describe(Contact contact, string attribute) => contact.Attributes.TryGetValue(attribute, out var value) ? value switch
    {
        Modeling.TextValue t => t.Value,
        Modeling.ChoicesValue c => string.Join("+", c.Values),
        _ => value.ToString() ?? string.Empty,
    }
    : "(none)";
}
