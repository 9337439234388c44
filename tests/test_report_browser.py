"""The report opened in a real browser: every figure renders and nothing is fetched.

Debian's ``chromium``, headless, with networking disabled (every host name resolves to nothing)
and a fresh profile, opens a copy of ``report.html`` to which a small probe script is appended.
After the page's load event the probe records on each ``<img>`` its decoded size
(``naturalWidth``) and where it is drawn, and on ``<body>`` every resource the page fetched
(``performance.getEntriesByType("resource")``: an inline figure is not fetched, a file or a URL
would be). ``--dump-dom`` gives the DOM with those records; a screenshot of the whole page then
shows whether each figure's region holds a drawing (not a blank or a broken-image box). The page's
own text is also scanned for any external reference. Without chromium the tests are skipped (CI
installs it: ``.ci/run``).
"""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import GameSpec, RunConfig
from stackelberg_rl.report.page import write_report
from stackelberg_rl.sweep import Setting, run_grid

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves: nothing can be fetched
]

PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    img.setAttribute("data-natural-width", img.naturalWidth);
    img.setAttribute("data-complete", img.complete);
    img.setAttribute("data-box", JSON.stringify(
      [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]));
  }
  const fetched = performance.getEntriesByType("resource").map((e) => e.name);
  document.body.setAttribute("data-fetched", JSON.stringify(fetched));
  document.body.setAttribute("data-height", document.documentElement.scrollHeight);
});
</script>"""

WIDTH = 1200


class Images(HTMLParser):
    """Every ``<img>``'s attributes and ``<body>``'s, from the dumped DOM."""

    def __init__(self):
        super().__init__()
        self.images, self.body = [], {}

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "body":
            self.body = dict(attrs)


def chromium(page, profile, *args):
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A sweep folder's page and one of its run folders' pages.

    Soft-max at two K (regret and soft-max bias against K) and greedy play at one, whose run
    page also draws its prefixes: each kind of figure of the pages once, and the greedy run at
    K = 8 would only draw one more setting's figure of the same kind."""
    game = GameSpec(
        "random-linear",
        {"n_states": 5, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 2},
    )
    settings = [
        Setting(f"{name}-K{K}", RunConfig(game=game, episodes=K, seeds=2, agent=agent))
        for name, agent, Ks in (
            ("fixed-K", AgentConfig(beta=0.3), (8, 16)),
            ("greedy", AgentConfig(beta=0.3, kind="greedy-lsvi-ucb"), (16,)),
        )
        for K in Ks
    ]
    folder = tmp_path_factory.mktemp("browser") / "sweep"
    run_grid(settings, folder, workers=1, progress=False)
    return [write_report(folder).path, write_report(folder / "greedy-K16").path]


def external_references(text):
    """``src``, ``href``, CSS ``url(...)`` and ``@import`` that point outside the page."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", text, flags=re.I)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]+)", text, flags=re.I)
    refs += re.findall(r"@import\s+['\"]?([^;'\"]+)", text, flags=re.I)
    return [r for r in refs if not (r.startswith("#") or r.startswith("data:image/png;base64,"))]


@pytest.mark.parametrize("which", [0, 1], ids=["sweep", "run"])
def test_every_figure_renders_and_nothing_is_fetched(pages, which, tmp_path):
    page = pages[which]
    text = page.read_text(encoding="utf-8")
    assert external_references(text) == []
    assert "http://" not in text and "https://" not in text
    n_figures = text.count("<img ")
    assert n_figures >= 2

    probed = tmp_path / "probed.html"  # beside nothing: the copy cannot reach the folder's files
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(probed, tmp_path / "profile-dom", "--dump-dom").stdout
    parsed = Images()
    parsed.feed(dom)
    assert len(parsed.images) == n_figures
    assert json.loads(parsed.body["data-fetched"]) == []  # nothing fetched, not even a file
    for img in parsed.images:
        assert img["data-complete"] == "true"
        assert int(img["data-natural-width"]) > 0, img.get("alt")  # decoded, not broken

    height = min(int(parsed.body["data-height"]), 16000)
    shot = tmp_path / "page.png"
    chromium(
        probed,
        tmp_path / "profile-shot",
        f"--window-size={WIDTH},{height}",
        f"--screenshot={shot}",
    )
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    checked = 0
    for img in parsed.images:
        x, y, w, h = (int(round(v)) for v in json.loads(img["data-box"]))
        assert w > 100 and h > 100, img.get("alt")  # laid out at a readable size
        if y + h > pixels.shape[0]:
            continue  # below what one screenshot holds
        region = pixels[y : y + h, x : x + w]
        ink = (region.min(axis=2) < 200).mean()  # share of pixels that are not near-white
        colours = len(np.unique(region.reshape(-1, 3)[::7], axis=0))
        assert ink > 0.02 and colours > 20, (img.get("alt"), ink, colours)  # a drawn figure
        checked += 1
    assert checked >= 2
