"""How a refused value is told, whichever door it came through (config.yml, a map, the state file, MQTT, the
console): `key: problem, got value`, one line per mistake, the value shortened so a hostile one cannot flood."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from pms_core.reasons import Reason, ReasonError

SHOWN = 60  # characters of a refused value repeated in the answer
# pydantic's error type -> our code, and the keys of the error's context that are its parameters
PYDANTIC: dict[str, tuple[str, tuple[str, ...]]] = {
    "extra_forbidden": ("value.unknown_key", ()),
    "missing": ("value.missing", ()),
    "greater_than_equal": ("value.ge", ("ge",)),
    "greater_than": ("value.gt", ("gt",)),
    "less_than_equal": ("value.le", ("le",)),
    "less_than": ("value.lt", ("lt",)),
    "finite_number": ("value.finite", ()),
    "int_type": ("value.integer", ()),
    "int_parsing": ("value.integer_text", ()),
    "int_from_float": ("value.integer_fraction", ()),
    "float_type": ("value.number", ()),
    "float_parsing": ("value.number_text", ()),
    "bool_type": ("value.boolean", ()),
    "bool_parsing": ("value.boolean_text", ()),
    "string_type": ("value.text", ()),
    "list_type": ("value.list", ()),
    "literal_error": ("value.one_of", ("expected",)),
    "too_short": ("value.too_few", ("min_length", "actual_length")),
    "string_too_short": ("value.text_too_short", ("min_length",)),
    "string_too_long": ("value.text_too_long", ("max_length",)),
}
BOUNDS = ("ge", "gt", "le", "lt")  # one parameter, `bound`, for every comparison


def key(loc: tuple[int | str, ...]) -> str:
    """`devices[0].ip` from pydantic's location `("devices", 0, "ip")`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 5]}...{text[-2:]}"


def problem(err: ErrorDetails) -> Reason:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("extra_forbidden", "missing"):
        return Reason(PYDANTIC[kind][0])
    msg = str(err["msg"]).removeprefix("Value error, ")
    error = ctx.get("error")
    if isinstance(error, ReasonError):  # one of our validators
        said = error.reason
    elif kind in PYDANTIC:
        code, keys = PYDANTIC[kind]
        said = Reason(code, **{"bound" if k in BOUNDS else k: ctx.get(k) for k in keys})
        # pydantic words some messages by their numbers (1 item, 2 items) and may reword them in another version:
        # its own English is what is said, so a translation is used only where its English is pydantic's.
        if said.text != msg:
            said = Reason("value.other", problem=msg)
    else:
        said = Reason("value.other", problem=msg)
    value = err.get("input")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return Reason("value.got", problem=said, value=shown(value))
    return said


def reasons(exc: ValidationError) -> list[Reason]:
    """One `key: problem` reason per mistake."""
    return [Reason("value.at", key=key(e["loc"]), problem=problem(e)) if e["loc"] else problem(e) for e in exc.errors()]


def lines(exc: ValidationError) -> list[str]:
    """One `key: problem` line per mistake, in English."""
    return [r.text for r in reasons(exc)]
