"""A spec that is nothing but an unchanged LightningModule and its DataModule."""

import os

from tiny_lightning import BlobsData, Classifier

import nnrecipe as nr


def experiment() -> nr.Experiment:
    softmax = os.environ.get("NNRECIPE_TEST_SOFTMAX") == "1"
    return nr.Experiment.from_lightning(module=lambda: Classifier(softmax=softmax, step_lr=True),
                                        datamodule=BlobsData(), name="lightning-blobs")
