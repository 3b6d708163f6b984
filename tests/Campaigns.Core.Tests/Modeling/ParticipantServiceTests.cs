using Campaigns.Modeling;
using Campaigns.Storage;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Testing;

namespace Campaigns.Tests.Modeling;

public sealed class ParticipantServiceTests
{
    private static readonly Instant Start = Instant.FromUtc(2026, 5, 20, 1, 0);
    private static readonly Actor Operator = new("op-1", "operator");

    private readonly FakeClock _clock = new(Start);
    private readonly InMemoryCampaignStore _campaigns = new();
    private readonly InMemoryParticipantStore _participants = new();
    private readonly ParticipantService _service;

    public ParticipantServiceTests() => _service = new ParticipantService(_campaigns, _participants, _clock);

    [Fact]
    public async Task Invite_register_approve_check_in_watch_download_survey_and_summary()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form(requiresApproval: true));

        // Targeted invitation of a chosen list.
        var invited = await _service.InviteAsync(
            campaign.Id,
            [new Invitee("Ann", "Ann@Example.com", ContactId: "c-1"), new Invitee("Bob", Phone: "138 0013 8001"), new Invitee(Email: "cat@example.com")],
            Operator);
        Assert.Equal(3, invited.Count);
        Assert.All(invited, p => Assert.Equal(RegistrationStatus.Invited, p.Status));
        var ann = invited[0];
        Assert.Equal(("ann@example.com", "c-1"), (ann.Email, ann.ContactId));
        Assert.Equal("13800138001", invited[1].Phone);
        var invitation = Assert.Single(ann.Activities);
        Assert.Equal(new ParticipantActivity(ParticipantActivityKind.Invited, Start, ActorId: "op-1"), invitation);

        // Ann registers with the invited e-mail: the same participant, waiting for approval, routed to business pool A.
        _clock.Advance(Duration.FromHours(1));
        var registration = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann Li"), ("email", " ANN@example.com"), ("phone", "13800138000"), ("company", "Acme")));
        Assert.True(registration.IsAccepted);
        Assert.True(registration.ApprovalPending);
        Assert.Equal(LeadPoolRoute.BusinessPool("A"), registration.LeadPool);
        Assert.Empty(registration.Errors);
        var registered = registration.Participant;
        Assert.Equal(ann.Id, registered.Id);
        Assert.Equal(RegistrationStatus.PendingApproval, registered.Status);
        Assert.Equal(("Ann Li", "ann@example.com", "13800138000", "c-1"), (registered.Name, registered.Email, registered.Phone, registered.ContactId));
        Assert.Equal(LeadPoolRoute.BusinessPool("A"), registered.LeadPool);
        Assert.Equal(new TextValue("Acme"), registered.FormValues["company"]);
        Assert.Equal(new ParticipantActivity(ParticipantActivityKind.Registered, Start + Duration.FromHours(1)), registered.Activities[^1]);

        // Check-in needs an approved registration.
        var notYet = await Assert.ThrowsAsync<ParticipantStateException>(() => _service.CheckInAsync(ann.Id));
        Assert.Equal((ann.Id, RegistrationStatus.PendingApproval), (notYet.ParticipantId, notYet.Current));
        Assert.Equal([RegistrationStatus.Registered], notYet.Required);
        Assert.Contains(ann.Id.ToString(), notYet.Message, StringComparison.Ordinal);

        var approved = await _service.ApproveRegistrationAsync(ann.Id, Operator, "known customer");
        Assert.Equal(RegistrationStatus.Registered, approved.Status);
        Assert.Equal(new ParticipantActivity(ParticipantActivityKind.Approved, Start + Duration.FromHours(1), Detail: "known customer", ActorId: "op-1"), approved.Activities[^1]);

        _clock.Advance(Duration.FromDays(1));
        var checkedIn = await _service.CheckInAsync(ann.Id);
        Assert.Equal(ParticipantActivityKind.CheckedIn, checkedIn.Activities[^1].Kind);
        Assert.Equal(_clock.GetCurrentInstant(), checkedIn.Activities[^1].At);

        await _service.RecordLiveViewAsync(ann.Id, Duration.FromMinutes(30));
        _clock.Advance(Duration.FromMinutes(45));
        var watched = await _service.RecordLiveViewAsync(ann.Id, Duration.FromMinutes(15));
        Assert.Equal(Duration.FromMinutes(45), watched.TotalLiveViewDuration());
        Assert.Equal(Duration.FromMinutes(15), watched.Activities[^1].Duration);

        var downloaded = await _service.RecordDownloadAsync(ann.Id, "whitepaper.pdf");
        Assert.Equal((ParticipantActivityKind.Downloaded, "whitepaper.pdf"), (downloaded.Activities[^1].Kind, downloaded.Activities[^1].Detail));
        var answered = await _service.RecordSurveyAnswerAsync(ann.Id, "nps-2026");
        Assert.Equal((ParticipantActivityKind.AnsweredSurvey, "nps-2026"), (answered.Activities[^1].Kind, answered.Activities[^1].Detail));
        Assert.Equal(
            [
                ParticipantActivityKind.Invited, ParticipantActivityKind.Registered, ParticipantActivityKind.Approved, ParticipantActivityKind.CheckedIn,
                ParticipantActivityKind.WatchedLive, ParticipantActivityKind.WatchedLive, ParticipantActivityKind.Downloaded, ParticipantActivityKind.AnsweredSurvey,
            ],
            answered.Activities.Select(a => a.Kind));

        // Bob was invited by phone: registering with that phone (formatted differently) finds him. He is then rejected.
        var bob = await _service.RegisterAsync(campaign.Id, Submission(("name", "Bob"), ("phone", "138-0013-8001")));
        Assert.True(bob.IsAccepted);
        Assert.Equal(invited[1].Id, bob.Participant.Id);
        await _service.RejectRegistrationAsync(bob.Participant.Id, Operator, "competitor");

        // Dan registers without an invitation; Bob's live view counts even though he was rejected.
        var dan = await _service.RegisterAsync(campaign.Id, Submission(("name", "Dan"), ("email", "dan@example.com")));
        Assert.True(dan.IsAccepted);
        await _service.RecordLiveViewAsync(bob.Participant.Id, Duration.FromMinutes(5));

        var summary = await _service.GetSummaryAsync(campaign.Id);
        Assert.Equal(campaign.Id, summary.CampaignId);
        Assert.Equal(4, summary.Total);
        Assert.Equal(1, summary.ByStatus[RegistrationStatus.Invited]);
        Assert.Equal(1, summary.ByStatus[RegistrationStatus.PendingApproval]);
        Assert.Equal(1, summary.ByStatus[RegistrationStatus.Registered]);
        Assert.Equal(1, summary.ByStatus[RegistrationStatus.Rejected]);
        Assert.Equal((3, 3, 1, 1, 1), (summary.Invited, summary.Registered, summary.Approved, summary.Rejected, summary.CheckedIn));
        Assert.Equal((2, 1, 1), (summary.WatchedLive, summary.Downloaded, summary.AnsweredSurvey));
        Assert.Equal(Duration.FromMinutes(50), summary.TotalLiveViewDuration);
        Assert.Equal(Enum.GetValues<ParticipantActivityKind>().Length, summary.ByActivity.Count);

        var listed = await _service.ListAsync(campaign.Id);
        Assert.Equal([ann.Id, invited[1].Id, invited[2].Id, dan.Participant.Id], listed.Select(p => p.Id));
    }

    [Fact]
    public async Task Registration_without_approval_is_registered_at_once()
    {
        var campaign = await AddCampaignAsync(CampaignState.Running, Form(requiresApproval: false));

        var result = await _service.RegisterAsync(campaign.Id, Submission(("name", "Eve"), ("email", "eve@example.com"), ("consent", "是")));

        Assert.True(result.IsAccepted);
        Assert.False(result.ApprovalPending);
        Assert.Equal(RegistrationStatus.Registered, result.Participant.Status);
        Assert.Equal(LeadPoolRoute.BusinessPool("A"), result.LeadPool);
        Assert.Equal(new BooleanValue(true), result.Participant.FormValues["consent"]);
        Assert.Equal(3, result.Participant.FormValues.Count);
        Assert.Single(result.Participant.Activities);
        await _service.CheckInAsync(result.Participant.Id);
        await Assert.ThrowsAsync<ParticipantStateException>(() => _service.ApproveRegistrationAsync(result.Participant.Id, Operator));
    }

    [Theory]
    [InlineData(CampaignState.Draft)]
    [InlineData(CampaignState.PendingApproval)]
    [InlineData(CampaignState.Approved)]
    [InlineData(CampaignState.Paused)]
    [InlineData(CampaignState.Completed)]
    [InlineData(CampaignState.Cancelled)]
    [InlineData(CampaignState.Archived)]
    public async Task Registration_is_closed_unless_scheduled_or_running(CampaignState state)
    {
        var campaign = await AddCampaignAsync(state, Form());

        var ex = await Assert.ThrowsAsync<ParticipationClosedException>(
            () => _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com"))));

        Assert.Equal((campaign.Id, state), (ex.CampaignId, ex.State));
        Assert.Equal([CampaignState.Scheduled, CampaignState.Running], ex.Allowed);
        Assert.Contains(state.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Empty(await _service.ListAsync(campaign.Id));
    }

    [Theory]
    [InlineData(CampaignState.Draft, false)]
    [InlineData(CampaignState.PendingApproval, false)]
    [InlineData(CampaignState.Approved, true)]
    [InlineData(CampaignState.Scheduled, true)]
    [InlineData(CampaignState.Running, true)]
    [InlineData(CampaignState.Completed, false)]
    public async Task Invitations_need_an_approved_scheduled_or_running_campaign(CampaignState state, bool allowed)
    {
        var campaign = await AddCampaignAsync(state, Form());

        var invite = () => _service.InviteAsync(campaign.Id, [new Invitee(Email: "ann@example.com")], Operator);

        if (allowed)
        {
            Assert.Single(await invite());
        }
        else
        {
            var ex = await Assert.ThrowsAsync<ParticipationClosedException>(invite);
            Assert.Equal(state, ex.State);
            Assert.Empty(await _service.ListAsync(campaign.Id));
        }
    }

    [Fact]
    public async Task Inviting_a_present_person_again_returns_them_as_is()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        var first = await _service.InviteAsync(campaign.Id, [new Invitee("Ann", "ann@example.com", "13800138000")], Operator);

        var again = await _service.InviteAsync(
            campaign.Id,
            [new Invitee("Ann again", " ANN@example.com"), new Invitee(Phone: "138-0013-8000"), new Invitee(Email: "new@example.com"), new Invitee(Email: "NEW@example.com")],
            Operator);

        Assert.Equal([first[0], first[0], again[2], again[2]], again);
        Assert.Equal("Ann", again[0].Name);
        Assert.Equal(2, (await _service.ListAsync(campaign.Id)).Count);
    }

    [Fact]
    public async Task Invitees_need_a_well_formed_email_or_phone_and_a_bad_list_stores_nothing()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _service.InviteAsync(
            campaign.Id,
            [new Invitee(Email: "ok@example.com"), new Invitee("Nobody"), new Invitee(Email: "bad"), new Invitee(Phone: "12")],
            Operator));

        Assert.Equal("invitees", ex.ParamName);
        Assert.Contains("invitees[1]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("invitees[2].Email", ex.Message, StringComparison.Ordinal);
        Assert.Contains("invitees[3].Phone", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await _service.ListAsync(campaign.Id));
    }

    [Fact]
    public async Task A_bad_submission_returns_every_error_and_the_input_and_stores_nothing()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        var submission = Submission(("email", "not-mail"), ("phone", "12ab"), ("consent", "maybe"), ("employees", "many"), ("extra", "x"));

        var result = await _service.RegisterAsync(campaign.Id, submission);

        Assert.False(result.IsAccepted);
        Assert.Null(result.Participant);
        Assert.Null(result.LeadPool);
        Assert.Same(submission, result.Submission);
        Assert.Equal(
            [("name", "required"), ("email", "format"), ("phone", "format"), ("employees", "type"), ("consent", "type"), ("extra", "unknown-field")],
            result.Errors.Select(e => (e.FieldKey, e.Code)));
        Assert.Empty(await _service.ListAsync(campaign.Id));
    }

    [Fact]
    public async Task A_submission_without_email_or_phone_is_rejected()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());

        var result = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", " ")));

        var error = Assert.Single(result.Errors);
        Assert.Equal(("email", "required"), (error.FieldKey, error.Code));
        Assert.Contains("'phone'", error.Message, StringComparison.Ordinal);
        Assert.Empty(await _service.ListAsync(campaign.Id));
    }

    [Fact]
    public async Task Registering_twice_is_rejected_as_already_registered()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form(requiresApproval: true));
        var first = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com"), ("phone", "13800138000")));

        var byEmail = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann 2"), ("email", "Ann@Example.com")));
        var byPhone = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann 3"), ("phone", "138 0013 8000")));
        await _service.ApproveRegistrationAsync(first.Participant!.Id, Operator);
        var afterApproval = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann 4"), ("email", "ann@example.com")));

        Assert.Equal(("email", "already-registered"), (Assert.Single(byEmail.Errors).FieldKey, byEmail.Errors[0].Code));
        Assert.Contains("waiting for approval", byEmail.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal(("phone", "already-registered"), (Assert.Single(byPhone.Errors).FieldKey, byPhone.Errors[0].Code));
        Assert.Equal("already-registered", Assert.Single(afterApproval.Errors).Code);
        Assert.Null(afterApproval.Participant);
        var stored = Assert.Single(await _service.ListAsync(campaign.Id));
        Assert.Equal("Ann", stored.Name);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task A_rejected_person_cannot_register_again()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form(requiresApproval: true));
        var first = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com")));
        var rejected = await _service.RejectRegistrationAsync(first.Participant!.Id, Operator, "not our audience");

        var again = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com")));

        Assert.Equal(RegistrationStatus.Rejected, rejected.Status);
        Assert.Equal(new ParticipantActivity(ParticipantActivityKind.Rejected, Start, Detail: "not our audience", ActorId: "op-1"), rejected.Activities[^1]);
        Assert.Equal("registration-rejected", Assert.Single(again.Errors).Code);
        await Assert.ThrowsAsync<ParticipantStateException>(() => _service.CheckInAsync(rejected.Id));
    }

    [Fact]
    public async Task Email_and_phone_of_two_different_participants_is_a_conflict()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        await _service.InviteAsync(campaign.Id, [new Invitee(Email: "ann@example.com"), new Invitee(Phone: "13800138000")], Operator);

        var result = await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com"), ("phone", "13800138000")));

        Assert.Equal(("phone", "identity-conflict"), (Assert.Single(result.Errors).FieldKey, result.Errors[0].Code));
        Assert.All(await _service.ListAsync(campaign.Id), p => Assert.Equal(RegistrationStatus.Invited, p.Status));
    }

    [Theory]
    [InlineData(RegistrationStatus.Invited)]
    [InlineData(RegistrationStatus.Registered)]
    [InlineData(RegistrationStatus.Rejected)]
    public async Task Approval_and_rejection_need_a_pending_registration(RegistrationStatus status)
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        var participant = await _participants.AddAsync(new Participant
        {
            Id = ParticipantId.New(), CampaignId = campaign.Id, Email = "ann@example.com", Status = status,
        });

        var approve = await Assert.ThrowsAsync<ParticipantStateException>(() => _service.ApproveRegistrationAsync(participant.Id, Operator));
        var reject = await Assert.ThrowsAsync<ParticipantStateException>(() => _service.RejectRegistrationAsync(participant.Id, Operator, "why not"));

        Assert.Equal(status, approve.Current);
        Assert.Equal([RegistrationStatus.PendingApproval], reject.Required);
        Assert.Contains(status.ToString(), approve.Message, StringComparison.Ordinal);
        Assert.Equal(participant, await _participants.GetAsync(participant.Id));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task Rejection_needs_a_reason(string reason)
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form(requiresApproval: true));
        var ann = (await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com")))).Participant!;

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _service.RejectRegistrationAsync(ann.Id, Operator, reason));

        Assert.Equal("reason", ex.ParamName);
        Assert.Equal(RegistrationStatus.PendingApproval, (await _service.GetAsync(ann.Id)).Status);
    }

    [Fact]
    public async Task Check_in_of_an_invited_person_names_what_is_required()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        var ann = (await _service.InviteAsync(campaign.Id, [new Invitee(Email: "ann@example.com")], Operator))[0];

        var ex = await Assert.ThrowsAsync<ParticipantStateException>(() => _service.CheckInAsync(ann.Id));

        Assert.Equal("check in", ex.Operation);
        Assert.Contains("Invited", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Registered", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Activity_arguments_are_checked()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());
        var ann = (await _service.InviteAsync(campaign.Id, [new Invitee(Email: "ann@example.com")], Operator))[0];

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _service.RecordLiveViewAsync(ann.Id, Duration.Zero));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _service.RecordLiveViewAsync(ann.Id, Duration.FromSeconds(-1)));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _service.RecordDownloadAsync(ann.Id, " "));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _service.RecordSurveyAnswerAsync(ann.Id, ""));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.RecordDownloadAsync(ParticipantId.New(), "deck.pdf"));
        Assert.Single((await _service.GetAsync(ann.Id)).Activities);
    }

    [Fact]
    public async Task Concurrent_live_views_all_accumulate()
    {
        var campaign = await AddCampaignAsync(CampaignState.Running, Form());
        var ann = (await _service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com")))).Participant!;

        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() => _service.RecordLiveViewAsync(ann.Id, Duration.FromMinutes(1)))));

        var stored = await _service.GetAsync(ann.Id);
        Assert.Equal(Duration.FromMinutes(12), stored.TotalLiveViewDuration());
        Assert.Equal(13, stored.Version);
    }

    [Fact]
    public async Task Concurrent_registrations_of_one_person_store_one()
    {
        var campaign = await AddCampaignAsync(CampaignState.Running, Form());

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(
            () => _service.RegisterAsync(campaign.Id, Submission(("name", $"Ann {i}"), ("email", "ann@example.com"))))));

        Assert.Equal(1, results.Count(r => r.IsAccepted));
        Assert.All(results.Where(r => !r.IsAccepted), r => Assert.Equal("already-registered", Assert.Single(r.Errors).Code));
        Assert.Single(await _service.ListAsync(campaign.Id));
    }

    [Fact]
    public async Task Registration_needs_a_form_with_an_identifying_field()
    {
        var noForm = await AddCampaignAsync(CampaignState.Scheduled, form: null);
        var anonymous = await AddCampaignAsync(CampaignState.Scheduled, new RegistrationFormTemplate
        {
            Id = "anonymous",
            Name = "Anonymous",
            Fields = [new FieldDefinition { Key = "name", Label = "Name", Type = FieldType.Text, MapsTo = "name" }],
        });

        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => _service.RegisterAsync(noForm.Id, Submission(("name", "Ann"))));
        var unidentified = await Assert.ThrowsAsync<InvalidOperationException>(() => _service.RegisterAsync(anonymous.Id, Submission(("name", "Ann"))));

        Assert.Contains("no registration form", missing.Message, StringComparison.Ordinal);
        Assert.Contains("'anonymous'", unidentified.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_phone_only_form_identifies_by_phone()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, new RegistrationFormTemplate
        {
            Id = "phone-only",
            Name = "Phone only",
            LeadPool = LeadPoolRoute.SalesLeads,
            Fields = [new FieldDefinition { Key = "mobile", Label = "手机", Type = FieldType.Phone, Required = true, MapsTo = "Phone" }],
        });

        var result = await _service.RegisterAsync(campaign.Id, Submission(("mobile", "138 0013 8000")));

        Assert.True(result.IsAccepted);
        Assert.Equal(("13800138000", LeadPoolRoute.SalesLeads), (result.Participant.Phone, result.LeadPool));
        Assert.Null(result.Participant.Email);
    }

    [Fact]
    public async Task Unknown_ids_are_reported()
    {
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.RegisterAsync(CampaignId.New(), Submission()));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.InviteAsync(CampaignId.New(), [], Operator));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.ListAsync(CampaignId.New()));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.GetSummaryAsync(CampaignId.New()));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => _service.CheckInAsync(ParticipantId.New()));
    }

    [Fact]
    public async Task Summary_of_an_empty_campaign_is_all_zero()
    {
        var campaign = await AddCampaignAsync(CampaignState.Scheduled, Form());

        var summary = await _service.GetSummaryAsync(campaign.Id);

        Assert.Equal(0, summary.Total);
        Assert.All(summary.ByStatus.Values, n => Assert.Equal(0, n));
        Assert.All(summary.ByActivity.Values, n => Assert.Equal(0, n));
        Assert.Equal(Duration.Zero, summary.TotalLiveViewDuration);
    }

    [Fact]
    public async Task AddCampaigns_registers_the_participant_service_and_store()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IClock>(_clock);
        services.AddCampaigns();
        await using var provider = services.BuildServiceProvider();

        var campaignStore = provider.GetRequiredService<ICampaignStore>();
        var service = provider.GetRequiredService<IParticipantService>();
        Assert.IsType<InMemoryParticipantStore>(provider.GetRequiredService<IParticipantStore>());
        Assert.Same(service, provider.GetRequiredService<IParticipantService>());

        var campaign = await campaignStore.AddAsync(NewCampaign(CampaignState.Scheduled, Form()));
        var result = await service.RegisterAsync(campaign.Id, Submission(("name", "Ann"), ("email", "ann@example.com")));
        Assert.True(result.IsAccepted);
        Assert.Equal(Start, result.Participant.Activities[0].At);
        Assert.Same(result.Participant, await provider.GetRequiredService<IParticipantStore>().GetAsync(result.Participant.Id));
    }

    private static RegistrationFormTemplate Form(bool requiresApproval = false) => new()
    {
        Id = "salon-registration",
        Name = "Salon registration",
        LeadPool = LeadPoolRoute.BusinessPool("A"),
        RequiresApproval = requiresApproval,
        Fields =
        [
            new() { Key = "name", Label = "姓名", Type = FieldType.Text, Required = true, MaxLength = 40, MapsTo = "name" },
            new() { Key = "email", Label = "E-mail", Type = FieldType.Email, MapsTo = "email" },
            new() { Key = "phone", Label = "手机", Type = FieldType.Phone, MapsTo = "phone" },
            new() { Key = "company", Label = "Company", Type = FieldType.Text, MapsTo = "company" },
            new() { Key = "employees", Label = "Employees", Type = FieldType.Number, Min = 1 },
            new() { Key = "consent", Label = "Consent", Type = FieldType.Boolean },
        ],
    };

    private static Campaign NewCampaign(CampaignState state, RegistrationFormTemplate? form) => new()
    {
        Id = CampaignId.New(),
        Name = "2026 Q2 Shanghai manufacturing salon",
        TypeId = "offline-salon",
        State = state,
        Schedule = new CampaignSchedule { TimeZoneId = "Asia/Shanghai" },
        RegistrationForm = form,
        CreatedBy = "tester",
        CreatedAt = Start,
    };

    private Task<Campaign> AddCampaignAsync(CampaignState state, RegistrationFormTemplate? form) =>
        _campaigns.AddAsync(NewCampaign(state, form));

    private static Dictionary<string, string?> Submission(params (string Key, string? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
}
