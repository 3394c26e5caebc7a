"""The micro-action catalogue: enough actions, every tag valid, no two saying the same thing,
and every pool a person can be in deep enough that 45 days pass without a repeat."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import get_args

import pytest
import yaml

from core.content import Content, ContentError, load_content
from core.content.program import SELF_FOCUSED, Theme

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
NO_REPEAT_DAYS = 45


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def test_at_least_150_actions_with_valid_tags(content: Content) -> None:
    actions = content.program.actions
    assert len(actions) >= 150
    themes = set(get_args(Theme))
    for action in actions:
        assert action.phase in (1, 2, 3, 4)
        assert action.theme in themes
        assert action.effort in (2, 10, 30)
        assert action.mode in ("solo", "together")
    used = Counter(a.theme for a in actions)
    assert set(used) == themes, "every theme has actions"
    assert {a.effort for a in actions} == {2, 10, 30}
    assert {a.phase for a in actions} == {1, 2, 3, 4}


def test_no_two_actions_share_a_text_or_id(content: Content) -> None:
    actions = content.program.actions
    texts = content.texts.by_key
    assert len({a.id for a in actions}) == len(actions)
    dos = [_words(texts[a.do_key]) for a in actions]
    assert len(set(dos)) == len(dos)
    for action in actions:
        assert texts[action.ask_key].strip(), action.id
        assert len(action.id) <= 20


def test_every_pool_outlasts_the_no_repeat_window(content: Content) -> None:
    actions = content.program.actions
    by_phase = Counter(a.phase for a in actions)
    solo_phase_one = [a for a in actions if a.phase == 1 and a.mode == "solo"]
    self_focused = [a for a in actions if a.self_focused]
    assert by_phase[1] > NO_REPEAT_DAYS
    assert len(solo_phase_one) > NO_REPEAT_DAYS
    assert len(self_focused) > NO_REPEAT_DAYS
    assert all(a.theme in SELF_FOCUSED and a.mode == "solo" for a in self_focused)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root)
    return root


def _edit_catalogue(root: Path, change: object) -> None:
    path = root / "program" / "actions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["actions"])  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _problems(root: Path) -> str:
    with pytest.raises(ContentError) as caught:
        load_content(root)
    return "\n".join(caught.value.problems)


def test_an_unknown_theme_fails_the_load(tree: Path) -> None:
    _edit_catalogue(tree, lambda actions: actions[0].update(theme="romance"))
    assert "program/actions.yaml: actions.0.theme" in _problems(tree)


@pytest.mark.parametrize(
    ("field", "value"), [("effort", 5), ("phase", 5), ("mode", "alone"), ("colour", "red")]
)
def test_a_bad_tag_fails_the_load(tree: Path, field: str, value: object) -> None:
    _edit_catalogue(tree, lambda actions: actions[0].update({field: value}))
    assert f"actions.0.{field}" in _problems(tree)


def test_a_repeated_id_fails_the_load(tree: Path) -> None:
    _edit_catalogue(tree, lambda actions: actions[1].update(id=actions[0]["id"]))
    assert "is used twice" in _problems(tree)


def test_an_action_without_its_follow_up_fails_the_load(tree: Path) -> None:
    path = tree / "locales" / "en" / "actions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = next(iter(data["actions"]))
    del data["actions"][first]["ask"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert f"'actions.{first}.ask' is missing" in _problems(tree)


def test_two_actions_with_the_same_words_fail_the_load(tree: Path) -> None:
    path = tree / "locales" / "en" / "actions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    first, second = list(data["actions"])[:2]
    data["actions"][second]["do"] = data["actions"][first]["do"].upper() + "!"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert "says the same as" in _problems(tree)


def test_a_text_for_no_action_fails_the_load(tree: Path) -> None:
    path = tree / "locales" / "en" / "actions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["actions"]["ghost_step"] = {"do": "Something new.", "ask": "Did it happen?"}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert "'actions.ghost_step.do' belongs to no action" in _problems(tree)


def test_safety_mode_never_gets_a_step_framed_around_repair(content: Content) -> None:
    framed = [a for a in content.program.actions if a.repair_framed]
    assert framed, "the catalogue marks steps that assume a relationship being repaired"
    assert not any(a.self_focused for a in framed)
    texts = content.texts.by_key
    for action in content.program.actions:
        if action.self_focused:  # what safety mode offers: not how to argue, not about them
            words = texts[action.do_key].lower()
            for framing in ("talk gets", "heats up", "heated", "their phone", "raising anything"):
                assert framing not in words, (action.id, framing)
