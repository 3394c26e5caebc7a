"""The content lint: the real tree loads, and each kind of broken tree is rejected by name."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.console.chat import KEYS as CONSOLE_KEYS
from content import CONTENT_DIR
from core import keys
from core.content import Content, ContentError, load_content
from core.content.loader import MAX_LABEL_CHARS, MAX_TEXT_CHARS, SAFE_LOADER

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHECK_COPY = PROJECT_ROOT.parent / "shared" / "tools" / "check_copy.py"

Edit = Callable[[Any], None]


# ---------------------------------------------------------------- helpers


SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private, editable copy of the real content tree (YAML only)."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)


def edit_yaml(path: Path, change: Edit) -> None:
    data = read_yaml(path)
    change(data)
    dumped = yaml.dump(data, Dumper=SAFE_DUMPER, allow_unicode=True, sort_keys=False)
    path.write_text(dumped, encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(root)
    problems = caught.value.problems
    assert problems, "ContentError must list at least one problem"
    for problem in problems:
        assert problem in str(caught.value)
    return problems


def assert_mentions(problems: list[str], *fragments: str) -> None:
    """Some single problem contains every fragment."""
    assert any(all(f in p for f in fragments) for p in problems), (
        f"no problem mentions all of {fragments!r}; got {problems!r}"
    )


def flow_step(data: dict[str, Any], step: str) -> dict[str, Any]:
    found: dict[str, Any] = data["steps"][step]
    return found


# ---------------------------------------------------------------- the real tree


def test_real_content_loads(content: Content) -> None:
    assert content.default_locale == "en"
    assert {"onboarding", "settings"} <= set(content.flows)
    assert {"start", "help", "cancel", "settings"} <= set(content.commands)


def test_real_content_loads_from_content_dir() -> None:
    loaded = load_content(CONTENT_DIR)
    assert "en" in loaded.locales


def test_every_code_required_key_exists(content: Content) -> None:
    for locale, texts in content.locales.items():
        missing = [k for k in keys.REQUIRED if k not in texts.by_key]
        assert not missing, f"locale {locale} lacks {missing}"


@pytest.mark.parametrize("key", CONSOLE_KEYS)
def test_every_console_key_exists(content: Content, key: str) -> None:
    for texts in content.locales.values():
        assert key in texts.by_key
        assert texts.render(key, {"name": "A and B"}).strip()


def test_console_keys_pass_as_required_keys() -> None:
    load_content(CONTENT_DIR, required_keys=(*keys.REQUIRED, *CONSOLE_KEYS))


def test_missing_console_key_is_caught_when_required(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["console"].pop("who"))
    with pytest.raises(ContentError) as caught:
        load_content(tree, required_keys=(*keys.REQUIRED, *CONSOLE_KEYS))
    assert_mentions(caught.value.problems, "code", "console.who", "missing")


def test_unedited_copy_loads(tree: Path) -> None:
    """Guards every test below: the copy itself is valid, so each failure is the edit's."""
    load_content(tree)


# ---------------------------------------------------------------- unknown keys


def test_unknown_key_in_flow_step(tree: Path) -> None:
    def typo(d: dict[str, Any]) -> None:
        step = flow_step(d, "intro")
        step["sya"] = step.pop("say")

    edit_yaml(tree / "flows/onboarding.yaml", typo)
    problems = problems_of(tree)
    assert_mentions(problems, "onboarding.yaml", "steps.intro.sya", "Extra inputs")


def test_unknown_key_in_flow_button(tree: Path) -> None:
    edit_yaml(
        tree / "flows/settings.yaml",
        lambda d: flow_step(d, "menu")["buttons"][0].update(nxt="ask_timezone"),
    )
    assert_mentions(problems_of(tree), "settings.yaml", "nxt")


def test_unknown_key_in_commands_yaml(tree: Path) -> None:
    def typo(d: dict[str, Any]) -> None:
        command = d["groups"][0]["commands"][0]
        command["descripton"] = command.pop("description")

    edit_yaml(tree / "commands.yaml", typo)
    problems = problems_of(tree)
    assert_mentions(problems, "commands.yaml", "descripton", "Extra inputs")


def test_unknown_top_level_key_in_commands_yaml(tree: Path) -> None:
    edit_yaml(tree / "commands.yaml", lambda d: d.update(extra=[]))
    assert_mentions(problems_of(tree), "commands.yaml", "extra")


# ---------------------------------------------------------------- text keys


def test_missing_text_key_referenced_by_flow(tree: Path) -> None:
    edit_yaml(tree / "locales/en/onboarding.yaml", lambda d: d["onboarding"].pop("under_age"))
    problems = problems_of(tree)
    assert_mentions(problems, "flow onboarding", "under_age", "onboarding.under_age", "missing")


