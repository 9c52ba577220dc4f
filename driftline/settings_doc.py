"""docs/configuration.md, generated from the settings classes.

Every ``DRIFTLINE_*`` setting is a field of one of the pydantic-settings classes listed in
:data:`SETTINGS_CLASSES`, with its default and its ``description``; the few variables read
directly from the environment are listed in :data:`DIRECT_VARIABLES`. The page is rendered
from both, so it cannot drift from the code (a test compares the committed page with
:func:`render`). Regenerate it with::

    python -m driftline.settings_doc --write docs/configuration.md

The same two lists are what the unknown-variable warning of
:class:`driftline.settings.DriftlineSettings` knows (:func:`known_names`).

>>> "DRIFTLINE_WINDOW_SIZE" in known_names() and "DRIFTLINE_KAFKA_POM" in known_names()
True
>>> env_name(_load("driftline.settings:KafkaSettings"), "topic_prefix")
'DRIFTLINE_KAFKA_TOPIC_PREFIX'
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

__all__ = [
    "DIRECT_VARIABLES",
    "SETTINGS_CLASSES",
    "DirectVariable",
    "SettingsSection",
    "env_name",
    "known_names",
    "own_fields",
    "render",
    "settings_classes",
]


@dataclass(frozen=True)
class SettingsSection:
    """One settings class (``module:Class``) and the section of the page it fills."""

    target: str
    title: str
    intro: str


@dataclass(frozen=True)
class DirectVariable:
    """A ``DRIFTLINE_*`` variable read with ``os.environ``, outside the settings classes."""

    name: str
    default: str
    meaning: str
    read_by: str


# Every settings class of the project, in the order of the page. A test checks that every
# BaseSettings subclass in driftline/, scorer/, monitor/, retrainer/ and producers/ is here.
SETTINGS_CLASSES: tuple[SettingsSection, ...] = (
    SettingsSection(
        "driftline.settings:DriftlineSettings",
        "Every process",
        "The base of every service's settings: read by every `driftline` command.",
    ),
    SettingsSection(
        "driftline.settings:KafkaSettings",
        "Kafka (every process)",
        "How every process reaches Kafka, and how the topics driftline creates are named and "
        "sized. Security settings go to both Kafka clients (confluent-kafka and aiokafka, "
        "which faust uses); `DRIFTLINE_KAFKA_CLIENT_OPTIONS` only to confluent-kafka. "
        "`DRIFTLINE_KAFKA` can also hold some of them as one JSON object "
        '(`{"local_port": 19092}`), which wins over the variables below.',
    ),
    SettingsSection(
        "scorer.settings:ScorerSettings",
        "Scorer: `driftline serve`",
        "Command line options of `driftline serve` override the matching variables.",
    ),
    SettingsSection(
        "monitor.settings:MonitorSettings",
        "Monitor: `driftline monitor`",
        "Windows are in event-time seconds (the events' own clock); timeouts and intervals "
        "marked wall seconds follow the machine's clock.",
    ),
    SettingsSection(
        "retrainer.settings:RetrainerSettings",
        "Retrainer: `driftline retrain`, `driftline models`",
        "Every retrainer setting is named `RETRAIN_*` or `GATE_*`, so the retrainer shares "
        "an environment with the other services without collisions; `DRIFTLINE_MODEL_NAME` "
        "is shared on purpose.",
    ),
    SettingsSection(
        "producers.settings:ProducerSettings",
        "Producers: `driftline produce`, `driftline replay`",
        "Command line options override these.",
    ),
    SettingsSection(
        "producers.settings:BootstrapSettings",
        "The first model: `driftline bootstrap`",
        "The model it registers, by the same variables the scorer serves it by.",
    ),
    SettingsSection(
        "driftline.stack.settings:StackSettings",
        "The whole stack without Docker: `driftline stack`",
        "The ports of the parts it runs besides the services (each service's port is its "
        "own setting above; Kafka's is `DRIFTLINE_KAFKA_LOCAL_PORT`) and its Prometheus's "
        "intervals. Every other `DRIFTLINE_*` variable is passed on to the services.",
    ),
)

DIRECT_VARIABLES: tuple[DirectVariable, ...] = (
    DirectVariable(
        "DRIFTLINE_KAFKA_POM", "`deploy/kafka/pom.xml` of the checkout",
        "Maven pom listing the local broker's jars.",
        "the local broker (`driftline kafka`, `driftline demo`, the tests)",
    ),
    DirectVariable(
        "DRIFTLINE_TEST_KAFKA_PORT", "`29092`",
        "Port of the local broker the test session starts.", "tests",
    ),
    DirectVariable(
        "DRIFTLINE_TEST_CLUSTER_PORT", "`29492`",
        "First port of the local three-broker cluster of the `cluster` tests (its nodes use "
        "this port and the five above it).", "tests",
    ),
    DirectVariable(
        "DRIFTLINE_TEST_DOCKER", "`1`",
        "`1`: the tests use testcontainers' Kafka where a Docker engine answers; `0`: never.",
        "tests",
    ),
    DirectVariable(
        "DRIFTLINE_TEST_LIFECYCLE_PORT", "`29192`",
        "Port of the broker the local-broker lifecycle test starts and stops.", "tests",
    ),
    DirectVariable(
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS_EXTERNAL", "unset",
        "Set: skip the local-broker lifecycle tests (an external cluster is in use).", "tests",
    ),
    DirectVariable(
        "DRIFTLINE_BENCH_SCORER_KAFKA_PORT", "`29292`",
        "Port of the local broker of `make bench-scorer`.", "benchmarks",
    ),
    DirectVariable(
        "DRIFTLINE_BENCH_MONITOR_KAFKA_PORT", "`29392`",
        "Port of the local broker of `make bench-monitor`.", "benchmarks",
    ),
    DirectVariable(
        "DRIFTLINE_BENCH_LOOP_KAFKA_PORT", "`29692`",
        "Port of the local broker of `make bench-loop`.", "benchmarks",
    ),
    DirectVariable(
        "DRIFTLINE_BENCH_STREAM_KAFKA_PORT", "`29792`",
        "Port of the local broker of `make bench-stream-latency`.", "benchmarks",
    ),
    DirectVariable(
        "DRIFTLINE_BENCH_BACKTEST_KAFKA_PORT", "`29692`",
        "Port of the local broker of `make bench-backtest`.", "benchmarks",
    ),
)

_HEADER = """\
# Configuration

