"""How the transaction Bundle addresses what it writes (README, "Writing back")."""

from __future__ import annotations

from typing import Literal

WriteStrategy = Literal["put", "conditional"]
WRITE_STRATEGIES: tuple[WriteStrategy, ...] = ("put", "conditional")
