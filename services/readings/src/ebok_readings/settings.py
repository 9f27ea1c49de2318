"""readings settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from dataclasses import dataclass

from ebok_shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class ReadingsSettings(ServiceSettings):
    http_port: int = 8003