<!-- Generated by `python -m driftline.settings_doc --write docs/configuration.md` (or
`make docs`) from the settings classes; edit their `description=` instead of this page. -->

Every driftline process reads its configuration from `DRIFTLINE_*` environment variables
once, at start-up, into one settings object (a pydantic-settings class), and stops with a
clear message on a bad value. Names are case-insensitive. Lists and objects are JSON
(`DRIFTLINE_TRUSTED_TYPES='["mypkg.MyModel"]'`); booleans are `true` or `false`. Command
line options, where a command has them, override the environment.

One environment can feed every service (docker-compose's does): each process reads the
variables it knows and ignores the others. A `DRIFTLINE_*` variable that no driftline
setting knows (of any service, or in the last table below) is most likely a typo: each
process logs a warning at start naming it and the closest known name.

MLflow is configured by its own variable: `MLFLOW_TRACKING_URI` points every process at an
MLflow server; unset, driftline uses an embedded registry (sqlite and an artifact folder)
under `<DRIFTLINE_HOME>/mlflow`.
"""

_DIRECT_INTRO = """\
## Read directly from the environment

These are not settings of a service: the code, the tests or the benchmarks read them where
they need them.
"""


def _load(target: str) -> type[BaseSettings]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def settings_classes(*, strict: bool = True) -> list[type[BaseSettings]]:
    """Every settings class of :data:`SETTINGS_CLASSES`, imported; unless ``strict``, those
    whose package is not installed are left out (as ``driftline`` leaves out their
    commands)."""
    classes = []
    for section in SETTINGS_CLASSES:
        try:
            classes.append(_load(section.target))
        except ModuleNotFoundError as exc:
            if strict or exc.name != section.target.partition(":")[0]:
                raise
    return classes


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable of ``field`` of ``cls``."""
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _is_nested(info: FieldInfo) -> bool:
    """A field holding another settings object (``kafka``): it has its own section."""
    annotation = info.annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


def own_fields(cls: type[BaseSettings]) -> list[tuple[str, FieldInfo]]:
    """The fields ``cls`` adds to its settings base (inherited ones have their own section)."""
    inherited: set[str] = set()
    for base in cls.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseSettings:
            inherited |= set(base.model_fields)
    return [
        (name, info)
        for name, info in cls.model_fields.items()
        if name not in inherited and not _is_nested(info)
    ]


@cache
def known_names() -> frozenset[str]:
    """Every ``DRIFTLINE_*`` name a driftline process or test knows: the settings fields of
    every class in :data:`SETTINGS_CLASSES` and :data:`DIRECT_VARIABLES`. The nested
    ``kafka`` field counts too: pydantic-settings reads ``DRIFTLINE_KAFKA`` as a JSON object
    of Kafka settings, though the page documents the ``DRIFTLINE_KAFKA_*`` variables."""
    names = {v.name for v in DIRECT_VARIABLES}
    for cls in settings_classes(strict=False):
        names |= {env_name(cls, field) for field in cls.model_fields}
    return frozenset(names)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _default(info: FieldInfo) -> str:
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, SecretStr):
        return "set"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | dict):
        import json

        return f"`{json.dumps(value)}`"
    if isinstance(value, Path):
        return f"`{value}`"
    if value == "":
        return "empty"
    return f"`{_number(value)}`"


