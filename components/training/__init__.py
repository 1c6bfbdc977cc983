"""Training machinery: the shared loop, precision, DDP primitives, the torchrun launcher, resumable state."""
