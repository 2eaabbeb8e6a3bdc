"""Reasons: the core reports a code with parameters (English for logs and MQTT), the console says it in its language.

The catalog is complete and each template fits its code; every code the core
can emit is registered and no refusal is left a bare English sentence; the
English is what it always was; and the Korean console shows Korean where it
matters: a refused automatic start, an interlock refusal, a threshold error,
a bad config at start.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QMessageBox

from pms_core import validation
from pms_core.automation.settings import SettingsError, changed
from pms_core.bus import AlarmChanged, Bus
from pms_core.clock import Clock
from pms_core.commands import CommandService
from pms_core.config import ConfigError, Thresholds, load_config
from pms_core.interlocks import RULES, Active, Interlocks
from pms_core.reasons import ENGLISH, Reason
from pms_gui import boot
from pms_gui.reasons import REASONS, tr_reason
from tests.helpers.gui import console, gui_site
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_for

CORE = ROOT / "pms_core"
# Calls whose argument at this position (or keyword) is what the operator reads: never an English literal.
REASON_ARGS = {"CommandRejected": 0, "SettingsError": 0, "ReasonError": 0, "Outcome": 1, "Reject": 0, "Alarm": 3,
               "Done": 2, "ConfigError": 0}  # fmt: skip
# Codes whose text is only the parameters with punctuation (and key names): the same in every language.
STRUCTURE = {"command.unencodable", "interlock.alarm", "interlock.write", "interlock.or", "interlock.then",
             "value.at", "value.other", "config.line", "config.map"}  # fmt: skip
# The only places that build a Reason from a code held in a variable: the pydantic table and the list helper.
DYNAMIC_CODES = {("validation.py", "problem"), ("reasons.py", "joined")}


def fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class Anything:
    """A parameter value that takes every format spec (`:g`, `.1f`, `!r`)."""

    def __format__(self, spec: str) -> str:
        return "X"

    def __repr__(self) -> str:
        return "X"


def core_files() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(CORE.rglob("*.py"))]


def name_of(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def english_literal(node: ast.AST) -> bool:
    """An f-string or a string constant, also inside a list, a conditional or a concatenation (not a call's
    arguments: a Reason's parameters are values)."""
    if isinstance(node, (ast.Call, ast.Subscript)):
        return False
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    return any(english_literal(n) for n in ast.iter_child_nodes(node))


def enclosing_functions(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node inside a function -> the innermost function's name."""
    out: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):  # outer functions first: an inner one overwrites them
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.update(dict.fromkeys(ast.walk(fn), fn.name))
    return out


def codes(reason: Reason) -> list[str]:
    """The codes of a reason and of the reasons inside it."""
    return [reason.code] + [c for _, v in reason.params if isinstance(v, Reason) for c in codes(v)]


# --- the catalog ---------------------------------------------------------------------------------------
def test_every_code_has_korean_and_english_with_exactly_its_parameters():
    assert set(REASONS) == set(ENGLISH)
    for code, english in ENGLISH.items():
        assert set(REASONS[code]) == {"ko", "en"}, code
        for lang, template in REASONS[code].items():
            assert fields(template) == fields(english), (code, lang)
            template.format(**dict.fromkeys(fields(english), Anything()))  # every spec fits a value
        if code not in STRUCTURE:
            assert REASONS[code]["ko"] != english, f"{code} is not translated"


def test_every_code_the_core_can_emit_is_registered_and_every_registered_code_is_emitted():
    emitted: set[str] = {code for code, _ in validation.PYDANTIC.values()} | {"value.other", "value.got", "value.at"}
    for path, tree in core_files():
        functions = enclosing_functions(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and name_of(node) in ("Reason", "joined") and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                assert first.value in ENGLISH, f"{path.name}:{node.lineno}: {first.value!r} is not registered"
                emitted.add(first.value)
            else:
                where = (path.name, functions.get(node))
                assert where in DYNAMIC_CODES, f"{path.name}:{node.lineno}: a code that is not a literal"
    assert emitted - set(ENGLISH) == set()
    assert set(ENGLISH) - emitted == set(), "registered but never emitted"


def test_no_operator_facing_refusal_is_a_bare_english_sentence():
    """Refusals, failures, HOLD / FAULT reasons and config lines are Reasons: no English literal where they are made."""
    found = []
    for path, tree in core_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                position = REASON_ARGS.get(name_of(node) or "")
                said = [a for i, a in enumerate(node.args) if i == position]
                said += [k.value for k in node.keywords if k.arg in ("why", "reason", "message")]
            elif (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.returns is not None
                and (ast.unparse(node.returns) in ("Reason", "Reason | None"))
            ):
                said = [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
            else:
                continue
            found += [f"{path.name}:{a.lineno}: {ast.unparse(a)}" for a in said if english_literal(a)]
    assert found == []


# --- the English stays word for word ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "english"),
    [
        (Reason("command.unknown_device", device="없는장치"), "unknown device '없는장치'"),
        (
            Reason(
                "interlock.refusal",
                device="P",
                active=Reason(
                    "interlock.on",
                    rule=Reason("rule.pcs_trip"),
                    device="P",
                    bits=Reason("interlock.bits_more", bits="a, b, c", more=2),
                ),
                allowed=Reason("interlock.or", first=Reason("effect.reset"), second=Reason("effect.stop")),
            ),
            "interlock: PCS total fault or trip on P (a, b, c and 2 more) is active; P takes only reset / stop commands"
            " until it clears",
        ),
        (Reason("command.not_shown", timeout=10.0), "the device did not show it within 10 s"),
        (
            Reason("auto.hold", why=Reason("soc.too_fast", before=50.0, soc=4.0, seconds=1.0, raw=40, rate=2.0)),
            "BMS SOC moved from 50 to 4 % in 1.0 s (raw 40), faster than a battery can (2 %/s): holding, no command is"
            " sent until fresh data returns",
        ),
        (
            Reason("auto.power_above_rating", power=40.0, rating=30.0),
            "cannot start: charging_power 40 kW is above the PCS rating of 30 kW; lower it first",
        ),
        (
            Reason("auto.fault_recovery", attempt=1, limit=3, why=Reason("auto.fire")),
            "fault recovery attempt 1 of 3 this hour, after: BMS fire alarm",
        ),
    ],
)
def test_the_english_is_word_for_word_what_it_was(reason, english):
    assert reason.text == english == str(reason)


def test_the_interlock_alarms_keep_their_english():
    bus, seen = Bus(), []
    bus.subscribe(AlarmChanged, seen.append)
    locks = Interlocks({}, CommandService({}, bus, Clock()), bus, Clock(), lambda: 5.0, soc_max_rate=2.0)
    fire, bms_fault, pcs_trip = RULES[:3]
    locks._alarm(Active(fire, "B", ("Fire Alarm",), ("Fire Alarm",)), True, 0.0)
    locks._alarm(Active(bms_fault, "B", ("a", "b", "c", "d"), ()), True, 0.0)
    locks._alarm(Active(pcs_trip, "P", ("Batt 저전압",), ("Batt 저전압",)), True, 0.0)
    assert [a.message for a in seen] == [
        "BMS fire alarm on B (Fire Alarm): BMS takes only reset / stop; PCS takes only reset / stop; DCDC takes only"
        " reset / stop; the PMS sends PCS stop and DCDC stop until read back in every mode",
        "BMS fault on B (a, b, c and 1 more): BMS takes only reset / setting / standby / stop; PCS takes only reset /"
        " setting / standby / stop; DCDC takes only reset / setting / standby / stop; the PMS sends PCS stop and DCDC"
        " standby until read back while the automatic mode runs",
        "PCS total fault or trip on P (Batt 저전압): PCS takes only reset / stop",
    ]


# --- thresholds: translated by key and bound ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "code", "korean"),
    [
        ({"command_interval": 0.1}, "value.ge", "command_interval: 0.5 이상이어야 합니다 (입력값: 0.1)"),
        ({"soc_high_threshold": 101}, "value.le", "soc_high_threshold: 100 이하여야 합니다 (입력값: 101)"),
        ({"dcdc_standby_time": 1e6}, "value.le", "dcdc_standby_time: 86400 이하여야 합니다 (입력값: 1000000.0)"),
        ({"charging_power": 0}, "value.gt", "charging_power: 0보다 커야 합니다 (입력값: 0)"),
        ({"soc_low_threshold": 30}, "value.order", "임계값 순서가 맞지 않습니다"),
        ({"soc_max": 1}, "settings.unknown", "알 수 없는 설정입니다: 'soc_max'"),
        ({"command_interval": "5"}, "settings.not_a_number", "command_interval 값은 숫자여야 합니다 (입력값: '5')"),
    ],
)
def test_threshold_errors_are_translated_by_key_and_bound(changes, code, korean):
    with pytest.raises(SettingsError) as err:
        changed(Thresholds(), changes)
    assert code in codes(err.value.reason)
    assert korean in tr_reason(err.value.reason, "ko")
    assert tr_reason(err.value.reason, "en") == str(err.value)


def test_every_bound_of_the_thresholds_is_translated_not_passed_through():
    """pydantic's own English equals ours for every bound, so none falls back to the untranslated text."""
    for name in Thresholds.model_fields:
        low, high = Thresholds.bounds(name)
        for value in (low - 1, high + 1):
            with pytest.raises(SettingsError) as err:
                changed(Thresholds(), {name: value})
            assert "value.other" not in codes(err.value.reason), (name, value, str(err.value))


def test_an_unknown_code_falls_back_to_the_english_and_is_logged_once(caplog, monkeypatch):
    monkeypatch.delitem(REASONS, "auto.started")
    assert tr_reason(Reason("auto.started"), "ko") == "automatic mode started"
    assert tr_reason(Reason("auto.started"), "ko") == "automatic mode started"
    assert [r.getMessage() for r in caplog.records].count("no ko text for the reason 'auto.started': shown in English") == 1


# --- config errors at start -----------------------------------------------------------------------------------
def test_a_bad_config_shows_korean_lines_naming_the_file_in_the_start_up_box(tmp_path):
    path = tmp_path / "설정.yml"

    def mistakes(text: str) -> ConfigError:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_config(path)
        return err.value

    values = mistakes('devices: [{name: "p", type: "PCS", ip: 10.0.0.5, colour: red}]\nmqtt: {keepalive: 1}\n')
    korean = boot.startup_config_error_text(values, "ko")
    assert korean.splitlines() == [
        "설정 파일에 잘못된 곳이 있어 PMS를 시작할 수 없습니다:",
        "",
        f"{path}: mqtt.keepalive: 5 이상이어야 합니다 (입력값: 1)",
        f"{path}: devices[0].colour: 알 수 없는 키입니다",
    ]
    # English in the box is the lines stderr and the log show
    assert boot.startup_config_error_text(values, "en") == (f"PMS cannot start: the config has mistakes:\n\n{values}")
    plant = mistakes('devices: [{name: "p", type: "PCS", ip: 10.0.0.5, poll_interval: 15}, {name: "p", type: "BMS",'
                     ' ip: 10.0.0.5, port: 0502}]\n')  # fmt: skip
    assert f"{path}: devices[1].port: 숫자를 그대로 쓰십시오 (입력값 0502" in tr_reason(plant.reasons[0], "ko")
    plant = mistakes('devices: [{name: "p", type: "PCS", ip: 10.0.0.5, poll_interval: 15}, {name: "p", type: "BMS",'
                     ' ip: 10.0.0.6}, {name: "d", type: "DCDC", ip: 10.0.0.5}]\n')  # fmt: skip
    assert [tr_reason(r, "ko") for r in plant.reasons] == [
        f"{path}: devices[0].poll_interval: 15초는 PCS에는 너무 깁니다. PCS는 30초 동안 요청이 없으면 트립합니다. 적어도"
        " 10초마다 폴링하십시오",
        f"{path}: devices[1].name: 장치 이름 'p'이(가) 중복됩니다",
        f"{path}: devices[2].slave_id: 'd'의 ip, port, slave_id가 'p'와(과) 같습니다. 한 유닛에 장치가 둘이면 서로의"
        " 레지스터를 읽게 됩니다",
    ]


def test_a_line_the_core_gives_as_plain_text_is_shown_as_it_is():
    exc = ConfigError(["config.yml: devices[2]: 'd' is a DC-DC, but this is the DC-DC-disabled build"])
    assert exc.lines == exc.reasons and exc.reasons[0] in boot.startup_config_error_text(exc, "ko")


# --- the Korean console -----------------------------------------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_a_refused_automatic_start_and_a_threshold_error_are_korean_in_the_auto_panel(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            panel, pcs = window.auto, plant.name("PCS")
            plant.sim.set_bits(pcs, "trip_1", 1)  # Batt 저전압: a PCS trip
            await wait_for(lambda: plant.runtime.interlocks.of("pcs_trip", "PCS") is not None, 5, "the PCS trip")
            qtbot.mouseClick(panel.mode_buttons["auto"], Qt.LeftButton)
            assert panel.answer.text() == "자동 모드로 전환했습니다"
            qtbot.mouseClick(panel.start_button, Qt.LeftButton)
            refusal = panel.answer.text()
            assert refusal.startswith(f"시작할 수 없습니다: {pcs}의 PCS 고장(Total Fault) 또는 트립 (")
            assert "Batt 저전압" in refusal and refusal.endswith("먼저 기본 모드에서 리셋하십시오")
            assert plant.runtime.auto.machine.state == "IDLE"

            panel.spins["soc_low_threshold"].setValue(30.0)  # above the charge-stop threshold: refused
            panel.apply()
            assert panel.settings_answer.text().startswith("임계값 순서가 맞지 않습니다")

            window.set_language("en")  # the answers shown follow the language, as the core said them
            assert panel.answer.text() == plant.runtime.operation.start_auto(source="gui").message
            assert panel.settings_answer.text().startswith("thresholds out of order")
            window.set_language("ko")

    run_qt(scenario)


@pytest.mark.gui
@pytest.mark.tcp
def test_an_interlock_refusal_is_korean_in_the_controls_and_the_event_log(tmp_path, run_qt, qtbot):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            pcs = plant.name("PCS")
            plant.sim.set_bits(pcs, "trip_1", 1)
            await wait_for(lambda: plant.runtime.interlocks.of("pcs_trip", "PCS") is not None, 5, "the PCS trip")
            group = window.controls.groups[pcs]
            qtbot.mouseClick(group.buttons["operation_mode.charge"], Qt.LeftButton)
            window.controls.dialog.button(QMessageBox.Yes).click()
            said = f"인터록 작동 중: {pcs}의 PCS 고장(Total Fault) 또는 트립 ("
            await wait_for(lambda: said in group.result.text(), 5, "the refusal in the controls")
            assert f"해제될 때까지 {pcs}은(는) 리셋 / 정지 명령만 받습니다" in group.result.text()
            await wait_for(lambda: any(said in r[5] for r in window.events.rows()), 5, "the refusal in the event log")
            assert not [w for w in plant.sim.plant.writes if w[1] == "PCS"], "nothing written"

    run_qt(scenario)
