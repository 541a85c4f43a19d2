"""Numbers that carry their source.

Every default number in natwin's data files is a :class:`Sourced` value: the number, its unit,
where it comes from and how far to trust it. The trust tags follow the reference data:

* ``F``  taken from the cited public source;
* ``F2`` from a secondary source, partly cross-checked;
* ``C``  computed by the stated method (stoichiometry, unit conversion);
* ``M``  literature or statutory value not re-checked against the original;
* ``E``  engineering estimate, with its reasoning in ``source``.

The source travels with the number into results and reports.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, model_validator

from natwin.strict import StrictModel

TrustTag = Literal["F", "F2", "C", "M", "E"]

T = TypeVar("T")


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


#: An immutable sequence that accepts TOML arrays (lists) in strict models.
Seq = Annotated[tuple[T, ...], BeforeValidator(_list_to_tuple)]


class DataModel(StrictModel):
    """Base of data-file models: immutable, unknown keys rejected, no silent coercion."""


class Sourced(DataModel):
    """A number with its unit, source and trust tag (optionally a low/high range).

    >>> Sourced(value=0.5978, unit="kgCO2/kWh", source="MEE/NBS 2024", tag="F2").value
    0.5978
    """

    value: float
    unit: str = ""
    source: str = Field(min_length=3)
    tag: TrustTag
    low: float | None = None
    high: float | None = None
    note: str = ""

    @model_validator(mode="after")
    def _range_brackets_value(self) -> Sourced:
        if self.low is not None and self.low > self.value:
            raise ValueError(f"low {self.low} is above value {self.value}")
        if self.high is not None and self.high < self.value:
            raise ValueError(f"high {self.high} is below value {self.value}")
        return self

    def cite(self) -> str:
        """One-line citation: ``[tag] source``."""
        return f"[{self.tag}] {self.source}"
