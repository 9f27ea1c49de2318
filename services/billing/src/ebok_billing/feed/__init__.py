"""The back office's feed batches: billing's rows and how they are applied."""
