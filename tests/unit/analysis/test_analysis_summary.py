"""The job summary's analysis section: a row per step, the deciding reason, and charts."""

from __future__ import annotations

from modelship.release.analysis import summary

STEPS = [
    {"name": "canary-10", "weight": 10, "verdict": "passed", "seconds": 61.0, "evidence": {
        "decided_by": "traffic", "reason": "traffic: 230 canary requests, no check reached "
                                           "its bar",
        "tracks": {"canary": {"requests": 230, "errors": 1, "error_rate": 1 / 230,
                              "latency_p95_ms": 12.5},
                   "stable": {"requests": 2100, "errors": 10, "error_rate": 10 / 2100,
                              "latency_p95_ms": 11.0}},
        "checks": [{"name": "error_rate vs stable", "statistic": 0.4, "threshold": 100.0}],
        "probes": {"agreement": 0.98, "canary": {"accuracy": 0.91}}}},
    {"name": "canary-25", "weight": 25, "verdict": "failed", "seconds": 20.0, "evidence": {
        "decided_by": "traffic", "reason": "traffic: error_rate vs stable: e-value 512 >= 100",
        "tracks": {"canary": {"requests": 300, "errors": 60, "error_rate": 0.2,
                              "latency_p95_ms": 320.0},
                   "stable": {"requests": 900, "errors": 4, "error_rate": 4 / 900,
                              "latency_p95_ms": 11.0}},
        "checks": [{"name": "error_rate vs stable", "statistic": 512.0, "threshold": 100.0}],
        "probes": None}},
]


def test_table_reasons_and_charts() -> None:
    text = summary.render(STEPS)
    lines = text.splitlines()
    assert lines[0] == "#### Canary analysis"
    assert "| canary-10 | 10% | ✅ passed | 230 | 1 (0.43%) | 2100 | 10 (0.48%) | 12.5 | 11 " \
           "| 0.4 / 100 (error_rate vs stable) | 98.0% | 91.0% | traffic |" in lines
    assert any(line.startswith("| canary-25 | 25% | ❌ failed | 300 | 60 (20.00%)")
               for line in lines)
    assert "- **canary-25**: traffic: error_rate vs stable: e-value 512 >= 100" in lines
    assert text.count("```mermaid") == 2
    assert "bar [0.4348, 20]" in text  # canary error rate % per step
    assert "bar [320, 11]" not in text
    assert "bar [12.5, 320]" in text  # canary p95 per step


def test_no_charts_without_both_tracks() -> None:
    steps = [{"name": "preview", "weight": 0, "verdict": "passed",
              "evidence": {"decided_by": "probes", "tracks": {"canary": None, "stable": None},
                           "checks": [], "probes": {"agreement": 1.0}}}]
    text = summary.render(steps)
    assert "```mermaid" not in text
    assert "| preview | 0% | ✅ passed |" in text
    assert summary.render([]) == "_no analysed steps_\n"
