"""Import of a transaction file in the UCI Online Retail layout into the CRM tables.

Each sales invoice becomes a delivered order of a customer ``UCI-<CustomerID>``; each cancellation
(``C`` invoice) that matches an earlier purchase of the same customer becomes a refunded return. Rows
that cannot be used are dropped and counted by reason. Importing the same file again writes nothing.
"""

import enum
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.db import Base
from app.models import Customer, Order, OrderLine, OrderStatus, Product, Refund, RefundKind, RefundStatus

logger = logging.getLogger(__name__)

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
REF_PREFIX = "UCI-"
CATEGORY = "Imported"
UNKNOWN_COUNTRY = "Unspecified"
STRICT_ENCODINGS = ("utf-8-sig", "cp1252")
LAST_RESORT_ENCODING = "latin-1"  # decodes any byte
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
# Codes of postage, fees, discounts, manual adjustments and vouchers: money lines, not products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "D", "S", "B", "C2", "PADS", "CRUK", "AMAZONFEE", "BANK CHARGES", "ADJUST", "ADJUST2"}
)
NON_PRODUCT_PREFIXES = ("GIFT_", "TEST")
MAX_INVOICE_LENGTH = 20  # keeps "UCI-C<invoice>-<n>" within the 30 characters of a refund reference
MAX_SKU_LENGTH = 40
MAX_NAME_LENGTH = 200
MAX_COUNTRY_LENGTH = 80
QUERY_CHUNK = 900  # values per IN (...) query, under every backend's parameter limit
CENT = Decimal("0.01")


class DropReason(enum.Enum):
    """Why a row was left out; a row gets the first reason that applies, in this order."""

    no_customer = "no customer id"
    unreadable = "unreadable invoice, code, date, quantity, price or customer id"
    duplicate = "exact duplicate of an earlier row"
    non_product = "not a product (postage, fees, discounts, manual entries, vouchers)"
    bad_price = "zero or negative unit price"
    bad_sale_quantity = "zero or negative quantity on a sales invoice"
    bad_cancel_quantity = "zero or positive quantity on a cancellation invoice"
    unmatched_cancellation = "cancellation matching no earlier purchase in the file"


class Fix(enum.Enum):
    """A repair made to a kept row (a row can have several)."""

    customer_id_float = "customer id given as a float (17850.0 -> 17850)"
    encoding = "mojibake repaired in description or country"
    whitespace = "surrounding or repeated whitespace trimmed"
    code_case = "stock code upper-cased"


@dataclass(frozen=True)
class Written:
    """Rows of one kind: newly written, and already in the database (skipped)."""

    created: int
    existing: int


@dataclass(frozen=True)
class ImportReport:
    """What an import read, kept, repaired, dropped and wrote."""

    source: str
    encoding: str
    rows_read: int
    rows_kept: int
    rows_fixed: int
    fixes: Mapping[Fix, int]
    dropped: Mapping[DropReason, int]
    customers: Written
    products: Written
    orders: Written
    order_lines: Written
    refunds: Written
    returned_orders: Written

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def written(self) -> dict[str, Written]:
        return {
            "customers": self.customers,
            "products": self.products,
            "orders": self.orders,
            "order lines": self.order_lines,
            "refunds (returns)": self.refunds,
            "orders marked returned": self.returned_orders,
        }

    @property
    def created_anything(self) -> bool:
        return any(count.created for count in self.written.values())

    def format(self) -> str:
        """A readable, multi-line report."""
        lines = [
            f"Online Retail import of {self.source} (read as {self.encoding})",
            f"  rows read     {self.rows_read:>8,}",
            f"  rows kept     {self.rows_kept:>8,}",
            f"  rows fixed    {self.rows_fixed:>8,}",
            *(f"    {count:>8,}  {fix.value}" for fix, count in self.fixes.items()),
            f"  rows dropped  {self.rows_dropped:>8,}",
            *(f"    {count:>8,}  {reason.value}" for reason, count in self.dropped.items()),
            f"  {'written':<24}{'new':>8}{'already there':>15}",
            *(f"  {name:<24}{count.created:>8,}{count.existing:>15,}" for name, count in self.written.items()),
        ]
        if not self.created_anything:
            lines.append("  nothing new written: every kept row was already in the database")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportPlan:
    """The rows to write, computed from the file alone."""

    customers: pd.DataFrame  # customer, country, first_order_at
    products: pd.DataFrame  # sku, name, price, first_sold_at
    orders: pd.DataFrame  # invoice, customer, placed_at, returned_at
    lines: pd.DataFrame  # invoice, stock_code, quantity, amount
    refunds: pd.DataFrame  # reference, invoice, order_invoice, customer, amount, created_at, line_count


