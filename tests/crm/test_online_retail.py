"""Import of UCI Online Retail transaction files: report numbers, written rows, repairs and idempotency."""

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.core.db import make_engine, make_session_factory
from app.data import online_retail
from app.data.online_retail import (
    DropReason,
    Fix,
    ImportReport,
    Written,
    decode,
    import_online_retail,
    repair_mojibake,
)
from app.models import Customer, Order, OrderLine, OrderStatus, Product, Refund, RefundKind, RefundStatus

OpenSession = Callable[[str], Session]
REAL_FILE = Path(__file__).resolve().parents[3] / "shared/datasets/online_retail/Online_Retail_first70k.csv"
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
# The test's own list of the non-product codes that occur in the real file (the importer keeps a longer one).
NON_PRODUCT_CODES = {"POST", "DOT", "M", "D", "S", "C2", "AMAZONFEE", "BANK CHARGES", "CRUK", "PADS", "B"}


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)


@pytest.fixture
def session_for() -> Iterator[OpenSession]:
    """Opens sessions on database URLs and disposes of their engines afterwards."""
    engines = []

    def open_session(url: str) -> Session:
        engine = make_engine(url)
        engines.append(engine)
        return make_session_factory(engine)()

    yield open_session
    for engine in engines:
        engine.dispose()


def run_import(session_for: OpenSession, url: str, path: Path) -> ImportReport:
    with session_for(url) as session:
        return import_online_retail(session, path)


def table_counts(session: Session) -> dict[str, int]:
    models = {"customers": Customer, "products": Product, "orders": Order, "order_lines": OrderLine, "refunds": Refund}
    counts = {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in models.items()}
    counts["returned"] = session.scalar(select(func.count()).where(Order.status == OrderStatus.returned)) or 0
    return counts


def assert_database_matches(session: Session, report: ImportReport) -> None:
    """After a first import into an empty database, the tables hold exactly what the report says it wrote."""
    assert table_counts(session) == {
        "customers": report.customers.created,
        "products": report.products.created,
        "orders": report.orders.created,
        "order_lines": report.order_lines.created,
        "refunds": report.refunds.created,
        "returned": report.returned_orders.created,
    }


# --- the real file ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileCounts:
    """The real file counted with the csv module, by the importer's rules but without its code."""

    dropped: Counter[str]
    kept: int
    matched_cancellations: int
    cancellation_invoices: int
    whitespace_fixed: int
    float_ids: int
    customers: int
    products: int
    orders: int
    order_lines: int
    quantity: int
    refunded: Decimal


@pytest.fixture(scope="module")
def real_file() -> Path:
    if not REAL_FILE.exists():
        pytest.skip(f"the UCI Online Retail file is absent ({REAL_FILE}); see shared/datasets/README.md")
    return REAL_FILE


def _drop_reason(row: list[str], seen: set[tuple[str, ...]]) -> str | None:
    invoice, code, _, quantity, _, price, customer, _ = row
    if not customer:
        return "no_customer"
    if tuple(row) in seen:
        return "duplicate"
    if code.strip().upper() in NON_PRODUCT_CODES:
        return "non_product"
    if float(price) <= 0:
        return "bad_price"
    if not invoice.startswith("C") and int(quantity) <= 0:
        return "bad_sale_quantity"
    return None


