"""Every error class has a row of its own in every surface's error table, so that none is
answered by a row written for its base (an unknown deletion job once answered "no such
profile"); and ``domain/errors.py`` holds every error class, its docstring drawing the tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import obliviate
from obliviate.domain import errors as domain_errors
from obliviate.http import body
from obliviate.http.engagelab import errors as engagelab
from obliviate.http.errors import ErrorTable
from obliviate.http.gainsight import errors as gainsight
from obliviate.http.insider import errors as insider
from obliviate.http.native import errors as native

SURFACES: dict[str, ModuleType] = {
    "native": native,
    "gainsight": gainsight,
    "engagelab": engagelab,
    "insider": insider,
}
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (body.BodyTooLarge, body.MalformedJson)
# Loading these runs Alembic's or the command line's entry point.
NOT_IMPORTED = ("obliviate.storage.migrations", "obliviate.__main__")


def errors_defined_in(module: ModuleType) -> list[type[Exception]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == module.__name__
    ]


DOMAIN_ERRORS = errors_defined_in(domain_errors)


def table_of(surface: str) -> ErrorTable:
    table = SURFACES[surface].TABLE
    assert isinstance(table, ErrorTable)
    return table


def test_the_domain_defines_the_errors_every_surface_answers() -> None:
    # Guards the discovery itself: an empty walk would make every test below pass.
    names = {cls.__name__ for cls in DOMAIN_ERRORS}
    assert {"ObliviateError", "NotFoundError", "JobNotFound", "ReceiptNotFound"} <= names


@pytest.mark.parametrize("surface", SURFACES)
def test_every_domain_and_transport_error_has_its_own_row_on_every_surface(surface: str) -> None:
    table = table_of(surface)
    missing = [cls.__name__ for cls in (*DOMAIN_ERRORS, *TRANSPORT_ERRORS) if cls not in table]
    assert missing == []


@pytest.mark.parametrize("surface", SURFACES)
def test_every_error_a_surface_defines_has_a_row_on_that_surface(surface: str) -> None:
    table = table_of(surface)
    own = errors_defined_in(SURFACES[surface])
    assert [cls.__name__ for cls in own if cls not in table] == []


@pytest.mark.parametrize("surface", SURFACES)
def test_a_table_has_rows_only_for_errors_that_can_reach_it(surface: str) -> None:
    known = {*DOMAIN_ERRORS, *TRANSPORT_ERRORS, *errors_defined_in(SURFACES[surface])}
    assert [cls.__name__ for cls in table_of(surface) if cls not in known] == []


def _all_modules() -> list[ModuleType]:
    found = [obliviate]
    for info in pkgutil.walk_packages(obliviate.__path__, "obliviate."):
        if not info.name.startswith(NOT_IMPORTED):
            found.append(importlib.import_module(info.name))
    return found


def _subclasses(cls: type[Exception]) -> set[type[Exception]]:
    found: set[type[Exception]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_obliviate_error_lives_in_the_domain_or_its_surfaces_errors_module() -> None:
    _all_modules()
    allowed = {domain_errors.__name__} | {module.__name__ for module in SURFACES.values()}
    elsewhere = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _subclasses(domain_errors.ObliviateError)
        if cls.__module__ not in allowed and cls.__module__.startswith("obliviate.")
    ]
    assert sorted(elsewhere) == []


_TREE_LINE = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+)\b")


def _tree() -> dict[str, str | None]:
    """Each class the docstring draws, with the class drawn as its parent."""
    doc = domain_errors.__doc__ or ""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in doc.split("\n\n", 1)[1].splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4 + bool(match["branch"])
        del path[depth:]
        parents[match["name"]] = path[-1] if path else None
        path.append(match["name"])
    return parents


def test_the_docstring_tree_draws_every_domain_error_under_its_base() -> None:
    drawn = _tree()
    actual = {
        cls.__name__: (None if cls is domain_errors.ObliviateError else cls.__bases__[0].__name__)
        for cls in DOMAIN_ERRORS
    }
    assert drawn == actual
