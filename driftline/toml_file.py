"""TOML files validated whole by a pydantic model: the policy file and the feature file.

:func:`parse_toml` reads the text and validates it; a ConfigurationError names each key at
fault as ``<source>: <dotted path>: <what is wrong>``, and for an unknown key the key meant
(or the keys the table may hold).

>>> from pydantic import BaseModel, ConfigDict
>>> class Limits(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     maximum: float = 1.0
>>> parse_toml('maximum = 2', Limits, source="f.toml").maximum
2.0
>>> try:
...     parse_toml('maximun = 2', Limits, source="f.toml")
... except ConfigurationError as exc:
...     print(exc)
f.toml: maximun: unknown key; did you mean maximum?
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from driftline.errors import ConfigurationError

__all__ = ["load_toml", "parse_toml"]

M = TypeVar("M", bound=BaseModel)


def parse_toml(text: str, model: type[M], *, source: str) -> M:
    """Parse TOML ``text`` and validate it as ``model``; ConfigurationError naming each key
    at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, model) for error in exc.errors(include_url=False)]
        raise ConfigurationError("\n".join(f"{source}: {p}" for p in problems)) from None


def load_toml(path: Path | str, model: type[M], *, what: str) -> M:
    """Read the TOML file at ``path`` (``what`` it is, for the error when it cannot be read)
    and validate it as ``model``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the {what}: {exc}") from None
    return parse_toml(text, model, source=str(path))


def _problem(error: Any, root: type[BaseModel]) -> str:
    """One validation error as ``dotted.path: message``, suggesting the key meant when the
    key is unknown."""
    loc = [str(part) for part in error["loc"] if not _is_validator_tag(part)]
    where = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        known = _keys_at(root, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(known)}"
        return f"{where}: unknown key{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] != "missing" and "input" in error and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    return f"{where}: {message}"


def _is_validator_tag(part: Any) -> bool:
    # pydantic adds the name of a union's branch or a constrained type to some locations
    return isinstance(part, str) and ("[" in part or part in ("constrained-float",))


def _keys_at(root: type[BaseModel], path: list[str]) -> list[str]:
    """The keys a table at ``path`` of the file may hold."""
    node: Any = root
    for part in path:
        node = _child(node, part)
        if node is None:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    if typing.get_origin(node) is dict:
        key = typing.get_args(node)[0]
        if typing.get_origin(key) is Literal:
            return [str(k) for k in typing.get_args(key)]
    return []


def _child(node: Any, part: str) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(part)
        return None if field is None else field.annotation
    if typing.get_origin(node) is dict:
        return typing.get_args(node)[1]
    return None


def _unwrap(node: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(node)
        if origin is Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            if len(args) != 1:
                return node
            node = args[0]
        else:
            return node
