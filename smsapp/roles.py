"""Who may do what: the two roles, as Django groups with their permissions.

`install_roles` creates the groups and gives them exactly these permissions. The roles
migration runs it, and so does every `migrate` afterwards (apps.py), so a permission a
later feature adds to ROLES reaches the groups without a migration of its own.
Superusers may do everything; the admin site checks the same permissions.
"""

from __future__ import annotations

AGENTS = "SMS agents"
ADMINISTRATORS = "SMS administrators"

_AGENT = [
    "smsapp.view_phone",  # the numbers to send from
    "smsapp.view_message",  # conversations, messages, media
    "smsapp.send_message",  # also schedules texts, and cancels any pending one
    "smsapp.view_messagetemplate",  # the Send tab's template picker
    "smsapp.add_numberlink",  # link a number to a patient's chart (and undo it)
    "smsapp.delete_numberlink",
]
ROLES: dict[str, list[str]] = {
    AGENTS: _AGENT,
    ADMINISTRATORS: [
        *_AGENT,
        "smsapp.change_phone",  # a number's inbound webhook
        "smsapp.delete_message",
        "smsapp.sync_twilio",
        "smsapp.view_media",
        "smsapp.view_statusevent",
        "smsapp.view_syncrun",
        "smsapp.view_autoreplyrule",
        "smsapp.add_autoreplyrule",
        "smsapp.change_autoreplyrule",
        "smsapp.delete_autoreplyrule",
        "smsapp.add_messagetemplate",
        "smsapp.change_messagetemplate",
        "smsapp.delete_messagetemplate",
        "smsapp.view_scheduledmessage",
        "smsapp.view_sendattempt",
        "smsapp.view_consent",  # who opted out, and the history of each number
        "smsapp.view_consentevent",
        "smsapp.add_consentevent",  # record consent given on paper (or withdrawn), with a note
        "smsapp.view_conversation",  # the inbox's rows, in the admin
        "smsapp.view_canvaspatient",  # the patient directory, staff's links, chart records
        "smsapp.view_patientnumber",
        "smsapp.view_numberlink",
        "smsapp.view_chartrecord",
        "django_tasks_database.view_dbtaskresult",  # background jobs, with a failed one's error
    ],
}


def install_roles(apps=None, **kwargs) -> None:
    """Create the groups and set their permissions to ROLES (with `apps`, the historical
    models of a migration; otherwise the current ones). Permissions Django has not
    created yet are created first."""
    from django.apps import apps as current_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or current_apps
    create_permissions(current_apps.get_app_config("smsapp"), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [perm.split(".", 1) for perm in perms]
        found = [
            p
            for p in Permission.objects.filter(codename__in=[c for _, c in wanted])
            if [p.content_type.app_label, p.codename] in wanted
        ]
        group.permissions.set(found)
