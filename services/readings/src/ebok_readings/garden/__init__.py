"""Garden-meter requests (install, replace, remove) with their status history and reminders."""
