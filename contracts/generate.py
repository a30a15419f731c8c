"""Write, or with ``--check`` compare, the committed contract artifacts.

    python -m contracts.generate           # rewrite contracts/schemas, contracts/golden, contracts/asyncapi
    python -m contracts.generate --check   # exit 1 listing every file that differs, is missing or is stale

* ``schemas/<event_type>.json``: the closed JSON Schema (draft 2020-12) of each event type's ``data``.
* ``golden/<event_type>/<n>.json``: golden payloads; ``<n>.record.json``: the binary-mode Kafka record.
* ``asyncapi/<service>.json``: the AsyncAPI 3.0 document FastStream generates for each service's broker.

The three folders belong to this generator: a file in them that it does not produce is reported as stale
and removed on write. Services are built in a child process with a throw-away ``REDSHIELD_VAR_DIR`` and
chDB path and only default settings (no topic prefix), so the documents name logical topics and never
depend on the caller's environment.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from contracts.envelope import Envelope
from contracts.events.base import EventData
from contracts.examples import GOLDEN
from contracts.registry import EVENT_MODELS

CONTRACTS_DIR: Final = Path(__file__).resolve().parent
REPO_DIR: Final = CONTRACTS_DIR.parent
SCHEMAS: Final = "schemas"
GOLDEN_DIR: Final = "golden"
ASYNCAPI: Final = "asyncapi"
MANAGED: Final = (SCHEMAS, GOLDEN_DIR, ASYNCAPI)

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION: Final = "3.0.0"
#: The broker address the documents show: the settings' default, whatever the caller's environment says.
DOCUMENTED_BOOTSTRAP: Final = "127.0.0.1:9092"
WORKER_TIMEOUT_S: Final = 300

#: Relative path under ``contracts/`` (POSIX) → file content.
Artifacts = dict[str, str]


class ContractError(RuntimeError):
    """An event model or example that breaks a contract rule (open schema, missing example, …)."""


def dump(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# -- JSON Schemas -----------------------------------------------------------------------------------------
def open_objects(schema: Any, pointer: str = "#") -> Iterator[str]:
    """JSON pointers of every object schema that does not say ``additionalProperties: false``."""
    if isinstance(schema, dict):
        is_object = schema.get("type") == "object" or "properties" in schema
        if is_object and schema.get("additionalProperties") is not False:
            yield pointer
        for key, value in schema.items():
            yield from open_objects(value, f"{pointer}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from open_objects(value, f"{pointer}/{index}")


def event_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.update(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": model.dataschema(),
            "title": schema.get("title", model.__name__),
            "description": model.summary,
            "x-cloudevents-type": model.event_type,
            "x-topic": model.topic,
        }
    )
    open_ones = list(open_objects(schema))
    if open_ones:
        raise ContractError(f"{model.event_type}: data schema is not closed at {', '.join(open_ones)} (use extra='forbid')")
    return schema


def render_schemas() -> Artifacts:
    return {f"{SCHEMAS}/{event_type}.json": dump(event_schema(model)) for event_type, model in sorted(EVENT_MODELS.items())}


# -- golden examples --------------------------------------------------------------------------------------
def record_document(envelope: Envelope) -> dict[str, Any]:
    """A Kafka record as JSON: the key, every header as text, and the value (the data object)."""
    return {
        "key": envelope.key.decode(),
        "headers": {name: value.decode() for name, value in envelope.headers()},
        "value": json.loads(envelope.value()),
    }


def render_golden() -> Artifacts:
    missing = sorted(set(EVENT_MODELS) - set(GOLDEN))
    if missing:
        raise ContractError(f"event types without a golden example: {', '.join(missing)}")
    unknown = sorted(set(GOLDEN) - set(EVENT_MODELS))
    if unknown:
        raise ContractError(f"golden examples of unregistered event types: {', '.join(unknown)}")
    artifacts: Artifacts = {}
    for event_type, examples in sorted(GOLDEN.items()):
        model = EVENT_MODELS[event_type]
        for n, golden in enumerate(examples, start=1):
            if type(golden.data) is not model:
                raise ContractError(f"golden example {n} of {event_type} is a {type(golden.data).__name__}, not a {model.__name__}")
            payload = golden.payload()
            model.model_validate(payload)  # what travels must validate again
            artifacts[f"{GOLDEN_DIR}/{event_type}/{n}.json"] = dump(payload)
            artifacts[f"{GOLDEN_DIR}/{event_type}/{n}.record.json"] = dump(record_document(golden.envelope()))
    return artifacts


# -- AsyncAPI -----------------------------------------------------------------------------------------------
def asyncapi_documents() -> dict[str, Any]:
    """Build every service in this process and return its broker's AsyncAPI document.

    Services are imported by name: contracts never import services statically. Only for a process the
    generator started (see :func:`render_asyncapi`), as building a service touches REDSHIELD_VAR_DIR and chDB.
    """
    from faststream.specification import AsyncAPI

    service_names: Sequence[str] = importlib.import_module("services.runtime.settings").SERVICES
    documents: dict[str, Any] = {}
    for name in service_names:
        service, app = importlib.import_module(f"services.{name}.app").build()
        spec = AsyncAPI(
            service.broker,
            title=app.title,
            version=app.version,
            description=app.description or None,
            schema_version=ASYNCAPI_VERSION,
        ).to_specification()
        documents[name] = spec.to_jsonable()
    return documents


def _worker_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDSHIELD_", "KAFKA_"))}
    env.update(
        {
            "REDSHIELD_ENV": "test",
            "REDSHIELD_VAR_DIR": str(scratch / "var"),
            "REDSHIELD_LOG_JSON": "false",
            "REDSHIELD_ANALYTICS_CLICKHOUSE_URL": f"chdb://{scratch / 'chdb'}",
            "KAFKA_BOOTSTRAP_SERVERS": DOCUMENTED_BOOTSTRAP,
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def render_asyncapi() -> Artifacts:
    with tempfile.TemporaryDirectory(prefix="redshield-contracts-") as tmp:
        scratch = Path(tmp)
        out = scratch / "asyncapi.json"
        proc = subprocess.run(
            [sys.executable, "-m", "contracts.generate", "--asyncapi-worker", str(out)],
            cwd=REPO_DIR,
            env=_worker_env(scratch),
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise ContractError(f"building the services for AsyncAPI failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        documents: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return {f"{ASYNCAPI}/{name}.json": dump(document) for name, document in sorted(documents.items())}


# -- all of it ----------------------------------------------------------------------------------------------
def render() -> Artifacts:
    return {**render_schemas(), **render_golden(), **render_asyncapi()}


def committed(root: Path = CONTRACTS_DIR) -> Artifacts:
    files: Artifacts = {}
    for folder in MANAGED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return files


def differences(expected: Artifacts, actual: Artifacts, *, context_lines: int = 40) -> list[str]:
    """One entry per file that is missing, stale (not generated) or different, with the start of its diff."""
    found: list[str] = []
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            found.append(f"missing: contracts/{path}")
        elif path not in expected:
            found.append(f"stale: contracts/{path} (not generated)")
        elif expected[path] != actual[path]:
            diff = difflib.unified_diff(
                actual[path].splitlines(), expected[path].splitlines(), f"committed/{path}", f"generated/{path}", lineterm=""
            )
            lines = list(diff)
            shown = "\n".join(lines[:context_lines]) + ("\n…" if len(lines) > context_lines else "")
            found.append(f"differs: contracts/{path}\n{shown}")
    return found


def check(root: Path = CONTRACTS_DIR) -> list[str]:
    """What ``--check`` reports: an empty list when the committed artifacts are up to date."""
    return differences(render(), committed(root))


def write(root: Path = CONTRACTS_DIR) -> list[str]:
    """Bring the artifacts up to date; return the paths written or removed."""
    expected = render()
    actual = committed(root)
    changed: list[str] = []
    for path in sorted(actual.keys() - expected.keys()):
        (root / path).unlink()
        changed.append(f"removed contracts/{path}")
    for path, content in sorted(expected.items()):
        if actual.get(path) != content:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            changed.append(f"wrote contracts/{path}")
    for folder in MANAGED:  # folders left empty by removals
        for directory in sorted((root / folder).rglob("*"), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.generate", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the committed files; exit 1 listing differences")
    parser.add_argument("--asyncapi-worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.asyncapi_worker:
            Path(args.asyncapi_worker).write_text(json.dumps(asyncapi_documents(), ensure_ascii=False), encoding="utf-8")
            return 0
        if args.check:
            found = check()
            for entry in found:
                print(entry)
            if found:
                print(f"{len(found)} contract artifact(s) out of date; run: python -m contracts.generate", file=sys.stderr)
                return 1
            print("contract artifacts are up to date")
            return 0
        changed = write()
        for entry in changed:
            print(entry)
        print(f"{len(changed)} file(s) changed" if changed else "contract artifacts were already up to date")
        return 0
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
