"""The website chat and the agent console in a real headless Chromium, against the whole running system.

A customer chats in the demo shop's widget while an agent works in the console, each in a browser context of their
own: verification, an order's status, the handoff, the agent's replies, a reload in the middle, the handback, the
rating and the bot answering again. Every step leaves a screenshot (browser.py).
"""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

pytest.register_assert_rewrite("browser")  # a plugin of this module (below), imported here first

from browser import Person, Steps, needs_chromium  # noqa: E402
from conftest import Crm, System  # noqa: E402
from shop import ShopCustomer, customer_where  # noqa: E402

pytest_plugins = ["browser"]  # its fixtures: browser, new_person, steps
pytestmark = needs_chromium

JANE = ("Jane Doe", "jane.doe@example.com")
MARKUP = "<b>bold</b><script>window.markupRan = true</script>"


class Replies:
    """The assistant's (or agent's) messages that follow one customer message, in order."""

    def __init__(self, replies: Locator, start: int) -> None:
        self.replies = replies
        self.start = start

    def __getitem__(self, index: int) -> Locator:
        """The text of the reply at ``index`` (a message also holds its author's name)."""
        return self.replies.nth(self.start + index).get_by_test_id("chat-message-text")


class Widget:
    """The chat widget on the demo shop, used as a customer would, through the hooks in web/widget/README.md."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.panel = page.get_by_test_id("chat-panel")
        self.input = page.get_by_test_id("chat-input")
        self.banner = page.get_by_test_id("chat-banner")
        self.typing = page.get_by_test_id("chat-typing")
        self.replies = page.locator('[data-testid="chat-message"]:not([data-sender="user"])')

    def open(self) -> None:
        self.page.get_by_test_id("chat-launcher").click()
        expect(self.panel).to_be_visible()
        expect(self.input).to_be_enabled()  # connected, session confirmed, history shown

    def messages(self, sender: str) -> Locator:
        return self.page.locator(f'[data-testid="chat-message"][data-sender="{sender}"]')

    def shown(self) -> list[tuple[str, str]]:
        """Every message as (sender, what it shows, author included)."""
        return self.page.get_by_test_id("chat-message").evaluate_all(
            "items => items.map(item => [item.dataset.sender, item.textContent])")

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.page.get_by_test_id("chat-send").click()
        expect(self.messages("user").last.get_by_test_id("chat-message-text")).to_have_text(text)

    def ask(self, text: str) -> Replies:
        """Say ``text``; the messages that come after it."""
        before = self.replies.count()
        self.say(text)
        return Replies(self.replies, before)

    def choose(self, title: str) -> Replies:
        """Click the latest message's quick reply ``title``; the messages that come after it."""
        before = self.replies.count()
        choices = self.page.locator('[data-testid="chat-quick-reply"]:enabled')
        choices.filter(has_text=re.compile(rf"^{re.escape(title)}$")).click()
        expect(self.messages("user").last.get_by_test_id("chat-message-text")).to_have_text(title)
        return Replies(self.replies, before)


class Console:
    """The agent console, through its data-testid hooks (web/console/)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.status = page.get_by_test_id("ticket-status")
        self.thread = page.get_by_test_id("message-thread")
        self.reply_box = page.get_by_test_id("reply-box")

    def sign_in(self, console_url: str, username: str, password: str) -> str:
        """Signs in; the agent's display name."""
        self.page.goto(console_url)
        self.page.get_by_test_id("login-username").fill(username)
        self.page.get_by_test_id("login-password").fill(password)
        self.page.get_by_test_id("login-button").click()
        name = self.page.get_by_test_id("agent-name")
        expect(name).not_to_be_empty()
        return name.inner_text()

    def ticket(self, list_name: str, ticket_id: int) -> Locator:
        return self.page.get_by_test_id(list_name).locator(f'[data-ticket-id="{ticket_id}"]')

    def thread_messages(self, sender: str) -> Locator:
        return self.thread.locator(f'[data-sender="{sender}"]')

    def send(self) -> None:
        self.page.get_by_test_id("send-button").click()
        expect(self.reply_box).to_have_value("")


