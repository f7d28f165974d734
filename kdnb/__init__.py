"""kdnb: the helper package of a workbook on knowledge distillation (知识蒸馏) and model compression.

Two tiers. The core holds what several notebooks share, one module per idea::

    from kdnb import temperature, losses, data, models, training, teachers, seeds, results

and each notebook has a room of its own, a package named after it, which its cells import::

    from kdnb import nb03_temperature as nb

Nothing is computed or fetched at import time.

The workbook speaks English or Chinese (:mod:`kdnb.i18n`): ``kdnb.set_language("zh")``, the
environment variable ``KDNB_LANG=zh``, or a kernel started in ``notebooks/zh/``.
"""

__all__ = ["set_language", "language"]


def set_language(lang):
    """Speak ``lang`` ("en" or "zh") from now on; ``None`` goes back to the automatic choice (:mod:`kdnb.i18n`)."""
    from .i18n import set_language as _set

    _set(lang)


def language() -> str:
    """The language kdnb speaks now: "en" or "zh" (:mod:`kdnb.i18n`)."""
    from .i18n import language as _language

    return _language()
__version__ = "0.1.0"
