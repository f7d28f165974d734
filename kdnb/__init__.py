"""kdnb: the helper package of a workbook on knowledge distillation (知识蒸馏) and model compression.

Two tiers. The core holds what several notebooks share, one module per idea::

    from kdnb import temperature, losses, data, models, training, teachers, seeds, results

and each notebook has a room of its own, a package named after it, which its cells import::

    from kdnb import nb03_temperature as nb

Nothing is computed or fetched at import time.
"""

__version__ = "0.1.0"
