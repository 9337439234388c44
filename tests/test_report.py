"""The report's numbers (slopes, bands, soft-max bias) against hand computations, and its pages.

The pages are built from real run and sweep folders on a tiny game; the browser test of the page
itself is in ``test_report_browser.py``.
"""

import html
import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli import main
from stackelberg_rl.experiments import GameSpec, RunConfig, run_seeds
from stackelberg_rl.games import random_linear
from stackelberg_rl.planning import softmax_bias, softmax_bias_bound
from stackelberg_rl.report import episode_bias, run_bias
from stackelberg_rl.report.analysis import (
    GREEDY,
    Curve,
    describe_agent,
)
from stackelberg_rl.report.page import share_words, slope_words, write_report
from stackelberg_rl.report.plots import (
    log_ticks,
    plot_cumulative_regret,
    plot_prefixes,
    plot_sizes,
)
from stackelberg_rl.report.tables import SlopeFit, loglog_fit, mean_band
from stackelberg_rl.sweep import Setting, load_sweep, run_grid
from stackelberg_rl.sweep.settings import depends_on_K

TINY = GameSpec(
    "random-linear",
    {"n_states": 5, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 2},
)


# ---------------------------------------------------------------------- numbers by hand
def test_loglog_fit_is_each_seeds_least_squares_slope_with_a_t_interval_over_seeds():
    Ks = [100, 200, 400, 800]
    truth = {0: (3.0, 0.5), 1: (2.0, 0.6), 2: (5.0, 0.45)}
    wobble = [1.0, 1.1, 0.95, 1.02]
    rows = [
        {"K": K, "seed": s, "leader": c * K**p * w}
        for s, (c, p) in truth.items()
        for K, w in zip(Ks, wobble, strict=True)
    ]
    rows.append({"K": 400, "seed": 7, "leader": 1.0})  # a seed missing at other K: left out
    fit = loglog_fit(pd.DataFrame(rows), "leader")
    # By hand: slope = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² on x = log K, y = log regret, per seed.
    x = [math.log(K) for K in Ks]
    x_bar = sum(x) / len(x)
    slopes = []
    for c, p in truth.values():
        y = [math.log(c * K**p * w) for K, w in zip(Ks, wobble, strict=True)]
        y_bar = sum(y) / len(y)
        num = sum((xi - x_bar) * (yi - y_bar) for xi, yi in zip(x, y, strict=True))
        slopes.append(num / sum((xi - x_bar) ** 2 for xi in x))
    mean = sum(slopes) / 3
    sd = math.sqrt(sum((s - mean) ** 2 for s in slopes) / 2)
    # t_{0.975} with 2 degrees of freedom: its CDF is 1/2 + t/(2√(2 + t²)) = 0.975.
    t_975 = math.sqrt(2 * 0.95**2 / (1 - 0.95**2))
    half = t_975 * sd / math.sqrt(3)
    assert fit.per_seed == pytest.approx(slopes, abs=1e-12)
    assert fit.slope == pytest.approx(mean, abs=1e-12)
    assert fit.half_width == pytest.approx(half, abs=1e-12)
    assert (fit.low, fit.high) == pytest.approx((mean - half, mean + half), abs=1e-12)
    assert fit.points == 4
    assert fit.text() == f"{mean:.2f} [{mean - half:.2f}, {mean + half:.2f}]"


def test_loglog_fit_of_one_seed_has_no_interval_and_of_one_K_no_slope():
    one_seed = pd.DataFrame({"K": [10, 20, 40], "seed": 0, "leader": [1.0, 2.0, 4.0]})
    fit = loglog_fit(one_seed, "leader")
    assert fit.slope == pytest.approx(1.0) and math.isnan(fit.half_width)
    assert fit.text() == "1.00"
    one_K = pd.DataFrame({"K": [10, 10], "seed": [0, 1], "leader": [1.0, 2.0]})
    assert math.isnan(loglog_fit(one_K, "leader").slope)
    assert loglog_fit(one_K, "leader").text() == "n/a"
    zero = pd.DataFrame({"K": [10, 20, 10, 20], "seed": [0, 0, 1, 1], "leader": [0, 1, 1, 2.0]})
    assert loglog_fit(zero, "leader").per_seed == pytest.approx((1.0,))  # log 0: seed 0 out
    beta = pd.DataFrame({"beta": [0.0, 1.0, 4.0], "seed": 0, "leader": [9.0, 1.0, 2.0]})
    assert loglog_fit(beta, "leader", x="beta").slope == pytest.approx(0.5)  # β = 0 left out


