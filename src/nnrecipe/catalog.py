"""The titles of the online checks of `nr.watch`, by id, low enough in the package for the report to read.

The report sits below `nnrecipe.watching` and must not import it; each check in `nnrecipe.watching.checks`
takes its title from this table, so the two never disagree.
"""

from __future__ import annotations

#: every online check of `nr.watch` (stage "training"), by id, in the order they are reported
WATCH_CHECK_TITLES: dict[str, str] = {
    "input-stats": "What enters the net",
    "loss-finite": "Loss and gradients stay finite",
    "loss-decreases": "Training loss decreases",
    "gradient-spike": "Gradient norm spikes",
    "overfitting": "Validation loss against training loss",
    "lr-schedule": "Learning rate over the run",
    "params-update": "Every trainable parameter is in the optimizer and gets a gradient",
    "gradient-health": "Dead and saturated units, update-to-weight ratios",
}
