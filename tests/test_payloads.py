"""The control messages' models: whatever arrives, a model or one short answer naming the key; never another error.
(Through a real broker, with the PMS acting on them: test_mqtt_fuzz.py.)"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pms_core.mqtt import payloads
from pms_core.mqtt.control import decode
from pms_core.mqtt.messages import encode
from pms_core.mqtt.payloads import BadMessage, Envelope

MODELS = [Envelope, *dict.fromkeys(payloads.BODIES.values())]
KEYS = ["request_id", "gui_request_id", "timestamp", "mode", "device_name", "command", "params", "alarm", "action",
        "address", "value", "kw", "soc_high_threshold", "command_interval"]  # fmt: skip
hostile = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.text(st.characters(categories=["Cs"])),
    st.text(min_size=500, max_size=5000), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.integers()),
)  # fmt: skip
message = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=300)), hostile, max_size=6)


@settings(max_examples=400)
@given(message)
def test_every_model_gives_a_model_or_one_encodable_answer(data):
    raw = json.dumps(data).encode()  # NaN and Infinity as Python writes them, surrogates as \ud800 escapes
    try:
        decoded = decode(raw)
    except BadMessage as exc:
        assert encode({"message": str(exc)})
        return
    for model in MODELS:
        try:
            payloads.parse(model, decoded)
        except BadMessage as exc:
            text = str(exc)
            assert encode({"message": text}) and len(text) < 3000  # a hostile value is not repeated at length


@pytest.mark.parametrize(
    ("model", "message", "answer"),
    [
        (Envelope, {"request_id": True}, "request_id: must be a string of at most 200 characters or a 64-bit integer"),
        (Envelope, {"request_id": "x" * 201}, "request_id: must be a string of at most 200 characters"),
        (Envelope, {"gui_request_id": 2**64}, "gui_request_id: must be a string of at most 200 characters or a 64-bit"),
        (Envelope, {"timestamp": "yesterday"}, "timestamp: not an ISO 8601 time such as 2026-12-02T09:30:00+09:00"),
        (Envelope, {"timestamp": 1733100000}, "timestamp: Input should be a valid string"),
        (payloads.OperationMode, {"mode": "turbo"}, "mode: Input should be 'auto', 'basic' or 'manual', got 'turbo'"),
        (payloads.OperationMode, {}, "mode: required key is missing"),
        (payloads.BasicMode, {"device_name": "PCS", "command": 5}, "command: Input should be a valid string, got 5"),
        (payloads.BasicMode, {"device_name": "", "command": "x"}, "device_name: String should have at least 1 character"),
        (payloads.BasicMode, {"device_name": "P", "command": "x", "params": []}, "params: Input should be a valid dict"),
        (payloads.AlarmAck, {"device_name": "PCS"}, "alarm: required key is missing"),
        (payloads.RawWrite, {"action": "write_register", "address": -1, "value": 1}, "address: Input should be greater"),
        (payloads.RawWrite, {"action": "write_register", "address": 2, "value": 1.0}, "value: Input should be a valid int"),
    ],
)
def test_a_wrong_field_is_named_with_what_was_wrong(model, message, answer):
    with pytest.raises(BadMessage) as err:
        payloads.parse(model, message)
    assert str(err.value).startswith(answer.split(", got")[0]) and answer in str(err.value)


def test_a_nan_is_refused_at_the_door_naming_its_key():
    with pytest.raises(BadMessage, match=r"^params\.kw: NaN is not a number JSON allows"):
        decode(b'{"device_name": "PCS", "command": "set_charge_power", "params": {"kw": NaN}}')
    with pytest.raises(BadMessage, match="not valid JSON"):
        decode(b'{"request_id": ' + b"9" * 5000 + b"}")


def test_basic_mode_params_at_the_top_level_and_in_params():
    body = payloads.parse(payloads.BasicMode, {"device_name": "PCS", "command": "operation_mode", "mode": "stop",
                                               "kw": 1, "params": {"kw": 2}, "request_id": "r1"})  # fmt: skip
    assert body.all_params() == {"mode": "stop", "kw": 2}  # params wins; the envelope is not a parameter
