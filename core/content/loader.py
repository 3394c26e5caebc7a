"""Reading the content tree and rejecting anything that would misbehave at run time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Template
from typing import Any

import yaml
from pydantic import ValidationError

from core import keys
from core.content.catalog import Content, Texts
from core.content.errors import ContentError
from core.content.program import ProgramContent, load_program
from core.content.schema import CommandsFile, FlowSpec
from core.flows.effects import ACTIONS, EFFECTS, NOTES
from core.flows.payload import MAX_PAYLOAD_BYTES, encode
from core.profile import SETTABLE_FIELDS
from core.yaml_io import SAFE_LOADER, load_yaml

__all__ = ["SAFE_LOADER", "load_content"]

MAX_TEXT_CHARS = 2000
"""Discord's message limit, the smallest of the platforms Mend speaks on."""
MAX_COMMAND_DESCRIPTION_CHARS = 100
"""Discord's limit on a slash command's description (Telegram allows 256)."""
MAX_LABEL_CHARS = 80
"""Discord's button label limit."""
DEFAULT_LOCALE = "en"


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path.parent.name}/{path.name}: cannot be read ({type(exc).__name__})")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problems.append(f"{path.parent.name}/{path.name}: is not valid YAML{where}")
    return None


def _flatten(prefix: str, node: Any, out: dict[str, str], where: str, problems: list[str]) -> None:
    if isinstance(node, str):
        if prefix in out:
            problems.append(f"{where}: text key {prefix!r} is defined twice")
        out[prefix] = node.strip()
    elif isinstance(node, dict):
        for name, child in node.items():
            if not isinstance(name, str) or not name:
                problems.append(f"{where}: a key under {prefix!r} is not a name")
                continue
            _flatten(f"{prefix}.{name}" if prefix else name, child, out, where, problems)
    else:
        problems.append(f"{where}: {prefix!r} must be text or a mapping of texts")


def _placeholders(text: str) -> set[str]:
    found: set[str] = set()
    for match in Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if name:
            found.add(name)
        elif match.group("invalid") is not None:
            found.add("<stray $>")
    return found


def _load_locale(folder: Path, problems: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = _read_yaml(path, problems)
        if data is not None:
            _flatten("", data, texts, f"{folder.name}/{path.name}", problems)
    for key, text in texts.items():
        if not text:
            problems.append(f"{folder.name}: text {key!r} is empty")
        if len(text) > MAX_TEXT_CHARS:
            problems.append(f"{folder.name}: text {key!r} has {len(text)} characters")
        unknown = _placeholders(text) - keys.PLACEHOLDERS
        if unknown:
            problems.append(f"{folder.name}: text {key!r} uses unknown {sorted(unknown)}")
    return texts


def _check_keys(
    where: str, used: Iterable[str], texts: Mapping[str, str], problems: list[str]
) -> None:
    for key in used:
        if key not in texts:
            problems.append(f"{where}: text key {key!r} is missing")


def _check_flow(flow: FlowSpec, texts: Mapping[str, str], problems: list[str]) -> None:
    where = f"flow {flow.id}"
    steps = flow.steps
    if flow.start not in steps:
        problems.append(f"{where}: start step {flow.start!r} does not exist")
    edges: dict[str, list[str]] = {}
    for name, step in steps.items():
        here = f"{where} step {name}"
        deciders = sum(
            [bool(step.buttons), step.input is not None, step.next is not None, step.end]
        )
        if deciders != 1:
            problems.append(f"{here}: needs exactly one of buttons, input, next or end")
        if step.effect is not None and step.effect not in EFFECTS:
            problems.append(f"{here}: unknown effect {step.effect!r}")
        if step.action is not None and step.action not in ACTIONS:
            problems.append(f"{here}: unknown action {step.action!r}")
        if step.input is not None and (step.input.kind == "note") != (step.input.note is not None):
            problems.append(f"{here}: a note input, and only a note input, names its note")
        if step.input is not None and step.input.note is not None and step.input.note not in NOTES:
            problems.append(f"{here}: unknown note {step.input.note!r}")
        used = [step.say] + [b.label for b in step.buttons]
        targets = [b.next for b in step.buttons if b.next is not None]
        if step.input is not None:
            used.append(step.input.invalid)
            targets.append(step.input.next)
        if step.next is not None:
            targets.append(step.next)
        _check_keys(here, used, texts, problems)
        for target in targets:
            if target not in steps:
                problems.append(f"{here}: next step {target!r} does not exist")
        edges[name] = [t for t in targets if t in steps]
        choices = [b.choice for b in step.buttons]
        for choice in sorted({c for c in choices if choices.count(c) > 1}):
            problems.append(f"{here}: two buttons share the choice {choice!r}")
        for button in step.buttons:
            if len(encode(flow.id, name, button.choice).encode()) > MAX_PAYLOAD_BYTES:
                problems.append(f"{here}: payload for {button.choice!r} is too long")
            if button.label in texts and len(texts[button.label]) > MAX_LABEL_CHARS:
                problems.append(f"{here}: label {button.label!r} is too long")
            for field, value in button.set.items():
                if value not in SETTABLE_FIELDS.get(field, ()):
                    problems.append(f"{here}: cannot set {field!r} to {value!r}")
    for name in steps:
        chain: set[str] = set()
        current: str | None = name
        while current in steps and current not in chain:
            chain.add(current)
            current = steps[current].next
        if current in chain:
            problems.append(f"{where}: steps from {name!r} loop without waiting for an answer")
    seen: set[str] = set()
    todo = [flow.start] if flow.start in steps else []
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, []))
    for name in steps:
        if name not in seen:
            problems.append(f"{where}: step {name!r} cannot be reached")


