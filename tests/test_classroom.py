"""Classroom mode without a browser: the page's widgets, the Voilà command, the offline template.

The browser suite (tests/browser/test_classroom.py) serves the page and drags its sliders.
"""

import re
from pathlib import Path

import pytest

from kdnb import classroom


@pytest.fixture(scope="module")
def page():
    return classroom.app()


def test_page_has_the_three_explorers_in_order(page):
    assert list(page.explorers) == list(classroom.TABS)
    tabs = page.children[-1]
    assert tuple(tabs.titles) == classroom.TABS and len(tabs.children) == 3


def test_temperature_tab_follows_its_slider(page):
    explorer = page.explorers["Temperature"]
    explorer.slider.value = 8.0
    assert explorer.state["T"] == 8.0 and "T = 8.00" in explorer.readout.value
    assert set(explorer.state["entropy"]) == {"CNN teacher", "MLP teacher"}


def test_pruning_tab_follows_its_slider(page):
    explorer = page.explorers["Prune"]
    explorer.controls["sparsity"].value = 90
    assert explorer.state["percent"] == 90


def test_nothing_trains_until_train_is_pressed(page):
    playground = page.explorers["Train a student"]
    assert not playground.running and not playground.runs


def test_command_hides_code_uses_the_template_and_stays_on_loopback():
    cmd = classroom.command(9123)
    assert "--port=9123" in cmd and "--Voila.ip=127.0.0.1" in cmd and "--strip_sources=True" in cmd
    assert f"--template={classroom.TEMPLATE}" in cmd and str(classroom.NOTEBOOK) in cmd
    env = classroom.environment({"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"].split(":")[0] == str(classroom.TEMPLATES) and "/elsewhere" in env["JUPYTER_PATH"]
    folder = classroom.TEMPLATES / "voila" / "templates" / classroom.TEMPLATE
    assert (folder / "index.html.j2").is_file() and (folder / "conf.json").is_file()


def test_template_removes_exactly_the_cdn_links_of_voilas_lab_page():
    """If Voila changes its lab page, the template's replacements stop matching: this fails first."""
    from jupyter_core.paths import jupyter_path

    lab = next(Path(p) for p in jupyter_path("voila", "templates", "lab") if (Path(p) / "index.html.j2").is_file())
    lab = lab / "index.html.j2"
    links = re.findall(r'<link rel="stylesheet" href="(https://[^"]+)"[^>]*/>', lab.read_text())
    assert links, "Voila's lab page links no remote stylesheet any more: the template's replacements can go"
    ours = (classroom.TEMPLATES / "voila" / "templates" / classroom.TEMPLATE / "index.html.j2").read_text()
    cdn = re.search(r"set cdn = '([^']+)'", ours).group(1)
    for link in links:
        assert link.startswith(cdn) and f"cdn ~ '{link.removeprefix(cdn)}\" type" in ours, f"{link} is not removed"
