"""Time from *Send* on the wallet's confirm page to *Delivered* on the track page, in Chromium,
against a running stack (`make run`): ten transfers of RM 100.00 by a demo customer, median
printed with every figure as JSON.

    .venv/bin/python scripts/wallet_delivery_timing.py --base http://127.0.0.1:8000 \\
        [--user aisha --password aisha-demo-pass] [--sends 10] [--shot delivered.png]

Needs Debian's Chromium (CHROMIUM, default /usr/bin/chromium) and the playwright package; it
never downloads a browser."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="aisha")
    parser.add_argument("--password", default="aisha-demo-pass")
    parser.add_argument("--amount", default="100")
    parser.add_argument("--sends", type=int, default=10)
    parser.add_argument("--shot", help="a screenshot of the first Delivered page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"]
        )
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.set_default_timeout(30_000)
        page.goto(args.base + "/accounts/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(args.base + "/wallet/**")
        seconds = []
        for n in range(args.sends):
            page.goto(args.base + "/wallet/send")
            page.fill("#id_amount", args.amount)
            page.check("input[name=currency][value=MYR]")
            page.locator("main form button[type=submit]").click()
            page.locator("#confirm").wait_for()
            started = time.monotonic()
            page.locator("#confirm").click()
            page.locator("[data-testid=status]", has_text="Delivered").wait_for()
            seconds.append(round(time.monotonic() - started, 3))
            if n == 0 and args.shot:
                page.screenshot(path=args.shot, full_page=True)
        browser.close()
    print(json.dumps({"seconds": seconds, "median": statistics.median(seconds)}))


if __name__ == "__main__":
    main()
