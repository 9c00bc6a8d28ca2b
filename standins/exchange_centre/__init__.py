"""Exchange-centre stand-in: a seeded synthetic year of one city's public-resource trading in the national
data specification (公共资源交易平台系统数据规范), served over HTTP, seeded into a database or dropped as files.

- `TradingYear(seed, sections, year, region_code)`: the generator (streams; scales to 1,000,000 bids), with
  `.records(code)`, `.count(code)`, `.ground_truth()` (planted collusion rings) and `.faults()` (planted data
  faults); see generator.py for the design.
- `ExchangeCentreServer(year, ...)`: the centre's paginated, API-key protected HTTP API (server.py).
- `seed_database(url, year)` / `write_files(folder, year, fmt)`: database and file-drop exports (export.py).
The contract with the warehouse side is in notes/contracts.md ("Exchange-centre stand-in").
"""

from standins.exchange_centre.export import read_file, seed_database, write_files
from standins.exchange_centre.generator import FAULT_KINDS, MECHANISMS, Firm, TradingYear
from standins.exchange_centre.server import ExchangeCentreServer
from standins.exchange_centre.spec import DATASETS, TABLES, DatasetSpec

__all__ = [
    "DATASETS", "TABLES", "DatasetSpec", "TradingYear", "Firm", "FAULT_KINDS", "MECHANISMS",
    "ExchangeCentreServer", "seed_database", "write_files", "read_file",
]  # fmt: skip
