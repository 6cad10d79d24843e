"""Installed copies of the seed-003 pack quoted an engine field name in a note shown to officers
("引擎对 no_home_conditions 统一处理"); reword them as packs.py now does. Officers' own edits of a note are left alone:
only the exact old phrase is replaced."""

from django.db import migrations

OLD = "（引擎对 no_home_conditions 统一处理）"
NEW = "（系统对标记为不具备居家隔离条件的人员，一律将居家隔离改为集中隔离）"


def reword(apps, schema_editor, old=OLD, new=NEW):
    Rule = apps.get_model("policy", "Rule")
    for rule in Rule.objects.filter(note__contains=old).only("id", "note"):
        rule.note = rule.note.replace(old, new)
        rule.save(update_fields=["note"])


def unreword(apps, schema_editor):
    reword(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):

    dependencies = [
        ("policy", "0004_travel_request_withdrawn"),
    ]

    operations = [
        migrations.RunPython(reword, unreword),
    ]
