"""readings rules by area: pure functions and values, no I/O (``values`` are shared by the
areas; ``readings``, ``consumption``, ``meters``, ``garden`` and ``feed`` hold their rules)."""
