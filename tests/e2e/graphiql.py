"""GraphiQL driven in headless Chromium, on a network where only this machine answers.

`offline_browser` launches Debian's Chromium through Playwright with a fresh
profile; every request to an address other than this machine's is aborted and
recorded, so a test can assert that a page needed nothing from the internet.
`GraphiQL` does what a person does on the page: opens the documentation
explorer, types an operation and headers, runs it, reads the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Route, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Known to work as root on these machines; without the background-networking flags
# Chromium keeps calling Google's services, which this closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# Mounting GraphiQL and introspecting a schema takes well under a second here; this
# leaves room for a loaded machine.
UI_TIMEOUT_MS = 20_000


@dataclass
class OfflineBrowser:
    context: BrowserContext
    # Every request the pages made to another machine (each was aborted).
    foreign_requests: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        return page


@contextmanager
def offline_browser(profile_dir: Path) -> Iterator[OfflineBrowser]:
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        browser = OfflineBrowser(context)

        def local_only(route: Route) -> None:
            if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                browser.foreign_requests.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", local_only)
        try:
            yield browser
        finally:
            context.close()


class GraphiQL:
    """One GraphiQL page, as a person uses it."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        page.goto(url)
        # GraphiQL draws its Run button once React has mounted it (a page's own markup,
        # Strawberry's "Loading..." among them, has none).
        expect(self._run_button).to_be_visible()

    @property
    def _run_button(self) -> Locator:
        return self.page.get_by_role("button", name="Execute query (Ctrl-Enter)")

    def root_query_fields(self) -> list[str]:
        """Opens the documentation explorer on the Query type and lists its fields."""
        self.page.get_by_role("button", name="Show Documentation Explorer").click()
        # The root types appear once the schema's introspection has come back.
        self.page.locator(".graphiql-doc-explorer-type-name", has_text="Query").first.click()
        fields = self.page.locator(".graphiql-doc-explorer-field-name")
        expect(fields.first).to_be_visible()
        return fields.all_inner_texts()

    def set_headers(self, headers: dict[str, str]) -> None:
        self.page.locator(".graphiql-editor-tools").get_by_role("button", name="Headers").click()
        headers_editor = self.page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
        self._replace_text(headers_editor, json.dumps(headers))

    def run(self, operation: str, expected: str) -> str:
        """Types the operation, runs it, and returns the result once it shows `expected`."""
        self._replace_text(self.page.locator(".graphiql-query-editor"), operation)
        self._run_button.click()
        result = self.page.locator(".result-window")
        expect(result).to_contain_text(expected)
        return result.inner_text()

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def _replace_text(self, editor_area: Locator, text: str) -> None:
        editor_area.locator(".CodeMirror").click()
        self.page.keyboard.press("Control+A")
        # Inserted in one go, as a paste is: typed keys would be auto-closed by the editor.
        self.page.keyboard.insert_text(text)
