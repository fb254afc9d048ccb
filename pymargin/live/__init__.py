# SPDX-License-Identifier: Apache-2.0
"""Live layer: venue data in (the Deribit client, snapshots saved and replayed) and the
venue's own margin checked against pymargin's (``pme/simulate``).

Imports every layer below it. See ``docs/architecture.md``. httpx is imported when a client
is made (``pip install 'pymargin[live]'``)."""

from .deribit import DERIBIT_MAINNET, ClientStats, DeribitClient, VenueError
from .snapshot import Snapshot, fetch_snapshot, live_market, read_snapshot
from .verify import Verification, simulate_inputs, verify_simulate

__all__ = [
    "DERIBIT_MAINNET",
    "ClientStats",
    "DeribitClient",
    "Snapshot",
    "VenueError",
    "Verification",
    "fetch_snapshot",
    "live_market",
    "read_snapshot",
    "simulate_inputs",
    "verify_simulate",
]
