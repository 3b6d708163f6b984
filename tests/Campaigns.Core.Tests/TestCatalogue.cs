using Campaigns.Modeling;
using NodaTime;

namespace Campaigns.Tests;

/// <summary>A small catalogue document for tests that must not depend on the built-in data.</summary>
internal static class TestCatalogue
{
    public static readonly RegistrationFormTemplate SimpleForm = new()
    {
        Id = "test-form",
        Name = "Test form",
        Fields =
        [
            new FieldDefinition { Key = "name", Label = "姓名", Type = FieldType.Text, Required = true, MapsTo = "name" },
            new FieldDefinition { Key = "phone", Label = "手机", Type = FieldType.Phone, Required = true, MapsTo = "phone" },
        ],
    };

    public static readonly CampaignTypeDefinition Seminar = new()
    {
        Id = "test-seminar",
        Name = "测试研讨会",
        Category = CampaignCategory.BrandHostedExternal,
        SubKind = "offline-seminar",
        Template = new CampaignTemplate
        {
            ProcessSteps = [new ProcessStep("approval", "活动发起审批"), new ProcessStep("promotion", "推广")],
            RegistrationFormId = SimpleForm.Id,
            CustomFields = [new FieldDefinition { Key = "organizer", Label = "组织方式", Type = FieldType.SingleChoice, Required = true, Options = [new("hosted", "我司主办"), new("co-hosted", "协办")] }],
            Goals = [new GoalTemplate { Metric = "registrations", Target = 100, DeadlineAfterEnd = Period.FromDays(7) }],
            ApprovalChain = new ApprovalChain
            {
                SubmitterRole = "operator",
                Levels = [new ApprovalLevel("manager-review", "marketing-manager"), new ApprovalLevel("admin-publish", "admin")],
            },
        },
    };

    public static readonly CatalogueDocument Document = new()
    {
        SchemaVersion = CatalogueDocument.CurrentSchemaVersion,
        Types = [Seminar],
        Forms = [SimpleForm],
    };
}
