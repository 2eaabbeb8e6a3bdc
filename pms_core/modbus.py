"""One Modbus TCP client per endpoint; the only module of the PMS that imports pymodbus.

Requests on a link are serialised (writes go ahead of queued reads), time out,
and are never retried: a write that may have reached the device is not sent
again behind the operator's back. A lost connection is re-opened on the next
request, no sooner than a back-off that doubles up to `BACKOFF_MAX`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException

log = logging.getLogger(__name__)
# pymodbus logs every refused connection and timeout itself; the PMS reports them as link states.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 5.0
WRITE, READ = 0, 1  # request priorities: lower goes first


class LinkError(Exception):
    """A request that did not complete; `offline` says whether the connection is lost."""

    def __init__(self, message: str, *, offline: bool) -> None:
        super().__init__(message)
        self.offline = offline


class DeviceError(LinkError):
    """The device answered with a Modbus exception (e.g. 0x02 illegal address)."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message, offline=False)
        self.code = code


class _PriorityLock:
    """A lock whose waiters are served by priority, then in arrival order."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: int) -> AsyncIterator[None]:
        if self._locked or self._waiters:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._seq), fut))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # we were handed the lock as we got cancelled
                else:
                    self._drop(fut)
                raise
        self._locked = True
        try:
            yield
        finally:
            self._release()

    def _drop(self, fut: asyncio.Future[None]) -> None:
        self._waiters = [w for w in self._waiters if w[2] is not fut]
        heapq.heapify(self._waiters)

    def _release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)  # ownership passes straight to the waiter
                return
        self._locked = False


class ModbusLink:
    """The connection to one endpoint (host, port), shared by the devices behind it."""

    def __init__(self, host: str, port: int, timeout: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=0, reconnect_delay=0, name=f"{host}:{port}"
        )
        self._lock = _PriorityLock()
        self._backoff = BACKOFF_MIN
        self._next_attempt = 0.0
        self.last_error: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client.connected

    async def read(self, table: str, address: int, count: int, unit: int) -> list[int]:
        """Read `count` words from the holding (0x03) or input (0x04) table."""
        async with self._lock.hold(READ):
            call = self._client.read_holding_registers if table == "holding" else self._client.read_input_registers
            resp = await self._request(f"read {table} {address}+{count}", lambda: call(address, count=count, device_id=unit))
            regs = list(resp.registers)
            if len(regs) != count:
                self._drop_connection()
                raise LinkError(f"{self.endpoint}: read {address}+{count} answered {len(regs)} words", offline=False)
            return regs

    async def write(self, address: int, value: int, unit: int) -> None:
        """Write one holding register with 0x06 (the devices implement no 0x10)."""
        async with self._lock.hold(WRITE):
            await self._request(
                f"write {address}={value}", lambda: self._client.write_register(address, value, device_id=unit)
            )

    async def _request(self, what: str, send):  # noqa: ANN001, ANN202 - pymodbus' own types
        await self._ensure_connected()
        try:
            resp = await send()  # pymodbus times the request out itself (ModbusIOException)
        except (ModbusIOException, asyncio.TimeoutError):
            # Connected but silent. The stream may still deliver the late answer: start afresh.
            self._fail(f"{what}: no answer within {self.timeout} s")
            raise LinkError(f"{self.endpoint}: {self.last_error}", offline=False) from None
        except (ModbusException, OSError) as exc:
            self._fail(f"{what}: connection lost ({exc})")
            raise LinkError(f"{self.endpoint}: {self.last_error}", offline=True) from None
        if resp.isError():
            code = getattr(resp, "exception_code", None)
            self.last_error = f"{what}: Modbus exception {code:#04x}" if code is not None else f"{what}: error"
            raise DeviceError(f"{self.endpoint}: {self.last_error}", code)
        return resp

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_attempt:
            raise LinkError(f"{self.endpoint}: not connected ({self.last_error or 'waiting to reconnect'})", offline=True)
        reason = "connection refused or timed out"
        try:
            ok = await self._client.connect()
        except (ModbusException, OSError) as exc:
            ok, reason = False, str(exc)
        if not ok or not self._client.connected:
            self._next_attempt = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self.last_error = reason
            raise LinkError(f"{self.endpoint}: cannot connect ({self.last_error})", offline=True)
        self._backoff = BACKOFF_MIN
        self.last_error = None
        sock = self._client.ctx.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("connected to %s", self.endpoint)

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        self._drop_connection()

    def _drop_connection(self) -> None:
        self._client.close()
        self._next_attempt = 0.0  # a lost connection may be re-opened at once; back-off starts if that fails

    def nodelay(self) -> bool:
        """Whether the open socket has TCP_NODELAY set (for tests and diagnostics)."""
        transport = self._client.ctx.transport
        sock = transport.get_extra_info("socket") if transport else None
        return bool(sock and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async def close(self) -> None:
        async with self._lock.hold(WRITE):
            self._client.close()