def import_online_retail(session: Session, path: Path) -> ImportReport:
    """Import the file in one transaction and report; a second import of the same file writes nothing."""
    text, encoding = decode(path.read_bytes())
    rows = classify(clean(read_table(text)))
    plan = build_plan(rows)
    try:
        written = write_plan(session, plan)
        session.commit()
    except Exception:
        session.rollback()
        raise
    report = _report(path.name, encoding, rows, written)
    logger.info(
        "imported %s: %d rows read, %d kept, %d dropped, %d orders and %d refunds new",
        path.name, report.rows_read, report.rows_kept, report.rows_dropped,
        report.orders.created, report.refunds.created,
    )
    return report


# --- reading and cleaning ---------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding that read it: UTF-8 if valid, else Windows-1252, else Latin-1."""
    for encoding in STRICT_ENCODINGS:
        try:
            return data.decode(encoding), encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            continue
    return data.decode(LAST_RESORT_ENCODING), LAST_RESORT_ENCODING


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252/Latin-1 (``CAFÃ‰`` -> ``CAFÉ``) when that reading is unambiguous."""
    if text.isascii():
        return text
    for encoding in (*STRICT_ENCODINGS[1:], LAST_RESORT_ENCODING):
        try:
            return text.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
    return text


def read_table(text: str) -> pd.DataFrame:
    """The file's columns as strings (blank for missing); refuses a file without the expected columns."""
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    table.columns = [str(name).strip() for name in table.columns]
    missing = [name for name in COLUMNS if name not in table.columns]
    if missing:
        raise ValueError(f"not an Online Retail file: missing columns {', '.join(missing)}")
    return table[list(COLUMNS)].reset_index(drop=True)


def _squash_spaces(values: pd.Series) -> pd.Series:
    return values.str.strip().str.replace(r"\s+", " ", regex=True)


def _repair_column(values: pd.Series) -> pd.Series:
    """``repair_mojibake`` over a column, computed once per distinct value."""
    return values.map({value: repair_mojibake(value) for value in values.unique()})


def _parse_dates(values: pd.Series) -> pd.Series:
    """Dates in any of ``DATE_FORMATS`` (mixed within a file too), as UTC; NaT when unreadable."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for date_format in DATE_FORMATS:
        parsed = parsed.fillna(pd.to_datetime(values, format=date_format, errors="coerce"))
    return parsed.dt.tz_localize("UTC")


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed, normalised columns, plus one ``fix_*`` flag per kind of repair."""
    trimmed = raw.apply(_squash_spaces)
    description = _repair_column(trimmed["Description"])
    country = _repair_column(trimmed["Country"])
    customer = trimmed["CustomerID"].str.extract(r"^(?P<id>\d+)(?P<fraction>\.0*)?$")
    quantity = pd.to_numeric(trimmed["Quantity"], errors="coerce")
    invoice = trimmed["InvoiceNo"].str.upper()
    code = trimmed["StockCode"].str.upper()
    return pd.DataFrame(
        {
            "invoice": invoice,
            "stock_code": code,
            "description": description,
            "quantity": quantity.where(quantity % 1 == 0).astype("Int64"),
            "placed_at": _parse_dates(trimmed["InvoiceDate"]),
            "price": pd.to_numeric(trimmed["UnitPrice"], errors="coerce"),
            "has_customer": trimmed["CustomerID"] != "",
            "customer": customer["id"],
            "country": country.replace("", UNKNOWN_COUNTRY).str.slice(0, MAX_COUNTRY_LENGTH),
            "is_cancel": invoice.str.startswith("C"),
            "fix_customer_id_float": customer["fraction"].notna(),
            "fix_encoding": (description != trimmed["Description"]) | (country != trimmed["Country"]),
            "fix_whitespace": (trimmed != raw).any(axis=1),
            "fix_code_case": code != trimmed["StockCode"],
        }
    )


def _is_non_product(codes: pd.Series) -> pd.Series:
    return codes.isin(NON_PRODUCT_CODES) | codes.str.startswith(NON_PRODUCT_PREFIXES)


