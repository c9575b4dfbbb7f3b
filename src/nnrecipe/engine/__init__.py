"""The one training and evaluation loop every step uses, with seeding, devices and checkpoints."""
