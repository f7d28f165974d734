"""kdnb: the helper package of a workbook on knowledge distillation (知识蒸馏) and model compression.

One module per idea; import what a notebook needs::

    from kdnb import temperature, losses, data, models, training, teachers, plots

Nothing is computed or fetched at import time.
"""

__version__ = "0.1.0"
