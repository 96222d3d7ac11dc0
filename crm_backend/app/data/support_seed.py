"""What ``crm init`` gives the support team: canned replies, and the demo agents when a demo password is set."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CannedReply
from app.services.agents import ensure_agent

DEMO_AGENTS = (("alice", "Alice"), ("ben", "Ben"))

# Title -> text; in line with the shop's policies as the assistant states them (domain.yml).
CANNED_REPLIES: tuple[tuple[str, str], ...] = (
    ("Greeting", "Hi, thanks for waiting. I've read your conversation with our assistant and I'm looking into it now."),
    ("Checking the order", "Let me check your order details; this will only take a moment."),
    ("Late delivery", "I'm sorry your parcel is late. I've checked with the carrier and will tell you exactly where it "
                      "is and when it should arrive."),
    ("Refund timing", "Refunds go back to the original payment method within 5 working days of the returned parcel "
                      "reaching us. You'll get an email as soon as it's on its way."),
    ("Return window", "You can return anything within 30 days of delivery for a full refund, in its original "
                      "packaging. I can start the return for you now if you like."),
    ("Damaged item", "I'm sorry the item arrived damaged. Could you send a photo of it and of the packaging? Then I "
                     "can arrange a replacement or a full refund, whichever you prefer."),
    ("Passed to a specialist", "I've passed this to our specialist team with all the details, so you won't need to "
                               "explain it again. They'll email you within one working day."),
    ("Anything else", "Is there anything else I can help you with today?"),
    ("Handing back", "Thanks for your patience. I'll hand you back to our assistant now; just ask for a person again "
                     "whenever you need one."),
)


def seed_canned_replies(session: Session) -> int:
    """Add the replies that are not there yet (by title); returns how many were added."""
    present = set(session.scalars(select(CannedReply.title)))
    missing = [CannedReply(title=title, text=text) for title, text in CANNED_REPLIES if title not in present]
    session.add_all(missing)
    session.commit()
    return len(missing)


def ensure_demo_agents(session: Session, password: str) -> list[str]:
    """The demo agents, active and with this password; returns their user names."""
    return [ensure_agent(session, username=username, display_name=name, password=password).username
            for username, name in DEMO_AGENTS]
