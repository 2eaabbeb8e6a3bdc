"""How a refused value is told, whichever door it came through (config.yml, a map, the state file, MQTT, the
console): `key: problem, got value`, one line per mistake, the value shortened so a hostile one cannot flood."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

SHOWN = 60  # characters of a refused value repeated in the answer


def key(loc: tuple[int | str, ...]) -> str:
    """`devices[0].ip` from pydantic's location `("devices", 0, "ip")`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 5]}...{text[-2:]}"


def problem(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        msg += f", got {shown(value)}"
    return msg


def lines(exc: ValidationError) -> list[str]:
    """One `key: problem` line per mistake."""
    return [f"{key(e['loc'])}: {problem(e)}" if e["loc"] else problem(e) for e in exc.errors()]