def _schema_problem(where: str, exc: ValidationError) -> list[str]:
    return [
        f"{where}: {'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
        for err in exc.errors()
    ]


def load_content(root: Path, *, required_keys: Iterable[str] = keys.REQUIRED) -> Content:
    """Load and validate every content file under ``root``.

    Raises:
        ContentError: listing every problem: unreadable or unknown keys, missing text
            keys, dangling or unreachable steps, over-long texts, and more.
    """
    problems: list[str] = []
    locale_root = root / "locales"
    locales = {
        p.name: _load_locale(p, problems) for p in sorted(locale_root.glob("*")) if p.is_dir()
    }
    if DEFAULT_LOCALE not in locales:
        raise ContentError([*problems, f"no {DEFAULT_LOCALE!r} locale under {locale_root}"])
    texts = locales[DEFAULT_LOCALE]
    for name, other in locales.items():
        for key in sorted(set(texts) - set(other)):
            problems.append(f"locale {name}: text key {key!r} is missing")
        for key in sorted(set(other) - set(texts)):
            problems.append(f"locale {name}: text key {key!r} is unknown in {DEFAULT_LOCALE}")

    flows: dict[str, FlowSpec] = {}
    for path in sorted((root / "flows").glob("*.yaml")):
        data = _read_yaml(path, problems)
        try:
            flow = FlowSpec.model_validate(data)
        except ValidationError as exc:
            problems.extend(_schema_problem(f"flows/{path.name}", exc))
            continue
        if flow.id in flows:
            problems.append(f"flows/{path.name}: flow id {flow.id!r} is used twice")
        flows[flow.id] = flow
        _check_flow(flow, texts, problems)

    groups: tuple[Any, ...] = ()
    data = _read_yaml(root / "commands.yaml", problems)
    try:
        groups = CommandsFile.model_validate(data).groups
    except ValidationError as exc:
        problems.extend(_schema_problem("commands.yaml", exc))
    names = [c.name for g in groups for c in g.commands]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"commands.yaml: /{name} is listed twice")
    for group in groups:
        _check_keys(
            "commands.yaml",
            [group.title, *(c.description for c in group.commands)],
            texts,
            problems,
        )
        for command in group.commands:
            description = texts.get(command.description, "")
            if len(description) > MAX_COMMAND_DESCRIPTION_CHARS:
                problems.append(f"commands.yaml: the description of /{command.name} is too long")
    _check_keys("code", required_keys, texts, problems)
    program: ProgramContent = load_program(root / "program", texts, problems, _read_yaml)

    if problems:
        raise ContentError(problems)
    return Content(
        locales={name: Texts(name, by_key) for name, by_key in locales.items()},
        default_locale=DEFAULT_LOCALE,
        flows=flows,
        command_groups=groups,
        program=program,
    )
