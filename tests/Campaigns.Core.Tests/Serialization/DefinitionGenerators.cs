using Campaigns.Modeling;
using FsCheck;
using FsCheck.Fluent;
using NodaTime;

namespace Campaigns.Tests.Serialization;

/// <summary>FsCheck arbitraries for the definition types with a versioned JSON document.</summary>
public static class DefinitionArbitraries
{
    public static Arbitrary<Campaign> Campaign() => Arb.From(DefinitionGen.Campaign);

    public static Arbitrary<Participant> Participant() => Arb.From(DefinitionGen.Participant);

    public static Arbitrary<CampaignTypeDefinition> CampaignType() => Arb.From(DefinitionGen.CampaignType);

    public static Arbitrary<RegistrationFormTemplate> Form() => Arb.From(DefinitionGen.Form);
}

/// <summary>
/// Generators for definitions: every <see cref="FieldValue"/> kind, nested lists, NodaTime values (instants 1970–2100
/// with nanoseconds, periods mixing every unit and sign, local times, durations), decimals of every scale, and strings
/// mixing ASCII, Chinese, emoji, quotes, backslashes and control characters.
/// </summary>
internal static class DefinitionGen
{
    private static readonly Gen<string> Piece = Gen.OneOf(
        Gen.Choose(0x20, 0x7E).Select(c => ((char)c).ToString()),
        Gen.Choose(0x4E00, 0x9FA5).Select(c => ((char)c).ToString()),
        Gen.Elements("报名", "线下会议", "我司主办", "上海", "😀", "é", "\"", "\\", "/", "\n", "\t", "<", ">", "&", "'", "\u0001", "\u2028", "."));

    public static readonly Gen<string> Text =
        Gen.Choose(0, 8).SelectMany(n => Gen.ListOf(Piece, n)).Select(pieces => string.Concat(pieces));

    public static readonly Gen<string?> OptionalText =
        Gen.Frequency((1, Gen.Constant<string?>(null)), (3, Text.Select(s => (string?)s)));

    public static readonly Gen<bool> Bool = Gen.Elements(true, false);

    public static readonly Gen<Guid> Guid =
        from a in Gen.Choose(int.MinValue, int.MaxValue)
        from b in Gen.Choose(int.MinValue, int.MaxValue)
        from c in Gen.Choose(int.MinValue, int.MaxValue)
        from d in Gen.Choose(int.MinValue, int.MaxValue)
        select ToGuid(a, b, c, d);

    public static readonly Gen<decimal> Decimal = Gen.OneOf(
        Gen.Choose(-1_000_000, 1_000_000).Select(i => (decimal)i),
        from lo in Gen.Choose(int.MinValue, int.MaxValue)
        from mid in Gen.Choose(0, 1000)
        from negative in Bool
        from scale in Gen.Choose(0, 8)
        select new decimal(lo, mid, 0, negative, (byte)scale),
        Gen.Elements(0m, 1.50m, 0.0001m, -2.5m, decimal.MaxValue, decimal.MinValue, 0.0000000000000000000000000001m));

    public static readonly Gen<decimal?> OptionalDecimal =
        Gen.Frequency((1, Gen.Constant<decimal?>(null)), (2, Decimal.Select(d => (decimal?)d)));

    /// <summary>Instants from 1970 to about 2100, with random nanoseconds.</summary>
    public static readonly Gen<Instant> Instant =
        from days in Gen.Choose(0, 130 * 365)
        from seconds in Gen.Choose(0, 86_399)
        from nanos in Gen.Frequency((1, Gen.Constant(0)), (2, Gen.Choose(0, 999_999_999)))
        select NodaTime.Instant.FromUnixTimeSeconds((days * 86_400L) + seconds).PlusNanoseconds(nanos);

    public static readonly Gen<Instant?> OptionalInstant =
        Gen.Frequency((1, Gen.Constant<Instant?>(null)), (2, Instant.Select(i => (Instant?)i)));

    public static readonly Gen<LocalDate> LocalDate =
        Gen.Choose(-25_000, 47_000).Select(days => new LocalDate(1970, 1, 1).PlusDays(days));

    public static readonly Gen<LocalTime> LocalTime = Gen.OneOf(
        from hour in Gen.Choose(0, 23)
        from minute in Gen.Elements(0, 15, 30, 45)
        select new LocalTime(hour, minute),
        from seconds in Gen.Choose(0, 86_399)
        from nanos in Gen.Choose(0, 999_999_999)
        select NodaTime.LocalTime.Midnight.PlusSeconds(seconds).PlusNanoseconds(nanos));

