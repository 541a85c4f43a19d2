"""Chemical formulas: parsing, exact composition and molar mass.

Parsing is delegated to :mod:`periodictable` (NIST/IUPAC element data, maintained by the
reflectometry community). natwin adds only the notation that battery chemists write and the
library does not read:

* fractional stoichiometry, ``NaNi1/3Fe1/3Mn1/3O2`` (and the decimal form ``Ni0.333``);
* square and curly brackets as groups, ``Na2Fe[Fe(CN)6]``;
* hydrate dots, ``NiSO4·6H2O`` or ``NiSO4*6H2O``.

Counts are returned as exact :class:`fractions.Fraction` so element balances close exactly.

References
----------
.. [1] Prohaska, T. et al. (2022). Standard atomic weights of the elements 2021 (IUPAC
   Technical Report). Pure Appl. Chem. 94(5), 573-600. doi:10.1515/pac-2019-0603
   (abridged standard atomic weights, as tabulated by periodictable.mass).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import periodictable

from natwin.errors import DataError

_FRACTION = re.compile(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")
_HYDRATE = re.compile(r"[·•∙*]")
_MAX_DENOMINATOR = 10_000


@dataclass(frozen=True)
class Formula:
    """A parsed chemical formula.

    Attributes
    ----------
    text : str
        The formula as written.
    composition : tuple of (str, Fraction)
        Element symbol and exact count per formula unit, in order of first appearance.
    molar_mass : float
        Molar mass. [g/mol]
    """

    text: str
    composition: tuple[tuple[str, Fraction], ...]
    molar_mass: float

    def count(self, element: str) -> Fraction:
        """Atoms of ``element`` per formula unit (0 if absent)."""
        return dict(self.composition).get(element, Fraction(0))

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(symbol for symbol, _ in self.composition)


def _normalise(text: str) -> str:
    """Rewrite battery-chemistry notation into the syntax periodictable parses.

    >>> _normalise("NaNi1/3Fe1/3Mn1/3O2")
    'NaNi0.3333333333333333Fe0.3333333333333333Mn0.3333333333333333O2'
    >>> _normalise("Na2Fe[Fe(CN)6]")
    'Na2Fe(Fe(CN)6)'
    >>> _normalise("NiSO4·6H2O")
    'NiSO4+6H2O'
    """
    out = text.strip().replace(" ", "")
    out = out.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    out = _HYDRATE.sub("+", out)
    return _FRACTION.sub(lambda m: repr(float(m.group(1)) / float(m.group(2))), out)


@lru_cache(maxsize=4096)
def parse_formula(text: str) -> Formula:
    """Parse ``text`` into a :class:`Formula`.

    Parameters
    ----------
    text : str
        Formula such as ``"Na4Fe3(PO4)2P2O7"``, ``"NaNi1/3Fe1/3Mn1/3O2"`` or
        ``"FeSO4·7H2O"``.

    Returns
    -------
    Formula
        Exact composition and molar mass [g/mol] from IUPAC 2021 abridged weights [1]_.

    Raises
    ------
    DataError
        If the text is not a formula of known elements.

    >>> round(parse_formula("H2O").molar_mass, 3)
    18.015
    >>> parse_formula("NaNi1/3Fe1/3Mn1/3O2").count("Ni")
    Fraction(1, 3)
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"formula {text!r}: expected a chemical formula such as 'Na2CO3'")
    try:
        parsed = periodictable.formula(_normalise(text))
    except Exception as exc:  # periodictable raises pyparsing and value errors
        raise DataError(
            f"formula {text!r} cannot be parsed: {exc}. Write elements with their counts, "
            "groups in () or [], fractions as 1/3, hydrates with '·'."
        ) from exc
    composition: list[tuple[str, Fraction]] = []
    for element, count in parsed.atoms.items():
        if type(element) is not periodictable.core.Element:
            raise DataError(f"formula {text!r}: isotopes and ions are not supported")
        exact = Fraction(count).limit_denominator(_MAX_DENOMINATOR)
        if exact <= 0:
            raise DataError(f"formula {text!r}: element {element.symbol} has count {count}")
        composition.append((element.symbol, exact))
    if not composition:
        raise DataError(f"formula {text!r} contains no elements")
    mass = sum(float(n) * periodictable.elements.symbol(sym).mass for sym, n in composition)
    return Formula(text=text, composition=tuple(composition), molar_mass=mass)