def test_bands_are_the_t_interval_clipped_to_the_data_range():
    # (points, seeds): the data range is [0, 3]
    values = np.array([[0.0, 0.1, 0.05], [1.0, 1.2, 1.4], [2.5, 2.6, 3.0], [2.0, 2.0, 2.0]])
    mean, low, high = mean_band(values)
    t = stats.t.ppf(0.975, 2)
    half = t * values.std(axis=1, ddof=1) / math.sqrt(3)
    np.testing.assert_allclose(mean, values.mean(axis=1))
    # the first point's interval reaches below 0, the lowest value: clipped there
    assert mean[0] - half[0] < 0.0
    np.testing.assert_allclose(low, [0.0, mean[1] - half[1], mean[2] - half[2], 2.0])
    # the third point's reaches above 3, the largest value: clipped there
    assert mean[2] + half[2] > 3.0
    np.testing.assert_allclose(high, [mean[0] + half[0], mean[1] + half[1], 3.0, 2.0])
    assert (low <= mean).all() and (mean <= high).all()
    _, low1, high1 = mean_band(values[:, :1])  # one seed: no interval
    assert np.isnan(low1).all() and np.isnan(high1).all()


def test_run_bias_sums_the_bias_of_the_alphas_played_like_regret():
    game = random_linear(4, 3, 2, 3, 3, seed=5)
    alphas = [(0.5, 2.0), (0.5, 2.0), (4.0, 1.0), (np.inf, 3.0), (4.0, 1.0)]
    df = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1, 1],
            "episode": [0, 1, 2, 0, 1],
            "eval_weight": [2, 0, 1, 1, 1],  # episode 1 stands in episode 0's block
            "alpha_l": [a for a, _ in alphas],
            "alpha_f": [b for _, b in alphas],
        }
    )
    totals = run_bias(game, df).set_index("seed")
    for seed in (0, 1):
        expected, bound = np.zeros(2), np.zeros(2)
        for (a_l, a_f), s, w in zip(alphas, df["seed"], df["eval_weight"], strict=True):
            if s == seed and w > 0:
                expected += w * softmax_bias(game, a_l, a_f)
                bound += w * softmax_bias_bound(game, a_l, a_f)
        np.testing.assert_allclose(
            totals.loc[seed, ["bias_leader", "bias_follower"]], expected, atol=1e-12
        )
        np.testing.assert_allclose(
            totals.loc[seed, ["bound_leader", "bound_follower"]], bound, atol=1e-12
        )
        assert (expected <= bound + 1e-12).all()  # Lemmas 2 and 4
    per_episode = episode_bias(game, df)
    assert len(per_episode) == 4  # the evaluated episodes only
    assert (
        per_episode.loc[per_episode.episode.eq(0) & per_episode.seed.eq(1), "bias_leader"].item()
        == 0.0
    )
    with pytest.raises(ValueError, match="no soft-max"):
        episode_bias(game, df.assign(alpha_l=np.nan))