    public static readonly Gen<LocalTime?> OptionalLocalTime =
        Gen.Frequency((1, Gen.Constant<LocalTime?>(null)), (2, LocalTime.Select(t => (LocalTime?)t)));

    /// <summary>Periods mixing every unit, each unit present or not, either sign.</summary>
    public static readonly Gen<Period> Period = Gen.OneOf(
        Gen.Elements(NodaTime.Period.Zero, NodaTime.Period.FromDays(1), NodaTime.Period.FromDays(-1), NodaTime.Period.FromHours(2)),
        from years in Unit(100)
        from months in Unit(24)
        from weeks in Unit(10)
        from days in Unit(400)
        from hours in Unit(48)
        from minutes in Unit(120)
        from seconds in Unit(120)
        from millis in Unit(1000)
        from ticks in Unit(10_000)
        from nanos in Unit(1_000_000)
        select new PeriodBuilder
        {
            Years = years,
            Months = months,
            Weeks = weeks,
            Days = days,
            Hours = hours,
            Minutes = minutes,
            Seconds = seconds,
            Milliseconds = millis,
            Ticks = ticks,
            Nanoseconds = nanos,
        }.Build());

    public static readonly Gen<Duration?> OptionalDuration = Gen.Frequency(
        (1, Gen.Constant<Duration?>(null)),
        (2, from seconds in Gen.Choose(-8_640_000, 8_640_000)
            from nanos in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(0, 999_999_999)))
            select (Duration?)Duration.FromSeconds(seconds).Plus(Duration.FromNanoseconds(nanos))));

    public static readonly Gen<FieldValue> FieldValue = Gen.OneOf(
        Text.Select(s => (FieldValue)new TextValue(s)),
        Decimal.Select(d => (FieldValue)new NumberValue(d)),
        LocalDate.Select(d => (FieldValue)new DateValue(d)),
        Text.Select(s => (FieldValue)new ChoiceValue(s)),
        ListOf(Text, 4).Select(values => (FieldValue)new ChoicesValue(values)),
        Bool.Select(b => (FieldValue)new BooleanValue(b)));

    public static readonly Gen<IReadOnlyDictionary<string, FieldValue>> FieldValues =
        from entries in ListOf(Gen.Zip(Text, FieldValue), 6)
        select (IReadOnlyDictionary<string, FieldValue>)entries
            .GroupBy(e => e.Item1, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Item2, StringComparer.Ordinal);

    public static readonly Gen<FieldDefinition> FieldDefinition =
        from key in Text
        from label in Text
        from type in Enum<FieldType>()
        from required in Bool
        from options in ListOf(Gen.Zip(Text, Text).Select(p => new FieldOption(p.Item1, p.Item2)), 3)
        from maxLength in Gen.Frequency((2, Gen.Constant<int?>(null)), (1, Gen.Choose(0, 500).Select(i => (int?)i)))
        from min in OptionalDecimal
        from max in OptionalDecimal
        from mapsTo in OptionalText
        select new FieldDefinition
        {
            Key = key,
            Label = label,
            Type = type,
            Required = required,
            Options = options,
            MaxLength = maxLength,
            Min = min,
            Max = max,
            MapsTo = mapsTo,
        };

    public static readonly Gen<ApprovalChain> ApprovalChain = Gen.OneOf(
        Gen.Constant(Campaigns.Modeling.ApprovalChain.None),
        from submitter in OptionalText
        from levels in ListOf(Gen.Zip(Text, Text).Select(p => new ApprovalLevel(p.Item1, p.Item2)), 3)
        from allow in Bool
        select new ApprovalChain { SubmitterRole = submitter, Levels = levels, AllowSubmitterToApprove = allow });

    public static readonly Gen<LeadPoolRoute> LeadPoolRoute = Gen.OneOf(
        Gen.Elements(Campaigns.Modeling.LeadPoolRoute.SalesLeads, Campaigns.Modeling.LeadPoolRoute.MarketingPool),
        Text.Select(Campaigns.Modeling.LeadPoolRoute.BusinessPool),
        from kind in Enum<LeadPoolKind>()
        from name in OptionalText
        select new LeadPoolRoute(kind, name));

    public static readonly Gen<ProcessStep> ProcessStep =
        from key in Text
        from name in Text
        from description in OptionalText
        select new ProcessStep(key, name, description);

    public static readonly Gen<MicroPageDefinition> MicroPage =
        from key in Text
        from kind in Enum<MicroPageKind>()
        from title in Text
        from blocks in ListOf(Text, 4)
        from formId in OptionalText
        from skip in Bool
        from survey in OptionalText
        select new MicroPageDefinition
        {
            Key = key,
            Kind = kind,
            Title = title,
            Blocks = blocks,
            FormId = formId,
            MembersSkipForm = skip,
            SurveyObject = survey,
        };

    public static readonly Gen<SopDefinition> Sop =
        from key in Text
        from name in Text
        from audience in Enum<SopAudience>()
        from anchor in Enum<SopAnchor>()
        from offset in Period
        from localTime in OptionalLocalTime
        from channels in ListOf(Gen.Elements("sms", "email", "wechat-template", "wecom"), 3)
        from interactions in ListOf(Enum<ParticipantActivityKind>(), 3)
        from content in OptionalText
        select new SopDefinition
        {
            Key = key,
            Name = name,
            Audience = audience,
            Anchor = anchor,
            Offset = offset,
            LocalTime = localTime,
            Channels = channels,
            Interactions = interactions,
            Content = content,
        };

    public static readonly Gen<TagRuleTemplate> TagRule =
        from tagGroup in Text
        from template in Text
        from required in Bool
        from appliedOn in Enum<ParticipantActivityKind>()
        select new TagRuleTemplate { Group = tagGroup, NameTemplate = template, Required = required, AppliedOn = appliedOn };

    public static readonly Gen<GoalTemplate> GoalTemplate =
        from metric in Text
        from target in Decimal
        from unit in Enum<GoalUnit>()
        from deadline in Period
        from description in OptionalText
        select new GoalTemplate { Metric = metric, Target = target, Unit = unit, DeadlineAfterEnd = deadline, Description = description };

    public static readonly Gen<SmartGoal> SmartGoal =
        from metric in Text
        from target in Decimal
        from unit in Enum<GoalUnit>()
        from deadline in LocalDate
        from description in OptionalText
        select new SmartGoal { Metric = metric, Target = target, Unit = unit, Deadline = deadline, Description = description };

    public static readonly Gen<Budget?> Budget = Gen.Frequency(
        (1, Gen.Constant<Budget?>(null)),
        (2, from currency in Gen.Elements("CNY", "USD", "EUR")
            from total in Decimal
            from lines in ListOf(
                from key in Text
                from item in Text
                from channel in OptionalText
                from planned in Decimal
                from actual in Decimal
                select new CostLine { Key = key, Item = item, Channel = channel, Planned = planned, Actual = actual },
                3)
            select (Budget?)new Budget { Currency = currency, Total = total, Lines = lines }));

    public static readonly Gen<LifecycleEntry> LifecycleEntry =
        from action in Enum<CampaignAction>()
        from from_ in Enum<CampaignState>()
        from to in Enum<CampaignState>()
        from actorId in Text
        from actorRole in Text
        from at in Instant
        from comment in OptionalText
        from level in OptionalText
        select new LifecycleEntry(action, from_, to, actorId, actorRole, at, comment, level);

    public static readonly Gen<CampaignSchedule> Schedule =
        from zone in Gen.OneOf(Gen.Elements("Asia/Shanghai", "UTC", "Europe/Berlin"), Text)
        from starts in OptionalInstant
        from ends in OptionalInstant
        from live in OptionalInstant
        from location in OptionalText
        select new CampaignSchedule { TimeZoneId = zone, StartsAt = starts, EndsAt = ends, LiveStartsAt = live, Location = location };

    public static readonly Gen<RegistrationFormTemplate> Form =
        from id in Text
        from name in Text
        from fields in ListOf(FieldDefinition, 4)
        from target in Gen.OneOf(Gen.Constant("lead"), Text)
        from pool in LeadPoolRoute
        from approval in Bool
        from suitable in ListOf(Text, 3)
        select new RegistrationFormTemplate
        {
            Id = id,
            Name = name,
            Fields = fields,
            TargetObject = target,
            LeadPool = pool,
            RequiresApproval = approval,
            SuitableFor = suitable,
        };

    public static readonly Gen<CampaignTemplate> Template =
        from steps in ListOf(ProcessStep, 3)
        from formId in OptionalText
        from pages in ListOf(MicroPage, 2)
        from sops in ListOf(Sop, 3)
        from tags in ListOf(TagRule, 2)
        from goals in ListOf(GoalTemplate, 2)
        from fields in ListOf(FieldDefinition, 2)
        from chain in ApprovalChain
        select new CampaignTemplate
        {
            ProcessSteps = steps,
            RegistrationFormId = formId,
            MicroPages = pages,
            Sops = sops,
            TagRules = tags,
            Goals = goals,
            CustomFields = fields,
            ApprovalChain = chain,
        };

    public static readonly Gen<CampaignTypeDefinition> CampaignType =
        from id in Text
        from name in Text
        from category in Enum<CampaignCategory>()
        from subKind in Text
        from examples in ListOf(Text, 3)
        from frequency in Enum<CampaignFrequency>()
        from traits in ListOf(Text, 3)
        from content in ListOf(Text, 3)
        from template in Template
        select new CampaignTypeDefinition
        {
            Id = id,
            Name = name,
            Category = category,
            SubKind = subKind,
            Examples = examples,
            Frequency = frequency,
            AudienceTraits = traits,
            TemplateContent = content,
            Template = template,
        };

    public static readonly Gen<Campaign> Campaign =
        from id in Guid.Select(g => new CampaignId(g))
        from name in Text
        from topic in OptionalText
        from typeId in Text
        from state in Enum<CampaignState>()
        from levelIndex in Gen.Choose(0, 5)
        from chain in ApprovalChain
        from schedule in Schedule
        from steps in ListOf(ProcessStep, 3)
        from form in Gen.Frequency((1, Gen.Constant<RegistrationFormTemplate?>(null)), (1, Form.Select(f => (RegistrationFormTemplate?)f)))
        from pages in ListOf(MicroPage, 2)
        from sops in ListOf(Sop, 3)
        from tags in ListOf(TagRule, 2)
        from goals in ListOf(SmartGoal, 3)
        from budget in Budget
        from fieldDefinitions in ListOf(FieldDefinition, 2)
        from fields in FieldValues
        from history in ListOf(LifecycleEntry, 3)
        from createdBy in Text
        from createdAt in Instant
        from version in Gen.Choose(0, int.MaxValue)
        select new Campaign
        {
            Id = id,
            Name = name,
            Topic = topic,
            TypeId = typeId,
            State = state,
            ApprovalLevelIndex = levelIndex,
            ApprovalChain = chain,
            Schedule = schedule,
            ProcessSteps = steps,
            RegistrationForm = form,
            MicroPages = pages,
            Sops = sops,
            TagRules = tags,
            Goals = goals,
            Budget = budget,
            CustomFieldDefinitions = fieldDefinitions,
            CustomFields = fields,
            History = history,
            CreatedBy = createdBy,
            CreatedAt = createdAt,
            Version = version,
        };

    public static readonly Gen<ParticipantActivity> Activity =
        from kind in Enum<ParticipantActivityKind>()
        from at in Instant
        from duration in OptionalDuration
        from detail in OptionalText
        from actor in OptionalText
        select new ParticipantActivity(kind, at, duration, detail, actor);

    public static readonly Gen<Participant> Participant =
        from id in Guid.Select(g => new ParticipantId(g))
        from campaignId in Guid.Select(g => new CampaignId(g))
        from contactId in OptionalText
        from name in OptionalText
        from email in OptionalText
        from phone in OptionalText
        from status in Enum<RegistrationStatus>()
        from pool in Gen.Frequency((1, Gen.Constant<LeadPoolRoute?>(null)), (2, LeadPoolRoute.Select(p => (LeadPoolRoute?)p)))
        from values in FieldValues
        from activities in ListOf(Activity, 4)
        from version in Gen.Choose(0, int.MaxValue)
        select new Participant
        {
            Id = id,
            CampaignId = campaignId,
            ContactId = contactId,
            Name = name,
            Email = email,
            Phone = phone,
            Status = status,
            LeadPool = pool,
            FormValues = values,
            Activities = activities,
            Version = version,
        };

    public static Gen<IReadOnlyList<T>> ListOf<T>(Gen<T> element, int max) =>
        Gen.Choose(0, max).SelectMany(n => Gen.ListOf(element, n)).Select(items => (IReadOnlyList<T>)items.ToArray());

    public static Gen<T> Enum<T>()
        where T : struct, Enum => Gen.Elements(System.Enum.GetValues<T>());

    private static Gen<int> Unit(int max) => Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(-max, max)));

    private static Guid ToGuid(int a, int b, int c, int d)
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), a);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), b);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), c);
        BitConverter.TryWriteBytes(bytes.AsSpan(12), d);
        var guid = new Guid(bytes);
        return guid == System.Guid.Empty ? new Guid("6d6f0c3e-3b8c-4d7e-9d0e-1f2a3b4c5d6e") : guid;
    }
}
