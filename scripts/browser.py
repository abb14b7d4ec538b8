"""The interactive reference at GET /docs, in headless Chromium (run it with scripts/browser).

Starts clientd ($CLIENTD_BINARY, default target/debug/clientd) on in-memory SQLite and opens
/docs and /v1/docs with Playwright, driving Debian's /usr/bin/chromium. Fails when the page
does not list every operation of openapi.yaml (by method and path, and by the operationId in
Swagger UI's element id), when it asks anything of another host, when a request fails or
answers 4xx/5xx, on any console error or uncaught exception (a Content-Security-Policy
violation is a console error), and when /docs comes without a Content-Security-Policy. Keeps a
full-page screenshot of /docs in artifacts/docs.png (--screenshot to change).
"""

import argparse
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import clientd  # noqa: E402 - found on the path just set

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RENDER_TIMEOUT_MS = 30_000


def spec_operations(spec):
    """(METHOD, path, operationId) for every operation of the spec."""
    operations = []
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            if method in (item or {}):
                operation = item[method] or {}
                operations.append((method.upper(), path, operation.get("operationId")))
    return operations


class Watch:
    """Everything one page asks for and complains about; a request to another host is refused
    (so the page cannot depend on the network) and recorded as a failure."""

    def __init__(self, page, host):
        self.host, self.requests, self.problems = host, [], []
        self.pending, self.last_change = set(), time.monotonic()
        page.route("**/*", self.route)
        page.on("request", self.request)
        page.on("requestfinished", self.finished)
        page.on("requestfailed", self.failed)
        page.on("response", self.response)
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))

    def foreign(self, url):
        parts = urlsplit(url)
        return parts.scheme != "data" and (parts.scheme not in ("http", "https") or parts.netloc != self.host)

    def route(self, route):
        if self.foreign(route.request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def request(self, request):
        self.pending.add(request)
        self.last_change = time.monotonic()
        self.requests.append(f"{request.method} {request.url}")
        if self.foreign(request.url):
            self.problems.append(f"request to another host: {request.method} {request.url}")

    def finished(self, request):
        self.pending.discard(request)
        self.last_change = time.monotonic()

    def failed(self, request):
        self.finished(request)
        if not self.foreign(request.url):  # a foreign one is already reported, and was aborted here
            self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def response(self, response):
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.request.method} {response.url}")

    def settle(self, page, quiet=0.5, timeout=10):
        """Waits until no request has been pending for `quiet` seconds (Playwright's own
        "networkidle" proved unreliable here)."""
        deadline = time.monotonic() + timeout
        while self.pending or time.monotonic() - self.last_change < quiet:
            if time.monotonic() > deadline:
                self.problems.append("requests still pending after the page rendered: "
                                     + ", ".join(sorted(r.url for r in self.pending)))
                return
            page.wait_for_timeout(50)

    def console(self, message):
        if message.type == "error":
            where = message.location or {}
            at = f" ({where.get('url')}:{where.get('lineNumber')})" if where.get("url") else ""
            self.problems.append(f"console error: {message.text}{at}")


