"""The one strict pydantic base model of natwin's inputs.

Scenario sections, stage settings, uncertainty studies and data-file records all derive from
:class:`StrictModel`: unknown keys are rejected (a typo is an error, not a silently ignored
key), values are not coerced (``"5"`` is not a number), NaN and infinity are refused and
instances are immutable.

>>> class Example(StrictModel):
...     rate: float
>>> Example(rate=0.5).rate
0.5
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Immutable, unknown keys rejected, no silent coercion, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