@pytest.fixture(scope="module")
def expected(real_file: Path) -> FileCounts:
    with real_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == HEADER
        rows = list(reader)
    dropped: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    sales, cancels = [], []
    for row in rows:
        reason = _drop_reason(row, seen)
        seen.add(tuple(row))
        if reason:
            dropped[reason] += 1
        else:
            (cancels if row[0].startswith("C") else sales).append(row)
    order_dates: dict[str, str] = {}
    for invoice, _, _, _, date, _, _, _ in sales:
        order_dates[invoice] = min(order_dates.get(invoice, date), date)
    bought: dict[tuple[str, str], list[str]] = defaultdict(list)
    for invoice, code, _, _, _, _, customer, _ in sales:
        bought[(customer, code.strip().upper())].append(order_dates[invoice])
    matched = [r for r in cancels if any(d <= r[4] for d in bought[(r[6], r[1].strip().upper())])]
    dropped["unmatched_cancellation"] = len(cancels) - len(matched)
    kept = sales + matched
    return FileCounts(
        dropped=dropped,
        kept=len(kept),
        matched_cancellations=len(matched),
        cancellation_invoices=len({r[0] for r in matched}),
        whitespace_fixed=sum(any(" ".join(value.split()) != value for value in row) for row in kept),
        float_ids=sum(row[6].endswith(".0") for row in kept),
        customers=len({row[6] for row in sales}),
        products=len({row[1].strip().upper() for row in sales}),
        orders=len(order_dates),
        order_lines=len({(row[0], row[1].strip().upper()) for row in sales}),
        quantity=sum(int(row[3]) for row in sales),
        refunded=sum((abs(int(r[3])) * Decimal(r[5]) for r in matched), Decimal(0)),
    )


def test_real_file_report_matches_an_independent_count(
    real_file: Path, expected: FileCounts, sqlite_url: str, session_for: OpenSession
) -> None:
    report = run_import(session_for, sqlite_url, real_file)

    assert (report.rows_read, report.encoding, report.source) == (70_051, "utf-8", real_file.name)
    assert report.dropped[DropReason.no_customer] == 27_275  # as the dataset's README says
    assert {reason.name: count for reason, count in report.dropped.items() if count} == dict(expected.dropped)
    assert report.dropped[DropReason.duplicate] > 0 and report.dropped[DropReason.bad_price] > 0
    assert report.rows_kept == expected.kept
    assert report.rows_kept + report.rows_dropped == report.rows_read
    assert report.fixes[Fix.customer_id_float] == expected.float_ids == report.rows_kept
    assert report.fixes[Fix.whitespace] == expected.whitespace_fixed > 0
    assert (report.customers.created, report.products.created) == (expected.customers, expected.products)
    assert (report.orders.created, report.order_lines.created) == (expected.orders, expected.order_lines)
    assert expected.cancellation_invoices <= report.refunds.created <= expected.matched_cancellations
    assert report.returned_orders.created > 0

    with session_for(sqlite_url) as session:
        assert_database_matches(session, report)
        assert session.scalar(select(func.sum(OrderLine.quantity))) == expected.quantity
        refunded = session.scalar(select(func.sum(Refund.amount)))
        assert abs(refunded - expected.refunded) <= Decimal("0.005") * report.refunds.created  # cents rounding
        first = session.scalar(select(Order).where(Order.order_number == "UCI-536365"))
        assert first.customer.external_ref == "UCI-17850" and first.customer.name == "Customer 17850"
        assert (first.status, first.placed_at, first.delivered_at) == (
            OrderStatus.delivered, utc("2010-12-01 08:26"), utc("2010-12-01 08:26")
        )
        assert [(line.product.sku, line.quantity) for line in first.lines][:2] == [("85123A", 6), ("71053", 6)]
        assert len(first.lines) == 7
        heart = session.scalar(select(Product).where(Product.sku == "85123A"))
        assert (heart.name, heart.category, heart.stock) == ("WHITE HANGING HEART T-LIGHT HOLDER", "Imported", 0)
        assert session.scalar(select(func.count()).where(Product.sku.in_(["POST", "M", "DOT"]))) == 0
        # every refund belongs to its order's customer and comes after the order; every returned order has one
        order = aliased(Order)
        mismatched = select(func.count()).select_from(Refund).join(order, Refund.order_id == order.id).where(
            (Refund.customer_id != order.customer_id) | (Refund.created_at < order.placed_at)
        )
        assert session.scalar(mismatched) == 0
        unrefunded = select(func.count()).where(
            Order.status == OrderStatus.returned, ~Order.id.in_(select(Refund.order_id))
        )
        assert session.scalar(unrefunded) == 0


