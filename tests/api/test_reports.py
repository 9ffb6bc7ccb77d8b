"""GET /v1/jobs/{id}/report and report.html on a finished job."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service import numbers
from service.db import jobs as jobs_repo
from service.db.migrate import upgrade_database
from service.db.models import JobRow
from service.db.session import session_scope
from service.reports import render_report
from service.reports.view import TWO_SETUPS
from service.schemas.reports import ReportOut
from service.settings import Settings
from service.wording import guardrail_warning
from workers.engine.results import Guardrail
from workers.engine.spec import (
    Budget,
    Confirmation,
    Family,
    JobSpec,
    MetricRef,
    Parallelism,
    Task,
)
from workers.jobs import run_shard


def _small_spec() -> JobSpec:
    return JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=6),
        families=[Family.PROXY, Family.WEIGHTED],
        parallelism=Parallelism(population_size=3),
        confirmation=Confirmation(top_k=2, seeds=2, seeds_per_fold=2),
    )


def _run(settings: Settings, spec: JobSpec) -> str:
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        job_id = row.id
    run_shard(job_id, 0, settings)
    return job_id


@pytest.fixture
def finished_job(settings: Settings) -> str:
    """A small real search on breast_cancer, run to the end by the worker code."""
    return _run(settings, _small_spec())


def test_the_json_report_holds_the_answer_and_how_sure_we_are(
    client: TestClient, finished_job: str
) -> None:
    response = client.get(f"/v1/jobs/{finished_job}/report")
    assert response.status_code == 200
    report: dict[str, Any] = response.json()
    assert report["final"] is True
    assert report["summary"] == report["comparison"]["summary"]
    assert report["winner"]["code"].rstrip().endswith(")")
    assert report["winner"]["threshold"]["logit"] is not None  # f1 depends on a threshold
    assert report["baseline"]["loss"] == "cross_entropy"
    assert len(report["comparison"]["test_lift_interval"]) == 2
    assert 0.0 <= report["comparison"]["probability_better"] <= 1.0
    assert report["confirmation"]["seeds"] == 2
    trials = report["trials"]
    assert sum(trials["by_state"].values()) == 6
    assert set(trials["by_family"]) <= {"proxy", "weighted"}
    assert set(trials["best_per_family"]) <= {"proxy", "weighted"}
    assert [h["number"] for h in trials["history"]] == list(range(6))
    assert report["dataset"]["rows"] == 569
    assert report["search"]["spec"]["budget"] == {"n_trials": 6, "timeout_s": None}
    for package in ("torch", "optuna", "scikit-learn", "python"):
        assert report["environment"][package] != "unknown"


def test_the_html_report_has_the_summary_the_figures_and_the_code(
    client: TestClient, finished_job: str
) -> None:
    response = client.get(f"/v1/jobs/{finished_job}/report.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    summary = client.get(f"/v1/jobs/{finished_job}/report").json()["summary"]
    assert summary.split(":")[0].replace("'", "&#39;") in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 2  # history, families (parameters when any were searched)
    assert all(len(data) > 1000 for data in images)
    verdict = client.get(f"/v1/jobs/{finished_job}/report").json()["comparison"]["verdict"]
    # The lift figure puts two different setups side by side: never the baseline against itself.
    assert ('id="figure-lift"' in page) == (verdict in TWO_SETUPS)
    assert "loss_fn = make_loss(" in page
    assert 'id="keras-code"' in page  # the same setup in Keras 3
    assert "keras.losses.Loss" in page


def test_the_html_report_shows_the_guardrails_and_how_the_gate_decided(
    client: TestClient, finished_job: str, settings: Settings
) -> None:
    # This small job keeps its baseline, which has no guardrails (nothing to compare); give its
    # stored result the rows a returned winner would carry, one of them reliably worse.
    rows = [
        {"metric": "roc_auc", "direction": "maximize", "winner": 0.97, "baseline": 0.98,
         "lift": -0.01, "lift_interval": [-0.02, -0.004], "significantly_worse": True},
        {"metric": "log_loss", "direction": "minimize", "winner": 0.21, "baseline": 0.22,
         "lift": 0.01, "lift_interval": [-0.01, 0.03], "significantly_worse": False},
    ]  # fmt: skip
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(JobRow, finished_job)
        assert row is not None
        assert row.result is not None
        result = dict(row.result)
        result["comparison"] = {**result["comparison"], "guardrails": rows}
        row.result = result
    page = client.get(f"/v1/jobs/{finished_job}/report.html").text
    table = page.split('id="guardrails"')[1].split("</table>")[0]
    assert "<td>roc_auc <span" in table
    assert "<td>log_loss <span" in table
    assert table.count('class="worse"') == 1
    assert "reliably worse" in table
    gate = client.get(f"/v1/jobs/{finished_job}/report").json()["comparison"]["gate"]
    if gate is not None:  # the leader was not the baseline: the gate ran and says how
        assert f"{gate['folds']} folds of the {gate['rows']} non-test rows" in page


def test_no_report_before_a_trial_has_completed(client: TestClient) -> None:
    job = client.post("/v1/jobs", json={"dataset": "builtin:breast_cancer", "metric": "f1"}).json()
    for path in ("report", "report.html"):
        response = client.get(f"/v1/jobs/{job['id']}/{path}")
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "no_result_yet"
    assert client.get("/v1/jobs/nope/report").status_code == 404


def test_best_and_the_report_show_the_temperature_of_a_log_loss_job(
    client: TestClient, settings: Settings
) -> None:
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="log_loss"),
        budget=Budget(n_trials=3),
        families=[Family.PROXY],
        parallelism=Parallelism(population_size=3),
        confirmation=Confirmation(top_k=1, seeds=2, seeds_per_fold=2),
    )
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        job_id = row.id
    run_shard(job_id, 0, settings)

    best = client.get(f"/v1/jobs/{job_id}/best").json()
    assert best["final"] is True
    for setup in (best["best"], best["baseline"]):
        assert setup["threshold"] is None  # log loss scores probabilities: no decision
        assert 0.01 <= setup["temperature"] <= 100
    page = client.get(f"/v1/jobs/{job_id}/report.html").text
    assert "temperature" in page
    trials = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert complete
    for trial in complete:  # each trial's own temperature, as it was scored on validation
        assert 0.01 <= trial["temperature"] <= 100
    assert all(t["temperature"] is None for t in trials if t["state"] == "failed")


# --- The page reads like a review ------------------------------------------------------------


@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of the small job above, run once for the page tests below, which render
    variants of it (other verdicts, other decision rules) without running more searches."""
    state = tmp_path_factory.mktemp("report-state")
    settings = Settings(
        _env_file=None, data_dir=state, database_url=None, broker_url=None, queue_name="test-queue"
    )
    upgrade_database(settings.resolved_database_url)
    job_id = _run(settings, _small_spec())
    from service.main import create_app

    with TestClient(create_app(settings)) as client:
        report: dict[str, Any] = client.get(f"/v1/jobs/{job_id}/report").json()
    return report


