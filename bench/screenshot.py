"""Screenshots of a running Fangkong (`make run`) with Debian's headless Chromium, for the README and for checking
the UI shell on a desktop and on a phone.

    .venv/bin/python bench/screenshot.py --url http://127.0.0.1:8000 --out docs/screenshots \
        --user factory --password fangkong-demo --path / --path /people/
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    parser.add_argument("--user", default="factory")
    parser.add_argument("--password", default="fangkong-demo")
    parser.add_argument("--path", action="append", dest="paths", help="page to capture (repeatable); default /")
    parser.add_argument("--viewport", choices=[*VIEWPORTS, "both"], default="both")
    parser.add_argument("--language", default="zh-hans", help="zh-hans or en")
    parser.add_argument("--full-page", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    viewports = VIEWPORTS if args.viewport == "both" else {args.viewport: VIEWPORTS[args.viewport]}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for name, (width, height) in viewports.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          device_scale_factor=1 if name == "desktop" else 2, is_mobile=name == "phone")
            context.add_cookies([{"name": "django_language", "value": args.language, "url": args.url}])
            page = context.new_page()
            page.goto(f"{args.url}/login/")
            page.fill("#id_username", args.user)
            page.fill("#id_password", args.password)
            with page.expect_navigation():
                page.click("form button[type=submit]")
            for path in args.paths or ["/"]:
                page.goto(f"{args.url}{path}")
                page.wait_for_load_state("networkidle")
                target = args.out / f"{slug(path)}-{name}.png"
                page.screenshot(path=str(target), full_page=args.full_page)
                print(target)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
