"""Binder and Colab, as far as they can be checked offline: badges, the install cell's guard, the pins."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kdnb import cloud

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_starts_with_current_badges_and_install_cell(path):
    assert cloud.stale(path) == [], "run `python -m kdnb.cloud`, then execute the notebook again"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_badges_open_this_notebook_of_this_repository(path):
    title = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    links = re.findall(r"\]\((https://[^)]+)\)", title)
    owner_name = cloud.repository().removeprefix("https://github.com/")
    colab = [u for u in links if u.startswith("https://colab.research.google.com/github/")]
    binder = [u for u in links if u.startswith("https://mybinder.org/v2/gh/")]
    assert colab == [f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{path.name}"]
    assert binder == [f"https://mybinder.org/v2/gh/{owner_name}/main?urlpath=lab/tree/notebooks/{path.name}"]


def test_repository_address_is_checked():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", cloud.repository())


def _run_install_cell(pretend_colab: bool, tmp_path: Path) -> dict:
    """Execute the install cell in a fresh interpreter with subprocess.run recorded, not run."""
    probe = f"""
import json, os, subprocess, sys, types
calls = []
subprocess.run = lambda args, **kw: calls.append(list(args))
os.chdir = lambda path: calls.append(["chdir", path])
if {pretend_colab!r}:
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(["widgets"]))
    sys.modules["google"] = types.ModuleType("google")
    sys.modules["google.colab"] = colab
before = list(sys.path)
exec(compile({cloud.install_source()!r}, "install-cell", "exec"))
print(json.dumps({{"calls": calls, "path_added": [p for p in sys.path if p not in before]}}))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    return json.loads(out.stdout)


def test_install_cell_does_nothing_outside_colab(tmp_path):
    result = _run_install_cell(False, tmp_path)
    assert result == {"calls": [], "path_added": []}
    assert list(tmp_path.iterdir()) == []


def test_install_cell_on_colab_keeps_colabs_torch(tmp_path):
    calls = _run_install_cell(True, tmp_path)["calls"]
    clone = [c for c in calls if c[:1] == ["git"]]
    assert clone and cloud.repository() in clone[0]
    pip = [c[c.index("install") + 1:] for c in calls if "pip" in c]
    assert ["--quiet", "--no-deps", "-e", "/content/kdnb"] in pip, "the package must install without its pins"
    installed = [arg for args in pip for arg in args if "==" in arg]
    assert installed and not any(arg.startswith(("torch", "numpy", "pandas", "ipykernel", "jupyterlab")) for arg in installed)
    pins = cloud.pins()
    assert all(pins[arg.split("==")[0]] == arg.split("==")[1] for arg in installed), "the Colab extras drifted from pyproject.toml"
    assert ["widgets"] in calls and ["chdir", "/content/kdnb/notebooks"] in calls


def test_binder_builds_from_environment_yml_with_cpu_torch_and_installs_the_package():
    env = (ROOT / "environment.yml").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in env
    post = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_stale_badges_are_reported(tmp_path, monkeypatch):
    nb = json.loads(NOTEBOOKS[0].read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = [line.replace("mybinder.org/v2/gh/", "mybinder.org/v2/gl/") for line in nb["cells"][0]["source"]]
    del nb["cells"][1]
    bad = tmp_path / NOTEBOOKS[0].name
    bad.write_text(json.dumps(nb))
    problems = cloud.stale(bad)
    assert len(problems) == 2 and "links" in problems[0] and "install cell" in problems[1]
    assert cloud.update(bad) and cloud.stale(bad) == []
    assert not cloud.update(bad), "a second update must change nothing"


def test_a_malformed_repository_address_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text().replace(cloud.repository(), "git@github.com:someone/kdnb.git")
    fake.write_text(text)
    assert tomllib.loads(text)["project"]["urls"]["Repository"].startswith("git@")
    monkeypatch.setattr(cloud, "ROOT", tmp_path)
    with pytest.raises(ValueError, match="Repository must be https://github.com/owner/name"):
        cloud.repository()


OLD_IMAGE_BADGES = ("[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
                    "[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def test_links_are_text_that_reads_offline():
    import mistune

    line = cloud.badges("03_temperature.ipynb")
    html = mistune.html(line)
    assert "<img" not in html and "![" not in line, "a remote badge image shows as a broken image offline"
    texts = re.findall(r'<a href="https://[^"]+">([^<]+)</a>', html)
    assert texts == ["Open in Colab", "Launch on Binder"], html
    # Everything a reader sees without a network is this text, readable as it stands.
    assert re.sub(r"<[^>]+>", "", html).strip() == "Run it online: Open in Colab · Launch on Binder"


def test_old_image_badges_are_stale_and_replaced_by_one_line_of_links(tmp_path):
    nb = json.loads(NOTEBOOKS[0].read_text(encoding="utf-8"))
    name = NOTEBOOKS[0].name
    source = cloud.BADGE_LINE.sub(cloud.badges(name), "".join(nb["cells"][0]["source"]))  # as it is once current
    old = OLD_IMAGE_BADGES.format(colab=cloud.colab_url(name), binder=cloud.binder_url(name))
    nb["cells"][0]["source"] = cloud.BADGE_LINE.sub(old, source)
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    assert cloud.stale(path) == ["the title cell's Colab and Binder links are missing, out of date or point elsewhere"]
    assert cloud.update(path) and cloud.stale(path) == []
    title = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert "![" not in title and title.count("Open in Colab") == 1 and title.count("Launch on Binder") == 1
    assert title.replace(cloud.badges(name), "") == source.replace(cloud.badges(name), ""), "only the line of links changes"


def test_main_updates_only_the_notebooks_named(tmp_path, capsys):
    copies = []
    for src in NOTEBOOKS[:2]:
        nb = json.loads(src.read_text(encoding="utf-8"))
        nb["cells"][0]["source"] = [line.replace("Open in Colab", "Open on Colab") for line in nb["cells"][0]["source"]]
        copies.append(tmp_path / src.name)
        copies[-1].write_text(json.dumps(nb))
    before = copies[1].read_text()
    assert cloud.main(["--check", str(copies[0])]) == 1
    assert cloud.main([str(copies[0])]) == 0
    assert "updated" in capsys.readouterr().out
    assert cloud.stale(copies[0]) == [] and copies[1].read_text() == before
    assert cloud.main(["--check", str(copies[0])]) == 0
    with pytest.raises(SystemExit):
        cloud.main([str(tmp_path / "missing.ipynb")])
