"""The shelter agent: pushes a shelter's bed counts to `/ws/shelter` and never loses one.

The core is `AgentState`, a sans-I/O state machine: it is told what the server said
(`on_hello`, `on_ack`, `on_error`) and what the operator wants to report (`submit`), and
answers with the reports to send. It keeps every report until the server has answered
it, so a report sent into a connection that then dies is sent again after the next
hello. The server's `last_seq` in that hello numbers the reports that carry no seq.

`run` is the thin asyncio shell around it: connect with the shelter token, reconnect
with capped exponential backoff and full jitter, and give up only when the server
refuses the token (HTTP 401/403 on the handshake), which raises `TokenRefused`.

The token is sent only in the handshake's Authorization header; it is never logged or
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from schema.wire import (
    WORD_PATTERN,
    Ack,
    BedCounts,
    BedType,
    Decide,
    Decided,
    Error,
    Hello,
    Offer,
    OfferClosed,
    Report,
    Seq,
    ServerMessage,
)

Beds = dict[str, BedCounts]

RETRYABLE = frozenset({"unavailable"})
"""Error codes that mean "not now": the report is kept and sent again."""


class ReportBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One line of an agent's report file: the beds, and a seq only when the file fixes it."""

    beds: dict[BedType, BedCounts]
    seq: Seq | None = None
    type: Literal["report"] | None = None


class InputError(ValueError):
    """A typed or file line the agent cannot turn into a report."""


class TokenRefused(Exception):
    """The server refused the shelter token on the handshake; retrying cannot help."""

    def __init__(self, status: int) -> None:
        super().__init__(
            f"the server refused the shelter token (HTTP {status}): check --token or "
            "HAVEN_TOKEN; a revoked or mistyped token needs a new one from `haven shelter add`"
        )
        self.status = status


@dataclass
class Outcome:
    """What happened to the reports the agent was given."""

    applied: int = 0
    duplicate: int = 0
    stale: int = 0
    retried: int = 0
    """Reports the server could not take for now, sent again."""
    rejected: list[dict[str, object]] = field(default_factory=list)
    """Errors the server returned, as {"seq", "code", "message"}."""
    decided: list[dict[str, object]] = field(default_factory=list)
    """Answers to this agent's decisions on offers, as {"offer", "status"} or
    {"offer", "code", "message"} when the server refused one."""


