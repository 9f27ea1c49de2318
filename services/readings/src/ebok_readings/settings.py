"""readings settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ebok_shared.config import ConfigError
from ebok_shared.settings import ServiceSettings

MiB = 1024 * 1024
_MONTH_DAY_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


@dataclass(frozen=True, kw_only=True)
class ReadingsSettings(ServiceSettings):
    http_port: int = 8003
    # The app-wide cap fits a photo upload; JSON bodies have their own, smaller cap.
    max_body_bytes: int = 12 * MiB
    json_max_bytes: int = 64 * 1024
    photo_max_bytes: int = 10 * MiB
    feed_max_rows: int = 50_000
    page_size_max: int = 100
    consumption_max_months: int = 60
    # Plausibility: a daily consumption above the ceiling, or above factor × the meter's own
    # baseline (and by at least min_excess m³ a day), needs the customer's confirmation.
    plausible_daily_ceiling_m3: float = 5.0
    plausible_factor: float = 3.0
    plausible_min_excess_m3: float = 0.5
    baseline_min_days: int = 30
    baseline_window_days: int = 365
    # Leak warning on main meters: factor × baseline and at least min_excess m³ a day above.
    leak_factor: float = 2.0
    leak_min_excess_m3: float = 0.3
    # Garden meters (terms III.d): mandatory reading dates (MM-DD) and reminders.
    garden_reading_dates: tuple[str, ...] = ("04-15", "09-15")
    reading_reminder_days: int = 7
    legalisation_years: int = 5
    legalisation_reminder_days: int = 60
    scheduler_enabled: bool = True
    scheduler_interval: float = 300.0

    def validate(self) -> None:
        super().validate()
        for value in self.garden_reading_dates:
            if not _MONTH_DAY_RE.match(value) or value == "02-29":
                raise ConfigError(
                    "EBOK_GARDEN_READING_DATES: expected MM-DD dates separated by commas"
                )
        if not 0 < self.photo_max_bytes <= self.max_body_bytes:
            raise ConfigError("EBOK_PHOTO_MAX_BYTES: must be positive and fit EBOK_MAX_BODY_BYTES")
        if self.page_size_max < 1:
            raise ConfigError("EBOK_PAGE_SIZE_MAX: must be at least 1")
        if self.plausible_factor <= 1 or self.leak_factor <= 1:
            raise ConfigError("EBOK_PLAUSIBLE_FACTOR / EBOK_LEAK_FACTOR: must be above 1")
