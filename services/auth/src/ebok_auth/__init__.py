"""e-BOK auth: accounts, credentials, sessions, regulations and operators."""