class AgentState:
    """Pending reports, what the server last applied, and what to (re)send.

    Invariants: every report handed out by `submit`/`on_hello` stays in `pending` until
    an ack or error with its seq arrives; reports without a seq wait in `unnumbered`
    until a hello says which seq comes next; assigned seqs rise.
    """

    def __init__(self) -> None:
        self.shelter: str | None = None
        self.last_seq: int | None = None
        """The server's last applied seq, from the latest hello; None before any hello."""
        self.high = 0
        """Highest seq assigned so far."""
        self.pending: dict[int, Report] = {}
        self.unnumbered: list[Beds] = []
        self.connected = False
        self.outcome = Outcome()
        self.offers: dict[str, Offer] = {}
        """Offers the server sent that are still open."""
        self.deciding: dict[str, Decide] = {}
        """Decisions sent (or to send) and not yet answered, oldest first."""

    @property
    def done(self) -> bool:
        """Every report and decision submitted so far has been answered."""
        return not self.pending and not self.unnumbered and not self.deciding

    def decide(self, decision: Decide) -> list[Decide]:
        """Queue a decision on an offer; return it when it can be sent now."""
        self.deciding[decision.offer] = decision
        return [decision] if self.connected else []

    def on_offer(self, message: Offer | OfferClosed | Decided) -> None:
        """An offer arrived, closed, or one of our decisions was taken."""
        if isinstance(message, Offer):
            self.offers[message.offer] = message
            return
        self.offers.pop(message.offer, None)
        if isinstance(message, Decided) and self.deciding.pop(message.offer, None) is not None:
            self.outcome.decided.append({"offer": message.offer, "status": message.status})

    def _refused_decision(self, error: Error) -> bool:
        """A seq-less error answers the oldest unanswered decision: the server answers a
        connection's frames in order, and report errors carry their seq."""
        if error.seq is not None or not self.deciding or error.code in RETRYABLE:
            return False
        offer = next(iter(self.deciding))
        del self.deciding[offer]
        self.outcome.decided.append({"offer": offer, "code": error.code, "message": error.message})
        return True

    def submit(self, beds: Beds, seq: int | None = None) -> list[Report]:
        """Queue a report; return it when it can be sent now (connected, seq known)."""
        if seq is not None:
            report = Report(seq=seq, beds=beds)
            self.pending[seq] = report
            self.high = max(self.high, seq)
            return [report] if self.connected else []
        if self.last_seq is None:
            self.unnumbered.append(beds)
            return []
        report = self._number(beds)
        return [report] if self.connected else []

    def on_hello(self, hello: Hello) -> list[Report]:
        """A new connection: learn last_seq, number waiting reports, resend all pending."""
        self.shelter = hello.shelter
        self.last_seq = hello.last_seq
        self.connected = True
        for beds in self.unnumbered:
            self._number(beds)
        self.unnumbered.clear()
        return [self.pending[s] for s in sorted(self.pending)]

    def on_disconnect(self) -> None:
        self.connected = False

    def on_ack(self, ack: Ack) -> None:
        if self.pending.pop(ack.seq, None) is None:
            return  # an ack for a report already answered (a resend raced the first ack)
        setattr(self.outcome, ack.status, getattr(self.outcome, ack.status) + 1)
        if ack.status == "applied" and self.last_seq is not None:
            self.last_seq = max(self.last_seq, ack.seq)

    def on_error(self, error: Error) -> list[Report]:
        """A refused report is dropped (the same body would be refused again); a report
        the server could not take for now (`unavailable`) stays pending and is returned
        to be sent again."""
        if error.code in RETRYABLE and error.seq in self.pending:
            self.outcome.retried += 1
            return [self.pending[error.seq]]
        if self._refused_decision(error):
            return []
        if error.seq is not None:
            self.pending.pop(error.seq, None)
        self.outcome.rejected.append(
            {"seq": error.seq, "code": error.code, "message": error.message}
        )
        return []

    def _number(self, beds: Beds) -> Report:
        assert self.last_seq is not None
        self.high = max(self.high, self.last_seq) + 1
        report = Report(seq=self.high, beds=beds)
        self.pending[report.seq] = report
        return report


# --- reading what the operator types or files -------------------------------------------

_BODY = msgspec.json.Decoder(ReportBody)
_TYPE_NAME = re.compile(WORD_PATTERN)


def parse_body(line: str) -> ReportBody:
    """A JSON report body (`{"beds": {...}, "seq": 17}`, seq optional)."""
    try:
        return _BODY.decode(line)
    except msgspec.DecodeError as exc:
        raise InputError(str(exc)) from None


def parse_typed(line: str) -> Beds:
    """`single 12 9 1, family 3 3 0`: bed type, total, occupied, out_of_service per group."""
    beds: dict[str, object] = {}
    for group in line.replace(";", ",").split(","):
        words = group.split()
        if not words:
            continue
        if len(words) != 4 or not all(w.isdigit() for w in words[1:]):
            raise InputError(
                f"{group.strip()!r}: type 'TYPE TOTAL OCCUPIED OUT_OF_SERVICE',"
                " e.g. 'single 12 9 1'"
            )
        name, total, occupied, oos = words[0], *map(int, words[1:])
        if not _TYPE_NAME.match(name):
            raise InputError(f"{name!r}: a bed type is lower-case letters, digits and _")
        if occupied + oos > total:
            raise InputError(
                f"{name}: occupied {occupied} + out of service {oos} is more than total {total}"
            )
        beds[name] = {"total": total, "occupied": occupied, "out_of_service": oos}
    if not beds:
        raise InputError("no counts given")
    try:
        return msgspec.convert(beds, dict[BedType, BedCounts])
    except msgspec.ValidationError as exc:
        raise InputError(str(exc)) from None


