"""The back office's feed batches: readings' rows and how they are applied."""
