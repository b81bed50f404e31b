"""Users and roles (services.users) and the audit log (services.audit), on a real sample
DuckDB file: every action for administrators, refused for everyone else, the lockout
guards, and an audit row per change with the right actor, action and target and no secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commstui.domain import LOCAL_ADMIN
from commstui.services import audit, auth, users
from commstui.services.errors import LoginFailed, PermissionDenied, ValidationError
from commstui.services.users import UserForm
from commstui.store.db import NotFound

NON_ADMINS = {  # username -> password: each role that is not an administrator
    "viewer": "viewer-demo-1", "operator": "operator-demo-1", "bulk-sender": "bulk-sender-demo-1",
    "bulk-approver": "bulk-approver-demo-1", "portal": "portal-demo-1", "crm-editor": "crm-editor-demo-1",
    "crm-viewer": "crm-viewer-demo-1", "company-editor": "company-editor-demo-1", "templates": "templates-demo-1",
    "editor": "editor-demo-1",
}


def entries(ctx, target=None):
    return audit.recent(ctx, LOCAL_ADMIN, target=target)


def add_nina(ctx, actor, **changes):
    form = UserForm(username="nina", display_name="Nina Novak", email="nina@example.com",
                    password="nina-secret-1", roles=("customerView",), group_roles=("Operators",))
    for key, value in changes.items():
        setattr(form, key, value)
    return users.add_user(ctx, actor, form)


# -- refusals ----------------------------------------------------------------------------
@pytest.mark.parametrize("username", sorted(NON_ADMINS))
def test_every_action_is_refused_to_non_administrators(ctx, username):
    who = auth.login(ctx, username, NON_ADMINS[username])
    actions = [
        lambda: users.list_users(ctx, who),
        lambda: users.get_user(ctx, who, "viewer"),
        lambda: users.options(ctx, who),
        lambda: users.group_roles(ctx, who),
        lambda: add_nina(ctx, who),
        lambda: users.save_user(ctx, who, "viewer", UserForm(display_name="X", roles=("administrator",))),
        lambda: users.set_roles(ctx, who, username, ["administrator"]),
        lambda: users.set_group_roles(ctx, who, "viewer", ["Operators"]),
        lambda: users.assign_companies(ctx, who, username, "ACME"),
        lambda: users.link_portal(ctx, who, username, "A1000002"),
        lambda: users.reset_password(ctx, who, "admin", "taken-over-1"),
        lambda: users.unlock(ctx, who, "viewer"),
        lambda: users.set_active(ctx, who, "admin", False),
        lambda: users.save_group_role(ctx, who, "Operators", ["administrator"]),
        lambda: audit.recent(ctx, who),
    ]
    for action in actions:
        with pytest.raises(PermissionDenied, match="manage users"):
            action()
    assert entries(ctx) == []   # nothing happened
    assert auth.login(ctx, "admin", "admin-demo-1").is_admin


def test_a_superuser_manages_users_too(ctx):
    superuser = auth.login(ctx, "super", "super-demo-1")
    users.set_roles(ctx, superuser, "viewer", ["customerView", "customerEdit"])
    assert entries(ctx)[0].actor == "super"


# -- adding ------------------------------------------------------------------------------
def test_adding_a_user_with_roles_companies_and_a_portal_account(ctx, admin):
    added = add_nina(ctx, admin, companies="acme, WATT", portal_account=" A1000002 ")
    account = added.account
    assert added.password is None   # the administrator chose it
    assert (account.username, account.display_name, account.email) == ("nina", "Nina Novak", "nina@example.com")
    assert account.roles == ("customerView",) and account.group_roles == ("Operators",)
    assert account.effective_roles == {"customerView", "customerEdit"}
    assert account.companies == ("ACME", "WATT") and account.portal_account == "A1000002"
    nina = auth.login(ctx, "nina", "nina-secret-1")
    assert nina.customer_id == account.customer_id and nina.can(users.Permission.CUSTOMER_EDIT)

    [entry] = entries(ctx)
    assert (entry.actor, entry.action, entry.target) == ("admin", "user.add", "nina")
    assert entry.detail == ("roles: customerView; group roles: Operators; companies: ACME, WATT; "
                            "portal account: A1000002; password set by the administrator")
    assert "nina-secret-1" not in entry.detail and "argon2" not in entry.detail


def test_a_generated_password_is_returned_once_and_works(ctx, admin):
    added = add_nina(ctx, admin, password="")
    assert added.password and len(added.password) == 14
    assert auth.login(ctx, "nina", added.password).username == "nina"
    assert added.password not in entries(ctx)[0].detail and "password generated" in entries(ctx)[0].detail


@pytest.mark.parametrize("change, field, words", [
    ({"username": ""}, "username", "A username is required"),
    ({"username": "two words"}, "username", "no spaces"),
    ({"username": "ADMIN"}, "username", "already a user 'admin'"),
    ({"email": "not-an-email"}, "email", "not an email address"),
    ({"password": "short"}, "password", "at least 8 characters"),
    ({"roles": ("wizard",)}, "roles", "Unknown role(s): wizard"),
    ({"group_roles": ("Nobody",)}, "group_roles", "Unknown group role(s): Nobody"),
    ({"companies": "ACME NOPE"}, "companies", "No company with code 'NOPE'"),
    ({"portal_account": "A9999999"}, "portal_account", "No customer account 'A9999999'"),
])
def test_bad_input_names_the_field_and_adds_nothing(ctx, admin, change, field, words):
    with pytest.raises(ValidationError) as refused:
        add_nina(ctx, admin, **change)
    assert refused.value.field == field and words in str(refused.value)
    assert [a.username for a in users.list_users(ctx, admin, "nina")] == []
    assert entries(ctx) == []


def test_search_by_username_or_name(ctx, admin):
    assert [a.username for a in users.list_users(ctx, admin, "VIEW")] == ["company-viewer", "crm-viewer", "viewer"]
    assert [a.username for a in users.list_users(ctx, admin, "olivia")] == ["portal"]
    assert len(users.list_users(ctx, admin)) == 13


# -- changing ----------------------------------------------------------------------------
def test_role_changes_say_before_and_after(ctx, admin):
    users.set_roles(ctx, admin, "viewer", ["customerView", "bulkSend"])
    users.set_group_roles(ctx, admin, "viewer", ["Operators"])
    users.set_roles(ctx, admin, "viewer", ["customerView", "bulkSend"])   # no change: no row
    group, roles = entries(ctx, "viewer")
    assert (roles.action, roles.detail) == ("user.roles", "customerView -> customerView, bulkSend")
    assert (group.action, group.detail) == ("user.group_roles", "(none) -> Operators")
    viewer = auth.login(ctx, "viewer", "viewer-demo-1")
    assert viewer.effective_roles == {"customerView", "customerEdit", "bulkSend"}


def test_the_editor_form_writes_one_row_per_changed_part(ctx, admin):
    before = users.get_user(ctx, admin, "crm-viewer")
    form = UserForm(display_name="Rhys Jones", email="rhys@example.com", roles=before.roles,
                    group_roles=(), companies="ACME WATT", portal_account="")
    after = users.save_user(ctx, admin, "crm-viewer", form)
    assert after.companies == ("ACME", "WATT") and after.display_name == "Rhys Jones"
    assert [(e.action, e.detail) for e in entries(ctx, "crm-viewer")] == [
        ("user.companies", "ACME -> ACME, WATT"),
        ("user.profile", "name: Rhys CRM-Viewer -> Rhys Jones; email: (none) -> rhys@example.com"),
    ]


def test_companies_and_portal_links(ctx, admin):
    assert users.assign_companies(ctx, admin, "crm-editor", "WATT").companies == ("WATT",)
    with pytest.raises(ValidationError, match="No company with code 'ZZZ'") as refused:
        users.assign_companies(ctx, admin, "crm-editor", "ZZZ")
    assert refused.value.field == "companies"
    assert users.link_portal(ctx, admin, "portal", "A1000002").portal_account == "A1000002"
    with pytest.raises(ValidationError, match="No customer account 'B12'"):
        users.link_portal(ctx, admin, "portal", "B12")
    assert users.link_portal(ctx, admin, "portal", "").customer_id is None
    assert [(e.action, e.target, e.detail) for e in entries(ctx)] == [
        ("user.portal", "portal", "A1000002 -> (none)"),
        ("user.portal", "portal", "A1000001 -> A1000002"),
        ("user.companies", "crm-editor", "BLUE, NEST -> WATT"),
    ]


def test_an_unknown_user_is_not_found(ctx, admin):
    with pytest.raises(NotFound, match="No user 'ghost'"):
        users.set_roles(ctx, admin, "ghost", ["customerView"])


# -- passwords, locks, deactivation --------------------------------------------------------
def lock_out(ctx, username):
    for _ in range(ctx.settings.login_max_failures):
        with pytest.raises(LoginFailed):
            auth.login(ctx, username, "wrong password")
    with pytest.raises(LoginFailed, match="locked"):
        auth.login(ctx, username, NON_ADMINS[username])


def test_an_unlocked_user_can_log_in_again(ctx, admin):
    lock_out(ctx, "viewer")
    assert users.get_user(ctx, admin, "viewer").locked(datetime.now(UTC))
    account = users.unlock(ctx, admin, "viewer")
    assert not account.locked(datetime.now(UTC)) and account.failed_logins == 0
    assert auth.login(ctx, "viewer", "viewer-demo-1").username == "viewer"
    [entry] = entries(ctx)
    assert (entry.actor, entry.action, entry.target) == ("admin", "user.unlock", "viewer")
    assert entry.detail.startswith("locked,")


def test_a_password_reset_replaces_the_old_one_and_clears_the_lock(ctx, admin):
    lock_out(ctx, "viewer")
    assert users.reset_password(ctx, admin, "viewer", "brand-new-pass") is None
    with pytest.raises(LoginFailed, match="Wrong username or password"):
        auth.login(ctx, "viewer", "viewer-demo-1")
    assert auth.login(ctx, "viewer", "brand-new-pass").username == "viewer"
    generated = users.reset_password(ctx, admin, "viewer")
    assert auth.login(ctx, "viewer", generated).username == "viewer"
    for entry in entries(ctx):
        assert entry.action == "user.password_reset"
        assert "brand-new-pass" not in entry.detail and generated not in entry.detail and "$argon2" not in entry.detail
    with pytest.raises(ValidationError, match="at least 8") as short:
        users.reset_password(ctx, admin, "viewer", "short")
    assert short.value.field == "password"


def test_a_deactivated_user_cannot_log_in_until_reactivated(ctx, admin):
    assert not users.set_active(ctx, admin, "operator", False).active
    with pytest.raises(LoginFailed, match="deactivated"):
        auth.login(ctx, "operator", "operator-demo-1")
    # a session that was open: the service refuses them too once they log in again; the
    # account itself kept its roles
    assert users.get_user(ctx, admin, "operator").group_roles == ("Operators",)
    users.set_active(ctx, admin, "operator", True)
    assert auth.login(ctx, "operator", "operator-demo-1").active
    assert [(e.action, e.detail) for e in entries(ctx, "operator")] == [
        ("user.reactivate", "inactive -> active"), ("user.deactivate", "active -> inactive")]


# -- lockout guards ------------------------------------------------------------------------
def test_an_administrator_cannot_lock_themself_out(ctx, admin):
    with pytest.raises(ValidationError, match="cannot deactivate yourself"):
        users.set_active(ctx, admin, "admin", False)
    with pytest.raises(ValidationError, match="your own administrator rights"):
        users.set_roles(ctx, admin, "admin", ["customerView"])
    with pytest.raises(ValidationError, match="your own administrator rights"):
        users.save_user(ctx, admin, "admin", UserForm(display_name="Demo Administrator", roles=("templates",)))
    account = users.get_user(ctx, admin, "admin")
    assert account.active and account.roles == ("administrator",)
    assert entries(ctx) == []   # refused changes leave no row (rolled back with them)


def test_the_last_active_administrator_stays(ctx, admin):
    superuser = auth.login(ctx, "super", "super-demo-1")
    users.set_roles(ctx, admin, "super", ["customerView"])      # admin demotes the superuser: fine
    with pytest.raises(ValidationError, match="no active administrator"):
        users.set_active(ctx, LOCAL_ADMIN, "admin", False)      # the command line may not either
    with pytest.raises(ValidationError, match="no active administrator"):
        users.set_roles(ctx, LOCAL_ADMIN, "admin", ["customerView"])
    users.set_roles(ctx, admin, "operator", ["administrator"])  # a second administrator ...
    users.set_active(ctx, LOCAL_ADMIN, "admin", False)          # ... so now the first may go
    assert [e.actor for e in entries(ctx)][:1] == ["cli"]
    assert superuser.username == "super"


def test_a_group_role_edit_cannot_remove_the_last_administrator(ctx, admin):
    users.save_group_role(ctx, admin, "Admins", ["administrator"], "Full access")
    users.set_group_roles(ctx, admin, "operator", ["Admins"])
    users.set_roles(ctx, LOCAL_ADMIN, "super", ["customerView"])
    users.set_active(ctx, LOCAL_ADMIN, "admin", False)
    operator = auth.login(ctx, "operator", "operator-demo-1")
    assert operator.is_admin
    with pytest.raises(ValidationError, match="no active administrator|your own administrator rights"):
        users.save_group_role(ctx, operator, "Admins", ["customerView"])
    assert [g.roles for g in users.group_roles(ctx, admin) if g.name == "Admins"] == [("administrator",)]


# -- group roles -----------------------------------------------------------------------------
def test_group_roles_are_created_and_edited_with_audit(ctx, admin):
    created = users.save_group_role(ctx, admin, "  Bulk   team ", ["bulkSend", "bulkApprove"], "Bulk letters")
    assert created.name == "Bulk team"
    users.save_group_role(ctx, admin, "Bulk team", ["bulkSend"], "Bulk letters")
    users.save_group_role(ctx, admin, "Bulk team", ["bulkSend"], "Bulk letters")   # unchanged: no row
    with pytest.raises(ValidationError, match="Unknown role"):
        users.save_group_role(ctx, admin, "Bulk team", ["sorcerer"])
    assert {g.name: g.roles for g in users.group_roles(ctx, admin)}["Bulk team"] == ("bulkSend",)
    assert [(e.action, e.target, e.detail) for e in entries(ctx, "Bulk team")] == [
        ("group_role.save", "Bulk team", "bulkSend, bulkApprove -> bulkSend"),
        ("group_role.save", "Bulk team", "new: bulkSend, bulkApprove"),
    ]


def test_changing_a_bundle_changes_its_members_at_once(ctx, admin):
    users.save_group_role(ctx, admin, "Operators", ["customerView"], "Front office: find and email customers")
    assert auth.login(ctx, "operator", "operator-demo-1").effective_roles == {"customerView"}


# -- the audit log ---------------------------------------------------------------------------
def test_the_audit_log_is_newest_first_and_filters_by_user(ctx, admin):
    users.unlock(ctx, admin, "viewer")
    users.unlock(ctx, admin, "editor")
    users.set_active(ctx, admin, "viewer", False)
    assert [(e.action, e.target) for e in audit.recent(ctx, admin)] == [
        ("user.deactivate", "viewer"), ("user.unlock", "editor"), ("user.unlock", "viewer")]
    assert [e.action for e in audit.recent(ctx, admin, target=" viewer ")] == ["user.deactivate", "user.unlock"]
    first = audit.recent(ctx, admin, limit=2)
    assert [e.target for e in audit.recent(ctx, admin, before_id=first[-1].id)] == ["viewer"]
    assert all(abs(e.happened_at - datetime.now(UTC)) < timedelta(minutes=5) for e in first)