Line = ReportBody | Decide
"""What one typed or file line asks for: a report, or a decision on an offer."""

_DECIDE = msgspec.json.Decoder(Decide)


def parse_decision(words: list[str]) -> Decide:
    """`accept o000123` or `decline o000123 [reason]`."""
    verb, *rest = words
    if verb not in ("accept", "decline") or not rest or len(rest) > (2 if verb == "decline" else 1):
        raise InputError("type 'accept OFFER' or 'decline OFFER [reason]', e.g. 'accept o000123'")
    body: dict[str, str] = {"offer": rest[0], "decision": verb}
    if len(rest) == 2:
        body["reason"] = rest[1]
    try:
        return msgspec.convert(body, Decide)
    except msgspec.ValidationError as exc:
        raise InputError(f"{' '.join(words)!r}: {exc}") from None


def parse_line(line: str) -> Line:
    """A typed line: JSON when it starts with `{`, `accept`/`decline OFFER`, else
    `TYPE TOTAL OCCUPIED OOS` groups."""
    text = line.strip()
    if text.startswith("{"):
        return parse_json(text)
    words = text.split()
    if words and words[0] in ("accept", "decline"):
        return parse_decision(words)
    return ReportBody(beds=parse_typed(text))


def parse_json(text: str) -> Line:
    """A JSON line: a `{"type": "decide", ...}` decision, or a report body."""
    if '"decide"' in text:
        try:
            return _DECIDE.decode(text)
        except msgspec.DecodeError:
            pass  # not a decision after all: explain it as a report body
    return parse_body(text)


def read_file(lines: Iterable[str]) -> list[Line]:
    """Report bodies and decisions from JSON lines; InputError names the first bad line."""
    out: list[Line] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(parse_json(line))
        except InputError as exc:
            raise InputError(f"line {n}: {exc}") from None
    return out


# --- the I/O shell ----------------------------------------------------------------------

