"""Figures of ``bench.load`` and the tables that show them, with the issue's targets beside."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.common import table
from bench.load_checks import StormChecks, checks_table
from bench.load_clients import Outcome, percentile
from bench.load_wrk import WrkResult

# The targets. The throughput and p99 targets are set for PostgreSQL.
TARGET_OK_PER_S = 500.0
TARGET_P99_MS = 100.0
TARGET_RATIO = 0.8
SCALING_CONNECTIONS = (10, 200)


@dataclass(frozen=True)
class ScalingRound:
    """One closed-loop run at each of ``SCALING_CONNECTIONS``, back to back."""

    low: WrkResult  # at SCALING_CONNECTIONS[0]
    high: WrkResult  # at SCALING_CONNECTIONS[-1]

    @property
    def ratio(self) -> float | None:
        """2xx throughput at the high connection count over that at the low one."""
        return None if self.low.ok_per_s == 0 else self.high.ok_per_s / self.low.ok_per_s


@dataclass(frozen=True)
class RouteFigures:
    """One route's row in the storm table. ``errors`` counts every answer that was not the
    expected one (any status but 2xx for a read or a valid job, but 4xx for an invalid job)
    and every connection error; timeouts are counted apart."""

    route: str
    clients: str
    answered: int
    expected_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    count_2xx: int
    expected_4xx: int
    unexpected_4xx: int
    count_5xx: int
    other_errors: int
    timeouts: int
    errors: int
    unanswered: int  # waiting when the clients stopped; the submitters wait for theirs

    @classmethod
    def from_wrk(cls, route: str, clients: str, result: WrkResult) -> RouteFigures:
        """A read route driven by wrk: only 2xx is expected."""
        return cls(
            route=route,
            clients=clients,
            answered=result.responses,
            expected_per_s=result.ok_per_s,
            p50_ms=result.p50_ms,
            p95_ms=result.p95_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            count_2xx=result.ok,
            expected_4xx=0,
            unexpected_4xx=result.client_errors,
            count_5xx=result.server_errors,
            other_errors=result.other + result.socket_errors,
            timeouts=result.timeouts,
            errors=result.errors,
            unanswered=result.unanswered,
        )

    @classmethod
    def from_outcomes(
        cls, route: str, clients: str, outcomes: Sequence[Outcome], duration_s: float
    ) -> RouteFigures:
        """Requests of the Python clients that should all succeed (2xx) or all be refused
        (4xx): ``outcomes`` are of one kind."""
        valid = all(outcome.valid for outcome in outcomes)
        classes = Counter(o.status // 100 for o in outcomes if o.status is not None)
        transport = sum(1 for o in outcomes if o.failure not in (None, "timeout"))
        other = transport + sum(n for c, n in classes.items() if c not in (2, 4, 5))
        wrong = classes[4] if valid else classes[2]
        seconds = [o.seconds * 1000 for o in outcomes if o.status is not None]
        return cls(
            route=route,
            clients=clients,
            answered=len(seconds),
            expected_per_s=(classes[2] if valid else classes[4]) / duration_s,
            p50_ms=percentile(seconds, 50),
            p95_ms=percentile(seconds, 95),
            p99_ms=percentile(seconds, 99),
            max_ms=max(seconds, default=None),
            count_2xx=classes[2],
            expected_4xx=0 if valid else classes[4],
            unexpected_4xx=classes[4] if valid else 0,
            count_5xx=classes[5],
            other_errors=other,
            timeouts=sum(1 for o in outcomes if o.failure == "timeout"),
            errors=wrong + classes[5] + other,
            unanswered=0,
        )


@dataclass
class BackendReport:
    """Everything measured on one backend."""

    name: str
    machine: str
    load_before: str
    load_after: str = ""
    job: dict[str, str] = field(default_factory=dict)  # moment → state of the long job
    drained_s: dict[str, float | None] = field(default_factory=dict)  # after which phase
    storm: list[RouteFigures] = field(default_factory=list)
    checks: StormChecks | None = None
    polling: WrkResult | None = None
    scaling: list[ScalingRound] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """The median of the rounds' ratios: a shared machine's load drifts within minutes, and
        one round is as likely to catch a busy spell at one count as at the other."""
        ratios = sorted(r for r in (round_.ratio for round_ in self.scaling) if r is not None)
        if not ratios or len(ratios) < len(self.scaling):
            return None
        middle = len(ratios) // 2
        return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def backend_tables(report: BackendReport, duration_s: float, scaling_s: float) -> str:
    """The storm, its checks and the scaling runs of one backend, as markdown."""
    parts = [
        f"### {report.name}",
        f"Machine: {report.machine}",
        f"Load averages (1/5/15 min): {report.load_before} before, {report.load_after} after",
        "Long job: " + "; ".join(f"{when}: {state}" for when, state in report.job.items()),
        "Backlog drained (one GET answered) after: "
        + "; ".join(f"{phase}: {_seconds(s)}" for phase, s in report.drained_s.items()),
        f"\nStorm ({duration_s:.0f} s):\n",
        _storm_table(report.storm),
    ]
    if report.checks is not None:
        parts += ["\nAfter the storm:\n", checks_table(report.checks)]
    if report.polling is not None:
        parts += [f"\nPolling, GET /v1/jobs/{{id}}, paced pollers, {duration_s:.0f} s:\n"]
        parts += [_wrk_table([("paced", report.polling)])]
    parts += [f"\nScaling, GET /v1/jobs/{{id}}, closed loop, {scaling_s:.0f} s each:\n"]
    parts += [_scaling_table(report)]
    return "\n".join(parts)


def _storm_table(rows: Sequence[RouteFigures]) -> str:
    headers = ["route", "clients", "answered", "expected/s", "p50 ms", "p95 ms", "p99 ms"]
    headers += ["max ms", "2xx", "4xx expected", "4xx unexpected", "5xx", "other errors"]
    headers += ["timeouts", "unanswered at end"]
    cells = [
        [
            *(r.route, r.clients, r.answered, r.expected_per_s),
            *(_dash(v) for v in (r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms)),
            *(r.count_2xx, r.expected_4xx, r.unexpected_4xx, r.count_5xx),
            *(r.other_errors, r.timeouts, r.unanswered),
        ]
        for r in rows
    ]
    return table(headers, cells)


def _wrk_table(runs: Sequence[tuple[str, WrkResult]], first: str = "connections") -> str:
    rows = [
        [
            *(label, r.responses, r.ok_per_s),
            *(_dash(v) for v in (r.p50_ms, r.p95_ms, r.p99_ms)),
            *(r.errors, r.timeouts, r.unanswered),
        ]
        for label, r in runs
    ]
    headers = [first, "answered", "2xx/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    headers += ["timeouts", "unanswered at end"]
    return table(headers, rows)


def _scaling_table(report: BackendReport) -> str:
    low, high = SCALING_CONNECTIONS
    runs = [
        (f"round {number}, {connections}", result)
        for number, round_ in enumerate(report.scaling, start=1)
        for connections, result in ((low, round_.low), (high, round_.high))
    ]
    ratios = ", ".join(_fmt(round_.ratio) for round_ in report.scaling)
    median = _fmt(report.ratio) if report.ratio is not None else "n/a (no 2xx at 10)"
    return (
        _wrk_table(runs, first="round, connections")
        + f"\n\nthroughput({high})/throughput({low}) by round: {ratios}; median {median}"
    )


def _dash(value: object) -> object:
    return "—" if value is None else value


def _seconds(value: float | None) -> str:
    return "not within the limit" if value is None else f"{value:.1f} s"


def summary_table(reports: Sequence[BackendReport]) -> str:
    """One row per target, one column per backend: the figure and whether it meets it."""
    rows = [
        [target] + [_verdict(report, value, meets, postgres_only) for report in reports]
        for target, value, meets, postgres_only in _TARGETS
    ]
    closed = ["GET /v1/jobs/{id} p99, 200 connections closed loop, worst round, ms (no target)"]
    closed += [_fmt(_closed_loop_p99_at_200(report)) for report in reports]
    healthz = ["GET /healthz during the storm: answered in time; p50 / p99 / max ms (no target)"]
    for report in reports:
        probe = next((r for r in report.storm if r.route == "GET /healthz"), None)
        healthz.append(
            "—"
            if probe is None
            else f"{probe.answered} of {probe.answered + probe.timeouts + probe.other_errors}; "
            f"{_fmt(probe.p50_ms)} / {_fmt(probe.p99_ms)} / {_fmt(probe.max_ms)}"
        )
    training = ["the long job was training after every phase (the load ran beside a busy worker)"]
    training += ["yes" if _trained_throughout(report) else "NO" for report in reports]
    return table(["target", *(r.name for r in reports)], [*rows, closed, healthz, training])


def _trained_throughout(report: BackendReport) -> bool:
    return bool(report.job) and all(state.startswith("running") for state in report.job.values())


def _storm_sum(report: BackendReport, what: str) -> int:
    return sum(int(getattr(row, what)) for row in report.storm)


def _scaling_sum(report: BackendReport, errors: bool) -> int:
    runs = [result for round_ in report.scaling for result in (round_.low, round_.high)]
    return sum(r.errors if errors else r.timeouts for r in runs)


def _polling_ok_per_s(report: BackendReport) -> float | None:
    return None if report.polling is None else report.polling.ok_per_s


def _polling_p99(report: BackendReport) -> float | None:
    return None if report.polling is None else report.polling.p99_ms


def _closed_loop_p99_at_200(report: BackendReport) -> float | None:
    # The worst round's: the figure a client could have met.
    figures = [round_.high.p99_ms for round_ in report.scaling]
    return None if not figures or None in figures else max(f for f in figures if f is not None)


def _unlisted(report: BackendReport) -> float | None:
    return None if report.checks is None else report.checks.unlisted


def _without_202(report: BackendReport) -> float | None:
    return None if report.checks is None else sum(report.checks.left_behind.values())


def _ratio(report: BackendReport) -> float | None:
    return report.ratio


def _is_zero(value: float) -> bool:
    return value == 0


_Figure = Callable[[BackendReport], "float | None"]
# (target, its figure, whether the figure meets it, whether the target is for PostgreSQL only)
_TARGETS: list[tuple[str, _Figure, Callable[[float], bool], bool]] = [
    ("errors during the storm: 0", lambda r: _storm_sum(r, "errors"), _is_zero, False),
    ("timeouts during the storm: 0", lambda r: _storm_sum(r, "timeouts"), _is_zero, False),
    ("errors in the scaling runs: 0", lambda r: _scaling_sum(r, True), _is_zero, False),
    ("timeouts in the scaling runs: 0", lambda r: _scaling_sum(r, False), _is_zero, False),
    (
        "errors and timeouts of the paced pollers: 0",
        lambda r: None if r.polling is None else r.polling.errors + r.polling.timeouts,
        _is_zero,
        False,
    ),
    ("accepted jobs missing from GET /v1/jobs: 0", _unlisted, _is_zero, False),
    ("jobs in the database without a 202: 0", _without_202, _is_zero, False),
    (
        f"GET /v1/jobs/{{id}} 2xx/s, 200 paced pollers: ≥ {TARGET_OK_PER_S:.0f} on PostgreSQL",
        _polling_ok_per_s,
        lambda v: v >= TARGET_OK_PER_S,
        True,
    ),
    (
        f"GET /v1/jobs/{{id}} p99, 200 paced pollers: ≤ {TARGET_P99_MS:.0f} ms on PostgreSQL",
        _polling_p99,
        lambda v: v <= TARGET_P99_MS,
        True,
    ),
    (
        f"throughput(200)/throughput(10), median of rounds: ≥ {TARGET_RATIO}",
        _ratio,
        lambda v: v >= TARGET_RATIO,
        False,
    ),
]


def _verdict(
    report: BackendReport, value: _Figure, meets: Callable[[float], bool], postgres_only: bool
) -> str:
    figure = value(report)
    if figure is None:  # nothing answered in time, or the listing failed: see the tables
        return "no figure (NOT met)"
    if postgres_only and report.name != "postgres":
        return f"{_fmt(figure)} (target is for PostgreSQL)"
    return f"{_fmt(figure)} ({'met' if meets(figure) else 'NOT met'})"


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