def test_what_depends_on_K_and_how_it_is_said():
    fixed = {"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "fixed-K", "alpha_f": "fixed-K"}}
    anytime = {"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "anytime", "alpha_f": 3.0}}
    greedy_theory = {"agent": {"kind": "greedy-lsvi-ucb", "alpha_l": "fixed-K", "beta": "theory"}}
    power = {"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "power:1,0.7", "alpha_f": 1.0}}
    assert depends_on_K(fixed) == ["α_l (fixed-K)", "α_f (fixed-K)"]
    assert depends_on_K(anytime) == []  # its prefixes are runs
    assert depends_on_K(greedy_theory) == ["β (theory)"]  # greedy ignores α, not β
    assert depends_on_K(power) == ["α_l (power:1,0.7)"]
    assert describe_agent(fixed) == "soft-max, fixed-K α"
    assert describe_agent(anytime) == "soft-max, α_l = anytime, α_f = 3"
    assert describe_agent(greedy_theory) == "greedy (LSVI-UCB, α = ∞)" == GREEDY
    # soft-max at α = ∞ is greedy play, and the report calls it so (not "soft-max, α = ∞")
    soft_inf = {"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "inf", "alpha_f": math.inf}}
    assert describe_agent(soft_inf) == GREEDY
    half = {"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "inf", "alpha_f": 2.0}}
    assert describe_agent(half) == "soft-max, α_l = ∞, α_f = 2"
    assert "grows more slowly than √K" in slope_words(SlopeFit(0.2, 0.05, (), 5))
    assert "grows like √K" in slope_words(SlopeFit(0.48, 0.05, (), 5))
    assert "linearly" in slope_words(SlopeFit(1.0, 0.01, (), 5))
    assert "almost all" in share_words(0.8, 10.0)
    assert "no soft-max bias" in share_words(0.0, 0.0)


def _pixels_of(png, colour, tol=12):
    """``(x, y)`` of the pixels within ``tol`` of ``colour`` (RGB), image coordinates."""
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=int)
    ys, xs = np.nonzero((np.abs(rgb - colour) <= tol).all(axis=2))
    return xs, ys, rgb.shape


def test_the_regret_figure_draws_each_players_curves_where_they_belong(tmp_path):
    # Regret 1/(k+1) (leader) and 2/(k+1) (follower), two seeds: cumulative regret rises,
    # per-episode regret falls.
    K = 60
    rows = [
        {"seed": s, "episode": k, "eval_weight": 1,
         "regret_leader": (1 + 0.1 * s) / (k + 1), "regret_follower": 2 / (k + 1)}
        for s in (0, 1) for k in range(K)
    ]  # fmt: skip
    png = tmp_path / "regret.png"
    plot_cumulative_regret(pd.DataFrame(rows), png, title="t")
    for j, colour in enumerate([(31, 119, 180), (255, 127, 14)]):  # matplotlib's C0, C1
        xs, ys, (height, width, _) = _pixels_of(png, colour)
        assert len(xs) > 200, j  # a curve, not only its legend
        assert ((xs >= width / 2) == bool(j)).all()  # each player in its own column
        top, bottom = ys < height / 2, ys >= height / 2
        assert top.sum() > 100 and bottom.sum() > 100  # both rows drawn
        # image rows grow downwards: the cumulative curve climbs, the per-episode one falls
        assert np.polyfit(xs[top], ys[top], 1)[0] < 0
        assert np.polyfit(xs[bottom], ys[bottom], 1)[0] > 0


def _curve(label, xs, ys, x_labels=None):
    """A :class:`Curve` through ``(x, y)`` (both players ``y``, two seeds 5% apart)."""
    rows = [
        {"x": float(x), "seed": s, "leader": y * (1 + 0.05 * s), "follower": 2 * y}
        for x, y in zip(xs, ys, strict=True)
        for s in (0, 1)
    ]
    return Curve(label, [], pd.DataFrame(rows), x_labels or {})


def _tick_labels(fig, which, draw=True):
    """Each axis's labelled major ticks inside its view: ``[(axes, [(value, Text)])]``, after
    drawing ``fig`` (``draw=False``: as last drawn, e.g. for the other axis of one drawing)."""
    if draw:
        fig.draw_without_rendering()
    out = []
    for ax in fig.axes:
        axis = ax.xaxis if which == "x" else ax.yaxis
        low, high = sorted(axis.get_view_interval())
        ticks = [
            (t.get_loc(), t.label1)
            for t in axis.get_major_ticks()
            if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()
        ]
        out.append((ax, ticks))
    return out


def _assert_apart(ticks):
    boxes = [text.get_window_extent() for _, text in ticks]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), [text.get_text() for _, text in ticks]


def test_the_beta_axis_names_theory_without_overlapping_tick_labels(tmp_path):
    # The sizes example: β = 0.2 and β = theory, which is 79.5 at d = 4 and 163 at d = 8.
    curves = [
        _curve("d = 4", [0.2, 79.5], [250, 630], {79.5: "theory (79.5)"}),
        _curve("d = 8", [0.2, 162.51588], [270, 440], {162.51588: "theory (163)"}),
    ]
    fig = plot_sizes(curves, "β", None, tmp_path / "beta.png")
    for ax, ticks in _tick_labels(fig, "x"):
        assert [text.get_text() for _, text in ticks] == ["0.2", "79.5", "163"]
        _assert_apart(ticks)
        assert "theory at 79.5, 163" in ax.get_xlabel()


# Between them the ranges take every branch of ``log_ticks`` on the y axis: powers of ten
# (1e-4–1e6, labels below 1 too), 1, 2, 5 × 10^n, 1…9 × 10^n and evenly spaced round numbers
# (31–38 and 5.2–5.9 without the √K guide). 0.01–1000 took powers of ten, as 1e-4–1e6 does.
@pytest.mark.parametrize("low, high", [(220, 1000), (31, 38), (1e-4, 1e6), (5.2, 5.9), (450, 4800)])
def test_every_log_axis_has_three_or_more_readable_tick_labels(tmp_path, low, high):
    Ks = [250, 500, 1000, 2000, 4000]
    ys = np.geomspace(low, high, len(Ks))
    curves = [_curve("soft-max", Ks, ys)]
    # plot_regret_vs_K is plot_sizes with the √K guide: its x axis is plot_sizes's (below, without
    # the guide) and its y axis plot_prefixes's (with the same guide; the same ticks in each case).
    figures = [
        plot_sizes(curves, "|S|", 0.0, tmp_path / "sizes.png"),
        plot_prefixes(curves[0], tmp_path / "prefixes.png"),
    ]
    for fig in figures:
        for which in "xy":  # one drawing for both axes
            for _ax, ticks in _tick_labels(fig, which, draw=which == "x"):
                assert len(ticks) >= 3, (which, [text.get_text() for _, text in ticks])
                for value, text in ticks:  # each label says its tick's value
                    assert float(text.get_text().replace("−", "-")) == pytest.approx(value)
                _assert_apart(ticks)


def test_log_ticks_give_three_to_nine_round_ticks_inside_any_range():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        low = 10 ** rng.uniform(-6, 6)
        high = low * 10 ** rng.uniform(0.004, 9)
        ticks = log_ticks(low, high)
        assert 3 <= len(ticks) <= 9, (low, high, ticks)
        assert all(low <= t <= high for t in ticks) and ticks == sorted(ticks)
        assert all(len(f"{t:g}") <= 9 for t in ticks), ticks  # round numbers, short labels
        # labelled across half the axis or more: 3.04–19.7 was labelled 4, 6, 8 and no higher
        assert math.log10(ticks[-1] / ticks[0]) >= math.log10(high / low) / 2, (low, high, ticks)
    assert log_ticks(3.04, 19.7) == [5, 10, 15]


def test_a_size_plot_says_what_resolves_differently_at_each_size(tmp_path):
    """β = theory is C₁·d·H·√ι: along d it is not "other settings equal"."""
    settings = []
    for d in (2, 3):
        for beta in (0.3, "theory"):
            game = GameSpec("random-linear", {**TINY.params, "dim": d})
            config = RunConfig(game=game, episodes=8, seeds=1, agent=AgentConfig(beta=beta))
            settings.append(Setting(f"d{d}-{beta}", config))
    folder = tmp_path / "sweep"
    run_grid(settings, folder, workers=1, progress=False)
    betas = {}
    for d in (2, 3):
        manifest = json.loads((folder / f"d{d}-theory" / "manifest.json").read_text())
        betas[d] = f"{manifest['resolved']['beta']:.3g}"
    assert betas[2] != betas[3]
    report = write_report(folder)
    page = report.path.read_text()
    caption = re.search(r"Total regret at K = 8 against d, ([^<]*)", page).group(1)
    assert "other settings equal" not in caption
    assert "β = theory resolves to a different value at each d" in html.unescape(caption)
    assert f"β = theory is {betas[2]} at d = 2, {betas[3]} at d = 3" in page
    fixed = re.search(r"<li>([^<]*beta = 0.3[^<]*)", page).group(1)
    assert "β = theory is" not in fixed and " → " not in fixed  # a fixed β: nothing else varies


# ---------------------------------------------------------------------- pages of real folders
def tiny_config(episodes=12, seeds=2, **agent):
    return RunConfig(
        game=TINY, episodes=episodes, seeds=seeds, agent=AgentConfig(**{"beta": 0.3, **agent})
    )


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    """A sweep: two agents over K = 6, 12, 24; |S| and β (with theory) at K = 12."""
    settings = []
    for K in (6, 12, 24):
        settings.append(Setting(f"fixed-K{K}", tiny_config(K)))
        settings.append(Setting(f"greedy-K{K}", tiny_config(K, kind="greedy-lsvi-ucb")))
    params = dict(TINY.params)
    for n in (8, 12):
        game = GameSpec("random-linear", {**params, "n_states": n})
        settings.append(
            Setting(
                f"fixed-S{n}",
                RunConfig(game=game, episodes=12, seeds=2, agent=AgentConfig(beta=0.3)),
            )
        )
    for beta in (0.05, "theory"):
        settings.append(Setting(f"fixed-beta-{beta}", tiny_config(12, beta=beta)))
    folder = tmp_path_factory.mktemp("report") / "sweep"
    run_grid(settings, folder, workers=1, progress=False)
    return folder


@pytest.mark.slow
def test_a_sweep_report_has_regret_against_K_bias_sizes_and_every_setting(sweep_folder, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(sweep_folder, folder)
    report = write_report(folder)
    assert report.path == folder / "report.html"
    labels = sorted(c.label for c in report.k_curves)
    assert labels == ["greedy (LSVI-UCB, α = ∞)", "soft-max, fixed-K α"]
    for curve in report.k_curves:
        assert sorted(curve.points["x"].unique()) == [6.0, 12.0, 24.0]
        assert curve.fits["leader"].points == 3
    softmax = next(c for c in report.k_curves if c.label.startswith("soft-max"))
    means = softmax.means()
    assert (means["bias_leader"] <= means["bound_leader"]).all()
    names = {p.name for p in folder.iterdir() if p.name.startswith("report")}
    assert names == {
        "report.html",
        "report-regret-vs-K.png",
        "report-bias-vs-K.png",
        "report-n_states.png",
        "report-beta.png",
    }
    for s in load_sweep(folder)[1]:
        assert (s.folder / "report-regret.png").is_file()
    page = (folder / "report.html").read_text()
    assert page.count("<img ") == len(report.figures) == 4 + 10  # 10 settings' own figures
    assert "theory (" in page  # β = theory named on its axis's caption
    assert "soft-max, α = ∞" not in page and "greedy (LSVI-UCB, α = ∞)" in page
    assert not re.search(r"(src|href)\s*=\s*\"(https?:)?//", page)
    for words in ("Regret against K", "soft-max bias", "Lemma 2", "Manifest", "git_commit"):
        assert words in page, words


def test_a_run_report_says_when_prefixes_are_not_regret_against_K(sweep_folder, tmp_path):
    fixed = tmp_path / "fixed"
    shutil.copytree(sweep_folder / "fixed-K24", fixed)
    report = write_report(fixed)
    page = report.path.read_text()
    assert report.prefix is None and "NOT regret against K" in page
    assert "α_l (fixed-K) and α_f (fixed-K)" in page
    anytime = tmp_path / "anytime"
    run_seeds(tiny_config(32, alpha_l="anytime", alpha_f="anytime"), anytime, 1, progress=False)
    report = write_report(anytime)
    assert report.prefix is not None and (anytime / "report-prefixes.png").is_file()
    assert sorted(report.prefix.points["x"].unique()) == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert "regret against K" in report.path.read_text()


def test_a_run_saved_with_its_plans_shows_the_ccse_certificate(tmp_path, capsys):
    folder = tmp_path / "ccse"
    config = RunConfig(
        game=GameSpec("security", {"horizon": 2}), episodes=16, seeds=2,
        agent=AgentConfig(beta=0.2, alpha_l="anytime", alpha_f="anytime"), save_plans=True,
    )  # fmt: skip
    run_seeds(config, folder, 1, progress=False)
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "cumulative regret" in out and f"report: {folder / 'report.html'}" in out
    assert (folder / "report-ccse.png").is_file() and (folder / "regret.png").is_file()
    assert "coarse correlated Stackelberg equilibrium" in (folder / "report.html").read_text()


def test_report_of_an_exploration_folder_shows_its_gaps(tmp_path, capsys):
    folder = tmp_path / "explore"
    argv = ["explore", "--game", "security", "--param", "horizon=2", "--episodes", "20"]
    assert main([*argv, "--out", str(folder), "--quiet"]) == 0
    assert main(["plan", str(folder), "--param", "zero_sum=true"]) == 0
    capsys.readouterr()
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text()
    assert "Reward-free Stackelberg gaps" in page and "gap/follower/initial" in page
    assert "zero_sum=true" in page
    # the folder is still an exploration of this program and nothing else: replaced by
    # --overwrite once its plans, which that would delete, are moved away
    assert main([*argv, "--out", str(folder), "--overwrite", "--quiet"]) == 2
    for plan in folder.glob("plan-*"):
        plan.unlink()
    assert main([*argv, "--out", str(folder), "--overwrite", "--quiet"]) == 0


def test_report_of_a_continuous_exploration_with_a_plan_says_it_has_no_gaps(tmp_path, capsys):
    """A continuous game's plans record ``"gaps": null``: the report had failed on them."""
    folder, theta = tmp_path / "explore", tmp_path / "theta.npz"
    argv = ["explore", "--game", "continuous", "--param", "n_eval_states=10", "--episodes", "6"]
    assert main([*argv, "--out", str(folder), "--quiet"]) == 0
    np.savez(theta, theta=np.full((2, 3, 4), 0.1))
    assert main(["plan", str(folder), "--rewards", str(theta)]) == 0
    capsys.readouterr()
    assert main(["report", str(folder)]) == 0
    assert "This exploration has no exact gaps" in (folder / "report.html").read_text()


@pytest.mark.parametrize(
    "damage, match",
    [
        ("data.npz", r"data.npz is damaged, truncated"),
        ("policies.npz", r"policies.npz is damaged, truncated"),
        ("plan", r"plan-.*\.npz is damaged, truncated"),
        ("episodes", r"data.npz is not the data of the exploration .*\(episodes is 20 there, 999"),
        ("beta", r"\(beta is 1.0 there, 2.0 in the manifest\)"),
    ],
)
def test_report_of_a_damaged_exploration_folder_fails_in_one_line(tmp_path, capsys, damage, match):
    """Issue 16: a truncated data or plan file, or an edited manifest, is refused (exit 2)."""
    folder = tmp_path / "explore"
    argv = ["explore", "--game", "security", "--param", "horizon=2", "--episodes", "20"]
    assert main([*argv, "--out", str(folder), "--quiet"]) == 0
    assert main(["plan", str(folder), "--param", "zero_sum=true"]) == 0
    if damage in ("episodes", "beta"):
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["options"][damage] = {"episodes": 999, "beta": 2.0}[damage]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        path = next(folder.glob("plan-*.npz")) if damage == "plan" else folder / damage
        path.write_bytes(path.read_bytes()[:-200])
    capsys.readouterr()
    line = _one_line(capsys, ["report", str(folder)])
    assert re.search(match, line), line
    assert not (folder / "report.html").exists()


def _one_line(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda d: None, "no manifest.json"),  # an empty folder
        (lambda d: (d / "manifest.json").write_text('{"format": "other/tool"}'), "not a manifest"),
        (lambda d: (d / "sweep.json").write_text("{not json"), "corrupt"),
        (lambda d: (d / "sweep.json").write_text('{"format": "x", "settings": []}'), "not a sweep"),
        (
            lambda d: (d / "sweep.json").write_text(
                json.dumps(
                    {"format": "stackelberg-rl/sweep", "settings": [{"name": "a", "folder": "a"}]}
                )
            ),
            "no readable setting",
        ),
        (
            lambda d: (d / "sweep.json").write_text(
                json.dumps(
                    {
                        "format": "stackelberg-rl/sweep",
                        "settings": [{"name": "a", "folder": "../a"}],
                    }
                )
            ),
            "outside the sweep",
        ),
    ],
)
def test_report_of_a_corrupt_or_foreign_folder_is_one_line_and_exit_code_2(
    tmp_path, capsys, spoil, message
):
    folder = tmp_path / "folder"
    folder.mkdir()
    spoil(folder)
    before = sorted(p.name for p in folder.iterdir())
    assert message in _one_line(capsys, ["report", str(folder)])
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_a_damaged_setting_is_listed_and_left_out(sweep_folder, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(sweep_folder, folder)
    data = json.loads((folder / "sweep.json").read_text())
    data["settings"] = [s for s in data["settings"] if s["name"].startswith("greedy")]
    (folder / "sweep.json").write_text(json.dumps(data))  # fewer settings: a quicker page
    (folder / "greedy-K6" / "results.parquet").write_bytes(b"PAR1 damaged")
    report = write_report(folder)
    page = report.path.read_text()
    assert "Setting greedy-K6 is left out" in page and "corrupt" in page
    greedy = next(c for c in report.k_curves if c.label.startswith("greedy"))
    assert sorted(greedy.points["x"].unique()) == [12.0, 24.0]


def test_report_of_a_sweep_still_playing_its_first_settings_says_so(sweep_folder, tmp_path):
    """No setting complete yet: "still running (pid …)", not "no readable setting"."""
    from stackelberg_rl.experiments.store import RunFolderError, host

    folder = tmp_path / "sweep"
    shutil.copytree(sweep_folder, folder)
    data = json.loads((folder / "sweep.json").read_text())
    for s in data["settings"]:
        manifest = json.loads((folder / s["folder"] / "manifest.json").read_text())
        (folder / s["folder"] / "manifest.json").write_text(
            json.dumps(dict(manifest, status="running"))
        )
    (folder / "sweep.json").write_text(json.dumps(dict(data, status="running", pid=1, host=host())))
    with pytest.raises(RunFolderError, match=r"holds a sweep that is still running \(pid 1\)"):
        write_report(folder)


def test_report_files_do_not_make_a_run_folder_foreign(sweep_folder, tmp_path, capsys):
    folder = tmp_path / "run"
    shutil.copytree(sweep_folder / "greedy-K6", folder)
    assert main(["report", str(folder)]) == 0
    argv = ["run", "--episodes", "4", "--seeds", "1", "--quiet", "--out", str(folder)]
    assert (
        main(
            [
                *argv,
                "--overwrite",
                *sum((["--param", f"{k}={v}"] for k, v in TINY.params.items()), []),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "regret.png",
        "results.parquet",
    ]


def test_a_curve_has_soft_max_bias_when_any_players_bias_is_positive():
    from stackelberg_rl.report.page import _some_bias

    rows = [
        {"x": float(K), "seed": 0, "leader": 1.0, "follower": 1.0, "bias_leader": 0.0,
         "bias_follower": f}
        for K, f in ((100, 0.0), (200, 0.5))
    ]  # fmt: skip
    greedy_leader = Curve("a", [], pd.DataFrame(rows))
    assert greedy_leader.has_bias and _some_bias(greedy_leader)
    for row in rows:
        row["bias_follower"] = 0.0
    assert not _some_bias(Curve("a", [], pd.DataFrame(rows)))