def drop_reasons(rows: pd.DataFrame) -> pd.Series:
    """The first ``DropReason`` that applies to each row (None for usable rows; cancellations not matched yet)."""
    unreadable = (
        rows[["quantity", "placed_at", "price", "customer"]].isna().any(axis=1)
        | ~rows.invoice.str.len().between(1, MAX_INVOICE_LENGTH)
        | ~rows.stock_code.str.len().between(1, MAX_SKU_LENGTH)
    )
    identity = ["invoice", "stock_code", "description", "quantity", "placed_at", "price", "customer", "country"]
    checks = (
        (DropReason.no_customer, ~rows.has_customer),
        (DropReason.unreadable, unreadable),
        (DropReason.duplicate, rows.duplicated(subset=identity)),
        (DropReason.non_product, _is_non_product(rows.stock_code)),
        (DropReason.bad_price, rows.price <= 0),
        (DropReason.bad_sale_quantity, ~rows.is_cancel & (rows.quantity <= 0)),
        (DropReason.bad_cancel_quantity, rows.is_cancel & (rows.quantity >= 0)),
    )
    reasons = pd.Series(None, index=rows.index, dtype=object)
    for reason, applies in checks:
        reasons[applies.fillna(False).astype(bool) & reasons.isna()] = reason
    return reasons


def classify(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with their drop ``reason`` (None when kept) and, for kept cancellations, their ``order_invoice``."""
    rows = rows.assign(reason=drop_reasons(rows))
    matched = match_cancellations(rows)
    rows.loc[rows.is_cancel & rows.reason.isna() & matched.isna(), "reason"] = DropReason.unmatched_cancellation
    return rows.assign(order_invoice=matched)


# --- orders, returns and products -------------------------------------------------------------------------


@dataclass
class _Purchase:
    """One order line, with the quantity not yet cancelled."""

    placed_at: pd.Timestamp
    invoice: str
    remaining: int


def _sales(rows: pd.DataFrame) -> pd.DataFrame:
    """Kept sales rows, each with its invoice's date (the earliest of its rows)."""
    sales = rows[rows.reason.isna() & ~rows.is_cancel]
    return sales.assign(placed_at=sales.groupby("invoice").placed_at.transform("min"))


def _order_lines(sales: pd.DataFrame) -> pd.DataFrame:
    """One line per (invoice, stock code): summed quantity and amount."""
    return (
        sales.assign(amount=sales.quantity.astype(float) * sales.price)
        .groupby(["invoice", "stock_code"], as_index=False, sort=False)
        .agg(
            customer=("customer", "first"),
            placed_at=("placed_at", "first"),
            quantity=("quantity", "sum"),
            amount=("amount", "sum"),
        )
    )


def match_cancellations(rows: pd.DataFrame) -> pd.Series:
    """The order invoice each usable cancellation row refers to (None when it matches no purchase).

    A cancellation goes to the same customer's most recent order, placed no later than it, that contains the
    stock code and still has some of it not cancelled; when every such order is fully cancelled, to the most
    recent one. Cancellations are taken in time order.
    """
    purchases: dict[tuple[str, str], list[_Purchase]] = defaultdict(list)
    lines = _order_lines(_sales(rows)).sort_values(["placed_at", "invoice"])
    for line in lines.itertuples(index=False):
        purchases[(line.customer, line.stock_code)].append(_Purchase(line.placed_at, line.invoice, int(line.quantity)))
    cancels = rows[rows.reason.isna() & rows.is_cancel].sort_values("placed_at", kind="stable")
    matched: dict[int, str] = {}
    for row in cancels.itertuples():
        earlier = [p for p in purchases.get((row.customer, row.stock_code), []) if p.placed_at <= row.placed_at]
        if earlier:
            target = next((p for p in reversed(earlier) if p.remaining > 0), earlier[-1])
            target.remaining += int(row.quantity)
            matched[row.Index] = target.invoice
    return pd.Series(matched, index=rows.index, dtype=object)


def _products(sales: pd.DataFrame) -> pd.DataFrame:
    """sku, name (the most frequent description, ties to the first seen; the code when none), last price."""
    described = sales[sales.description != ""]
    names = (
        described.groupby(["stock_code", "description"], sort=False).size().rename("count").reset_index()
        .sort_values("count", ascending=False, kind="stable")
        .drop_duplicates("stock_code")
        .set_index("stock_code")["description"]
    )
    products = (
        sales.sort_values("placed_at", kind="stable")
        .groupby("stock_code", as_index=False)
        .agg(price=("price", "last"), first_sold_at=("placed_at", "first"))
        .rename(columns={"stock_code": "sku"})
    )
    products["name"] = products.sku.map(names).fillna(products.sku).str.slice(0, MAX_NAME_LENGTH)
    return products


def _refunds(cancels: pd.DataFrame) -> pd.DataFrame:
    """One refund per (cancellation invoice, matched order), numbered within the cancellation invoice."""
    refunds = (
        cancels.assign(amount=cancels.quantity.abs().astype(float) * cancels.price)
        .groupby(["invoice", "order_invoice"], as_index=False)
        .agg(
            customer=("customer", "first"),
            amount=("amount", "sum"),
            created_at=("placed_at", "min"),
            line_count=("stock_code", "size"),
        )
    )
    number = refunds.groupby("invoice").cumcount() + 1
    refunds["reference"] = REF_PREFIX + refunds.invoice + "-" + number.astype(str)
    return refunds


def _returned_at(lines: pd.DataFrame, cancels: pd.DataFrame) -> pd.Series:
    """Per order invoice, when its last line became fully cancelled (NaT unless every line is)."""
    cancelled = (
        cancels.assign(cancelled=cancels.quantity.abs())
        .groupby(["order_invoice", "stock_code"])
        .agg(cancelled=("cancelled", "sum"), returned_at=("placed_at", "max"))
    )
    joined = lines.join(cancelled, on=["invoice", "stock_code"])
    joined["full"] = joined.cancelled.fillna(0) >= joined.quantity
    per_order = joined.groupby("invoice", sort=False).agg(full=("full", "all"), returned_at=("returned_at", "max"))
    return per_order.returned_at.where(per_order.full)


def build_plan(rows: pd.DataFrame) -> ImportPlan:
    """Customers, products, orders, lines and refunds made from the kept rows."""
    sales = _sales(rows)
    lines = _order_lines(sales)
    cancels = rows[rows.reason.isna() & rows.is_cancel]
    orders = sales.groupby("invoice", as_index=False, sort=False).agg(
        customer=("customer", "first"), placed_at=("placed_at", "first")
    )
    orders = orders.join(_returned_at(lines, cancels), on="invoice")
    customers = sales.sort_values("placed_at", kind="stable").groupby("customer", as_index=False).agg(
        country=("country", "last"), first_order_at=("placed_at", "first")
    )
    return ImportPlan(customers, _products(sales), orders, lines, _refunds(cancels))


def _report(source: str, encoding: str, rows: pd.DataFrame, written: Mapping[str, Written]) -> ImportReport:
    kept = rows[rows.reason.isna()]
    reasons = rows.reason.value_counts()
    fixes = {fix: int(kept[f"fix_{fix.name}"].sum()) for fix in Fix}
    return ImportReport(
        source=source,
        encoding=encoding,
        rows_read=len(rows),
        rows_kept=len(kept),
        rows_fixed=int(kept[[f"fix_{fix.name}" for fix in Fix]].any(axis=1).sum()),
        fixes=fixes,
        dropped={reason: int(reasons.get(reason, 0)) for reason in DropReason},
        **written,
    )


# --- writing ----------------------------------------------------------------------------------------------


def _utc(value: pd.Timestamp) -> datetime | None:
    return None if pd.isna(value) else value.to_pydatetime()


def _money(value: float) -> Decimal:
    """A float amount rounded half-up to the cent (through 6 decimals, so float noise cannot tip it)."""
    return Decimal(f"{value:.6f}").quantize(CENT, rounding=ROUND_HALF_UP)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), QUERY_CHUNK):
        yield values[start:start + QUERY_CHUNK]