_SERVER = msgspec.json.Decoder(ServerMessage)
_ENCODE = msgspec.json.Encoder()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter (so many agents don't retry in step)."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.initial * self.factor**attempt))


def shelter_url(url: str) -> str:
    """The shelter channel's address from a server URL (`http://h:p` → `ws://h:p/ws/shelter`)."""
    url = url.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    return url if url.endswith("/ws/shelter") else url + "/ws/shelter"


class Agent:
    """Runs an AgentState over reconnecting websockets until told to stop."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        state: AgentState | None = None,
        backoff: Backoff = Backoff(),
        on_message: Callable[[ServerMessage], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        latencies: list[float] | None = None,
    ) -> None:
        self.url = shelter_url(url)
        self.on_status = on_status
        """Told, in words, when the connection comes up or cannot be made (for people)."""
        self.last_error: str | None = None
        """Why the last connection attempt failed, while none has succeeded since."""
        self._headers = {"Authorization": f"Bearer {token}"}
        self.state = state or AgentState()
        self.backoff = backoff
        self.on_message = on_message
        self.rng = rng or random.Random()
        self.connections = 0
        self.attempts = 0
        """Connection attempts made, successful or not."""
        self.latencies = latencies
        """When given, collects seconds from first send to answer, per answered report."""
        self.sent_at: dict[int, float] = {}
        """Monotonic time each pending seq was first sent (for ack latency)."""
        self._ws: ClientConnection | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, beds: Beds, seq: int | None = None) -> None:
        await self._send(self.state.submit(beds, seq))

    async def decide(self, decision: Decide) -> None:
        """Answer an offer; the answer arrives as `decided` (or an error) in the outcome."""
        await self._send(self.state.decide(decision))

    async def wait_done(self) -> None:
        """Until every report is answered, and at least one hello proved the token good."""
        while not self.state.done or self.state.last_seq is None:
            self._changed.clear()
            await self._changed.wait()

    async def run(self) -> None:
        """Connect, and reconnect after every failure; raises TokenRefused."""
        attempt = 0
        while True:
            self.attempts += 1
            try:
                async with connect(
                    self.url, additional_headers=self._headers, open_timeout=10
                ) as ws:
                    attempt = 0
                    await self._session(ws)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise TokenRefused(status) from None
                self._failed(f"HTTP {status} on the handshake")
            except (
                OSError,
                TimeoutError,
                InvalidHandshake,
                ConnectionClosed,
                msgspec.DecodeError,
            ) as exc:
                # The server is down, restarting or unreachable: try again later.
                self._failed(_reason(exc))
            finally:
                self._ws = None
                self.state.on_disconnect()
            await asyncio.sleep(self.backoff.delay(attempt, self.rng))
            attempt += 1

    def _failed(self, reason: str) -> None:
        """Say once (not at every retry) that the exchange cannot be reached, and why."""
        if reason != self.last_error and self.on_status is not None:
            self.on_status(f"cannot reach the exchange at {self.url}: {reason}; still trying")
        self.last_error = reason

    async def _session(self, ws: ClientConnection) -> None:
        first = _SERVER.decode(await ws.recv(decode=False))
        if not isinstance(first, Hello):
            raise ConnectionClosed(None, None)  # not the shelter channel; try again later
        self.connections += 1
        self._ws = ws
        if self.on_status is not None and (self.connections == 1 or self.last_error):
            self.on_status(f"connected as shelter {first.shelter} (last seq {first.last_seq})")
        self.last_error = None
        self._deliver(first)
        await self._send(self.state.on_hello(first))
        await self._send(list(self.state.deciding.values()))
        self._changed.set()
        async for frame in ws:
            try:
                message = _SERVER.decode(frame)
            except msgspec.DecodeError:
                continue  # a newer server's message type; ignore what we don't know
            match message:
                case Ack():
                    self.state.on_ack(message)
                    self._answered(message.seq)
                case Error():
                    retry = self.state.on_error(message)
                    if retry:
                        self._later(retry)
                    elif message.seq is not None:
                        self._answered(message.seq)
                case Offer() | OfferClosed() | Decided():
                    self.state.on_offer(message)
            self._deliver(message)
            self._changed.set()

    def _answered(self, seq: int) -> None:
        sent = self.sent_at.pop(seq, None)
        if sent is not None and self.latencies is not None:
            self.latencies.append(time.monotonic() - sent)

    def _later(self, reports: list[Report]) -> None:
        async def resend() -> None:
            await asyncio.sleep(self.backoff.delay(1, self.rng))
            await self._send([r for r in reports if r.seq in self.state.pending])

        task = asyncio.create_task(resend())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, message: ServerMessage) -> None:
        if self.on_message is not None:
            self.on_message(message)

    async def _send(self, frames: list[Report] | list[Decide]) -> None:
        ws = self._ws
        if ws is None or not frames:
            return
        now = time.monotonic()
        try:
            for frame in frames:
                if isinstance(frame, Report):
                    self.sent_at.setdefault(frame.seq, now)
                await ws.send(_ENCODE.encode(frame).decode())
        except ConnectionClosed:
            pass  # the reports stay pending; the next hello resends them


def _reason(exc: BaseException) -> str:
    """A failed connection in words, e.g. `connection refused`."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is `haven serve` running there?)"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, InvalidHandshake):
        return f"not a Haven exchange ({exc})"
    if isinstance(exc, ConnectionClosed):
        return "the connection closed"
    return type(exc).__name__


