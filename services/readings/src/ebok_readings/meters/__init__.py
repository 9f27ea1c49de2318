"""Meters: the registry of meters on consumption points, installations, replacements, removals."""