def _ids_by_key(session: Session, key: InstrumentedAttribute[Any], values: list[str]) -> dict[str, int]:
    model = key.class_
    found: dict[str, int] = {}
    for chunk in _chunks(values):
        found.update(session.execute(select(key, model.id).where(key.in_(chunk))).tuples().all())
    return found


def _insert_missing(
    session: Session, key: InstrumentedAttribute[Any], rows: list[dict[str, Any]]
) -> tuple[dict[str, int], set[str]]:
    """Insert the rows whose ``key`` is not in the table yet; the ids of all the keys, and the new keys."""
    values = [row[key.key] for row in rows]
    existing = _ids_by_key(session, key, values)
    new_rows = [row for row in rows if row[key.key] not in existing]
    if not new_rows:
        return existing, set()
    model: type[Base] = key.class_
    session.execute(insert(model), new_rows)
    return _ids_by_key(session, key, values), {row[key.key] for row in new_rows}


def _written(rows: list[dict[str, Any]], new_keys: set[str]) -> Written:
    return Written(created=len(new_keys), existing=len(rows) - len(new_keys))


def _customer_rows(customers: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "external_ref": f"{REF_PREFIX}{c.customer}",
            "name": f"Customer {c.customer}",
            "country": c.country,
            "created_at": _utc(c.first_order_at),
        }
        for c in customers.itertuples(index=False)
    ]


