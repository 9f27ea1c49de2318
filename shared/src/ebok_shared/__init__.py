"""e-BOK common library: one way of doing each cross-cutting thing, used by every service."""