def test_real_file_second_import_writes_nothing(real_file: Path, database_url: str, session_for: OpenSession) -> None:
    first = run_import(session_for, database_url, real_file)
    with session_for(database_url) as session:
        assert_database_matches(session, first)
        before = table_counts(session)

    second = run_import(session_for, database_url, real_file)

    with session_for(database_url) as session:
        assert table_counts(session) == before
    assert not second.created_anything
    assert "nothing new" in second.format()
    for name, count in second.written.items():
        assert count.created == 0 and count.existing == first.written[name].created > 0, name
    assert (second.rows_kept, second.dropped) == (first.rows_kept, first.dropped)


# --- small files written by the tests ---------------------------------------------------------------------

UK = "United Kingdom"
SALES = [
    ["537001", "22001", "  CRÈME BRÛLÉE   DISH ", "6", "12/1/2010 8:26", "2.50", "12345.0", "France"],  # spaces
    ["537001", "22002", "CAFÃ‰ AU LAIT MUG", "4", "12/1/2010 8:26", "1.25", "12345.0", "France"],  # mojibake
    ["537001", "22002", "CAFÃ‰ AU LAIT MUG", "2", "12/1/2010 8:27", "1.55", "12345.0", "France"],
    ["537001", "22002", "CAFÃ‰ AU LAIT MUG", "2", "12/1/2010 8:27", "1.55", "12345.0", "France"],  # duplicate
    ["537001", "POST", "POSTAGE", "1", "12/1/2010 8:26", "18.00", "12345.0", "France"],  # not a product
    ["537002", "22001", "CREME BRULEE DISH", "3", "12/2/2010 9:00", "2.40", "12346", UK],
    ["537002", "85123a", "WHITE HANGING HEART T-LIGHT HOLDER", "1", "12/2/2010 9:00", "2.55", "12346", UK],  # case
    ["537002", "22003", "BROKEN MUG", "2", "12/2/2010 9:00", "0", "12346", UK],  # zero price
    ["537002", "22004", "GIFT BAG", "5", "12/2/2010 9:00", "0.85", "", UK],  # no customer id
    ["537003", "22001", "CRÈME BRÛLÉE DISH", "2", "2010-12-03 10:00:00", "2.60", "12345", "France"],  # ISO date
    ["537007", "22006", "WHITE MUG", "-3", "12/6/2010 10:00", "0.50", "12346", UK],  # negative sale
]
CANCELLATIONS = [
    ["C537004", "22002", "CAFÃ‰ AU LAIT MUG", "-2", "12/4/2010 11:00", "1.25", "12345.0", "France"],  # part of 537001
    ["C537005", "22001", "CRÈME BRÛLÉE DISH", "-2", "12/5/2010 12:00", "2.60", "12345", "France"],  # all of 537003
    ["C537005", "22002", "CAFÃ‰ AU LAIT MUG", "-4", "12/5/2010 12:00", "1.35", "12345", "France"],  # 537001's mugs
    ["C537006", "22005", "RED SPOTTY CUP", "-1", "12/6/2010 9:00", "0.65", "12346", UK],  # never bought
    ["C537000", "22001", "CREME BRULEE DISH", "-1", "12/1/2010 7:00", "2.40", "12346", UK],  # bought only later
    # 537003 has none left to cancel, so this goes to the earlier 537001 (which keeps 5 of its 6)
    ["C537008", "22001", "CRÈME BRÛLÉE DISH", "-1", "12/7/2010 9:00", "2.50", "12345", "France"],
]