def test_misspelt_text_key_in_flow(tree: Path) -> None:
    edit_yaml(
        tree / "flows/settings.yaml", lambda d: flow_step(d, "saved").update(say="settings.savd")
    )
    assert_mentions(problems_of(tree), "flow settings step saved", "settings.savd", "missing")


def test_missing_button_label_key(tree: Path) -> None:
    edit_yaml(tree / "locales/en/settings.yaml", lambda d: d["settings"]["button"].pop("nothing"))
    assert_mentions(problems_of(tree), "flow settings step menu", "settings.button.nothing")


def test_missing_command_description_key(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["commands"].pop("cancel"))
    assert_mentions(problems_of(tree), "commands.yaml", "commands.cancel", "missing")


@pytest.mark.parametrize("key", keys.REQUIRED)
def test_code_required_key_missing(tree: Path, key: str) -> None:
    def drop(d: dict[str, Any]) -> None:
        *parents, leaf = key.split(".")
        node = d
        for part in parents:
            node = node[part]
        del node[leaf]

    path = next(
        p
        for p in sorted((tree / "locales/en").glob("*.yaml"))
        if key.split(".")[0] in (read_yaml(p) or {})
    )
    edit_yaml(path, drop)
    problems = problems_of(tree)
    assert_mentions(problems, "code", repr(key), "missing")


# ---------------------------------------------------------------- step graph


def test_dangling_next_step(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "suggest_growing").update(next="finish"),
    )
    assert_mentions(
        problems_of(tree), "flow onboarding step suggest_growing", "'finish'", "does not exist"
    )


def test_dangling_button_next(tree: Path) -> None:
    edit_yaml(
        tree / "flows/settings.yaml",
        lambda d: flow_step(d, "menu")["buttons"][-1].update(next="nowhere"),
    )
    problems = problems_of(tree)
    assert_mentions(problems, "flow settings step menu", "'nowhere'", "does not exist")
    # the step it used to lead to is now orphaned, and that is reported too
    assert_mentions(problems, "flow settings", "'unchanged'", "cannot be reached")


def test_dangling_input_next(tree: Path) -> None:
    edit_yaml(
        tree / "flows/settings.yaml",
        lambda d: flow_step(d, "ask_time")["input"].update(next="savd"),
    )
    assert_mentions(problems_of(tree), "flow settings step ask_time", "'savd'", "does not exist")


def test_missing_start_step(tree: Path) -> None:
    edit_yaml(tree / "flows/settings.yaml", lambda d: d.update(start="menuu"))
    assert_mentions(problems_of(tree), "flow settings", "start step 'menuu'", "does not exist")


def test_unreachable_step(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: d["steps"].update(orphan={"say": "onboarding.done", "end": True}),
    )
    problems = problems_of(tree)
    assert_mentions(problems, "flow onboarding", "'orphan'", "cannot be reached")
    assert len(problems) == 1, problems


def test_loop_of_automatic_next_steps(tree: Path) -> None:
    def loop(d: dict[str, Any]) -> None:
        flow_step(d, "suggest_growing")["next"] = "suggest_separated"
        flow_step(d, "suggest_separated")["next"] = "suggest_growing"

    edit_yaml(tree / "flows/onboarding.yaml", loop)
    problems = problems_of(tree)
    assert_mentions(problems, "flow onboarding", "loop without waiting")
    assert_mentions(problems, "'suggest_growing'", "loop")


def test_step_that_leads_to_itself_is_a_loop(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "suggest_growing").update(next="suggest_growing"),
    )
    assert_mentions(problems_of(tree), "'suggest_growing'", "loop without waiting")


def test_step_with_both_buttons_and_input(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "intro").update(
            input={"kind": "timezone", "next": "consent", "invalid": "input.timezone_invalid"}
        ),
    )
    assert_mentions(
        problems_of(tree),
        "flow onboarding step intro",
        "exactly one of buttons, input, next or end",
    )


def test_step_with_nothing_deciding_what_follows(tree: Path) -> None:
    edit_yaml(tree / "flows/settings.yaml", lambda d: flow_step(d, "saved").pop("end"))
    assert_mentions(problems_of(tree), "flow settings step saved", "exactly one of")


def test_step_with_next_and_end(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml", lambda d: flow_step(d, "suggest_growing").update(end=True)
    )
    assert_mentions(problems_of(tree), "step suggest_growing", "exactly one of")


def test_duplicate_flow_id(tree: Path) -> None:
    shutil.copy(tree / "flows/settings.yaml", tree / "flows/settings_copy.yaml")
    assert_mentions(problems_of(tree), "settings_copy.yaml", "'settings'", "used twice")


