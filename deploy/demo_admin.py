"""The operator console's demo admin, holding all four roles, FOR THE LOCAL RUN ONLY: auth
creates it at start-up from its bootstrap variables (``demo_admin_env``, set by the local
run's plan) while it has no admin yet, and the local run prints its login, password and TOTP
key. The credentials are fixed and public (in this file), so a stack anyone else can reach
must never use them: a real installation makes its first admin with
``python -m ebok_auth create-admin --login L --email E`` (admin role only; it gives roles)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAdmin:
    login: str = "demo.admin"
    password: str = "Konsola-Lokalna-2026"
    totp_secret: str = "EBOKDEMOADMINLOCALRUNONLY234567A"  # base32, 160 bits
    roles: tuple[str, ...] = ("customer_service", "billing", "content", "admin")

    @property
    def otpauth_uri(self) -> str:
        """What an authenticator app reads (as a QR code or pasted)."""
        return (
            f"otpauth://totp/e-BOK%20MPWiK:{self.login}?secret={self.totp_secret}"
            "&issuer=e-BOK%20MPWiK"
        )


DEMO_ADMIN = DemoAdmin()


def demo_admin_env(admin: DemoAdmin = DEMO_ADMIN) -> dict[str, str]:
    """auth's bootstrap variables that create the demo admin (local run only)."""
    return {
        "EBOK_BOOTSTRAP_ADMIN_LOGIN": admin.login,
        "EBOK_BOOTSTRAP_ADMIN_EMAIL": f"{admin.login}@localhost",
        "EBOK_BOOTSTRAP_ADMIN_PASSWORD": admin.password,
        "EBOK_BOOTSTRAP_ADMIN_TOTP_SECRET": admin.totp_secret,
        "EBOK_BOOTSTRAP_ADMIN_ROLES": ",".join(admin.roles),
    }