def _page(report: dict[str, Any]) -> str:
    return render_report(ReportOut.model_validate(report))


def _text(page: str) -> str:
    """What a reader sees outside the figures and the exported code."""
    page = re.sub(r'src="data:image/png;base64,[^"]+"', "", page)
    page = re.sub(r'<pre id="(keras-)?code">.*?</pre>', "", page, flags=re.S)
    return re.sub(r"<style>.*?</style>", "", page, flags=re.S)


def _section(page: str, element_id: str) -> str:
    return page.split(f'id="{element_id}"')[1].split("</table>")[0]


def _as_winner(report: dict[str, Any], verdict: str) -> dict[str, Any]:
    """``report`` with a setup other than the baseline returned, under ``verdict``."""
    report = copy.deepcopy(report)
    baseline = report["baseline"]
    report["winner"] = {
        **baseline,
        "trial_number": baseline["trial_number"] + 100,
        "family": "weighted",
        "loss": "focal",
        "loss_params": {"gamma": 2.0},
        "validation": 0.9612345678,
        "validation_std": 0.0123456,
        "test": 0.7345812931,
        "test_interval": [0.70123, 0.77456],
    }
    report["comparison"] |= {
        "verdict": verdict,
        "test_lift": 0.03632,
        "test_lift_interval": [0.02108, 0.05391] if verdict == "beats_baseline" else [-0.01, 0.08],
        "probability_better": 0.99,
        "significant": verdict == "beats_baseline",
    }
    return report


@pytest.mark.parametrize(
    ("uncertainty", "places"),
    [(0.037, 2), (0.0092, 3), (0.015, 3), (0.25, 2), (0.31, 1), (4.0, 0), (45.0, 0)],
)
def test_the_uncertainty_sets_the_decimal_places(uncertainty: float, places: int) -> None:
    # One significant digit of the uncertainty, two when it begins with 1 or 2.
    assert numbers.decimals(uncertainty) == places


@pytest.mark.parametrize("uncertainty", [None, 0.0, -1.0, float("nan"), float("inf")])
def test_an_unknown_uncertainty_gives_four_significant_digits(uncertainty: float | None) -> None:
    assert numbers.decimals(uncertainty) is None
    assert numbers.number(0.7345812931, uncertainty) == "0.7346"


