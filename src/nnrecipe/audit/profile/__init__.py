"""The data profile: one streaming pass over every split that feeds every data check.

Per chunk it computes each sample's exact hash, near hash (pHash for images, SimHash for vectors and
signals, with a 16-number distance sketch), a few scalar properties (norm, brightness, length, ...) and its
target, and folds the inputs into per-feature (or per-channel) running moments, the few most extreme values
of each feature and a bounded reservoir sample. Token windows also get the hashes of their two ends, and the
train windows' spans go into a bounded set (`nnrecipe.audit.spans`). What stays in memory is O(samples) small
scalars — hashes, a target and a handful of properties, about 60 bytes a sample (125 for vectors, whose
distance sketch takes 64) — plus O(features) statistics and fixed-size samples: never the inputs themselves.

Targets equal to the data's ignore index (padding after the end of a sequence, unlabelled samples) are left
out of every count: class counts, the alignment of next-token targets, target summaries (`Profile.labelled`
says which samples carry a label at all).

Modules: `accumulators` (the running statistics), `features` (per-kind features of a chunk), `core` (`Profile`
and `SplitProfile`), `build` (`build_profile`, the pass). This module re-exports their public names.
"""

from nnrecipe.audit.profile.accumulators import KEEP, TOP, Capped, Extremes, Moments, Reservoir
from nnrecipe.audit.profile.build import RESERVOIR, build_profile
from nnrecipe.audit.profile.core import NEAR_RMS, SKETCH, Profile, SplitProfile, fetch, inputs_of
from nnrecipe.audit.profile.features import FEATURE_SIDE, MAX_FEATURES, PICTURE_SIDE, channels_last

__all__ = [
    "FEATURE_SIDE",
    "KEEP",
    "MAX_FEATURES",
    "NEAR_RMS",
    "PICTURE_SIDE",
    "RESERVOIR",
    "SKETCH",
    "TOP",
    "Capped",
    "Extremes",
    "Moments",
    "Profile",
    "Reservoir",
    "SplitProfile",
    "build_profile",
    "channels_last",
    "fetch",
    "inputs_of",
]
