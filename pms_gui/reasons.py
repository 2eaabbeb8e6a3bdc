"""The console's words for the core's reasons (pms_core/reasons.py): one entry per code, Korean and English side by side.

`tr_reason` renders a Reason in the console's language, the reasons inside it
too; the parameters (device names, numbers, a bit's name, a device's own
error text) are shown as the core gave them. A code without an entry here is
shown in the core's English and logged once: tests/test_reasons.py keeps this
catalog complete, and every template to the parameters of its code.
"""

from __future__ import annotations

import logging

from pms_core.config import ConfigError
from pms_core.reasons import Reason
from pms_gui import i18n

log = logging.getLogger(__name__)

REASONS: dict[str, dict[str, str]] = {
    # the command path: refusals and failures
    "command.unknown_device": {
        "ko": "알 수 없는 장치입니다: {device!r}",
        "en": "unknown device {device!r}",
    },
    "command.unknown_command": {
        "ko": "{device} ({type})에는 {command!r} 명령이 없습니다. 사용할 수 있는 명령: {known}",
        "en": "{device} ({type}) has no command {command!r}; known: {known}",
    },
    "command.needs_param": {
        "ko": "{command} 명령에는 params.{param} 값이 필요합니다",
        "en": "{command} needs params.{param}",
    },
    "command.reserved": {
        "ko": "{label}은(는) 데이터시트의 예약(RESERVED) 명령입니다. 원격 시스템(MQTT)만 보낼 수 있습니다",
        "en": "{label} is RESERVED in the datasheet: only a remote system sends it (MQTT)",
    },
    "command.not_writable": {
        "ko": "주소 {address}은(는) {device}의 쓰기 가능한 레지스터가 아닙니다",
        "en": "address {address} is not a writable register of {device}",
    },
    "command.raw_unwritten": {
        "ko": "{register} ({address})은(는) 맵의 어떤 명령도 쓰지 않는 레지스터라 직접 쓸 수 없습니다",
        "en": "{register} ({address}) is written by no command of the map: not written raw",
    },
    "command.raw_values": {
        "ko": "{register} ({address})에는 맵의 명령 값({values})만 쓸 수 있습니다. 입력값: {value}",
        "en": "{register} ({address}) takes only {values} (the map's commands), got {value}",
    },
    "command.not_a_choice": {
        "ko": "{command}: {param} 값 {value}은(는) 다음 중 하나여야 합니다: {choices}",
        "en": "{command}: {param} {value} is not one of {choices}",
    },
    "command.not_a_number": {
        "ko": "{command}: {param} 값은 숫자여야 합니다 (입력값: {value})",
        "en": "{command}: {param} must be a number, got {value}",
    },
    "command.rating_unknown": {
        "ko": "{command}: {device}의 정격({register})을 알 수 없습니다. 최신 데이터가 없습니다",
        "en": "{command}: the rating ({register}) of {device} is not known: no fresh data",
    },
    "command.below_minimum": {
        "ko": "{command}: {value} {unit}은(는) 최솟값 {minimum} {unit}보다 작습니다",
        "en": "{command}: {value} {unit} is below the minimum {minimum} {unit}",
    },
    "command.above_limit": {
        "ko": "{command}: {value} {unit}은(는) {device}의 한도 {limit} {unit}을(를) 넘습니다",
        "en": "{command}: {value} {unit} is above the limit {limit} {unit} of {device}",
    },
    "command.unencodable": {
        "ko": "{command}: {error}",
        "en": "{command}: {error}",
    },
    "command.multi_word": {
        "ko": "{command}: {register}에는 레지스터 {count}개가 필요하지만, 장치는 0x06 쓰기 한 번만 받습니다",
        "en": "{command}: {register} needs {count} registers; the devices take one 0x06 write",
    },
    "command.not_a_switch": {
        "ko": "{param} 값은 true 또는 false여야 합니다 (입력값: {value})",
        "en": "{param} must be true or false, got {value}",
    },
    "command.busy": {
        "ko": "처리 중: {device}에 이미 명령 {count}개가 대기하고 있습니다. 잠시 후 다시 보내 주십시오",
        "en": "busy: {count} commands are already waiting for {device}; send it again later",
    },
    "command.shutting_down": {
        "ko": "PMS가 종료되는 중입니다",
        "en": "the PMS is shutting down",
    },
    "command.offline": {
        "ko": "{device}이(가) 오프라인입니다: {error}",
        "en": "{device} is offline: {error}",
    },
    "command.not_connected": {
        "ko": "연결되지 않음",
        "en": "not connected",
    },
    "command.write_failed": {
        "ko": "기록에 실패했습니다 ({address}={value}): {error}",
        "en": "write {address}={value} failed: {error}",
    },
    "command.stale_for_auto": {
        "ko": "{device}의 최신 데이터가 없어 자동 모드는 명령하지 않습니다",
        "en": "{device} has no fresh data: the automatic mode does not command it",
    },
    "command.superseded": {
        "ko": "장치에 반영되기 전에 명령 #{id}(으)로 대체되었습니다",
        "en": "superseded by command #{id} before the device showed it",
    },
    "command.not_shown": {
        "ko": "장치가 {timeout:g}초 안에 반영하지 않았습니다",
        "en": "the device did not show it within {timeout:g} s",
    },
    "command.too_late": {
        "ko": "{problem} (차례가 왔을 때)",
        "en": "{problem} (when its turn came)",
    },
    "common.none": {
        "ko": "없음",
        "en": "none",
    },
    # operation modes
    "mode.unknown": {
        "ko": "알 수 없는 모드입니다: {mode}. 'basic'(또는 'manual')이나 'auto'를 사용하십시오",
        "en": "unknown mode {mode}: use 'basic' (or 'manual') or 'auto'",
    },
    "mode.auto_not_allowed": {
        "ko": "이 현장에서는 자동 모드를 사용할 수 없습니다 (auto_mode.enabled: false)",
        "en": "the automatic mode is not allowed at this site (auto_mode.enabled: false)",
    },
    "mode.already_basic": {
        "ko": "이미 기본 모드입니다",
        "en": "already in basic mode",
    },
    "mode.already_auto": {
        "ko": "이미 자동 모드입니다",
        "en": "already in auto mode",
    },
    "mode.switched_basic": {
        "ko": "기본 모드로 전환했습니다",
        "en": "switched to basic mode",
    },
    "mode.switched_auto": {
        "ko": "자동 모드로 전환했습니다",
        "en": "switched to auto mode",
    },
    "mode.auto_on": {
        "ko": "자동 모드가 켜져 있어({state}) 장치 명령을 거부합니다. 직접 명령하려면 기본 모드로 전환하십시오",
        "en": (
            "the automatic mode is on ({state}): device commands are refused; switch to basic mode to command devices "
            "by hand"
        ),
    },
    "settings.applied": {
        "ko": "적용했습니다: {settings}",
        "en": "applied: {settings}",
    },
    # the automatic mode: refusals, HOLD, FAULT, recoveries
    "auto.not_running": {
        "ko": "자동 운전이 실행 중이 아닙니다",
        "en": "the automatic mode is not running",
    },
    "auto.start_needs_auto": {
        "ko": "자동 운전은 자동 모드에서만 시작할 수 있습니다. 먼저 자동 모드로 전환하십시오",
        "en": "the automatic mode can only be started in auto mode: switch the mode to auto first",
    },
    "auto.started": {
        "ko": "자동 운전을 시작했습니다",
        "en": "automatic mode started",
    },
    "auto.was_not_running": {
        "ko": "자동 운전이 실행 중이 아니었습니다",
        "en": "the automatic mode was not running",
    },
    "auto.stopped": {
        "ko": "자동 운전을 정지했습니다. 더 이상 아무것도 기록하지 않으며, 장치는 마지막 명령을 유지합니다",
        "en": "automatic mode stopped: nothing more is written, devices keep their last command",
    },
    "auto.power_above_rating": {
        "ko": "시작할 수 없습니다: 충전 전력 {power:g} kW가 PCS 정격 {rating:g} kW보다 큽니다. 먼저 충전 전력을 낮추십시오",
        "en": "cannot start: charging_power {power:g} kW is above the PCS rating of {rating:g} kW; lower it first",
    },
    "auto.internal_error": {
        "ko": "자동 모드 내부 오류: {error}",
        "en": "internal error in the automatic mode: {error}",
    },
    "auto.no_device": {
        "ko": "{device}이(가) 설정되어 있지 않습니다",
        "en": "no {device} is configured",
    },
    "auto.stale": {
        "ko": "{device} 데이터가 지연되었거나 오프라인입니다",
        "en": "{device} data is stale or offline",
    },
    "auto.step_given_up": {
        "ko": "장치를 기다리는 동안 자동 모드가 이 단계를 포기했습니다 (보류, 고장 또는 정지)",
        "en": "the automatic mode gave this step up (HOLD, FAULT or stop) while it waited for the device",
    },
    "auto.step_internal_error": {
        "ko": "내부 오류: {error}",
        "en": "internal error: {error}",
    },
    "auto.soc_unknown": {
        "ko": "BMS SOC를 알 수 없습니다",
        "en": "BMS SOC is not known",
    },
    "auto.fire": {
        "ko": "BMS 화재 경보",
        "en": "BMS fire alarm",
    },
    "auto.dcdc_left_out": {
        "ko": "{why}: DC-DC에는 명령하지 않고 PCS 쪽은 계속 운전합니다",
        "en": "{why}: the DC-DC gets no command, the PCS side keeps running",
    },
    "auto.hold": {
        "ko": "{why}: 최신 데이터가 들어올 때까지 보류하며 명령을 보내지 않습니다",
        "en": "{why}: holding, no command is sent until fresh data returns",
    },
    "auto.hold_end_stop": {
        "ko": "자동 운전 정지",
        "en": "automatic mode stopped",
    },
    "auto.hold_end_fault": {
        "ko": "고장으로 보류가 끝났습니다",
        "en": "hold ended by a fault",
    },
    "auto.hold_end_fresh": {
        "ko": "데이터가 다시 최신입니다: 운전을 재개합니다",
        "en": "data fresh again: resuming",
    },
    "auto.fault": {
        "ko": "자동 모드 고장: {why}",
        "en": "automatic mode FAULT: {why}",
    },
    "auto.fault_recovery": {
        "ko": "고장 복구 시도 {attempt}/{limit}회 (최근 1시간), 원인: {why}",
        "en": "fault recovery attempt {attempt} of {limit} this hour, after: {why}",
    },
    "auto.dcdc_recovery": {
        "ko": "DC-DC 고장 복구 시도 {attempt}/{limit}회 (최근 1시간)",
        "en": "DC-DC fault recovery attempt {attempt} of {limit} this hour",
    },
    "auto.in_fault": {
        "ko": "자동 모드가 고장 상태입니다 ({why}). 정지하고 고장을 해소한 뒤 시작하십시오",
        "en": "automatic mode is in FAULT ({why}): stop it, clear the fault, then start",
    },
    "auto.already_running": {
        "ko": "자동 운전이 이미 실행 중입니다 ({state})",
        "en": "automatic mode is already running ({state})",
    },
    "auto.cannot_start": {
        "ko": "시작할 수 없습니다: {why}",
        "en": "cannot start: {why}",
    },
    "auto.cannot_start_fault": {
        "ko": "시작할 수 없습니다: {why}. 먼저 기본 모드에서 리셋하십시오",
        "en": "cannot start: {why}; reset it in basic mode first",
    },
    "auto.step_failed_twice": {
        "ko": "{step} 단계가 두 번 실패했습니다: {why}",
        "en": "{step} failed twice: {why}",
    },
    # interlocks and the SOC check
    "rule.fire": {
        "ko": "BMS 화재 경보",
        "en": "BMS fire alarm",
    },
    "rule.bms_fault": {
        "ko": "BMS 고장",
        "en": "BMS fault",
    },
    "rule.pcs_trip": {
        "ko": "PCS 고장(Total Fault) 또는 트립",
        "en": "PCS total fault or trip",
    },
    "rule.dcdc_trip": {
        "ko": "DC-DC 트립",
        "en": "DC-DC trip",
    },
    "effect.stop": {
        "ko": "정지",
        "en": "stop",
    },
    "effect.reset": {
        "ko": "리셋",
        "en": "reset",
    },
    "effect.standby": {
        "ko": "대기",
        "en": "standby",
    },
    "effect.energize": {
        "ko": "운전",
        "en": "energize",
    },
    "effect.setting": {
        "ko": "설정",
        "en": "setting",
    },
    "interlock.on": {
        "ko": "{device}의 {rule} ({bits})",
        "en": "{rule} on {device} ({bits})",
    },
    "interlock.bits_more": {
        "ko": "{bits} 외 {more}건",
        "en": "{bits} and {more} more",
    },
    "interlock.refusal": {
        "ko": "인터록 작동 중: {active}. 해제될 때까지 {device}은(는) {allowed} 명령만 받습니다",
        "en": "interlock: {active} is active; {device} takes only {allowed} commands until it clears",
    },
    "interlock.takes_only": {
        "ko": "{type}은(는) {allowed} 명령만 받음",
        "en": "{type} takes only {allowed}",
    },
    "interlock.alarm": {
        "ko": "{active}: {refusing}",
        "en": "{active}: {refusing}",
    },
    "interlock.alarm_enforced": {
        "ko": "{active}: {refusing}. 모든 모드에서 PMS가 {writes} 명령을 판독값으로 확인될 때까지 보냅니다",
        "en": "{active}: {refusing}; the PMS sends {writes} until read back in every mode",
    },
    "interlock.alarm_enforced_auto": {
        "ko": "{active}: {refusing}. 자동 운전 중에는 PMS가 {writes} 명령을 판독값으로 확인될 때까지 보냅니다",
        "en": "{active}: {refusing}; the PMS sends {writes} until read back while the automatic mode runs",
    },
    "interlock.write": {
        "ko": "{type} {mode}",
        "en": "{type} {mode}",
    },
    "interlock.or": {
        "ko": "{first} / {second}",
        "en": "{first} / {second}",
    },
    "interlock.and": {
        "ko": "{first}, {second}",
        "en": "{first} and {second}",
    },
    "interlock.then": {
        "ko": "{first}; {second}",
        "en": "{first}; {second}",
    },
    "soc.not_available": {
        "ko": "BMS SOC 값을 읽을 수 없습니다 (원시값 {raw})",
        "en": "BMS SOC not available (raw {raw})",
    },
    "soc.out_of_range": {
        "ko": "BMS SOC {soc:g} %가 0-100 % 범위를 벗어났습니다 (원시값 {raw})",
        "en": "BMS SOC {soc:g} % is outside 0-100 % (raw {raw})",
    },
    "soc.too_fast": {
        "ko": (
            "BMS SOC가 {seconds:.1f}초 만에 {before:g} %에서 {soc:g} %로 바뀌었습니다 (원시값 {raw}). 배터리가 변할 "
            "수 있는 속도({rate:g} %/s)보다 빠릅니다"
        ),
        "en": (
            "BMS SOC moved from {before:g} to {soc:g} % in {seconds:.1f} s (raw {raw}), faster than a battery can "
            "({rate:g} %/s)"
        ),
    },
    # thresholds and timings
    "settings.unknown": {
        "ko": "알 수 없는 설정입니다: {key}. 사용할 수 있는 설정: {known}",
        "en": "unknown setting {key}; known: {known}",
    },
    "settings.not_a_number": {
        "ko": "{key} 값은 숫자여야 합니다 (입력값: {value})",
        "en": "{key} must be a number, got {value}",
    },
    "settings.above_rating": {
        "ko": "충전 전력(charging_power) {power} kW가 PCS 정격 {rating} kW보다 큽니다",
        "en": "charging_power {power} kW is above the PCS rating of {rating} kW",
    },
    # a refused value, whichever door it came through (config.yml, the console, MQTT)
    "value.at": {
        "ko": "{key}: {problem}",
        "en": "{key}: {problem}",
    },
    "value.got": {
        "ko": "{problem} (입력값: {value})",
        "en": "{problem}, got {value}",
    },
    "value.unknown_key": {
        "ko": "알 수 없는 키입니다",
        "en": "unknown key",
    },
    "value.missing": {
        "ko": "필수 키가 없습니다",
        "en": "required key is missing",
    },
    "value.ge": {
        "ko": "{bound:g} 이상이어야 합니다",
        "en": "Input should be greater than or equal to {bound:g}",
    },
    "value.gt": {
        "ko": "{bound:g}보다 커야 합니다",
        "en": "Input should be greater than {bound:g}",
    },
    "value.le": {
        "ko": "{bound:g} 이하여야 합니다",
        "en": "Input should be less than or equal to {bound:g}",
    },
    "value.lt": {
        "ko": "{bound:g}보다 작아야 합니다",
        "en": "Input should be less than {bound:g}",
    },
    "value.finite": {
        "ko": "유한한 숫자여야 합니다",
        "en": "Input should be a finite number",
    },
    "value.integer": {
        "ko": "정수여야 합니다",
        "en": "Input should be a valid integer",
    },
    "value.integer_text": {
        "ko": "정수여야 합니다 (글자를 정수로 읽을 수 없습니다)",
        "en": "Input should be a valid integer, unable to parse string as an integer",
    },
    "value.integer_fraction": {
        "ko": "정수여야 합니다 (소수점 아래 값이 있습니다)",
        "en": "Input should be a valid integer, got a number with a fractional part",
    },
    "value.number": {
        "ko": "숫자여야 합니다",
        "en": "Input should be a valid number",
    },
    "value.number_text": {
        "ko": "숫자여야 합니다 (글자를 숫자로 읽을 수 없습니다)",
        "en": "Input should be a valid number, unable to parse string as a number",
    },
    "value.boolean": {
        "ko": "true 또는 false여야 합니다",
        "en": "Input should be a valid boolean",
    },
    "value.boolean_text": {
        "ko": "true 또는 false여야 합니다 (값을 해석할 수 없습니다)",
        "en": "Input should be a valid boolean, unable to interpret input",
    },
    "value.text": {
        "ko": "문자열이어야 합니다",
        "en": "Input should be a valid string",
    },
    "value.list": {
        "ko": "목록이어야 합니다",
        "en": "Input should be a valid list",
    },
    "value.one_of": {
        "ko": "다음 중 하나여야 합니다: {expected}",
        "en": "Input should be {expected}",
    },
    "value.too_few": {
        "ko": "항목이 {min_length}개 이상 있어야 합니다 (현재 {actual_length}개)",
        "en": "List should have at least {min_length} item after validation, not {actual_length}",
    },
    "value.text_too_short": {
        "ko": "{min_length}글자 이상이어야 합니다",
        "en": "String should have at least {min_length} character",
    },
    "value.text_too_long": {
        "ko": "{max_length}글자 이하여야 합니다",
        "en": "String should have at most {max_length} characters",
    },
    "value.other": {
        "ko": "{problem}",
        "en": "{problem}",
    },
    "value.not_ipv4": {
        "ko": "{value}은(는) IPv4 주소가 아닙니다 (0-255 사이 숫자 4개, 앞자리 0 없이)",
        "en": "{value} is not an IPv4 address (four numbers 0-255, no leading zeros)",
    },
    "value.not_host": {
        "ko": "{value}은(는) IPv4 주소도 호스트 이름도 아닙니다",
        "en": "{value} is neither an IPv4 address nor a host name",
    },
    "value.topic_chars": {
        "ko": "{value}은(는) MQTT 토픽 단계로 쓸 수 없습니다: {chars} 문자는 안 됩니다. 영문자, 숫자, _ 또는 -를 쓰십시오",
        "en": "{value} cannot be an MQTT topic level: no {chars}; use letters, digits, _ or -",
    },
    "value.topic_spaces": {
        "ko": (
            "{value}은(는) MQTT 토픽 단계로 쓸 수 없습니다: 앞뒤에 공백이 있으면 안 됩니다. 영문자, 숫자, _ 또는 -를 "
            "쓰십시오"
        ),
        "en": "{value} cannot be an MQTT topic level: no spaces at either end; use letters, digits, _ or -",
    },
    "value.order": {
        "ko": (
            "임계값 순서가 맞지 않습니다: soc_low_threshold < soc_charge_stop_threshold < soc_high_threshold 이어야 "
            "하는데, 입력값은 {low} / {stop} / {high}입니다"
        ),
        "en": (
            "thresholds out of order: need soc_low_threshold < soc_charge_stop_threshold < soc_high_threshold, got "
            "{low} / {stop} / {high}"
        ),
    },
    # config.yml: every line names the file
    "config.line": {
        "ko": "{file}: {problem}",
        "en": "{file}: {problem}",
    },
    "config.unreadable": {
        "ko": "{file}: 설정 파일을 읽을 수 없습니다: {error}",
        "en": "{file}: cannot read config: {error}",
    },
    "config.utf16": {
        "ko": "{file}: 파일이 UTF-16으로 저장되어 있습니다. UTF-8로 저장하십시오 (메모장: 다른 이름으로 저장, 인코딩 UTF-8)",
        "en": "{file}: the file is saved as UTF-16: save it as UTF-8 (Notepad: Save as, Encoding UTF-8)",
    },
    "config.not_utf8": {
        "ko": (
            "{file}: {line}번째 줄이 UTF-8이 아닙니다 (ANSI / cp949로 저장되었나요?). UTF-8로 저장하십시오 (메모장: "
            "다른 이름으로 저장, 인코딩 UTF-8)"
        ),
        "en": (
            "{file}: line {line} is not UTF-8 (saved as ANSI / cp949?): save it as UTF-8 (Notepad: Save as, Encoding UTF-8)"
        ),
    },
    "config.yaml": {
        "ko": "{file}: YAML 형식이 올바르지 않습니다: {problem}",
        "en": "{file}: not valid YAML: {problem}",
    },
    "config.yaml_at": {
        "ko": "{file}: {line}번째 줄의 YAML 형식이 올바르지 않습니다: {problem}",
        "en": "{file}: not valid YAML at line {line}: {problem}",
    },
    "config.octal": {
        "ko": (
            "{file}: {key}: 숫자를 그대로 쓰십시오 (입력값 {value}: 앞자리 0, 0x 또는 :가 있으면 YAML이 다른 숫자로 "
            "읽습니다)"
        ),
        "en": (
            "{file}: {key}: write the number plainly (got {value}: a leading zero, 0x or : makes YAML read another number)"
        ),
    },
    "config.not_mapping": {
        "ko": "{file}: 설정 파일은 섹션(mqtt, devices, ...)으로 이루어져야 합니다",
        "en": "{file}: the config must be a mapping of sections (mqtt, devices, ...)",
    },
    "config.duplicate_name": {
        "ko": "{file}: devices[{index}].name: 장치 이름 {name!r}이(가) 중복됩니다",
        "en": "{file}: devices[{index}].name: duplicate device name {name!r}",
    },
    "config.same_unit": {
        "ko": (
            "{file}: devices[{index}].slave_id: {name!r}의 ip, port, slave_id가 {other!r}와(과) 같습니다. 한 유닛에 "
            "장치가 둘이면 서로의 레지스터를 읽게 됩니다"
        ),
        "en": (
            "{file}: devices[{index}].slave_id: {name!r} has the ip, port and slave_id of {other!r}; two devices on "
            "one unit would read each other's registers"
        ),
    },
    "config.stale_after": {
        "ko": (
            "{file}: devices[{index}].stale_after: {stale_after:g}초는 폴링 주기 두 번({minimum:g}초)과 {maximum:g}초 "
            "사이여야 합니다"
        ),
        "en": (
            "{file}: devices[{index}].stale_after: {stale_after:g} s must be between two poll intervals ({minimum:g} "
            "s) and {maximum:g} s"
        ),
    },
    "config.pcs_poll": {
        "ko": (
            "{file}: devices[{index}].poll_interval: {poll:g}초는 PCS에는 너무 깁니다. PCS는 {watchdog:g}초 동안 "
            "요청이 없으면 트립합니다. 적어도 {maximum:g}초마다 폴링하십시오"
        ),
        "en": (
            "{file}: devices[{index}].poll_interval: {poll:g} s is too long for a PCS, which trips after {watchdog:g} "
            "s without a request: poll it at least every {maximum:g} s"
        ),
    },
    "config.map": {
        "ko": "{file}: devices[{index}].map: {error}",
        "en": "{file}: devices[{index}].map: {error}",
    },
    "config.map_type": {
        "ko": "{file}: devices[{index}].map: {map}은(는) {map_type} 맵인데 장치는 {type}입니다",
        "en": "{file}: devices[{index}].map: {map} is a {map_type} map, the device is a {type}",
    },
    "config.tls_file": {
        "ko": "{file}: mqtt.tls.{key}: 파일이 없습니다: {path}",
        "en": "{file}: mqtt.tls.{key}: file not found: {path}",
    },
}
_untranslated: set[tuple[str, str]] = set()  # (code, language) already logged


def tr_reason(reason: Reason | str, lang: str | None = None) -> str:
    """`reason` in the console's language (or `lang`); a line the core gave as plain text, as it is."""
    if isinstance(reason, str):
        return reason
    lang = lang or i18n.language()
    template = REASONS.get(reason.code, {}).get(lang)
    if template is None:
        if (reason.code, lang) not in _untranslated:
            _untranslated.add((reason.code, lang))
            log.warning("no %s text for the reason %r: shown in English", lang, reason.code)
        return reason.text
    return reason.render(template, lambda inner: tr_reason(inner, lang))


def config_error_text(exc: ConfigError, lang: str) -> str:
    """The start-up message for a config with mistakes: every line in `lang`, each naming the file."""
    lines = "\n".join(tr_reason(r, lang) for r in exc.reasons)
    return i18n.CATALOG[lang]["start.config_error"].format(lines=lines)
