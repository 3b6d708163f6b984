namespace Campaigns.Modeling;

/// <summary>Checks one catalogue document on its own: ids present and unique, field definitions sound.</summary>
internal static class CatalogueValidator
{
    public static void ValidateDocument(string source, CatalogueDocument document)
    {
        var typeIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < document.Types.Count; i++)
        {
            var type = document.Types[i];
            var path = $"$.types[{i}]";
            if (string.IsNullOrWhiteSpace(type.Id))
            {
                throw new CatalogueException(source, path + ".id", "a campaign type needs an id.");
            }

            if (!typeIds.Add(type.Id))
            {
                throw new CatalogueException(source, path + ".id", $"type id '{type.Id}' appears twice in the document.");
            }

            ValidateFields(source, path + ".template.customFields", type.Template.CustomFields);
            var levels = type.Template.ApprovalChain.Levels;
            for (var l = 0; l < levels.Count; l++)
            {
                if (string.IsNullOrWhiteSpace(levels[l].Name) || string.IsNullOrWhiteSpace(levels[l].Role))
                {
                    throw new CatalogueException(source, $"{path}.template.approvalChain.levels[{l}]", "an approval level needs a name and a role.");
                }
            }

            var goals = type.Template.Goals;
            for (var g = 0; g < goals.Count; g++)
            {
                if (goals[g].Target <= 0)
                {
                    throw new CatalogueException(source, $"{path}.template.goals[{g}].target", $"{goals[g].Target} is not greater than zero.");
                }
            }
        }

        var formIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < document.Forms.Count; i++)
        {
            var form = document.Forms[i];
            var path = $"$.forms[{i}]";
            if (string.IsNullOrWhiteSpace(form.Id))
            {
                throw new CatalogueException(source, path + ".id", "a form needs an id.");
            }

            if (!formIds.Add(form.Id))
            {
                throw new CatalogueException(source, path + ".id", $"form id '{form.Id}' appears twice in the document.");
            }

            if (form.LeadPool.Kind == LeadPoolKind.BusinessPool && string.IsNullOrWhiteSpace(form.LeadPool.PoolName))
            {
                throw new CatalogueException(source, path + ".leadPool.poolName", "a business pool route needs a pool name.");
            }

            ValidateFields(source, path + ".fields", form.Fields);
        }
    }

    internal static void ValidateFields(string source, string path, IReadOnlyList<FieldDefinition> fields)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var f = 0; f < fields.Count; f++)
        {
            var field = fields[f];
            var fieldPath = $"{path}[{f}]";
            if (string.IsNullOrWhiteSpace(field.Key) || !field.Key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                throw new CatalogueException(source, fieldPath + ".key", $"'{field.Key}' is not a field key (letters, digits, '_' and '-').");
            }

            if (!keys.Add(field.Key))
            {
                throw new CatalogueException(source, fieldPath + ".key", $"field key '{field.Key}' appears twice.");
            }

            if (field.Type is FieldType.SingleChoice or FieldType.MultiChoice && field.Options.Count == 0)
            {
                throw new CatalogueException(source, fieldPath + ".options", $"choice field '{field.Key}' has no options.");
            }

            if (field.Min is { } min && field.Max is { } max && min > max)
            {
                throw new CatalogueException(source, fieldPath, $"field '{field.Key}' has min {min} greater than max {max}.");
            }
        }
    }
}