def test_values_and_intervals_are_rounded_to_the_same_place() -> None:
    assert numbers.estimate(0.7345812931, [0.70123, 0.77456]) == "0.73 [0.70, 0.77]"
    assert numbers.mean_std(0.4842, 0.0092) == "0.484 ± 0.009"
    assert numbers.mean_std(0.4842, None) == "0.4842"
    assert numbers.mean_std(1.0, 0.0) == "1 ± 0"
    lift = numbers.estimate(0.03632, [0.02108, 0.05391], signed=True)
    assert lift == "+0.036 [+0.021, +0.054]"
    assert numbers.interval([-0.02067, 0.04149], signed=True) == "[-0.02, +0.04]"
    assert numbers.number(-0.0001, 0.01) == "0.000"  # no "-0.000"
    assert numbers.number(None) == "—"
    assert numbers.estimate(0.5, None) == "0.5"


def test_probabilities_keep_the_digits_that_tell_them_from_0_and_1() -> None:
    assert numbers.probability(0.41234) == "0.412"
    assert numbers.probability(0.99962) == "0.99962"
    assert numbers.probability(0.0123) == "0.012"
    assert numbers.probability(1.0) == "1.000"


def test_the_page_shows_tables_not_python_reprs_and_no_unrounded_numbers(
    small_report: dict[str, Any],
) -> None:
    for report in (small_report, _as_winner(small_report, "beats_baseline")):
        text = _text(_page(report))
        for repr_start in ("{'", "{&#39;", "['", "[&#39;", ">None<", ">True<", ">False<"):
            assert repr_start not in text
        assert not re.search(r"\d\.\d{5,}", text)
    page = _page(small_report)
    rows = _section(page, "split-rows")
    split = small_report["dataset"]["split_rows"]
    assert f'<td>train</td><td class="num">{split["train"]}</td>' in rows
    classes = _section(page, "class-counts")
    for name, count in small_report["dataset"]["class_counts"].items():
        assert re.search(
            rf'<td>{name}( <span[^<]*</span>)?</td><td class="num">{count}</td>', classes
        )
    assert '<td>1 <span class="muted">(positive)</span></td>' in classes  # f1's positive class
    assert "<th>n trials</th><td>6</td>" in page.split('id="settings"')[1].split("<h3>")[0]
    assert "<th>torch</th>" in _section(page, "environment")
    assert "<td>proxy</td>" in _section(page, "search-space")


def test_metric_values_are_rounded_to_what_their_interval_supports(
    small_report: dict[str, Any],
) -> None:
    page = _page(_as_winner(small_report, "beats_baseline"))
    result = _section(page, "result")
    assert "0.73 [0.70, 0.77]" in result
    assert "0.961 ± 0.012" in result
    assert "0.7345812931" not in page
    assert "0.7346" not in page
    assert "+0.036 [+0.021, +0.054]" in page.split('id="lift"')[1]
    # The JSON keeps full precision.
    winner = ReportOut.model_validate(_as_winner(small_report, "beats_baseline")).winner
    assert winner is not None
    assert winner.test == 0.7345812931


def test_the_threshold_reads_as_a_probability_and_a_logit(small_report: dict[str, Any]) -> None:
    threshold = small_report["winner"]["threshold"]
    assert threshold is not None  # f1 on a binary task decides at a threshold on the logit
    decision = _section(_page(small_report), "result")
    probability = numbers.probability(threshold["probability"])
    assert f"threshold <b>{probability}</b> on the probability" in decision
    assert f"(logit {threshold['logit']:.3g})" in decision
    assert "predicts 1 when its probability is at least the threshold" in decision
    report = copy.deepcopy(small_report)
    report["winner"]["threshold"] = {"logit": [0.0, 2.0], "probability": [0.5, 0.8807970779]}
    report["search"]["spec"] |= {"task": "multilabel", "target": ["spam", "urgent"]}
    labels = _section(_page(report), "result")
    assert '<td>spam</td><td class="num">0.500</td><td class="num">0</td>' in labels
    assert '<td>urgent</td><td class="num">0.881</td><td class="num">2</td>' in labels


