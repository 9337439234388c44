"""The headline figure as a file: examples/headline.yaml shrunk and played end to end (sweep, then
report: the figure, the slope table on the page and on the terminal), and the slope of each curve
against np.polyfit on synthetic runs of a known slope."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from stackelberg_rl.cli import main
from stackelberg_rl.report.analysis import analyse_setting, k_curves, slope_lines

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "headline.yaml"
KS = [1000, 3162, 10000, 31623, 100000]


def synthetic(K: int, totals: dict[int, tuple[float, float]]) -> pd.DataFrame:
    """A run table of ``K`` episodes whose seeds' total regrets are ``totals[seed]`` (its first
    episode weighted 4, its last not evaluated; those between left out)."""
    rows = []
    for seed, (leader, follower) in totals.items():
        rows.append(dict(seed=seed, episode=0, eval_weight=4, regret_leader=leader / 4,
                         regret_follower=follower / 4))  # fmt: skip
        rows.append(dict(seed=seed, episode=K - 1, eval_weight=0, regret_leader=math.nan,
                         regret_follower=math.nan))  # fmt: skip
    return pd.DataFrame(rows)


def curve_of(truth: dict[int, tuple[float, float]], wobble: dict[tuple[int, int], float]):
    """The one curve of synthetic runs: seed ``s`` has regret ``c·K^p·wobble`` at each K."""
    settings = []
    for K in KS:
        totals = {
            s: (c * K**p * wobble.get((s, K), 1.0), 2 * c * K ** (p / 2))
            for s, (c, p) in truth.items()
        }
        manifest = {"config": {"episodes": K, "seeds": len(truth), "seed": 0, "eval_every": 1,
                               "agent": {"kind": "random"}},
                    "game": {"registered": {"name": "synthetic", "params": {}}}}  # fmt: skip
        settings.append(analyse_setting(f"K{K}", Path("."), synthetic(K, totals), manifest))
    (curve,) = k_curves(settings)
    return curve


def test_a_curves_slope_is_the_least_squares_slope_of_each_seed_with_a_t_interval():
    truth = {0: (3.0, 0.5), 1: (2.0, 0.62), 2: (5.0, 0.41), 3: (1.5, 0.55)}
    exact = curve_of(truth, {})
    assert exact.fits["leader"].per_seed == pytest.approx([p for _, p in truth.values()])
    assert exact.fits["follower"].per_seed == pytest.approx([p / 2 for _, p in truth.values()])
    rng = np.random.default_rng(7)
    wobble = {(s, K): float(rng.uniform(0.8, 1.25)) for s in truth for K in KS}
    curve = curve_of(truth, wobble)
    fit = curve.fits["leader"]
    logs = np.log(KS)
    by_polyfit = [
        np.polyfit(logs, np.log([c * K**p * wobble[s, K] for K in KS]), 1)[0]
        for s, (c, p) in truth.items()
    ]
    mean = float(np.mean(by_polyfit))
    half = stats.t.ppf(0.975, 3) * np.std(by_polyfit, ddof=1) / 2  # 4 seeds: √4 = 2
    assert fit.per_seed == pytest.approx(by_polyfit, abs=1e-12)
    assert (fit.slope, fit.half_width) == pytest.approx((mean, half), abs=1e-12)
    assert fit.points == 5
    lines = slope_lines([curve])
    assert lines[1] == "  uniform random play"
    assert lines[2].startswith(
        f"    leader   slope {mean:.2f} [{mean - half:.2f}, {mean + half:.2f}]"
    )
    assert "regret at K = 100000" in lines[2]


@pytest.mark.slow
def test_the_headline_file_shrunk_runs_end_to_end_with_its_slopes(tmp_path, capsys):
    spec = yaml.safe_load(EXAMPLE.read_text())
    assert spec["episodes"] == KS and spec["seeds"] == 8  # the file itself: 10³ … 10⁵, 8 seeds
    assert spec["zip"] == {"alpha-l": ["fixed-K", "anytime", "inf"],
                           "alpha-f": ["fixed-K", "anytime", "inf"]}  # fmt: skip
    out = tmp_path / "headline"
    assert main(["sweep", str(EXAMPLE), "--out", str(out), "--dry-run"]) == 0
    planned = capsys.readouterr().out.splitlines()
    assert planned[-1].endswith(
        "7 to run (56 seeds), 8 cut from the first episodes of longer runs, 0 complete and skipped"
    )
    small = tmp_path / "headline.yaml"
    # Three K: a slope and its interval per curve as with five; the report draws each setting.
    small.write_text(yaml.safe_dump({**spec, "episodes": [10, 20, 40], "seeds": 2}))
    assert main(["sweep", str(small), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    # 3 K × 2 seeds of fixed-K; anytime and greedy: 2 seeds of K = 40, the rest cut from them
    summary = "9 settings: 9 complete (0 already were), 0 failed; 10 seeds played, 4 settings "
    assert summary + "cut from longer runs in " in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Total regret against K = 10, 20, 40: log-log slope")
    labels = [line.strip() for line in printed if line.startswith("  ") and "slope" not in line]
    assert labels == ["soft-max, fixed-K α", "soft-max, anytime α", "greedy (LSVI-UCB, α = ∞)"]
    slopes = [line for line in printed if line.startswith("    ")]
    assert len(slopes) == 6 and all("slope" in line and "[" in line for line in slopes), slopes
    assert printed[-1] == f"report: {out / 'report.html'}"
    page = (out / "report.html").read_text()
    assert "95% interval" in page and "K values" in page
    assert (out / "report-regret-vs-K.png").stat().st_size > 0
