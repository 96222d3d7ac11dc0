"""The website chat widget, the demo shop page and the vendored socket.io client, checked without a browser."""

import hashlib
import re
from html.parser import HTMLParser
from importlib.metadata import version

from conftest import REPO

WEB = REPO / "web"
WIDGET_JS = WEB / "widget/chat-widget.js"
WIDGET_CSS = WEB / "widget/chat-widget.css"
WIDGET_README = WEB / "widget/README.md"
VENDOR = WEB / "vendor"
SHOP = WEB / "shop/index.html"
PLACEHOLDER = "__CHAT_SERVER_URL__"


def widget_code() -> str:
    return WIDGET_JS.read_text()


def readme_table(heading: str) -> list[str]:
    """The first column (its `code`) of the table in the README section that starts with ``heading``."""
    section = WIDGET_README.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def code_options() -> list[str]:
    """The keys of the widget's OPTIONS table: the script tag attributes it reads."""
    block = re.search(r"var OPTIONS = \{(.*?)\};", widget_code(), flags=re.DOTALL)
    assert block, "chat-widget.js declares its script tag options in one OPTIONS table"
    return re.findall(r'"(data-[a-z-]+)":', block.group(1))


class ScriptTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.local_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
        for name in ("src", "href"):
            if (attributes.get(name) or "").startswith("/web/"):
                self.local_urls.append(attributes[name] or "")


def shop_page() -> ScriptTags:
    parser = ScriptTags()
    parser.feed(SHOP.read_text())
    return parser


def test_the_files_are_there() -> None:
    for path in (WIDGET_JS, WIDGET_CSS, WIDGET_README, VENDOR / "socket.io.min.js", VENDOR / "LICENSE",
                 VENDOR / "README.md", SHOP):
        assert path.is_file() and path.stat().st_size > 0, path


def test_documented_options_are_the_ones_the_code_reads() -> None:
    documented = readme_table("| option |")
    assert documented == code_options()
    required = {"data-server-url", "data-title", "data-primary-color", "data-initial-message", "data-socket-path"}
    assert required <= set(documented)
    read = set(re.findall(r'options\["(data-[a-z-]+)"\]', widget_code()))
    assert read and read <= set(documented), read - set(documented)


def test_documented_test_hooks_are_the_ones_the_code_sets() -> None:
    documented = readme_table("| `data-testid` |")
    in_code = re.findall(r'"data-testid": "([a-z-]+)"', widget_code())
    assert sorted(documented) == sorted(set(in_code))
    assert len(in_code) == len(set(in_code)), "each hook names one kind of element"
    assert {"chat-launcher", "chat-panel", "chat-input", "chat-send", "chat-message", "chat-quick-reply", "chat-banner",
            "chat-status", "chat-unread"} <= set(documented)


def test_messages_are_never_parsed_as_html() -> None:
    code = widget_code()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    assert "textContent" in code


def test_widget_defines_one_global() -> None:
    code = widget_code()
    assert code.lstrip().startswith("/*!") and "(function () {" in code and code.rstrip().endswith("})();")
    assigned = set(re.findall(r"window\.([A-Za-z_$][\w$]*)\s*=[^=]", code))
    assert assigned == {"ShopChat", "io"}  # io: only to put back the page's own value after the client loaded
    assert "delete window.io" in code


def test_css_is_scoped_under_the_root_class() -> None:
    css = re.sub(r"/\*.*?\*/", "", WIDGET_CSS.read_text(), flags=re.DOTALL)
    selectors: list[str] = []
    depth, keyframes_depth, start = 0, None, 0
    for index, char in enumerate(css):
        if char == "{":
            prelude = css[start:index].strip()
            if prelude.startswith("@keyframes"):
                keyframes_depth = depth
            elif not prelude.startswith("@") and keyframes_depth is None:
                selectors += [selector.strip() for selector in re.split(r",(?![^()]*\))", prelude)]  # not in :not(a, b)
            depth += 1
            start = index + 1
        elif char == "}":
            depth -= 1
            if keyframes_depth is not None and depth == keyframes_depth:
                keyframes_depth = None
            start = index + 1
        elif char == ";" and depth == 0:
            start = index + 1
    assert len(selectors) > 20
    assert [s for s in selectors if not re.match(r"\.shop-chat(?![\w-])", s)] == []


def test_vendored_client_matches_its_readme() -> None:
    readme = (VENDOR / "README.md").read_text()
    client = (VENDOR / "socket.io.min.js").read_bytes()
    written = re.search(r"\| sha256 \| `([0-9a-f]{64})` \|", readme)
    assert written and hashlib.sha256(client).hexdigest() == written.group(1)
    version_written = re.search(r"\| version \| (\d+\.\d+\.\d+) \|", readme)
    assert version_written and f"Socket.IO v{version_written.group(1)}".encode() in client[:200]
    assert "MIT License" in (VENDOR / "LICENSE").read_text()


def test_vendored_client_speaks_the_servers_protocol() -> None:
    """Socket.IO protocol 5 over Engine.IO 4: JavaScript client 3.x or 4.x, python-socketio 5.x, python-engineio 4.x."""
    client_major = int(re.search(rb"Socket\.IO v(\d+)\.", (VENDOR / "socket.io.min.js").read_bytes()[:200]).group(1))
    assert client_major in (3, 4)
    assert version("python-socketio").split(".")[0] == "5"
    assert version("python-engineio").split(".")[0] == "4"


def test_widget_finds_the_vendored_client_and_its_stylesheet() -> None:
    code = widget_code()
    assert '"../vendor/socket.io.min.js"' in code
    assert (WIDGET_JS.parent / "../vendor/socket.io.min.js").resolve().is_file()
    assert '"chat-widget.css"' in code


def test_widget_refuses_what_the_server_refuses() -> None:
    from channels.messages import MAX_MESSAGE_CHARS

    assert f"var MAX_MESSAGE_CHARS = {MAX_MESSAGE_CHARS};" in widget_code()


def test_shop_page_embeds_the_widget_with_one_script_tag() -> None:
    page = shop_page()
    assert len(page.scripts) == 1
    tag = page.scripts[0]
    assert tag["src"] == "/web/widget/chat-widget.js"
    assert tag["data-server-url"] == PLACEHOLDER and SHOP.read_text().count(PLACEHOLDER) == 1
    options = {name for name in tag if name.startswith("data-")}
    assert options <= set(code_options()) and "data-title" in options


def test_shop_page_assets_exist() -> None:
    urls = shop_page().local_urls
    assert "/web/shop/shop.css" in urls and len(urls) > 3
    for url in urls:
        assert (REPO / url.lstrip("/")).is_file(), url