# ---------------------------------------------------------------- texts


def test_text_over_4000_characters(tree: Path) -> None:
    long_text = "Words that go on. " * 250  # 4500 characters
    assert len(long_text.strip()) > 4000
    assert len(long_text.strip()) > MAX_TEXT_CHARS
    edit_yaml(tree / "locales/en/onboarding.yaml", lambda d: d["onboarding"].update(done=long_text))
    assert_mentions(
        problems_of(tree), "'onboarding.done'", f"has {len(long_text.strip())} characters"
    )


def test_text_limit_is_exact(tree: Path) -> None:
    path = tree / "locales/en/onboarding.yaml"
    edit_yaml(path, lambda d: d["onboarding"].update(done="x" * MAX_TEXT_CHARS))
    assert len(load_content(tree).texts.render("onboarding.done")) == MAX_TEXT_CHARS
    edit_yaml(path, lambda d: d["onboarding"].update(done="x" * (MAX_TEXT_CHARS + 1)))
    assert_mentions(problems_of(tree), "'onboarding.done'", f"has {MAX_TEXT_CHARS + 1} characters")


def test_button_label_too_long(tree: Path) -> None:
    edit_yaml(
        tree / "locales/en/onboarding.yaml",
        lambda d: d["onboarding"]["button"].update(agree="y" * (MAX_LABEL_CHARS + 1)),
    )
    assert_mentions(problems_of(tree), "step consent", "onboarding.button.agree", "too long")


def test_empty_text(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["common"].update(busy="   "))
    assert_mentions(problems_of(tree), "'common.busy'", "empty")


@pytest.mark.parametrize(
    ("text", "reported"),
    [
        ("Hello $foo, welcome.", "'foo'"),
        ("Hello ${foo}, welcome.", "'foo'"),
        ("That costs $5 a month.", "stray $"),
    ],
)
def test_unknown_placeholder(tree: Path, text: str, reported: str) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["common"].update(busy=text))
    assert_mentions(problems_of(tree), "'common.busy'", "uses unknown", reported)


def test_known_and_escaped_placeholders_are_fine(tree: Path) -> None:
    edit_yaml(
        tree / "locales/en/common.yaml",
        lambda d: d["common"].update(busy="Hi $name, ${timezone} costs $$5."),
    )
    texts = load_content(tree).texts
    assert (
        texts.render("common.busy", {"name": "Sam", "timezone": "UTC"}) == "Hi Sam, UTC costs $5."
    )


def test_text_that_is_not_a_string(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["common"].update(busy=["a", "b"]))
    assert_mentions(problems_of(tree), "'common.busy'", "must be text")


# ---------------------------------------------------------------- effects and set:


def test_unknown_effect(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml", lambda d: flow_step(d, "done").update(effect="celebrate")
    )
    assert_mentions(problems_of(tree), "flow onboarding step done", "unknown effect 'celebrate'")


def test_set_of_unknown_field(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "intro")["buttons"][0]["set"].update(mood="happy"),
    )
    assert_mentions(problems_of(tree), "step intro", "cannot set 'mood' to 'happy'")


def test_set_of_unknown_value(tree: Path) -> None:
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "ask_situation")["buttons"][0]["set"].update(situation="married"),
    )
    assert_mentions(problems_of(tree), "step ask_situation", "cannot set 'situation' to 'married'")


def test_set_of_boolean_needs_a_string(tree: Path) -> None:
    """``set: {consented: true}`` (unquoted) is a YAML bool, not the string "true"."""
    edit_yaml(
        tree / "flows/onboarding.yaml",
        lambda d: flow_step(d, "consent")["buttons"][0]["set"].update(consented=True),
    )
    assert_mentions(problems_of(tree), "onboarding.yaml", "set.consented", "valid string")


def test_two_buttons_share_a_choice(tree: Path) -> None:
    edit_yaml(
        tree / "flows/settings.yaml",
        lambda d: flow_step(d, "menu")["buttons"][1].update(choice="timezone"),
    )
    assert_mentions(problems_of(tree), "flow settings step menu", "share the choice 'timezone'")


def test_payload_too_long(tree: Path) -> None:
    def rename(d: dict[str, Any]) -> None:
        long_name = "step_" + "x" * 60
        d["steps"][long_name] = d["steps"].pop("menu")
        d["start"] = long_name

    edit_yaml(tree / "flows/settings.yaml", rename)
    assert_mentions(problems_of(tree), "payload", "too long")


