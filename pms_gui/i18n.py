"""Every visible string of the console (Korean by default, English selectable), as data: one entry per key holding
both languages side by side, so a text is never added in one language only. The core's reasons have their own
table of the same form (pms_gui/reasons.py).

`tr(key, **fmt)` looks a key up in the current language. Widgets register
their fixed texts with a `Binder` so that a language switch re-labels them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("ko", "en")

TEXTS: dict[str, dict[str, str]] = {
    "app.title": {"ko": "PMS 운영 콘솔", "en": "PMS operator console"},
    # version, About box, demo without MQTT
    "app.window_title.normal": {"ko": "PMS 운영 콘솔 {version}", "en": "PMS operator console {version}"},
    "app.window_title.dcdc_disabled": {
        "ko": "PMS 운영 콘솔 {version} (DC-DC 없음)",
        "en": "PMS operator console {version} (no DC-DC)",
    },
    "menu.help": {"ko": "도움말(&H)", "en": "&Help"},
    "menu.about": {"ko": "정보", "en": "About"},
    "about.title": {"ko": "PMS 정보", "en": "About PMS"},
    "about.version": {"ko": "버전", "en": "Version"},
    "about.variant": {"ko": "빌드", "en": "Build"},
    "variant.normal": {"ko": "일반", "en": "normal"},
    "variant.dcdc_disabled": {"ko": "DC-DC 없음", "en": "no DC-DC"},
    "about.config": {"ko": "설정 파일", "en": "Config file"},
    "about.data": {"ko": "데이터 폴더", "en": "Data folder"},
    "about.logs": {"ko": "로그 폴더", "en": "Log folder"},
    "about.libraries": {"ko": "포함된 라이브러리와 라이선스", "en": "Bundled libraries and their licences"},
    "about.library": {"ko": "라이브러리", "en": "Library"},
    "about.licence": {"ko": "라이선스", "en": "Licence"},
    "about.close": {"ko": "닫기", "en": "Close"},
    "status.broker.off_demo": {"ko": "MQTT: 사용 안 함 (데모)", "en": "MQTT: off (demo)"},
    "status.broker.off_demo.tip": {
        "ko": "mosquitto가 설치되어 있지 않아 데모는 MQTT 없이 실행됩니다",
        "en": "mosquitto is not installed: the demo runs without MQTT",
    },
    # docks
    "dock.bms": {"ko": "배터리 (BMS)", "en": "Battery (BMS)"},
    "dock.pcs": {"ko": "전력변환장치 (PCS)", "en": "Inverter (PCS)"},
    "dock.dcdc": {"ko": "태양광 DC-DC", "en": "Solar DC-DC"},
    "dock.trends": {"ko": "추세", "en": "Trends"},
    "dock.controls": {"ko": "기본 모드 제어", "en": "Basic-mode controls"},
    "dock.auto": {"ko": "자동 모드", "en": "Automatic mode"},
    "dock.events": {"ko": "알람 및 이벤트", "en": "Alarms and events"},
    "dock.registers": {"ko": "레지스터", "en": "Registers"},
    # overview dock: power flows and energy bars
    "dock.overview": {"ko": "개요", "en": "Overview"},
    "ov.node.pv": {"ko": "태양광 (PV)", "en": "Solar (PV)"},
    "ov.node.battery": {"ko": "배터리", "en": "Battery"},
    "ov.node.pcs": {"ko": "PCS", "en": "Inverter (PCS)"},
    "ov.node.ac": {"ko": "부하 / 계통", "en": "Load / grid"},
    "ov.delivering": {"ko": "공급 중", "en": "delivering"},
    "ov.drawing": {"ko": "수전 중", "en": "drawing"},
    "ov.idle": {"ko": "대기", "en": "idle"},
    "ov.bar.pv": {"ko": "PV 발전", "en": "PV generated"},
    "ov.bar.charged": {"ko": "배터리 충전 (PCS DC)", "en": "Battery charged (PCS DC)"},
    "ov.bar.discharged": {"ko": "배터리 방전 (PCS DC)", "en": "Battery discharged (PCS DC)"},
    "ov.bar.delivered": {"ko": "AC 공급 (부하/계통)", "en": "AC delivered (load/grid)"},
    "ov.today": {"ko": "오늘", "en": "Today"},
    "ov.7d": {"ko": "최근 7일", "en": "Last 7 days"},
    "ov.30d": {"ko": "최근 30일", "en": "Last 30 days"},
    "ov.as_of": {"ko": "kWh · {time} 기준", "en": "kWh · as of {time}"},
    "ov.reading": {"ko": "kWh · 읽는 중", "en": "kWh · reading"},
    "ov.no_history": {"ko": "이력 없음", "en": "no history"},
    "ov.battery.charging": {"ko": "충전 {kw}", "en": "charging {kw}"},
    "ov.battery.discharging": {"ko": "방전 {kw}", "en": "discharging {kw}"},
    "ov.bars.tip": {
        "ko": (
            "이력에 기록된 누적 전력량 계량값의 증가분 합계 (자정부터의 날짜 기준).\nPV: DC-DC 금일 발전량 · "
            "충전/방전: PCS DC 적산 · AC 공급: PCS AC 방전 적산.\n계량값이 줄어들면 (장치 교체, 초기화) 그 "
            "시점부터 다시 셉니다."
        ),
        "en": (
            "Sum of the increases of the energy counters in the history (calendar days from midnight).\nPV: DC-DC "
            "today's generation · charged/discharged: PCS DC counters · AC delivered: PCS AC discharge "
            "counter.\nA counter that goes down (device replaced, reset) is counted again from there."
        ),
    },
    # menus
    "menu.file": {"ko": "파일(&F)", "en": "&File"},
    "menu.quit": {"ko": "종료(&Q)", "en": "&Quit"},
    "menu.view": {"ko": "보기(&V)", "en": "&View"},
    "menu.reset_layout": {"ko": "레이아웃 초기화", "en": "Reset layout"},
    "menu.language": {"ko": "언어", "en": "Language"},
    "menu.lang.ko": {"ko": "한국어", "en": "한국어"},
    "menu.lang.en": {"ko": "English", "en": "English"},
    "menu.docks": {"ko": "패널", "en": "Panels"},
    # link states
    "link.online": {"ko": "온라인", "en": "online"},
    "link.stale": {"ko": "지연", "en": "stale"},
    "link.offline": {"ko": "오프라인", "en": "offline"},
    "age.seconds": {"ko": "{age:.0f}초 전", "en": "{age:.0f} s ago"},
    "age.never": {"ko": "수신 없음", "en": "never"},
    "stale.note": {"ko": "{state} · 마지막 데이터 {age}", "en": "{state} · last data {age}"},
    # status bar
    "status.broker": {"ko": "MQTT: {state}", "en": "MQTT: {state}"},
    "status.broker.unknown": {"ko": "MQTT: —", "en": "MQTT: —"},
    "broker.connected": {"ko": "연결됨", "en": "connected"},
    "broker.connecting": {"ko": "연결 중", "en": "connecting"},
    "broker.disconnected": {"ko": "끊김", "en": "disconnected"},
    "status.device": {"ko": "{name}: {state} ({age})", "en": "{name}: {state} ({age})"},
    "status.device.fresh": {"ko": "{name}: {state}", "en": "{name}: {state}"},
    "status.mode": {"ko": "모드: {mode}", "en": "Mode: {mode}"},
    "mode.basic": {"ko": "기본", "en": "basic"},
    "mode.auto": {"ko": "자동", "en": "auto"},
    # BMS
    "bms.rack_voltage": {"ko": "랙 전압", "en": "Rack voltage"},
    "bms.rack_current": {"ko": "랙 전류 (+ = 충전)", "en": "Rack current (+ = charging)"},
    "bms.power": {"ko": "랙 전력 (+ = 충전)", "en": "Rack power (+ = charging)"},
    "bms.temp": {"ko": "모듈 온도 최대/최소/평균", "en": "Module temp max/min/avg"},
    "bms.cell": {"ko": "셀 전압 최대/최소", "en": "Cell voltage max/min"},
    "bms.spread": {"ko": "셀 전압 편차", "en": "Cell voltage spread"},
    "bms.soh": {"ko": "SOH", "en": "SOH"},
    "bms.contactor": {"ko": "DC 접촉기", "en": "DC contactor"},
    "bms.state": {"ko": "운전 상태", "en": "Operating state"},
    "bms.alarms": {"ko": "활성 알람", "en": "Active alarms"},
    "contactor.closed": {"ko": "투입", "en": "closed"},
    "contactor.open": {"ko": "개방", "en": "open"},
    "bms.state.standby": {"ko": "대기", "en": "standby"},
    "bms.state.charging": {"ko": "충전 중", "en": "charging"},
    "bms.state.discharging": {"ko": "방전 중", "en": "discharging"},
    "bms.state.idle": {"ko": "유휴", "en": "idle"},
    "bms.state.init": {"ko": "초기화 중", "en": "initialising"},
    "gauge.low": {"ko": "충전 시작", "en": "charge"},
    "gauge.stop": {"ko": "충전 구간", "en": "charging"},
    "gauge.normal": {"ko": "정상", "en": "normal"},
    "gauge.high": {"ko": "태양광 대기", "en": "solar standby"},
    "none": {"ko": "없음", "en": "none"},
    # PCS
    "pcs.ac_power": {"ko": "AC 유효 전력 (+ = 충전)", "en": "AC active power (+ = charging)"},
    "pcs.grid_v": {"ko": "계통 전압 R/S/T", "en": "Grid voltage R/S/T"},
    "pcs.freq": {"ko": "계통 주파수", "en": "Grid frequency"},
    "pcs.pf": {"ko": "역률", "en": "Power factor"},
    "pcs.batt_v": {"ko": "배터리 전압", "en": "Battery voltage"},
    "pcs.batt_i": {"ko": "배터리 전류 (+ = 충전)", "en": "Battery current (+ = charging)"},
    "pcs.batt_p": {"ko": "배터리 전력 (+ = 충전)", "en": "Battery power (+ = charging)"},
    "pcs.energy_ac": {"ko": "금일 AC 충전/방전", "en": "AC charged/discharged today"},
    "pcs.energy_dc": {"ko": "금일 DC 충전/방전", "en": "DC charged/discharged today"},
    "pcs.since": {"ko": "{time}부터", "en": "since {time}"},
    "pcs.alarm": {"ko": "경보", "en": "Alarms"},
    "pcs.trip": {"ko": "트립", "en": "Trips"},
    "pcs.fault": {"ko": "고장 (Total Fault)", "en": "Fault (total fault)"},
    "pcs.mode.stop": {"ko": "정지", "en": "stopped"},
    "pcs.mode.charge": {"ko": "충전", "en": "charging"},
    "pcs.mode.discharge": {"ko": "방전 (회생)", "en": "discharging (regen)"},
    "pcs.mode.standby": {"ko": "운전 대기", "en": "running, standby"},
    "pcs.mode.independent": {"ko": "독립 운전", "en": "independent operation"},
    "ok": {"ko": "정상", "en": "OK"},
    # DC-DC
    "dcdc.state": {"ko": "상태", "en": "State"},
    "dcdc.pv_in": {"ko": "PV 입력 V / I / P", "en": "PV in V / I / P"},
    "dcdc.out": {"ko": "출력 V / I / P (+ = 충전)", "en": "Out V / I / P (+ = charging)"},
    "dcdc.temps": {"ko": "온도 1/2/3", "en": "Temperatures 1/2/3"},
    "dcdc.today": {"ko": "금일 발전량", "en": "Generated today"},
    "dcdc.alarm": {"ko": "경보/트립", "en": "Alarms/trips"},
    "dcdc.mode.solar": {"ko": "태양광 발전", "en": "solar generation"},
    "dcdc.mode.standby": {"ko": "대기", "en": "standby"},
    "dcdc.mode.stopped": {"ko": "정지", "en": "stopped"},
    "dcdc.mode.ready": {"ko": "준비", "en": "ready"},
    "dcdc.mode.charge": {"ko": "충전", "en": "charge"},
    "dcdc.mode.regen": {"ko": "회생", "en": "regen"},
    "dcdc.mode.independent": {"ko": "독립", "en": "independent"},
    "dcdc.mode.unknown": {"ko": "알 수 없음", "en": "unknown"},
    # trends
    "trend.soc": {"ko": "SOC (%)", "en": "SOC (%)"},
    "trend.battery_power": {"ko": "배터리 전력 (kW)", "en": "Battery power (kW)"},
    "trend.pv_power": {"ko": "PV 전력 (kW)", "en": "PV power (kW)"},
    "trend.ac_power": {"ko": "AC 전력 (kW)", "en": "AC power (kW)"},
    "trend.window": {"ko": "기간", "en": "Window"},
    "trend.10m": {"ko": "10분", "en": "10 min"},
    "trend.1h": {"ko": "1시간", "en": "1 h"},
    "trend.24h": {"ko": "24시간", "en": "24 h"},
    "trend.7d": {"ko": "7일", "en": "7 days"},
    "trend.pause": {"ko": "일시정지", "en": "Pause"},
    "trend.follow": {"ko": "최신으로", "en": "Follow"},
    # controls
    "ctl.pcs.operation_mode.stop": {"ko": "정지 (20)", "en": "Stop (20)"},
    "ctl.pcs.operation_mode.standby": {"ko": "운전/대기 (21)", "en": "Run/standby (21)"},
    "ctl.pcs.operation_mode.charge": {"ko": "충전 (22)", "en": "Charge (22)"},
    "ctl.pcs.operation_mode.regen": {"ko": "회생 (23)", "en": "Regen (23)"},
    "ctl.pcs.operation_mode.independent": {"ko": "독립운전 (24)", "en": "Independent (24)"},
    "ctl.pcs.reset_faults": {"ko": "리셋 (19)", "en": "Reset (19)"},
    "ctl.pcs.bms_contactor.on": {"ko": "BMS 접촉기 ON", "en": "BMS contactor on"},
    "ctl.pcs.bms_contactor.off": {"ko": "BMS 접촉기 OFF", "en": "BMS contactor off"},
    "ctl.pcs.set_charge_power": {"ko": "충전 전력", "en": "Charge power"},
    "ctl.pcs.set_discharge_power": {"ko": "방전 전력", "en": "Discharge power"},
    "ctl.dcdc.operation_mode.reset": {"ko": "리셋 (100)", "en": "Reset (100)"},
    "ctl.dcdc.operation_mode.stop": {"ko": "정지 (101)", "en": "Stop (101)"},
    "ctl.dcdc.operation_mode.ready": {"ko": "준비 (102)", "en": "Ready (102)"},
    "ctl.dcdc.operation_mode.charge": {"ko": "충전 (103)", "en": "Charge (103)"},
    "ctl.dcdc.operation_mode.regen": {"ko": "회생 (104)", "en": "Regen (104)"},
    "ctl.dcdc.operation_mode.start": {"ko": "시작 (105)", "en": "Start (105)"},
    "ctl.dcdc.operation_mode.standby": {"ko": "대기 (106)", "en": "Standby (106)"},
    "ctl.dcdc.operation_mode.solar": {"ko": "태양광 발전 (107)", "en": "Solar (107)"},
    "ctl.dcdc.set_generation_limit": {"ko": "발전 제한 전력", "en": "Generation limit"},
    "ctl.bms.dc_contactor.on": {"ko": "DC 접촉기 ON", "en": "DC contactor on"},
    "ctl.bms.dc_contactor.off": {"ko": "DC 접촉기 OFF", "en": "DC contactor off"},
    "ctl.bms.reset_errors": {"ko": "에러 리셋", "en": "Error reset"},
    "ctl.bms.reset_system_lock": {"ko": "Lock 리셋", "en": "Lock reset"},
    "ctl.set": {"ko": "설정", "en": "Set"},
    "ctl.last": {"ko": "마지막 명령: {text}", "en": "Last command: {text}"},
    "ctl.none": {"ko": "마지막 명령: —", "en": "Last command: —"},
    "ctl.disabled_auto": {
        "ko": "자동 모드가 켜져 있어 수동 명령은 거부됩니다. 자동 모드 패널에서 기본 모드로 전환하세요.",
        "en": (
            "The automatic mode is on, so commands by hand are refused. Switch to basic mode in the automatic-mode panel."
        ),
    },
    "ctl.confirm.title": {"ko": "명령 확인", "en": "Confirm command"},
    "ctl.confirm.text": {
        "ko": "{device}에 다음을 기록합니다:\n\n{writes}\n\n({label})\n\n실행하시겠습니까?",
        "en": "This writes to {device}:\n\n{writes}\n\n({label})\n\nGo ahead?",
    },
    "ctl.confirm.write": {
        "ko": "주소 {address} ← {value} (0x{value:04X})",
        "en": "address {address} ← {value} (0x{value:04X})",
    },
    "ctl.rejected": {"ko": "거부됨: {reason}", "en": "refused: {reason}"},
    "ctl.sending": {"ko": "{label}: 전송 중…", "en": "{label}: sending…"},
    "result.written": {"ko": "기록됨", "en": "written"},
    "result.confirmed": {"ko": "확인됨", "en": "confirmed"},
    "result.unconfirmed": {"ko": "미확인", "en": "unconfirmed"},
    "result.failed": {"ko": "실패", "en": "failed"},
    # auto
    "auto.mode": {"ko": "운전 모드", "en": "Operation mode"},
    "auto.basic": {"ko": "기본 모드", "en": "Basic"},
    "auto.auto": {"ko": "자동 모드", "en": "Automatic"},
    "auto.start": {"ko": "자동 시작", "en": "Start auto"},
    "auto.stop": {"ko": "자동 정지", "en": "Stop auto"},
    "auto.state": {"ko": "상태: {state}", "en": "State: {state}"},
    "auto.step": {"ko": "현재 단계: {step}", "en": "Step: {step}"},
    "auto.no_step": {"ko": "현재 단계: —", "en": "Step: —"},
    "auto.countdown": {"ko": "다음 단계까지 {seconds:.0f}초", "en": "next step in {seconds:.0f} s"},
    "auto.sequence": {"ko": "시퀀스: {name}", "en": "Sequence: {name}"},
    "auto.reason": {"ko": "사유: {reason}", "en": "Reason: {reason}"},
    "auto.thresholds": {"ko": "임계값 및 시간", "en": "Thresholds and timings"},
    "auto.apply": {"ko": "적용", "en": "Apply"},
    "auto.revert": {"ko": "되돌리기", "en": "Revert"},
    "auto.source": {"ko": "출처: {source}", "en": "from: {source}"},
    "auto.col.setting": {"ko": "항목", "en": "Setting"},
    "auto.col.value": {"ko": "값", "en": "Value"},
    "auto.col.source": {"ko": "출처", "en": "From"},
    "auto.wait_then": {"ko": "대기 후 {step}", "en": "wait, then {step}"},
    "auto.charging_until": {"ko": "SOC {soc:g}% 까지 충전 중", "en": "charging until SOC >= {soc:g} %"},
    "source.config.yml": {"ko": "config.yml", "en": "config.yml"},
    "source.saved": {"ko": "저장됨", "en": "saved"},
    "set.soc_high_threshold": {"ko": "SOC 상한 (%)", "en": "SOC high (%)"},
    "set.soc_low_threshold": {"ko": "SOC 하한 (%)", "en": "SOC low (%)"},
    "set.soc_charge_stop_threshold": {"ko": "충전 정지 SOC (%)", "en": "Charge stop SOC (%)"},
    "set.dcdc_standby_time": {"ko": "DC-DC 대기 시간 (s)", "en": "DC-DC standby time (s)"},
    "set.command_interval": {"ko": "명령 간격 (s)", "en": "Command interval (s)"},
    "set.charging_power": {"ko": "충전 전력 (kW)", "en": "Charging power (kW)"},
    "seq.start": {"ko": "시작", "en": "start"},
    "seq.soc_high": {"ko": "SOC 상한", "en": "SOC high"},
    "seq.solar": {"ko": "태양광 재개", "en": "solar again"},
    "seq.charge": {"ko": "충전", "en": "charge"},
    "seq.charge_end": {"ko": "충전 종료", "en": "end of charge"},
    "seq.recovery": {"ko": "자동 복구", "en": "auto recovery"},
    "seq.fault_recovery": {"ko": "고장 복구", "en": "fault recovery"},
    "seq.dcdc_recovery": {"ko": "DC-DC 고장 복구", "en": "DC-DC fault recovery"},
    "state.IDLE": {"ko": "정지 (IDLE)", "en": "IDLE"},
    "state.STARTING": {"ko": "시작 중 (STARTING)", "en": "STARTING"},
    "state.NORMAL": {"ko": "정상 운전 (NORMAL)", "en": "NORMAL"},
    "state.SOC_HIGH": {"ko": "SOC 상한 (SOC_HIGH)", "en": "SOC_HIGH"},
    "state.CHARGING": {"ko": "충전 (CHARGING)", "en": "CHARGING"},
    "state.RECOVERY": {"ko": "복구 (RECOVERY)", "en": "RECOVERY"},
    "state.HOLD": {"ko": "보류 (HOLD)", "en": "HOLD"},
    "state.FAULT": {"ko": "고장 (FAULT)", "en": "FAULT"},
    # events
    "ev.active": {"ko": "활성 알람", "en": "Active alarms"},
    "ev.log": {"ko": "이벤트 기록", "en": "Event log"},
    "ev.col.time": {"ko": "시각", "en": "Time"},
    "ev.col.severity": {"ko": "등급", "en": "Severity"},
    "ev.col.device": {"ko": "장치", "en": "Device"},
    "ev.col.alarm": {"ko": "알람", "en": "Alarm"},
    "ev.col.kind": {"ko": "종류", "en": "Kind"},
    "ev.col.source": {"ko": "출처", "en": "Source"},
    "ev.col.text": {"ko": "내용", "en": "Event"},
    "ev.col.result": {"ko": "결과", "en": "Result"},
    "sev.info": {"ko": "정보", "en": "info"},
    "sev.warning": {"ko": "경고", "en": "warning"},
    "sev.fault": {"ko": "고장", "en": "fault"},
    "kind.command": {"ko": "명령", "en": "command"},
    "kind.mode": {"ko": "모드", "en": "mode"},
    "kind.link": {"ko": "통신", "en": "link"},
    "kind.alarm": {"ko": "알람", "en": "alarm"},
    "kind.broker": {"ko": "MQTT", "en": "MQTT"},
    "src.gui": {"ko": "콘솔", "en": "console"},
    "src.mqtt": {"ko": "MQTT", "en": "MQTT"},
    "src.auto": {"ko": "자동", "en": "automatic"},
    "src.interlock": {"ko": "인터록", "en": "interlock"},
    "src.pms": {"ko": "PMS", "en": "PMS"},
    "ev.mode_changed": {"ko": "운전 모드: {mode}", "en": "operation mode: {mode}"},
    "ev.auto_state": {"ko": "자동 모드 상태: {state}", "en": "automatic mode: {state}"},
    "ev.link": {"ko": "{state}{error}", "en": "{state}{error}"},
    "ev.broker": {"ko": "브로커 {broker}: {state}", "en": "broker {broker}: {state}"},
    "ev.alarm.on": {"ko": "발생: {message}", "en": "raised: {message}"},
    "ev.col.ack": {"ko": "확인", "en": "Acknowledged"},
    "ev.ack": {"ko": "선택 알람 확인", "en": "Acknowledge selected"},
    "ev.ack_all": {"ko": "모두 확인", "en": "Acknowledge all"},
    "ev.unacked": {"ko": "미확인", "en": "not yet"},
    "menu.export": {"ko": "CSV 내보내기(&E)...", "en": "&Export CSV..."},
    "export.title": {"ko": "CSV 내보내기", "en": "Export CSV"},
    "export.what": {"ko": "내용", "en": "What"},
    "export.what.values": {"ko": "측정값", "en": "Values"},
    "export.what.alarms": {"ko": "알람 기록", "en": "Alarm journal"},
    "export.what.audit": {"ko": "감사 기록 (명령, 모드, 설정)", "en": "Audit log (commands, modes, settings)"},
    "export.since": {"ko": "시작", "en": "From"},
    "export.until": {"ko": "끝", "en": "To"},
    "export.devices": {"ko": "장치", "en": "Devices"},
    "export.series": {"ko": "항목", "en": "Series"},
    "export.file": {"ko": "파일", "en": "File"},
    "export.browse": {"ko": "찾아보기...", "en": "Browse..."},
    "export.start": {"ko": "내보내기", "en": "Export"},
    "export.close": {"ko": "닫기", "en": "Close"},
    "export.cancel": {"ko": "취소", "en": "Cancel"},
    "export.running": {"ko": "내보내는 중...", "en": "Exporting..."},
    "export.done": {"ko": "{rows}행을 {path}에 저장했습니다", "en": "{rows} rows written to {path}"},
    "export.cancelled": {"ko": "내보내기를 취소했습니다", "en": "Export cancelled"},
    "export.failed": {"ko": "내보내기 실패: {error}", "en": "Export failed: {error}"},
    "export.bad_input": {
        "ko": "기간, 장치와 항목을 확인하세요 (끝은 시작보다 뒤여야 합니다)",
        "en": "Check the range, the devices and the series (the end must come after the start)",
    },
    "export.no_history": {"ko": "이력을 사용할 수 없습니다: {error}", "en": "History unavailable: {error}"},
    "ev.alarm.off": {"ko": "해제: {message}", "en": "cleared: {message}"},
    # registers
    "reg.col.address": {"ko": "주소", "en": "Address"},
    "reg.col.table": {"ko": "테이블", "en": "Table"},
    "reg.col.name": {"ko": "이름", "en": "Name"},
    "reg.col.raw": {"ko": "원시값", "en": "Raw"},
    "reg.col.value": {"ko": "값", "en": "Value"},
    "reg.col.unit": {"ko": "단위", "en": "Unit"},
    "reg.col.description": {"ko": "설명", "en": "Description"},
    "reg.copy": {"ko": "복사", "en": "Copy"},
    "reg.copied": {"ko": "{rows}행을 클립보드에 복사했습니다", "en": "copied {rows} rows to the clipboard"},
    "reg.unsupported": {"ko": "이 장비에서 지원하지 않음", "en": "not supported by this device"},
    # dialogs and errors
    "close.title": {"ko": "종료 확인", "en": "Quit?"},
    # closing, the tray, the File menu's folders and start with Windows, the alarm sound
    "close.text": {
        "ko": (
            "콘솔을 닫으면 PMS가 멈춥니다. 설비를 더 이상 제어하거나 감시하지 않으며 MQTT 명령도 따르지 "
            "않습니다. 장치에는 아무것도 기록하지 않지만, PCS는 PMS의 폴링이 멈추고 약 30초 뒤에 통신 감시로 "
            "스스로 정지(트립)합니다.\n\nPMS를 종료하시겠습니까?"
        ),
        "en": (
            "Closing the console stops the PMS: the plant is no longer controlled or monitored, and MQTT "
            "commands are no longer obeyed. Nothing is written to the devices, but the PCS trips by itself (its "
            "communication watchdog) about 30 s after the PMS stops polling it.\n\nStop the PMS?"
        ),
    },
    "close.auto": {
        "ko": "자동 모드가 실행 중입니다. 자동 제어도 함께 멈춥니다.",
        "en": "The automatic mode is running: automatic control stops too.",
    },
    "close.tray_hint": {
        "ko": "트레이에서 계속 실행하면 창만 숨기고, PMS는 계속 폴링하며 MQTT 명령을 따릅니다.",
        "en": "Keep running in the tray hides the window only: the PMS keeps polling and obeying MQTT.",
    },
    "close.stop": {"ko": "PMS 종료", "en": "Stop the PMS"},
    "close.tray": {"ko": "트레이에서 계속 실행", "en": "Keep running in the tray"},
    "close.cancel": {"ko": "취소", "en": "Cancel"},
    "tray.show": {"ko": "콘솔 열기", "en": "Show the console"},
    "tray.quit": {"ko": "종료...", "en": "Quit..."},
    "tray.hidden": {
        "ko": "PMS는 트레이에서 계속 실행 중입니다 (폴링과 MQTT). 아이콘을 누르면 콘솔이 열립니다.",
        "en": "The PMS keeps running in the tray (polling and MQTT). Click the icon to open the console.",
    },
    "tray.alarm": {"ko": "알람 ({severity}): {device}", "en": "Alarm ({severity}): {device}"},
    "menu.open_logs": {"ko": "로그 폴더 열기", "en": "Open log folder"},
    "menu.open_config": {"ko": "설정 폴더 열기", "en": "Open config folder"},
    "menu.startup": {"ko": "Windows 시작 시 실행", "en": "Start with Windows"},
    "menu.mute": {"ko": "알람 소리 끄기", "en": "Mute alarm sound"},
    "folder.failed": {"ko": "폴더를 열 수 없습니다: {path}", "en": "Cannot open the folder {path}"},
    "startup.failed": {
        "ko": "Windows 시작 프로그램을 바꿀 수 없습니다:\n\n{error}",
        "en": "Cannot change starting with Windows:\n\n{error}",
    },
    "error.title": {"ko": "예기치 않은 오류", "en": "Unexpected error"},
    "error.text": {
        "ko": "오류가 발생했지만 콘솔은 계속 실행됩니다. 로그에 기록되었습니다:\n\n{error}",
        "en": "Something went wrong; the console keeps running. It has been logged:\n\n{error}",
    },
    "start.already_running": {
        "ko": "PMS가 이미 실행 중입니다 (pid {pid}). 이 창은 닫힙니다.\n\n데이터 폴더: {folder}",
        "en": "PMS is already running (pid {pid}). This window closes.\n\nData folder: {folder}",
    },
    "start.config_error": {
        "ko": "설정 파일에 잘못된 곳이 있어 PMS를 시작할 수 없습니다:\n\n{lines}",
        "en": "PMS cannot start: the config has mistakes:\n\n{lines}",
    },
    "yes": {"ko": "예", "en": "Yes"},
    "no": {"ko": "아니오", "en": "No"},
}

CATALOG: dict[str, dict[str, str]] = {lang: {key: texts[lang] for key, texts in TEXTS.items()} for lang in LANGUAGES}
_current = {"lang": "ko"}


def set_language(lang: str) -> None:
    if lang not in CATALOG:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    _current["lang"] = lang


def language() -> str:
    return _current["lang"]


def tr(key: str, **fmt: Any) -> str:
    text = CATALOG[_current["lang"]].get(key) or CATALOG["en"].get(key) or key
    return text.format(**fmt) if fmt else text


def has(key: str) -> bool:
    return key in TEXTS


class Binder:
    """Fixed texts of a widget: set now, set again on a language switch."""

    def __init__(self) -> None:
        self._bindings: list[tuple[Callable[[str], object], str, dict[str, Any]]] = []

    def bind(self, setter: Callable[[str], object], key: str, **fmt: Any) -> None:
        setter(tr(key, **fmt))
        self._bindings.append((setter, key, fmt))

    def retranslate(self) -> None:
        for setter, key, fmt in self._bindings:
            setter(tr(key, **fmt))
