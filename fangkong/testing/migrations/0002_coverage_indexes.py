"""Indexes for vaccination coverage over a city (issue 6: ≤ 1 s for 1,000,000 people, bench/testing_scale.py).

- testing_vaccinationstate (person_id) INCLUDE (doses): the doses come from the index alone.
- people_person (id) INCLUDE (organization_id, unit_id) WHERE is_active: people is not this app's model, so the
  index is created here by SQL (with the lead's agreement) rather than declared on Person. It lets coverage read the
  active people in id order from the index alone and merge-join them with the summaries (no 400 MB heap scan of the
  wide, encrypted person rows). PostgreSQL only: SQLite has no covering indexes and its test databases are small.
"""

from django.db import migrations, models

PEOPLE_INDEX = "people_person_active_id_cover"


def create_people_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {PEOPLE_INDEX} ON people_person (id) INCLUDE (organization_id, unit_id) "
            f"WHERE is_active")


def drop_people_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PEOPLE_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0002_importjob'),
        ('testing', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='vaccinationstate',
            index=models.Index(fields=['person'], include=('doses',), name='vstate_person_doses'),
        ),
        migrations.RunPython(create_people_index, drop_people_index, elidable=False),
    ]