def _kind(annotation: Any) -> str:
    """A short name for a field's type, its allowed values where they are few."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _kind(args[0]) if len(args) == 1 else " or ".join(_kind(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is list:
        return "JSON list"
    if origin is dict:
        return "JSON object"
    names = {bool: "`true`/`false`", int: "integer", float: "number", str: "text",
             Path: "path", SecretStr: "secret"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _values(info: FieldInfo) -> str:
    kind = _kind(info.annotation)
    bounds = []
    for item in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                bounds.append(f"{sign} {_number(getattr(item, attr))}")
        if isinstance(item, annotated_types.MinLen) and item.min_length:
            bounds.append("not empty")
    return f"{kind}, {', '.join(bounds)}" if bounds else kind


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _table(rows: Iterable[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render() -> str:
    """The whole of docs/configuration.md."""
    out = [_HEADER]
    for section in SETTINGS_CLASSES:
        cls = _load(section.target)
        rows = []
        for name, info in own_fields(cls):
            if not info.description:
                raise ValueError(f"{section.target}.{name} has no description=")
            rows.append((f"`{env_name(cls, name)}`", _default(info), _values(info),
                         info.description))
        out.append(f"## {section.title}\n")
        out.append(f"{section.intro}\n")
        out.append("\n".join(_table(rows, ("variable", "default", "values", "meaning"))) + "\n")
    out.append(_DIRECT_INTRO)
    rows = [(f"`{v.name}`", v.default, v.meaning, v.read_by) for v in DIRECT_VARIABLES]
    out.append("\n".join(_table(rows, ("variable", "default", "meaning", "read by"))) + "\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/configuration.md.")
    parser.add_argument("--write", type=Path, help="write the page there instead of stdout")
    args = parser.parse_args(argv)
    page = render()
    if args.write is None:
        sys.stdout.write(page)
    else:
        args.write.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