async def run_file(agent: Agent, bodies: list[Line], timeout: float | None) -> bool:
    """Send every body and decision and wait for all answers; False when the timeout ran
    out first."""
    for body in bodies:
        await _take(agent, body)
    runner = asyncio.create_task(agent.run())
    waiter = asyncio.create_task(agent.wait_done())
    try:
        done, _ = await asyncio.wait(
            {runner, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if runner in done:
            runner.result()  # raises TokenRefused
        return waiter in done
    finally:
        for task in (runner, waiter):
            task.cancel()
        await asyncio.gather(runner, waiter, return_exceptions=True)


HELP = """\
Type one line, then Enter:
  single 12 9 1                  a bed type, then its beds in all, occupied, out of service
  single 12 9 1, family 3 3 0    several bed types at once
  single                         asks for the three numbers one at a time
  accept o000123                 accept an offer (offers are printed as they arrive)
  decline o000123 full           decline one, with a reason (optional)
  help                           this text
  quit                           finish (or Ctrl-D): waits for the last answers
"Beds in all" counts every bed, out of service included: Haven offers
beds in all - occupied - out of service - beds held for placements.
"""
NEVER_CONNECTED_WAIT_S = 3.0
"""After the last typed line, how long to wait for an exchange never reached."""
QUESTIONS = ("beds in all, out of service included", "occupied", "out of service")


def interpret(line: str, ask: Callable[[str], str] | None) -> str | None:
    """What one typed line becomes: the line to send, `""` for nothing to send (help was
    printed), or None to finish. `ask` (at a terminal) asks for one number; a lone bed
    type then becomes a guided report."""
    words = line.split()
    if words in (["help"], ["?"], ["-h"], ["--help"]):
        sys.stderr.write(HELP)
        return ""
    if words in (["quit"], ["exit"], ["q"]):
        return None
    if ask is not None and len(words) == 1 and not line.strip().startswith("{"):
        if not _TYPE_NAME.match(words[0]):
            sys.stderr.write(f"haven agent: {words[0]!r} is not a bed type; type help\n")
            return ""
        return guided(words[0], ask)
    return line


def guided(bed_type: str, ask: Callable[[str], str]) -> str:
    """Ask for the three counts of one bed type, one at a time, until each is a number."""
    counts = []
    for question in QUESTIONS:
        while True:
            answer = ask(f"  {bed_type}: {question}? ").strip()
            if answer.isdigit():
                counts.append(answer)
                break
            sys.stderr.write("  a whole number, please (0 or more)\n")
    return f"{bed_type} {' '.join(counts)}"


def _ask(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline()


def _read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read lines in a thread (stdin has no portable async reader); None marks EOF."""
    prompt = sys.stdin.isatty()
    if prompt:
        sys.stderr.write("haven agent: type counts like 'single 12 9 1', or help\n")
    while True:
        if prompt:
            sys.stderr.write("report> ")
            sys.stderr.flush()
        line = sys.stdin.readline()
        said = interpret(line, _ask if prompt else None) if line else None
        if said is None:
            loop.call_soon_threadsafe(queue.put_nowait, None)
            return
        if said:
            loop.call_soon_threadsafe(queue.put_nowait, said)


async def run_interactive(agent: Agent) -> None:
    """Send what the operator types until EOF, then wait for the last answers."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_read_stdin, args=(loop, lines), daemon=True).start()
    runner = asyncio.create_task(agent.run())
    try:
        while True:
            getter = asyncio.create_task(lines.get())
            done, _ = await asyncio.wait({runner, getter}, return_when=asyncio.FIRST_COMPLETED)
            if runner in done:
                getter.cancel()
                runner.result()
            line = getter.result()
            if line is None:
                break
            if not line.strip():
                continue
            try:
                body = parse_line(line)
            except InputError as exc:
                sys.stderr.write(f"haven agent: {exc}\n")
                continue
            await _take(agent, body)
        waiter = asyncio.create_task(agent.wait_done())
        # Never connected: wait a little for the exchange, not forever (the caller says so).
        limit = None if agent.connections else NEVER_CONNECTED_WAIT_S
        done, _ = await asyncio.wait(
            {runner, waiter}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if runner in done:
            runner.result()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _take(agent: Agent, line: Line) -> None:
    if isinstance(line, Decide):
        await agent.decide(line)
    else:
        await agent.submit(line.beds, line.seq)


async def list_offers(agent: Agent, timeout: float) -> list[Offer]:
    """Connect, collect the open offers the server sends after hello, and return them."""
    runner = asyncio.create_task(agent.run())
    try:
        waiter = asyncio.create_task(agent.wait_done())
        done, _ = await asyncio.wait(
            {runner, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if runner in done:
            runner.result()  # raises TokenRefused
        if waiter not in done:
            waiter.cancel()
            raise TimeoutError(f"no answer from the exchange within {timeout:g} s")
        # Every open offer follows hello at once; a moment more lets them all arrive.
        await asyncio.sleep(0.5)
        return list(agent.state.offers.values())
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def summary(agent: Agent, *, complete: bool = True) -> dict[str, object]:
    o = agent.state.outcome
    return {
        "shelter": agent.state.shelter,
        "last_seq": agent.state.last_seq,
        "applied": o.applied,
        "duplicate": o.duplicate,
        "stale": o.stale,
        "retried": o.retried,
        "rejected": o.rejected,
        "unanswered": len(agent.state.pending) + len(agent.state.unnumbered),
        "connections": agent.connections,
        "decided": o.decided,
        "open_offers": sorted(agent.state.offers),
        "complete": complete,
    }


def print_status(text: str) -> None:
    sys.stderr.write(f"haven agent: {text}\n")
    sys.stderr.flush()


def print_answer(message: ServerMessage) -> None:
    """Interactive mode: echo every answer and offer so the operator sees them."""
    if isinstance(message, Ack | Error | Offer | OfferClosed | Decided):
        sys.stdout.write(_ENCODE.encode(message).decode() + "\n")
        sys.stdout.flush()


def command(args: argparse.Namespace, token: str | None) -> int:
    """`haven agent`: exit 0 when every report was answered and none refused."""
    if not token:
        sys.stderr.write("haven agent: no token: pass --token or set HAVEN_TOKEN\n")
        return 2
    bodies: list[Line] | None = None
    try:
        decisions = [
            parse_decision(
                [verb, offer, *([args.reason] if verb == "decline" and args.reason else [])]
            )
            for verb, offer in (("accept", args.accept), ("decline", args.decline))
            if offer
        ]
    except InputError as exc:
        sys.stderr.write(f"haven agent: {exc}\n")
        return 2
    if args.offers:
        return _print_offers(args.url, token, args.timeout or 10.0)
    if decisions:
        bodies = list(decisions)
    elif args.file:
        try:
            with open(args.file) as f:
                bodies = read_file(f)
        except OSError as exc:
            sys.stderr.write(f"haven agent: cannot read {args.file}: {exc.strerror}\n")
            return 2
        except InputError as exc:
            sys.stderr.write(f"haven agent: {args.file}: {exc}; nothing was sent\n")
            return 2
    agent = Agent(
        args.url,
        token,
        on_message=None if bodies is not None else print_answer,
        on_status=print_status,
    )
    timeout = args.timeout if args.timeout is not None else (30.0 if decisions else None)
    try:
        if bodies is not None:
            complete = asyncio.run(run_file(agent, bodies, timeout))
        else:
            asyncio.run(run_interactive(agent))
            complete = True
    except TokenRefused as exc:
        sys.stderr.write(f"haven agent: {exc}\n")
        return 3
    result = summary(agent, complete=complete)
    sys.stdout.write(_ENCODE.encode(result).decode() + "\n")
    if agent.connections == 0:
        sys.stderr.write(
            f"haven agent: never reached the exchange at {agent.url} "
            f"({agent.last_error or 'no answer'}): nothing was sent\n"
        )
        return 1
    if not complete:
        sys.stderr.write(
            f"haven agent: {result['unanswered']} reports unanswered after {timeout} s\n"
        )
        return 1
    refused = any("code" in d for d in agent.state.outcome.decided)
    return 1 if agent.state.outcome.rejected or refused else 0


def _print_offers(url: str, token: str, timeout: float) -> int:
    """`haven agent --offers`: one JSON line per open offer, then exit."""
    agent = Agent(url, token)
    try:
        found = asyncio.run(list_offers(agent, timeout))
    except TokenRefused as exc:
        sys.stderr.write(f"haven agent: {exc}\n")
        return 3
    except TimeoutError as exc:
        sys.stderr.write(f"haven agent: {exc}\n")
        return 1
    for offer in found:
        sys.stdout.write(_ENCODE.encode(offer).decode() + "\n")
    return 0