def verify_and_track(widget: Widget, steps: Steps, jane: ShopCustomer) -> None:
    with steps.step("verification with email and postcode", widget.page):
        expect(widget.ask(f"where is my order {jane.order_number}?")[0]).to_contain_text("confirm it's you")
        expect(widget.ask(jane.email)[0]).to_contain_text("postcode")
        answer = widget.ask(jane.postcode)[0]
        expect(answer).to_contain_text(f"Order {jane.order_number}")  # what only the verified customer is told
    with steps.step("order status answered", widget.page):
        expect(answer).to_have_text(re.compile(rf"^Order {re.escape(jane.order_number)} \(placed .+\) is shipped\. "
                                               r"It travels with .+, tracking number \w+\.$"))


def test_customer_and_agent_hand_a_conversation_over_and_back(
    system: System, crm: Crm, new_person: Callable[[], Person], steps: Steps
) -> None:
    jane = customer_where(crm, f"c.email = '{JANE[1]}' AND o.status = 'shipped'")
    agent: Person = new_person()
    customer: Person = new_person()
    console, widget = Console(agent.page), Widget(customer.page)

    with steps.step("agent signed into the console", agent.page):
        agent_name = console.sign_in(system.console_url, system.agents[0], system.agent_password)
        expect(agent.page.get_by_test_id("availability")).to_contain_text(re.compile(r"\b[1-9]\d* agents? online"))

    with steps.step("shop page opened", customer.page):
        customer.page.goto(system.shop_url)
        expect(customer.page).to_have_title(re.compile("Northwind Goods"))
        expect(widget.panel).to_be_hidden()
    with steps.step("widget opened", customer.page):
        widget.open()
        expect(widget.input).to_be_focused()
    with steps.step("greeting answered", customer.page):
        expect(widget.ask("hi there")[0]).to_contain_text("I'm the shop's assistant")
    verify_and_track(widget, steps, jane)

    with steps.step("customer asks for a human", customer.page):
        answer = widget.ask("can I talk to a real person please")
        expect(answer[0]).to_contain_text(re.compile(r"getting a colleague from our support team for you \(ticket \d+\)"))
        expect(widget.banner).to_have_text("Finding an agent for you…")
        expect(widget.typing).to_be_hidden()
    told = re.search(r"\(ticket (\d+)\)", answer[0].inner_text())
    assert told, "the customer is told the ticket's number"
    ticket_id = int(told[1])

    with steps.step("agent sees the ticket in the queue", agent.page):
        queued = console.ticket("queue-list", ticket_id)
        expect(queued).to_contain_text(f"#{ticket_id} Asked for a person")
        expect(queued).to_contain_text("· verified")
    with steps.step("agent opens the ticket", agent.page):
        queued.click()
        expect(agent.page.get_by_test_id("ticket-title")).to_have_text(f"#{ticket_id} Asked for a person · {JANE[0]}")
        expect(agent.page.get_by_test_id("ticket-context")).to_contain_text(f"{JANE[0]} ({JANE[1]}) · verified")
        expect(agent.page.get_by_test_id("transcript")).to_contain_text("can I talk to a real person please")
    with steps.step("agent claims the conversation", agent.page):
        agent.page.get_by_test_id("claim-button").click()
        expect(console.status).to_have_text("You are handling this conversation")
        expect(console.ticket("mine-list", ticket_id)).to_be_visible()
        expect(console.reply_box).to_be_enabled()
    with steps.step("customer sees the agent join", customer.page):
        expect(widget.banner).to_have_text(f"You're chatting with {agent_name}")

    typed = "Hi Jane, I'm looking at your parcel now."
    with steps.step("agent replies by typing", agent.page):
        console.reply_box.fill(typed)
        console.send()
        expect(console.thread_messages("agent")).to_have_count(1)
        expect(console.thread_messages("agent")).to_contain_text(typed)
    with steps.step("agent replies with a canned reply", agent.page):
        agent.page.get_by_test_id("canned-picker").select_option(label="Late delivery")
        expect(console.reply_box).not_to_have_value("")
        canned = console.reply_box.input_value()
        console.send()
        expect(console.thread_messages("agent").nth(1)).to_contain_text(canned)
    with steps.step("customer sees both replies", customer.page):
        from_agent = widget.messages("agent")
        expect(from_agent.get_by_test_id("chat-message-text")).to_have_text([typed, canned])
        for message in (from_agent.nth(0), from_agent.nth(1)):
            expect(message).to_contain_text(agent_name)

    with steps.step("customer reloads during the handoff", customer.page):
        before = widget.shown()
        customer.page.reload()
        expect(widget.page.get_by_test_id("chat-message-text")).to_have_count(len(before))
        assert widget.shown() == before  # the whole conversation once, agent's name included
        expect(widget.banner).to_have_text(f"You're chatting with {agent_name}")
        expect(widget.input).to_be_enabled()

    to_agent = "Thank you, I'll wait here."
    with steps.step("agent sees the customer's message", agent.page):
        replies_before = widget.replies.count()
        widget.say(to_agent)
        expect(console.thread_messages("customer").filter(has_text=to_agent)).to_have_count(1)
        expect(widget.replies).to_have_count(replies_before)  # the bot kept quiet: the message was for the agent

    with steps.step("customer closes the chat", customer.page):
        customer.page.get_by_test_id("chat-close").click()
        expect(widget.panel).to_be_hidden()
    late = "I've also emailed you the courier's details."
    with steps.step("agent replies while the chat is closed", agent.page):
        console.reply_box.fill(late)
        console.send()
    badge, launcher = customer.page.get_by_test_id("chat-unread"), customer.page.get_by_test_id("chat-launcher")
    with steps.step("customer sees an unread badge, after a reload too", customer.page):
        expect(badge).to_have_text("1")
        customer.page.reload()
        expect(badge).to_have_text("1")
        expect(launcher).to_have_attribute("aria-label", re.compile(r"\(1 unread message\)"))
    with steps.step("customer opens the chat: the reply is there, the badge gone", customer.page):
        widget.open()
        expect(badge).to_be_hidden()
        expect(widget.messages("agent").last.get_by_test_id("chat-message-text")).to_have_text(late)
        customer.page.reload()
        expect(badge).to_be_hidden()
        expect(widget.input).to_be_enabled()

    note = "Your parcel is with the courier and arrives tomorrow."
    with steps.step("agent resolves with a note", agent.page):
        agent.page.get_by_test_id("resolve-note").fill(note)
        agent.page.get_by_test_id("resolve-button").click()
        expect(console.status).to_have_text(f"Resolved by {agent_name}")
        expect(console.ticket("mine-list", ticket_id)).to_have_count(0)
    with steps.step("customer is handed back", customer.page):
        handback = widget.replies.filter(has_text=note).get_by_test_id("chat-message-text")
        expect(handback).to_have_text(f'{agent_name} from our team has finished and handed you back to me. '
                                      f'Their note for you: "{note}"')
        expect(customer.page.get_by_test_id("chat-quick-reply")).to_have_text(["1", "2", "3", "4", "5"])
        expect(widget.banner).to_be_hidden()
    with steps.step("customer rates the help", customer.page):
        expect(widget.choose("4")[0]).to_contain_text("Thank you for rating us 4 out of 5")
        expect(console.status).to_have_text(f"Resolved by {agent_name} · rated 4/5")

    with steps.step("bot answers again without verifying again", customer.page):
        answer = widget.ask(f"and where is order {jane.order_number} now?")
        expect(answer[0]).to_contain_text(f"Order {jane.order_number} (placed ")
        expect(answer[0]).to_contain_text(") is shipped.")
        expect(widget.replies.filter(has_text="confirm it's you")).to_have_count(1)  # only before the first answer
    assert customer.script_errors == [] and agent.script_errors == []


def test_markup_in_a_message_shows_as_text(system: System, new_person: Callable[[], Person], steps: Steps) -> None:
    customer: Person = new_person()
    widget = Widget(customer.page)
    sent = widget.messages("user").get_by_test_id("chat-message-text")
    with steps.step("markup sent", customer.page):
        customer.page.goto(system.shop_url)
        widget.open()
        expect(widget.ask(MARKUP)[0]).to_be_visible()  # the assistant has it: the history will hold it
        expect(sent).to_have_text([MARKUP])
    with steps.step("markup shown from the history after a reload", customer.page):
        customer.page.reload()
        expect(sent).to_have_text([MARKUP])
    expect(customer.page.get_by_test_id("chat-log").locator("b, script")).to_have_count(0)
    assert customer.page.evaluate("window.markupRan") is None and customer.script_errors == []
