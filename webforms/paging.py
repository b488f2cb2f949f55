"""GOV.UK pagination for the long lists: which page a request asks for, and the links to the others.

The page number travels in the query string beside the list's filters, so a link to page 3 of the
overdue tasks stays page 3 of the overdue tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for

from engine.platform.paging import Page, Paging, page_number


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: the ellipsis between distant pages
    url: str
    current: bool


@dataclass(frozen=True)
class Pagination:
    previous: str | None
    next: str | None
    links: list[PageLink]


def asked(param: str = "page") -> Paging:
    """The page the request asks for in `param` (page 1 when absent or not a number)."""
    return Paging(page_number(request.args.get(param)))


def page_url(number: int, param: str = "page") -> str:
    """This page's URL with its filters, showing page `number` of the list `param` pages."""
    args: dict[str, Any] = request.args.to_dict()
    args.pop(param, None)
    if number > 1:
        args[param] = number
    return url_for(request.endpoint or "main.home", **(request.view_args or {}), **args)


def pagination(page: Page[Any], param: str = "page") -> Pagination | None:
    """The links GOV.UK's pagination shows for `page`: first, last, the current one and its
    neighbours, ellipses between; None when the list fits on one page."""
    if page.pages <= 1:
        return None
    shown = sorted({1, page.pages, page.number - 1, page.number, page.number + 1} & set(range(1, page.pages + 1)))
    links: list[PageLink] = []
    for number in shown:
        if links and links[-1].number is not None and number - links[-1].number > 1:
            links.append(PageLink(None, "", False))
        links.append(PageLink(number, page_url(number, param), number == page.number))
    return Pagination(previous=page_url(page.number - 1, param) if page.number > 1 else None,
                      next=page_url(page.number + 1, param) if page.number < page.pages else None, links=links)
