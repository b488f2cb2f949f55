"""One page of a long list: the lists people read (inbox, cases, register, history, dashboard) show
PAGE_SIZE rows at a time, so a page costs the same with ten cases or ten thousand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]  # a SELECT of any columns
PAGE_SIZE = 50


@dataclass(frozen=True)
class Paging:
    """Which page to show (1-based) and how many rows a page holds."""

    number: int = 1
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def end(self) -> int:
        """How many rows, from the first, this page and those before it hold."""
        return self.number * self.size


@dataclass(frozen=True)
class Page(Generic[T]):
    """The rows of one page, which page it is and how many rows the whole list has."""

    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The position (1-based) of the page's first row in the whole list (0 when it is empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.number - 1) * self.size + len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def page_number(raw: object) -> int:
    """A page number typed into a URL: a whole number from 1; anything else is page 1."""
    text = str(raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return 1
    return max(1, int(text))


def count(session: Session, query: AnySelect) -> int:
    """How many rows `query` gives (its ordering dropped)."""
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def within(paging: Paging, total: int) -> Paging:
    """`paging`, moved back to the last page when it asks for one beyond the list's end."""
    last = max(1, -(-total // paging.size))
    return paging if paging.number <= last else Paging(last, paging.size)


def fetch(session: Session, query: AnySelect, paging: Paging) -> Page[Any]:
    """One page of `query`'s rows (each row as `session.execute` gives it) and the whole list's size."""
    total = count(session, query)
    paging = within(paging, total)
    rows = list(session.execute(query.limit(paging.size).offset(paging.offset)).all())
    return Page(rows, paging.number, paging.size, total)