# ---------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("relative", "reported"),
    [
        ("flows/onboarding.yaml", "onboarding.yaml: is not valid YAML"),
        ("commands.yaml", "commands.yaml: is not valid YAML"),
        ("locales/en/common.yaml", "common.yaml: is not valid YAML"),
    ],
)
def test_invalid_yaml(tree: Path, relative: str, reported: str) -> None:
    path = tree / relative
    path.write_text(path.read_text(encoding="utf-8") + "\nbroken: [unclosed\n", encoding="utf-8")
    problems = problems_of(tree)
    assert_mentions(problems, reported, "at line")


def test_file_that_is_not_utf8(tree: Path) -> None:
    (tree / "locales/en/common.yaml").write_bytes(b"common:\n  busy: \xff\xfe\n")
    assert_mentions(problems_of(tree), "common.yaml", "cannot be read")


def test_locale_missing_a_key_that_en_has(tree: Path) -> None:
    shutil.copytree(tree / "locales/en", tree / "locales/de")
    assert set(load_content(tree).locales) == {"en", "de"}
    edit_yaml(tree / "locales/de/common.yaml", lambda d: d["common"].pop("stale_button"))
    problems = problems_of(tree)
    assert_mentions(problems, "locale de", "'common.stale_button'", "missing")


def test_locale_with_a_key_that_en_lacks(tree: Path) -> None:
    shutil.copytree(tree / "locales/en", tree / "locales/de")
    edit_yaml(tree / "locales/de/common.yaml", lambda d: d["common"].update(extra="Hallo"))
    assert_mentions(problems_of(tree), "locale de", "'common.extra'", "unknown in en")


def test_no_default_locale(tree: Path) -> None:
    (tree / "locales/en").rename(tree / "locales/fr")
    assert_mentions(problems_of(tree), "no 'en' locale")


def test_command_description_over_discords_limit(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["commands"].update(help="x" * 101))
    assert_mentions(problems_of(tree), "commands.yaml", "/help", "too long")


def test_command_description_at_discords_limit_loads(tree: Path) -> None:
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["commands"].update(help="x" * 100))
    assert load_content(tree).texts.render("commands.help") == "x" * 100


def test_duplicated_command(tree: Path) -> None:
    edit_yaml(
        tree / "commands.yaml",
        lambda d: d["groups"][0]["commands"].append(dict(d["groups"][1]["commands"][0])),
    )
    assert_mentions(problems_of(tree), "commands.yaml", "listed twice")


def test_bad_command_name(tree: Path) -> None:
    edit_yaml(tree / "commands.yaml", lambda d: d["groups"][0]["commands"][0].update(name="Start!"))
    assert_mentions(problems_of(tree), "commands.yaml", "groups.0.commands.0.name")


def test_every_problem_is_reported_at_once(tree: Path) -> None:
    edit_yaml(tree / "flows/onboarding.yaml", lambda d: flow_step(d, "done").update(effect="x"))
    edit_yaml(tree / "locales/en/common.yaml", lambda d: d["common"].update(busy="$foo"))
    edit_yaml(
        tree / "commands.yaml",
        lambda d: d["groups"][0]["commands"].append(dict(d["groups"][0]["commands"][0])),
    )
    problems = problems_of(tree)
    assert_mentions(problems, "unknown effect 'x'")
    assert_mentions(problems, "uses unknown ['foo']")
    assert_mentions(problems, "listed twice")


# ---------------------------------------------------------------- wording


def test_content_has_no_copied_passages() -> None:
    if not CHECK_COPY.is_file():
        pytest.skip(f"{CHECK_COPY} is absent: the copy check lives outside this repository")
    result = subprocess.run(
        [sys.executable, "../shared/tools/check_copy.py", "content"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "no copied passages" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


_CLAIMS = re.compile(
    r"\b(i am|i'm|im|mend is) (a |an |your )?(licensed |qualified |certified )?"
    r"(therapist|counsell?or|psychologist|psychiatrist|doctor|clinician|human|person)\b",
    re.IGNORECASE,
)
_LICENSED = re.compile(r"\blicensed\b", re.IGNORECASE)


def test_no_text_claims_mend_is_a_therapist_a_human_or_licensed(content: Content) -> None:
    claims = {k: t for k, t in content.texts.by_key.items() if _CLAIMS.search(t)}
    assert claims == {}
    # "licensed" appears only pointing people to a licensed professional, never about Mend.
    for key, text in content.texts.by_key.items():
        for match in _LICENSED.finditer(text):
            before = text[max(0, match.start() - 4) : match.start()].lower()
            assert before.endswith("a "), (key, text)


def test_the_claims_check_would_catch_a_claim() -> None:
    assert _CLAIMS.search("Hi, I'm a licensed therapist.")
    assert _CLAIMS.search("Mend is a human coach")
    assert not _CLAIMS.search("I'm Mend, an AI coach: not a human and not a therapist.")