def rendered_operations(page):
    """Swagger UI's operation blocks: (id, METHOD, path) for each."""
    return page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
            b.id,
            (b.querySelector('.opblock-summary-method') || {}).textContent || '',
            (b.querySelector('.opblock-summary-path') || {dataset: {}}).dataset.path
              || ((b.querySelector('.opblock-summary-path') || {}).textContent || '').replace(/\\u200b/g, ''),
        ])""",
    )


def check_page(browser, url, host, operations, screenshot=None):
    """Opens `url`, waits for Swagger UI to render and checks it; answers (problems, requests,
    operations found, the page's response)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()
    watch = Watch(page, host)
    problems = watch.problems
    response = None
    found = 0
    try:
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"GET {url} answered {response.status if response else 'nothing'}")
        else:
            # Swagger UI renders every operation at once, or shows what kept it from that.
            try:
                page.wait_for_function(
                    """n => document.querySelectorAll('.opblock').length >= n
                        || document.querySelector('.swagger-ui .errors-wrapper')""",
                    arg=len(operations), timeout=RENDER_TIMEOUT_MS)
            except PlaywrightError:
                problems.append(f"Swagger UI rendered {page.locator('.opblock').count()} operations in "
                                f"{RENDER_TIMEOUT_MS // 1000} s, the spec has {len(operations)}")
            watch.settle(page)
            errors = page.eval_on_selector_all(
                ".swagger-ui .errors-wrapper .error-wrapper", "es => es.map(e => e.innerText)")
            for error in errors:
                problems.append(f"Swagger UI shows an error: {' '.join(error.split())}")
            blocks = rendered_operations(page)
            by_route = {(method.strip().upper(), path) for _, method, path in blocks}
            ids = [block_id for block_id, _, _ in blocks]
            missing = []
            for method, path, operation_id in operations:
                lacks = []
                if (method, path) not in by_route:
                    lacks.append("no block with its method and path")
                if operation_id and not any(
                        i.startswith("operations-") and i.endswith(f"-{operation_id}") for i in ids):
                    lacks.append(f"no element id operations-<tag>-{operation_id}")
                if lacks:
                    missing.append(f"{method} {path} ({operation_id}): {', '.join(lacks)}")
                else:
                    found += 1
            if missing:
                shown = missing if len(missing) <= 5 else missing[:5] + [f"and {len(missing) - 5} more"]
                problems.append(f"{len(missing)} of {len(operations)} operations are not listed:\n      "
                                + "\n      ".join(shown))
        if screenshot:  # kept on a failure too, to show what went wrong
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return problems, watch.requests, found, response


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"scripts/browser: {url} does not answer")
            time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, default=ROOT / "artifacts" / "docs.png",
                        help="where to keep the full-page screenshot of /docs (default artifacts/docs.png)")
    # A server already running (such as a stand-in for the real one), instead of clientd.
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"scripts/browser: {CHROMIUM} is missing (apt-get install chromium)")
    spec_text = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    operations = spec_operations(yaml.safe_load(spec_text))
    if not operations:
        raise SystemExit("scripts/browser: openapi.yaml has no operation")

    server = None
    if args.base_url:
        base = args.base_url.rstrip("/")
    else:
        os.environ.setdefault("CLIENTD_BINARY", str(ROOT / "target" / "debug" / "clientd"))
        server = clientd.Server("sqlite::memory:", secrets.token_hex(32),
                                env={"RUST_LOG": "warn"}).start()
        base = f"http://127.0.0.1:{server.port}"
    host = urlsplit(base).netloc
    wait_for(f"{base}/openapi.yaml")

    failures = []
    with urllib.request.urlopen(f"{base}/openapi.yaml", timeout=10) as answer:
        if answer.read().decode("utf-8") != spec_text:
            failures.append("the server's /openapi.yaml is not the repository's openapi.yaml (a stale build?)")

    started = time.monotonic()
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for path, screenshot in (("/docs", args.screenshot), ("/v1/docs", None)):
                results[path] = check_page(browser, base + path, host, operations, screenshot)
        finally:
            browser.close()
    elapsed = time.monotonic() - started

    for path, (problems, requests, found, response) in results.items():
        failures.extend(f"{path}: {problem}" for problem in problems)
        if response is not None and response.status == 200:
            headers = response.headers
            if not headers.get("content-security-policy"):
                failures.append(f"{path} came without a Content-Security-Policy header")
            if not headers.get("content-type", "").startswith("text/html"):
                failures.append(f"{path} came as {headers.get('content-type')!r}, not text/html")
        print(f"{path}: {found} of {len(operations)} operations listed; {len(requests)} requests:")
        for request in requests:
            print(f"  {request}")
    docs = results["/docs"][3]
    if docs is not None:
        print(f"Content-Security-Policy of /docs: {docs.headers.get('content-security-policy', '(none)')}")

    if server:
        server.stop()
        bad = [line for line in server.logged().splitlines() if "panicked" in line or " ERROR " in line]
        if bad:
            failures.append("clientd logged errors:\n    " + "\n    ".join(bad[:20]))

    if failures:
        print(f"scripts/browser: FAILED, {len(failures)} problems:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        sys.exit(1)
    shot = args.screenshot
    print(f"scripts/browser: ok in {elapsed:.1f} s; screenshot of /docs in "
          f"{shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")


if __name__ == "__main__":
    main()