def write_cp1252(path: Path, rows: list[list[str]]) -> Path:
    """A CSV in Windows-1252; the ``Ã‰`` descriptions are UTF-8 bytes inside it (mojibake once decoded)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *rows])
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    return path


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    return write_cp1252(tmp_path / "small.csv", SALES + CANCELLATIONS)


def test_small_file_report(small_file: Path, sqlite_url: str, session_for: OpenSession) -> None:
    report = run_import(session_for, sqlite_url, small_file)

    assert (report.encoding, report.rows_read, report.rows_kept, report.rows_dropped) == ("cp1252", 17, 10, 7)
    assert report.dropped == {
        DropReason.no_customer: 1,
        DropReason.unreadable: 0,
        DropReason.duplicate: 1,
        DropReason.non_product: 1,
        DropReason.bad_price: 1,
        DropReason.bad_sale_quantity: 1,
        DropReason.bad_cancel_quantity: 0,
        DropReason.unmatched_cancellation: 2,
    }
    assert report.rows_fixed == 6
    assert report.fixes == {Fix.customer_id_float: 4, Fix.encoding: 4, Fix.whitespace: 1, Fix.code_case: 1}
    assert report.written == {
        "customers": Written(2, 0),
        "products": Written(3, 0),
        "orders": Written(3, 0),
        "order lines": Written(5, 0),
        "refunds (returns)": Written(4, 0),
        "orders marked returned": Written(1, 0),
    }
    text = report.format()
    assert re.search(r"rows dropped +7\n", text)
    assert re.search(r" 2  cancellation matching no earlier purchase in the file\n", text)
    assert "mojibake repaired" in text and "12345" not in text  # counts only, no customer ids


def test_small_file_rows(small_file: Path, database_url: str, session_for: OpenSession) -> None:
    run_import(session_for, database_url, small_file)

    with session_for(database_url) as session:
        customers = session.execute(
            select(Customer.external_ref, Customer.name, Customer.country, Customer.email, Customer.postcode,
                   Customer.created_at).order_by(Customer.external_ref)
        ).all()
        assert [tuple(c) for c in customers] == [
            ("UCI-12345", "Customer 12345", "France", None, None, utc("2010-12-01 08:26")),
            ("UCI-12346", "Customer 12346", "United Kingdom", None, None, utc("2010-12-02 09:00")),
        ]
        products = session.execute(select(Product.sku, Product.name, Product.category, Product.price, Product.stock)
                                   .order_by(Product.sku)).all()
        assert [tuple(p) for p in products] == [
            ("22001", "CRÈME BRÛLÉE DISH", "Imported", Decimal("2.60"), 0),
            ("22002", "CAFÉ AU LAIT MUG", "Imported", Decimal("1.55"), 0),
            ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "Imported", Decimal("2.55"), 0),
        ]
        orders = {o.order_number: o for o in session.scalars(select(Order))}
        assert sorted(orders) == ["UCI-537001", "UCI-537002", "UCI-537003"]
        first, second, third = orders["UCI-537001"], orders["UCI-537002"], orders["UCI-537003"]
        assert (first.status, first.placed_at, first.paid_at, first.delivered_at, first.returned_at) == (
            OrderStatus.delivered, utc("2010-12-01 08:26"), utc("2010-12-01 08:26"), utc("2010-12-01 08:26"), None
        )
        assert (first.carrier, first.tracking_number, first.customer.external_ref) == (None, None, "UCI-12345")
        assert [(l.product.sku, l.quantity, l.unit_price) for l in first.lines] == [
            ("22001", 6, Decimal("2.50")),
            ("22002", 6, Decimal("1.35")),  # (4 x 1.25 + 2 x 1.55) / 6
        ]
        assert [(l.product.sku, l.quantity) for l in second.lines] == [("22001", 3), ("85123A", 1)]
        assert (second.status, second.customer.external_ref) == (OrderStatus.delivered, "UCI-12346")
        assert (third.status, third.returned_at) == (OrderStatus.returned, utc("2010-12-05 12:00"))
        refunds = session.scalars(select(Refund).order_by(Refund.reference)).all()
        assert [(r.reference, r.order_id, r.amount, r.created_at) for r in refunds] == [
            ("UCI-C537004-1", first.id, Decimal("2.50"), utc("2010-12-04 11:00")),
            ("UCI-C537005-1", first.id, Decimal("5.40"), utc("2010-12-05 12:00")),
            ("UCI-C537005-2", third.id, Decimal("5.20"), utc("2010-12-05 12:00")),
            ("UCI-C537008-1", first.id, Decimal("2.50"), utc("2010-12-07 09:00")),
        ]
        assert {(r.kind, r.status, r.customer_id) for r in refunds} == {
            (RefundKind.return_, RefundStatus.refunded, first.customer_id)
        }


def test_small_file_second_import_writes_nothing(
    small_file: Path, database_url: str, session_for: OpenSession
) -> None:
    run_import(session_for, database_url, small_file)
    with session_for(database_url) as session:
        before = table_counts(session)

    again = run_import(session_for, database_url, small_file)

    with session_for(database_url) as session:
        assert table_counts(session) == before == {
            "customers": 2, "products": 3, "orders": 3, "order_lines": 5, "refunds": 4, "returned": 1
        }
    assert [(c.created, c.existing) for c in again.written.values()] == [(0, 2), (0, 3), (0, 3), (0, 5), (0, 4), (0, 1)]
    assert "nothing new" in again.format()


def test_later_file_returns_an_order_imported_before(
    tmp_path: Path, sqlite_url: str, session_for: OpenSession
) -> None:
    run_import(session_for, sqlite_url, write_cp1252(tmp_path / "sales.csv", SALES))

    report = run_import(session_for, sqlite_url, write_cp1252(tmp_path / "all.csv", SALES + CANCELLATIONS))

    assert (report.orders, report.refunds) == (Written(0, 3), Written(4, 0))
    assert report.returned_orders == Written(1, 0)
    with session_for(sqlite_url) as session:
        third = session.scalar(select(Order).where(Order.order_number == "UCI-537003"))
        assert (third.status, third.returned_at) == (OrderStatus.returned, utc("2010-12-05 12:00"))


def test_failed_import_leaves_nothing_behind(
    small_file: Path, sqlite_url: str, session_for: OpenSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> list[dict[str, object]]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(online_retail, "_refund_rows", broken)  # fails after customers, products and orders
    with pytest.raises(RuntimeError, match="disk full"):
        run_import(session_for, sqlite_url, small_file)
    with session_for(sqlite_url) as session:
        assert set(table_counts(session).values()) == {0}


def test_file_without_the_expected_columns_is_refused(tmp_path: Path, db_session: Session) -> None:
    path = tmp_path / "other.csv"
    path.write_text("Invoice,Item,Qty\n1,A,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns InvoiceNo, StockCode"):
        import_online_retail(db_session, path)


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("café £5".encode("utf-8"), "café £5", "utf-8"),
        (b"\xef\xbb\xbfInvoiceNo", "InvoiceNo", "utf-8"),  # byte-order mark dropped
        ("café £5 – ok".encode("cp1252"), "café £5 – ok", "cp1252"),
        (b"\x81 caf\xe9", "\x81 café", "latin-1"),  # 0x81 is undefined in Windows-1252
    ],
)
def test_decode_falls_back_from_utf8(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        ("CAFÃ‰ AU LAIT", "CAFÉ AU LAIT"),
        ("Gift Voucher Â£40.00", "Gift Voucher £40.00"),
        ("â\x80\x9cHAPPYâ\x80\x9d MUG", "“HAPPY” MUG"),  # as read by the Latin-1 fallback
        ("CRÈME BRÛLÉE", "CRÈME BRÛLÉE"),  # real accents are left alone
        ("PLAIN TEXT", "PLAIN TEXT"),
    ],
)
def test_repair_mojibake_only_when_clear(text: str, repaired: str) -> None:
    assert repair_mojibake(text) == repaired