def _product_rows(products: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "sku": p.sku,
            "name": p.name,
            "category": CATEGORY,
            "price": _money(p.price),
            "stock": 0,
            "created_at": _utc(p.first_sold_at),
        }
        for p in products.itertuples(index=False)
    ]


def _order_rows(orders: pd.DataFrame, customer_ids: Mapping[str, int]) -> list[dict[str, Any]]:
    rows = []
    for o in orders.itertuples(index=False):
        placed_at = _utc(o.placed_at)
        returned_at = _utc(o.returned_at)
        rows.append({
            "order_number": f"{REF_PREFIX}{o.invoice}",
            "customer_id": customer_ids[f"{REF_PREFIX}{o.customer}"],
            "status": OrderStatus.delivered if returned_at is None else OrderStatus.returned,
            "placed_at": placed_at,
            "paid_at": placed_at,
            "delivered_at": placed_at,
            "returned_at": returned_at,
        })
    return rows


def _line_rows(
    lines: pd.DataFrame, order_ids: Mapping[str, int], new_orders: set[str], product_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_ids[f"{REF_PREFIX}{line.invoice}"],
            "product_id": product_ids[line.stock_code],
            "quantity": int(line.quantity),
            "unit_price": _money(line.amount / int(line.quantity)),
        }
        for line in lines.itertuples(index=False)
        if f"{REF_PREFIX}{line.invoice}" in new_orders
    ]


def _refund_rows(
    refunds: pd.DataFrame, order_ids: Mapping[str, int], customer_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_ids[f"{REF_PREFIX}{r.order_invoice}"],
            "customer_id": customer_ids[f"{REF_PREFIX}{r.customer}"],
            "kind": RefundKind.return_,
            "status": RefundStatus.refunded,
            "amount": _money(r.amount),
            "reason": f"Cancellation invoice {r.invoice} ({r.line_count} line(s)) in the Online Retail file",
            "reference": r.reference,
            "created_at": _utc(r.created_at),
            "updated_at": _utc(r.created_at),
        }
        for r in refunds.itertuples(index=False)
    ]


def _mark_returned(
    session: Session, orders: pd.DataFrame, order_ids: Mapping[str, int], new_orders: set[str]
) -> Written:
    """Set earlier-imported orders the file shows fully cancelled to returned; count them with the new ones."""
    returned = orders[orders.returned_at.notna()]
    numbers = REF_PREFIX + returned.invoice
    earlier = ~numbers.isin(new_orders)
    older = dict(zip(numbers[earlier], returned.returned_at[earlier]))
    pending: list[dict[str, Any]] = []
    for chunk in _chunks(list(older)):
        query = select(Order.order_number).where(Order.order_number.in_(chunk), Order.status != OrderStatus.returned)
        pending.extend(
            {"id": order_ids[number], "status": OrderStatus.returned, "returned_at": _utc(older[number])}
            for number in session.scalars(query)
        )
    if pending:
        session.execute(update(Order), pending)
    return Written(created=len(returned) - len(older) + len(pending), existing=len(older) - len(pending))


def write_plan(session: Session, plan: ImportPlan) -> dict[str, Written]:
    """Insert what is not in the database yet (matched by external ref, sku, order number and reference)."""
    customer_rows = _customer_rows(plan.customers)
    customer_ids, new_customers = _insert_missing(session, Customer.external_ref, customer_rows)
    product_rows = _product_rows(plan.products)
    product_ids, new_products = _insert_missing(session, Product.sku, product_rows)
    order_rows = _order_rows(plan.orders, customer_ids)
    order_ids, new_orders = _insert_missing(session, Order.order_number, order_rows)
    line_rows = _line_rows(plan.lines, order_ids, new_orders, product_ids)
    if line_rows:
        session.execute(insert(OrderLine), line_rows)
    refund_rows = _refund_rows(plan.refunds, order_ids, customer_ids)
    _, new_refunds = _insert_missing(session, Refund.reference, refund_rows)
    return {
        "customers": _written(customer_rows, new_customers),
        "products": _written(product_rows, new_products),
        "orders": _written(order_rows, new_orders),
        "order_lines": Written(created=len(line_rows), existing=len(plan.lines) - len(line_rows)),
        "refunds": _written(refund_rows, new_refunds),
        "returned_orders": _mark_returned(session, plan.orders, order_ids, new_orders),
    }
