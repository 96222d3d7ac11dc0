"""Browser tests' tools: Debian's Chromium driven by Playwright, and numbered screenshots of each step of a test.

Playwright drives the system's ``/usr/bin/chromium`` (CI installs it, see .ci/run); it never downloads a browser.
Screenshots go to ``var/test-reports/screenshots/<test>/<nn>-<step>.png``, written afresh by every run.
"""

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "var/test-reports/screenshots"
WAIT_MS = 20_000  # the longest a step may take: a bot turn, or the CRM telling Rasa, on a busy 2-core machine
VIEWPORT = {"width": 1280, "height": 860}

# for the browser tests' modules (pytestmark), so that nothing is started for them on a machine without Chromium
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium; CI installs it in .ci/run)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module; each test opens its own contexts (separate people). Not for the whole
    session: while Playwright's sync API is on, its event loop counts as running, and async tests could not run."""
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


class Person:
    """One person's browser: a context of its own (storage, cookies) with one page, whose script errors are kept."""

    def __init__(self, browser: Browser) -> None:
        self.context: BrowserContext = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        self.context.set_default_timeout(WAIT_MS)
        self.page: Page = self.context.new_page()
        self.script_errors: list[str] = []
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))


@pytest.fixture
def new_person(browser: Browser) -> Iterator[Callable[[], Person]]:
    """Opens a person's browser context; all of them are closed after the test."""
    opened: list[Person] = []

    def open_person() -> Person:
        opened.append(Person(browser))
        return opened[-1]

    yield open_person
    for person in opened:
        person.context.close()


class Steps:
    """Numbered steps of a test: each ends with a screenshot ``<nn>-<step>.png``, also when it fails (``-failed``)."""

    def __init__(self, folder: Path, browser: Browser) -> None:
        self.folder = folder
        self.browser = browser
        self.count = 0

    @contextmanager
    def step(self, name: str, page: Page) -> Iterator[None]:
        """A step seen on ``page``; when it fails, every open page of the browser is shot too."""
        self.count += 1
        stem = f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"
        try:
            yield
        except Exception:
            page.screenshot(path=self.folder / f"{stem}-failed.png")
            others = [other for context in self.browser.contexts for other in context.pages if other != page]
            for number, other in enumerate(others, start=1):
                other.screenshot(path=self.folder / f"{stem}-failed-other-{number}.png")
            raise
        page.screenshot(path=self.folder / f"{stem}.png")


@pytest.fixture
def steps(request: pytest.FixtureRequest, browser: Browser) -> Steps:
    """The test's screenshot folder, emptied first, so what is there comes from this run."""
    folder = SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Steps(folder, browser)