def test_class_offsets_are_a_table_per_class(small_report: dict[str, Any]) -> None:
    report = copy.deepcopy(small_report)
    report["winner"] |= {"threshold": None, "class_offsets": [0.0, -0.25, 1.5]}
    # Stored counts may come back in any key order (PostgreSQL's JSONB): the model's order is
    # the labels sorted, numerically when they are numbers.
    report["dataset"]["class_counts"] = {"10": 5, "9": 40, "2": 30}
    report["search"]["spec"]["task"] = "multiclass"
    offsets = _section(_page(report), "result").split('class="small offsets"')[1]
    assert re.findall(r"<td>(\w+)</td><td class=\"num\">([^<]+)</td>", offsets) == [
        ("2", "+0"),
        ("9", "-0.25"),
        ("10", "+1.5"),
    ]


def test_a_kept_baseline_says_so_and_is_not_compared_with_itself(
    small_report: dict[str, Any],
) -> None:
    report = copy.deepcopy(small_report)
    baseline = report["baseline"]
    report["winner"] = copy.deepcopy(baseline)  # baseline_led and not_reliable return it
    report["comparison"] |= {"verdict": "baseline_led", "test_lift": 0.0}
    report["comparison"] |= {"test_lift_interval": [0.0, 0.0], "gate": None}
    page = _page(report)
    verdict = page.split('id="verdict"')[1].split("</p>")[0]
    assert f"Keep the baseline ({baseline['loss']}): the baseline had the best" in verdict
    assert 'id="figure-lift"' not in page  # no plot of a setup against itself
    assert 'id="lift"' not in page  # nor a lift of 0 [0, 0]
    result = _section(page, "result")
    assert result.count("<tr>") == 2  # header, the baseline
    assert "baseline: keep it" in result
    assert "winner" not in result


def test_a_leader_that_failed_the_gate_is_shown_as_tried_not_returned(
    small_report: dict[str, Any],
) -> None:
    report = copy.deepcopy(small_report)
    report["winner"] = copy.deepcopy(report["baseline"])
    finalists = report["confirmation"]["finalists"]
    leader = next(f for f in finalists if f["trial_number"] != report["baseline"]["trial_number"])
    report["confirmation"]["leader_trial_number"] = leader["trial_number"]
    gate = {
        "method": "cross_fitted", "rows": 400, "folds": 5, "seeds_per_fold": 2, "lift": 0.0123,
        "lift_interval": [-0.0081, 0.0349], "probability_better": 0.8, "passed": False,
    }  # fmt: skip
    report["comparison"] |= {"verdict": "not_reliable", "gate": gate, "leader": leader}
    page = _page(report)
    verdict = page.split('id="verdict"')[1].split("</p>")[0]
    assert "Keep the baseline" in verdict
    assert f"{leader['loss']} led on validation" in verdict
    tried = page.split('id="leader-not-returned"')[1].split("</p>")[0]
    assert f"Tried, not returned: <b>{leader['loss']}</b>" in tried
    assert "+0.012 [-0.008, +0.035]" in tried
    assert 'id="figure-lift"' not in page


def test_a_setup_tried_but_not_recommended_is_drawn_against_the_baseline_as_such(
    small_report: dict[str, Any],
) -> None:
    page = _page(_as_winner(small_report, "inconclusive"))
    assert "Keep the baseline" in page.split('id="verdict"')[1].split("</p>")[0]
    assert 'alt="Tried, not recommended: focal versus the baseline on test"' in page
    result = _section(page, "result")
    assert "<td>tried, not recommended</td>" in result
    assert "<td>baseline: keep it</td>" in result
    winning = _page(_as_winner(small_report, "beats_baseline"))
    assert "Use focal: it beats the baseline" in winning
    assert 'alt="Winner versus baseline on test"' in winning


def test_a_constrained_metric_shows_its_floor_on_test(small_report: dict[str, Any]) -> None:
    report = _as_winner(small_report, "beats_baseline")
    report["winner"]["constraint"] = {
        "quantity": "precision", "floor": 0.9, "validation": 0.9234567, "test": 0.8912345,
        "test_interval": [0.8534, 0.9287], "on_test": "uncertain",
    }  # fmt: skip
    constraint = _page(report).split('class="constraint"')[1].split("</p>")[0]
    assert "precision at the threshold chosen on validation (floor 0.9)" in constraint
    assert "0.92 on validation, 0.89 [0.85, 0.93] on test" in constraint
    assert "the interval reaches below the floor" in constraint


def test_the_summary_sentences_round_like_the_page() -> None:
    worse = Guardrail(
        metric="roc_auc", direction="maximize", winner=0.8123456, baseline=0.9345678,
        lift=-0.1222222, lift_interval=[-0.1834567, -0.0712345], significantly_worse=True,
    )  # fmt: skip
    assert guardrail_warning("focal", [worse]).endswith(
        "on roc_auc 0.81 vs 0.93 (lift -0.12, 95% interval [-0.18, -0.07])."
    )
