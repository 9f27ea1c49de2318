"""e-BOK notifier: every e-mail e-BOK sends."""
