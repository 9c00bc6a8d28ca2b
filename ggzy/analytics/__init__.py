"""Integrity analytics (issue 6): screens for 围标串标 / 弄虚作假 and a combined, explained suspicion score.

- `price_screens`: statistical screens per 标段 from the bids alone (CV, SPD, DIFFP, RD, KURT, SKEW,
  KSTEST, identical and patterned prices, clustering, bids against 控制价), vectorised over all sections.
- `score`: the flags raised from those screens (each citing its legal article) and the combined 0..1
  score per section with each flag's contribution; other screen families add flags to the same scorer.
- `bidfile`: reading a bids file (CSV / Parquet) with bilingual errors, writing the per-section result.

Every indicator yields a value, a status ('calculated' | 'insufficient_data' | 'not_applicable') and,
when it raises a flag, evidence: missing data is never "no risk".
"""

from ggzy.analytics.price_screens import SCREENS, compute_price_screens
from ggzy.analytics.score import FLAGS, score_sections, screen_bids

__all__ = ["FLAGS", "SCREENS", "compute_price_screens", "score_sections", "screen_bids"]
